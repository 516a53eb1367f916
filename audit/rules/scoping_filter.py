"""scoping-filter: the User mapping's scoping filter leaves the guest out of provisioning."""

from __future__ import annotations

import pandas as pd

from audit.analysis.engine import Context, DemoCase, Example, Rule
from audit.models import Outcome, Severity


def _check(frame: pd.DataFrame, ctx: Context) -> pd.Series:
    return ~frame["filter_in_scope"].astype("boolean")


def _detail(frame: pd.DataFrame, ctx: Context) -> pd.Series:
    return frame["step_scope"].fillna("outside the scoping filter")


RULE = Rule(
    id="scoping-filter",
    title="Left out by the app's scoping filter",
    severity=Severity.INFO,
    columns=("filter_in_scope", "step_scope"),
    sources=("sync_schema",),
    rationale=(
        "The provisioning job provisions only users its scoping filters let in: the clauses of a "
        "filter are ANDed, several filters are ORed, and a clause on an empty value is false "
        "(https://learn.microsoft.com/entra/identity/app-provisioning/define-conditional-rules-for-provisioning-user-accounts). "
        "A guest outside is not provisioned (one provisioned before is disabled) and takes part in no "
        "collision. Often intended; listed so the prediction can be checked. Where a clause cannot be "
        "evaluated (an undocumented operator or case rule, an attribute not collected) the guest is "
        "not evaluated and the guest's scope step names the clause."
    ),
    remediation=(
        "If the guest needs the app, change the attribute the filter reads (e.g. Update-MgUser -UserId "
        "<id> -Department '<value>') or the filter itself (Entra → Enterprise applications → <app> → "
        "Provisioning → Mappings → Provision users → Source Object Scope)."
    ),
    check=_check,
    detail=_detail,
    outcome=Outcome.OUT_OF_SCOPE,
    plan_note="Decide per guest whether it belongs in the app; the filter is changed in the portal.",
    demo=(
        DemoCase("filtered-out", "filtered"),
        DemoCase("filter-passes", "verified", twin_of=frozenset({"scoping-filter"})),
    ),
    examples=(
        Example(
            rows=[
                {"filter_in_scope": False, "step_scope": "out of scope: filter 'x' fails"},
                {"filter_in_scope": True, "step_scope": "in scope"},
                {"filter_in_scope": None, "step_scope": "unknown"},
            ],
            expect=[True, False, None],
        ),
    ),
)
