"""mail-missing: the guest has no ``mail``; the usual e-mail mapping then sends nothing."""

from __future__ import annotations

import pandas as pd

from audit.analysis.engine import Context, Example, Rule
from audit.models import Severity
from audit.rules._common import known


def _check(frame: pd.DataFrame, ctx: Context) -> pd.Series:
    return (~known(frame["mail"])).astype("boolean")


def _detail(frame: pd.DataFrame, ctx: Context) -> pd.Series:
    others = frame["other_mails"].map(lambda v: ", ".join(v) if isinstance(v, list) else "")
    hint = "mail is empty; otherMails holds " + others + " (likely a mail-contact conflict)"
    return hint.where(others != "", "mail is empty and otherMails is empty")


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
