"""mapping-creates-nobody: (app) the User object mapping is disabled or lacks the Add flow type."""

from __future__ import annotations

import pandas as pd

from audit.analysis.engine import APP, Context, Example, Rule
from audit.models import Outcome, Severity

SKIPPED = "skip: the User object mapping"
"""How the action step of a guest the mapping skips begins (audit.analysis.frame_steps)."""


def _check(frame: pd.DataFrame, ctx: Context) -> pd.Series:
    """Every guest a disabled mapping skips, and those a mapping without Add would create."""
    skipped = frame["step_action"].astype("str").str.startswith(SKIPPED)
    return skipped.fillna(False).astype("boolean")


def _detail(frame: pd.DataFrame, ctx: Context) -> pd.Series:
    return frame["step_action"].fillna("")


RULE = Rule(
    id="mapping-creates-nobody",
    title="The User object mapping creates nobody (disabled, or no Add flow type)",
    severity=Severity.HIGH,
    level=APP,
    columns=("step_action",),
    sources=("sync_schema",),
    rationale=(
        'Graph\'s objectMapping: "When false, this object mapping will be skipped"; its flowTypes: '
        '"Add creates new objects in the target directory, Update modifies existing objects" '
        "(https://learn.microsoft.com/graph/api/resources/synchronization-objectmapping), and the "
        "portal's \"If Create isn't selected, you can't create new users\" "
        "(customize-application-attributes). No guest is created in {target.title}."
    ),
    remediation=(
        "Entra → Enterprise applications → <app> → Provisioning → Mappings → Provision users: enable "
        "the mapping and select Create under Target Object Actions."
    ),
    check=_check,
    detail=_detail,
    outcome=Outcome.OUT_OF_SCOPE,
    plan_note="Nothing to change per guest: the User mapping is fixed in the portal.",
    examples=(
        Example(
            rows=[
                {
                    "step_action": "skip: the User object mapping has no Add flow type, so nobody is created"
                },
                {"step_action": "skip: the User object mapping is disabled"},
                {"step_action": "update: provisioned before (provisioning logs)"},
                {
                    "step_action": "create, unless the target already holds a user matched on userName"
                },
            ],
            expect=[True, True, False, False],
        ),
    ),
)
