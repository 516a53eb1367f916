"""mapping-not-evaluable: (app) a mapping or scoping-filter part cannot be evaluated by the tool."""

from __future__ import annotations

import pandas as pd

from audit.analysis.engine import APP, Context, Example, Rule
from audit.models import Severity
from audit.rules._common import known


def _check(frame: pd.DataFrame, ctx: Context) -> pd.Series:
    return known(frame["engine_unknown"]).astype("boolean")


def _detail(frame: pd.DataFrame, ctx: Context) -> pd.Series:
    return "cannot evaluate " + frame["engine_unknown"]


RULE = Rule(
    id="mapping-not-evaluable",
    title="A mapping or scoping-filter part cannot be evaluated",
    severity=Severity.HIGH,
    level=APP,
    columns=("engine_unknown",),
    rationale=(
        "The prediction evaluates the job's attribute mappings and scoping filters the way the "
        "provisioning service does, function by function "
        "(https://learn.microsoft.com/entra/identity/app-provisioning/functions-for-customizing-application-data). "
        "A part it cannot evaluate (a non-deterministic or undocumented function, an attribute that was "
        "not collected, a behaviour the documentation leaves open) makes only the guests whose "
        "evaluation reaches it unknown; their outcome is not predicted."
    ),
    remediation=(
        "Check the named part in Entra → Enterprise applications → <app> → Provisioning → Mappings; "
        "use 'Provision on demand' for one affected guest to see what the service does, collect the "
        "attribute (it is read when the job schema names it), or simplify the expression."
    ),
    check=_check,
    detail=_detail,
    plan_note="Nothing to change per guest: the mapping or filter is reviewed in the portal.",
    examples=(
        Example(
            rows=[
                {"engine_unknown": "title: Now() is the time of each provisioning run"},
                {"engine_unknown": None},
            ],
            expect=[True, False],
        ),
    ),
)
