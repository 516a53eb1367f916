"""primary-smtp-mismatch: the primary ``SMTP:`` proxy address is missing or differs from ``mail``."""

from __future__ import annotations

import pandas as pd

from audit.analysis.engine import Context, Example, Rule
from audit.models import Severity
from audit.rules._common import known, tri


def _check(frame: pd.DataFrame, ctx: Context) -> pd.Series:
    primary = frame["primary_smtp"].astype("str").str.lower()
    mail = frame["mail"].astype("str").str.lower()
    missing = ~known(primary)
    differs = (primary != mail).fillna(False).astype(bool)
    return tri(missing | differs, missing | known(mail))


def _detail(frame: pd.DataFrame, ctx: Context) -> pd.Series:
    primary = frame["primary_smtp"].fillna("(none)")
    return "primary SMTP proxy " + primary + ", mail " + frame["mail"].fillna("(none)")


RULE = Rule(
    id="primary-smtp-mismatch",
    title="Primary SMTP proxy missing or different from mail",
    severity=Severity.MEDIUM,
    columns=("primary_smtp", "mail", "proxy_addresses"),
    rationale=(
        "The upper-case SMTP: proxy is where Exchange sends replies and notifications. When it is missing "
        "or points elsewhere (often the #EXT# UPN), mail to the guest goes to the wrong address."
    ),
    remediation=(
        "Set the primary address in Exchange Online: Set-MailUser -Identity <id> -PrimarySmtpAddress "
        "'<mail>' (proxyAddresses is read-only in Graph)."
    ),
    check=_check,
    detail=_detail,
    examples=(
        Example(
            rows=[
                {
                    "primary_smtp": "jo@partner.com",
                    "mail": "JO@partner.com",
                    "proxy_addresses": ["SMTP:jo@partner.com"],
                },
                {"primary_smtp": None, "mail": "jo@partner.com", "proxy_addresses": []},
                {
                    "primary_smtp": "jo_partner.com#EXT#@t.onmicrosoft.com",
                    "mail": "jo@partner.com",
                    "proxy_addresses": ["SMTP:jo_partner.com#EXT#@t.onmicrosoft.com"],
                },
                {
                    "primary_smtp": "jo@partner.com",
                    "mail": None,
                    "proxy_addresses": ["SMTP:jo@partner.com"],
                },
            ],
            expect=[False, True, True, None],
        ),
    ),
)
