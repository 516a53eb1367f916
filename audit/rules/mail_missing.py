"""mail-missing: the guest has no ``mail``; the usual e-mail mapping then sends nothing."""

from __future__ import annotations

import pandas as pd

from audit._text import list_objects
from audit.analysis.engine import Context, DemoCase, Example, Rule
from audit.models import Outcome, Severity
from audit.plans import Ctx, Finding, Guest, Plan, suggest
from audit.powershell import is_address
from audit.rules._common import known, tri


def _check(frame: pd.DataFrame, ctx: Context) -> pd.Series:
    return (~known(frame["mail"])).astype("boolean")


def _detail(frame: pd.DataFrame, ctx: Context) -> pd.Series:
    others = list_objects(frame["other_mails"]).map(
        lambda v: ", ".join(v) if isinstance(v, list) else ""
    )
    hint = "mail is empty; otherMails holds " + others + " (likely a mail-contact conflict)"
    return hint.where(others != "", "mail is empty and otherMails is empty")


def _no_target_email(frame: pd.DataFrame, ctx: Context) -> pd.Series:
    """The target e-mail is missing because mail is: this rule explains the blocked create."""
    missing = ~known(frame["target_email"]) & ~known(frame["mail"])
    return tri(missing, frame["target_email_known"])


_CONTACT_CONFLICT = suggest(
    "Update-MgUser -UserId {id} -Mail {other}",
    "Contact conflict? A mail contact holding the address blocks mail-enablement:",
    "Get-MailContact -Identity {other} | Format-List Name,PrimarySmtpAddress,ExternalEmailAddress",
    "Remove-MailContact -Identity {other}",
)
_ASK_PARTNER = suggest(
    "Update-MgUser -UserId {id} -Mail '<address>'",
    note="otherMails holds no usable address: ask the partner for the guest's address, then:",
)


def _plan(finding: Finding, guest: Guest, ctx: Ctx) -> Plan:
    """Suggest otherMails[0] as mail, with the mail-contact conflict check."""
    if not is_address(next(iter(guest.other_mails), None)):
        return _ASK_PARTNER(finding, guest, ctx)
    return _CONTACT_CONFLICT(finding, guest, ctx)


RULE = Rule(
    id="mail-missing",
    title="mail is empty",
    severity=Severity.HIGH,
    columns=("mail", "other_mails"),
    rationale=(
        "With the default mapping the target e-mail comes from [mail]; an empty mail makes the create fail "
        "or skip. Guests whose address sits only in otherMails were usually blocked from mail-enablement by "
        "a mail contact with the same address."
    ),
    remediation=(
        "Remove the conflicting mail contact (Get-MailContact -Identity <address>) and set the address with "
        "Update-MgUser -UserId <id> -Mail '<address>', or map the e-mail with "
        "Coalesce([mail], [originalUserPrincipalName])."
    ),
    check=_check,
    detail=_detail,
    outcome=Outcome.BLOCKED,
    outcome_when=_no_target_email,
    outcome_columns=("target_email", "target_email_known", "mail"),
    plan=_plan,
    demo=(
        DemoCase("mail-missing-contact", "mail_missing:contact"),
        DemoCase("mail-missing-bare", "mail_missing:bare"),
        DemoCase(
            "other-mails-empty", changes={"other_mails": []}, twin_of=frozenset({"mail-missing"})
        ),
    ),
    examples=(
        Example(
            rows=[
                {"mail": None, "other_mails": ["jo@partner.com"]},
                {"mail": "", "other_mails": []},
                {"mail": "jo@partner.com", "other_mails": ["jo@partner.com"]},
            ],
            expect=[True, True, False],
        ),
    ),
)
