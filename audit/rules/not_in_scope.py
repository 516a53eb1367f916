"""not-in-scope: the guest is not assigned to the app at all."""

from __future__ import annotations

import pandas as pd

from audit.analysis.engine import Context, DemoCase, Example, Rule
from audit.models import Outcome, Severity
from audit.plans import suggest


def _check(frame: pd.DataFrame, ctx: Context) -> pd.Series:
    if ctx.provisioning_scope == "all":  # "Sync all users and groups": assignment does not matter
        return pd.Series(False, index=frame.index, dtype="boolean")
    return frame["scope"].astype("str").eq("none").astype("boolean")


RULE = Rule(
    id="not-in-scope",
    title="Not assigned to the app",
    severity=Severity.INFO,
    columns=("scope",),
    sources=("app_role_assignments", "group_members"),
    rationale=(
        "With 'Sync only assigned users and groups' (the gallery default), guests that are neither assigned "
        "directly nor direct members of an assigned security-enabled group are never provisioned "
        "(how provisioning works). Often intended; listed for completeness. With 'Sync all users and "
        "groups' (--provisioning-scope all) assignment does not matter and the rule does not fire."
    ),
    remediation=(
        "If the guest needs the app, assign it (Entra → Enterprise applications → <app> → Users and groups "
        "→ Add) or add it to an assigned group."
    ),
    check=_check,
    outcome=Outcome.OUT_OF_SCOPE,
    plan=suggest(
        "New-MgUserAppRoleAssignment -UserId {id} -PrincipalId {id} -ResourceId {sp} "
        "-AppRoleId '<app role id>'",
        note="Only if the guest needs the app.",
    ),
    demo=(
        DemoCase("unassigned", changes={"scope": "none"}),
        DemoCase("unsecured-group-only", changes={"scope": "group_m365"}),
        DemoCase(
            "direct-assignment", changes={"scope": "direct"}, twin_of=frozenset({"not-in-scope"})
        ),
    ),
    examples=(
        Example(
            rows=[{"scope": "none"}, {"scope": "direct"}, {"scope": "nested_only"}],
            expect=[True, False, False],
        ),
    ),
)
