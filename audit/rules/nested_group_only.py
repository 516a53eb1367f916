"""nested-group-only: the guest is assigned only through a nested group."""

from __future__ import annotations

import pandas as pd

from audit.analysis.engine import Context, DemoCase, Example, Rule
from audit.models import Outcome, Severity
from audit.plans import suggest


def _check(frame: pd.DataFrame, ctx: Context) -> pd.Series:
    if ctx.provisioning_scope == "all":  # "Sync all users and groups": assignment does not matter
        return pd.Series(False, index=frame.index, dtype="boolean")
    return frame["scope"].astype("str").eq("nested_only").astype("boolean")


RULE = Rule(
    id="nested-group-only",
    title="Assigned only through a nested group",
    severity=Severity.MEDIUM,
    columns=("scope",),
    sources=("app_role_assignments", "group_members"),
    rationale=(
        "The Entra provisioning service reads only the direct members of groups assigned to the app; "
        "members of nested groups are not provisioned."
    ),
    remediation=(
        "Add the guest (or its group's members) directly to an assigned group: New-MgGroupMember "
        "-GroupId <assigned group> -DirectoryObjectId <id>, or assign the nested group to the app itself."
    ),
    check=_check,
    outcome=Outcome.OUT_OF_SCOPE,
    plan=suggest("New-MgGroupMember -GroupId '<assigned group id>' -DirectoryObjectId {id}"),
    demo=(
        DemoCase("nested-only", changes={"scope": "nested"}),
        DemoCase(
            "nested-and-group",
            changes={"scope": "nested_and_a"},
            twin_of=frozenset({"nested-group-only"}),
        ),
    ),
    examples=(
        Example(
            rows=[{"scope": "nested_only"}, {"scope": "group"}, {"scope": "none"}],
            expect=[True, False, False],
        ),
    ),
)
