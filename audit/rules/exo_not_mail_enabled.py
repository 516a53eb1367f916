"""exo-not-mail-enabled: no GuestMailUser exists for the guest in the MailUser export."""

from __future__ import annotations

import pandas as pd

from audit.analysis.engine import Context, DemoCase, Example, Rule
from audit.models import Severity
from audit.plans import suggest


def _check(frame: pd.DataFrame, ctx: Context) -> pd.Series:
    return ~frame["mu_present"].astype("boolean")


RULE = Rule(
    id="exo-not-mail-enabled",
    title="No Exchange Online mail user for the guest",
    severity=Severity.MEDIUM,
    columns=("mu_present",),
    sources=("mailusers",),
    rationale=(
        "A B2B guest normally appears in Exchange Online as a GuestMailUser. Without one (typically a mail "
        "contact with the same address blocked mail-enablement), mail sent to any of the guest's tenant "
        "addresses, including the initial-domain address the recommended mapping uses, cannot be delivered."
    ),
    remediation=(
        "Find and remove the conflicting contact (Get-MailContact -Identity '<address>' | "
        "Remove-MailContact), then re-invite or re-save the guest so Exchange mail-enables it."
    ),
    check=_check,
    plan=suggest(
        "Get-MailContact -Identity {mail} | Format-List Name,PrimarySmtpAddress",
        "Remove-MailContact -Identity {mail}",
        note="Then re-invite or re-save the guest so Exchange mail-enables it.",
    ),
    demo=(
        DemoCase(
            "no-mailuser", changes={"mailuser": False}, flags=frozenset({"exo-not-mail-enabled"})
        ),
        DemoCase(
            "mu-extra-addresses",
            "mailuser_extra",
            twin_of=frozenset({"exo-forwarding-broken", "exo-not-mail-enabled"}),
        ),
    ),
    examples=(
        Example(
            rows=[{"mu_present": False}, {"mu_present": True}, {"mu_present": None}],
            expect=[True, False, None],
        ),
    ),
)
