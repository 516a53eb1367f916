"""account-disabled: ``accountEnabled`` is false: the provisioning service does not provision it."""

from __future__ import annotations

import pandas as pd

from audit.analysis.engine import Context, DemoCase, Example, Rule
from audit.models import Outcome, Severity
from audit.plans import suggest


def _check(frame: pd.DataFrame, ctx: Context) -> pd.Series:
    return ~frame["account_enabled"].astype("boolean")


RULE = Rule(
    id="account-disabled",
    title="Account is disabled",
    severity=Severity.LOW,
    columns=("account_enabled",),
    rationale=(
        "\"Provisioning a user that is disabled in Microsoft Entra ID isn't supported. They must be "
        "active in Microsoft Entra ID before they're provisioned\" (how provisioning works, known "
        "limitations: https://learn.microsoft.com/entra/identity/app-provisioning/how-provisioning-works). "
        "A disabled guest is not created in {target.title} and takes part in no collision; one that was "
        "provisioned before is disabled there (active=false) in the next cycle."
    ),
    remediation=(
        "If the guest should work, enable it: Update-MgUser -UserId <id> -AccountEnabled:$true; otherwise "
        "remove it from the app's assignment."
    ),
    check=_check,
    outcome=Outcome.OUT_OF_SCOPE,
    plan=suggest(
        "Update-MgUser -UserId {id} -AccountEnabled:$true",
        note="Enable only if the guest should work; otherwise remove its assignment.",
    ),
    demo=(DemoCase("disabled", changes={"enabled": False}, flags=frozenset({"account-disabled"})),),
    examples=(
        Example(
            rows=[{"account_enabled": False}, {"account_enabled": True}, {"account_enabled": None}],
            expect=[True, False, None],
        ),
    ),
)
