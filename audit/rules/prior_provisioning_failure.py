"""prior-provisioning-failure: the latest provisioning-log entry for the guest failed or was skipped."""

from __future__ import annotations

import pandas as pd

from audit.analysis.engine import Context, DemoCase, Example, Rule
from audit.models import Severity


def _check(frame: pd.DataFrame, ctx: Context) -> pd.Series:
    status = frame["last_prov_status"].astype("str").str.lower()
    return status.isin(["failure", "skipped"]).astype("boolean")


def _detail(frame: pd.DataFrame, ctx: Context) -> pd.Series:
    error = frame["last_prov_error"].fillna("no error code")
    return "last provisioning attempt: " + frame["last_prov_status"] + " (" + error + ")"


RULE = Rule(
    id="prior-provisioning-failure",
    title="Latest provisioning attempt failed or was skipped",
    severity=Severity.HIGH,
    columns=("last_prov_status", "last_prov_error"),
    sources=("provisioning_logs",),
    rationale=(
        "The provisioning logs already show this guest failing (or being skipped); unless the cause is "
        "fixed the next cycle fails the same way."
    ),
    remediation=(
        "Open Entra → Enterprise applications → <app> → Provisioning logs, filter on the guest, fix the "
        "cause in the error details, then use 'Provision on demand' to retry."
    ),
    check=_check,
    detail=_detail,
    plan_note=(
        "Provisioning logs: filter on each guest below, fix the cause, then 'Provision on demand'."
    ),
    demo=(
        DemoCase(
            "prov-failed",
            changes={"prov": "success_then_failure"},
            flags=frozenset({"prior-provisioning-failure"}),
        ),
        DemoCase(
            "prov-skipped",
            changes={"prov": "skipped"},
            flags=frozenset({"prior-provisioning-failure"}),
        ),
        DemoCase(
            "prov-recovered",
            changes={"prov": "failure_then_success"},
            twin_of=frozenset({"prior-provisioning-failure"}),
        ),
        DemoCase(
            "prov-success",
            changes={"prov": "success"},
            twin_of=frozenset({"prior-provisioning-failure"}),
        ),
    ),
    examples=(
        Example(
            rows=[
                {"last_prov_status": "failure", "last_prov_error": "SCIM409"},
                {"last_prov_status": "skipped", "last_prov_error": None},
                {"last_prov_status": "success", "last_prov_error": None},
                {"last_prov_status": None, "last_prov_error": None},
            ],
            expect=[True, True, False, False],
        ),
    ),
)
