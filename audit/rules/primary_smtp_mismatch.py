"""primary-smtp-mismatch: the primary ``SMTP:`` proxy address is missing or differs from ``mail``."""

from __future__ import annotations

import pandas as pd

from audit.analysis.engine import Context, DemoCase, Example, Rule
from audit.models import Severity
from audit.plans import Ctx, Finding, Guest, Plan, mail_user_identity, scripted
from audit.powershell import is_address, ps_quote
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


def _plan(finding: Finding, guest: Guest, ctx: Ctx) -> Plan:
    """Make mail the primary SMTP address."""
    plan = Plan()
    ident = mail_user_identity(guest)
    if ident is None:
        plan.notes.append("The guest has no usable UPN to name its mail user; fix its UPN first.")
    elif guest.mu_present is False:
        plan.notes.append("No GuestMailUser in the export: fix exo-not-mail-enabled first.")
    elif not is_address(guest.mail):
        plan.notes.append("mail is empty or not a valid address; fix mail first, then:")
        plan.suggestions.append(f"Set-MailUser -Identity {ident} -PrimarySmtpAddress '<address>'")
    else:
        plan.commands.append(
            f"Set-MailUser -Identity {ident} -PrimarySmtpAddress {ps_quote(guest.mail)}"
        )
    return plan


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
        "Set the primary address in Exchange Online: Set-MailUser -Identity '<#EXT# UPN>' -PrimarySmtpAddress "
        "'<mail>' (proxyAddresses is read-only in Graph)."
    ),
    check=_check,
    detail=_detail,
    plan=scripted(_plan),
    demo=(
        DemoCase("proxy-missing", "proxy:missing"),
        DemoCase("proxy-upn-primary", "proxy:upn"),
        DemoCase("proxy-old-primary", "proxy:old"),
        DemoCase(
            "proxy-with-secondary", "proxy:fine", twin_of=frozenset({"primary-smtp-mismatch"})
        ),
    ),
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
