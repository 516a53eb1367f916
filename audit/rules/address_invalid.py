"""address-invalid: mail, an otherMails entry, the primary SMTP or the target e-mail is not valid."""

from __future__ import annotations

import pandas as pd

from audit import addresses as addr
from audit.analysis.engine import Context, DemoCase, Example, Rule
from audit.models import Outcome, Severity
from audit.plans import suggest
from audit.rules._common import any_address, describe, known, tri

_FIELDS = ("mail", "other_mails", "primary_smtp", "target_email")


def _invalid(values: pd.Series) -> pd.Series:
    return ~addr.is_valid(values)


def _check(frame: pd.DataFrame, ctx: Context) -> pd.Series:
    return any_address(frame, _FIELDS, _invalid).any(axis=1).astype("boolean")


def _detail(frame: pd.DataFrame, ctx: Context) -> pd.Series:
    return describe(any_address(frame, _FIELDS, _invalid), frame, "not a valid address")


def _unusable(frame: pd.DataFrame, ctx: Context) -> pd.Series:
    """The target e-mail is missing or not a valid address: the create fails. Unknown when the
    target documents no e-mail attribute or no mapping feeds it (nothing says what it receives),
    and where the e-mail could not be predicted."""
    email = frame["target_email"]
    if not ctx.target.email_attribute or ctx.email_mapped is False:
        return pd.Series(pd.NA, index=frame.index, dtype="boolean")
    present = known(email)
    unusable = ~present | (present & ~addr.is_valid(email).fillna(False))
    return tri(unusable, frame["target_email_known"])


RULE = Rule(
    id="address-invalid",
    title="An address is not a valid e-mail address",
    severity=Severity.HIGH,
    columns=_FIELDS,
    rationale=(
        "SCIM targets reject users whose e-mail is not a valid address, and Exchange cannot route mail to "
        "an invalid otherMails or proxy address. Typical causes: spaces, double dots, a missing top-level "
        "domain, a trailing dot, quoted local parts."
    ),
    remediation=(
        "Correct the attribute: Update-MgUser -UserId <id> -Mail '<address>' (or -OtherMails), and for "
        "proxies Set-MailUser -Identity '<#EXT# UPN>' -EmailAddresses @{remove='<bad>'}."
    ),
    check=_check,
    detail=_detail,
    outcome=Outcome.BLOCKED,
    outcome_when=_unusable,
    outcome_columns=("target_email", "target_email_known"),
    plan=suggest("Update-MgUser -UserId {id} -Mail '<corrected address>'"),
    demo=(
        DemoCase("invalid-double-dot", "alias:double-dot"),
        DemoCase("invalid-space", "alias:space"),
        DemoCase("invalid-other-mail", "invalid_other_mail"),
        DemoCase("invalid-primary-smtp", "invalid_primary"),
        DemoCase(
            "unusual-valid-address",
            "alias:apostrophe",
            twin_of=frozenset({"address-invalid", "upn-invalid", "address-non-ascii"}),
        ),
    ),
    examples=(
        Example(
            rows=[
                {
                    "mail": "john..doe@partner.com",
                    "other_mails": [],
                    "primary_smtp": None,
                    "target_email": None,
                },
                {
                    "mail": "jo@partner.com",
                    "other_mails": ["jo at partner"],
                    "primary_smtp": None,
                    "target_email": "jo@partner.com",
                },
                {
                    "mail": "jo@partner.com",
                    "other_mails": ["jo@partner.com"],
                    "primary_smtp": "jo@partner.com",
                    "target_email": "jo@partner.com",
                },
                {
                    "mail": "jo@partner",
                    "other_mails": [],
                    "primary_smtp": None,
                    "target_email": None,
                },
            ],
            expect=[True, True, False, True],
        ),
    ),
)
