"""account-disabled: ``accountEnabled`` is false."""

from __future__ import annotations

import pandas as pd

from audit.analysis.engine import Context, DemoCase, Example, Rule
from audit.models import Severity
from audit.plans import suggest


def _check(frame: pd.DataFrame, ctx: Context) -> pd.Series:
    return ~frame["account_enabled"].astype("boolean")


RULE = Rule(
    id="account-disabled",
    title="Account is disabled",
    severity=Severity.LOW,
    columns=("account_enabled",),
    rationale=(
        "A disabled guest is provisioned with active=false (or deactivated in the target). That is usually "
        "intended, but it occupies the target address and may block a re-invited twin."
    ),
    remediation=(
        "If the guest should work, enable it: Update-MgUser -UserId <id> -AccountEnabled:$true; otherwise "
        "remove it from the app's assignment."
    ),
    check=_check,
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
