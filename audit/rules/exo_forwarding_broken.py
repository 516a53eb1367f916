"""exo-forwarding-broken: the initial-domain address or the external forwarding of the mail user is wrong."""

from __future__ import annotations

import pandas as pd

from audit.engine import Context, Example, Rule
from audit.models import Severity
from audit.rules._common import known, tri


def _smtp_set(values: object) -> set[str]:
    items = values if isinstance(values, list) else []
    return {str(v).split(":", 1)[-1].lower() for v in items}


def _problems(frame: pd.DataFrame) -> tuple[pd.Series, pd.Series]:
    have = frame["mu_email_addresses"].map(_smtp_set)
    upn = frame["original_upn"].astype("str").str.lower()
    no_alias = pd.Series(
        [u not in s for u, s in zip(upn.fillna(""), have, strict=True)], index=frame.index
    )
    real = frame["mail"].fillna(frame["provisioning_upn"]).astype("str").str.lower()
    external = frame["mu_external_email"].astype("str").str.lower()
    bad_target = (external != "smtp:" + real).fillna(True).astype(bool)
    return no_alias.astype(bool), bad_target


def _check(frame: pd.DataFrame, ctx: Context) -> pd.Series:
    no_alias, bad_target = _problems(frame)
    present = frame["mu_present"].astype("boolean").fillna(False).astype(bool)
    return tri(no_alias | bad_target, present & known(frame["original_upn"]))


def _detail(frame: pd.DataFrame, ctx: Context) -> pd.Series:
    no_alias, bad_target = _problems(frame)
    alias = ("EmailAddresses lacks smtp:" + frame["original_upn"]).where(no_alias, "")
    target = ("ExternalEmailAddress is " + frame["mu_external_email"].fillna("(empty)")).where(
        bad_target, ""
    )
    return (alias + "; " + target).str.strip("; ")


RULE = Rule(
    id="exo-forwarding-broken",
    title="Mail to the initial-domain address would not reach the guest",
    severity=Severity.HIGH,
    columns=(
        "mu_present",
        "mu_email_addresses",
        "mu_external_email",
        "original_upn",
        "mail",
        "provisioning_upn",
    ),
    sources=("mailusers",),
    rationale=(
        "With the recommended mapping the target sends notifications to the guest's #EXT# address on the "
        "initial domain. Exchange delivers them only if that address is one of the mail user's "
        "EmailAddresses, and forwards them only if ExternalEmailAddress is SMTP:<the guest's real address>."
    ),
    remediation=(
        "Set-MailUser -Identity <id> -EmailAddresses @{add='smtp:<#EXT# UPN>'} and "
        "Set-MailUser -Identity <id> -ExternalEmailAddress 'SMTP:<real address>'."
    ),
    check=_check,
    detail=_detail,
    examples=(
        Example(
            rows=[
                {
                    "mu_present": True,
                    "original_upn": "jo_p.com#EXT#@t.onmicrosoft.com",
                    "mu_email_addresses": ["SMTP:jo@p.com", "smtp:jo_p.com#EXT#@t.onmicrosoft.com"],
                    "mu_external_email": "SMTP:jo@p.com",
                    "mail": "jo@p.com",
                    "provisioning_upn": "jo@p.com",
                },
                {
                    "mu_present": True,
                    "original_upn": "jo_p.com#EXT#@t.onmicrosoft.com",
                    "mu_email_addresses": ["SMTP:jo@p.com"],
                    "mu_external_email": "SMTP:jo@p.com",
                    "mail": "jo@p.com",
                    "provisioning_upn": "jo@p.com",
                },
                {
                    "mu_present": True,
                    "original_upn": "jo_p.com#EXT#@t.onmicrosoft.com",
                    "mu_email_addresses": ["smtp:jo_p.com#EXT#@t.onmicrosoft.com"],
                    "mu_external_email": "SMTP:old@p.com",
                    "mail": "jo@p.com",
                    "provisioning_upn": "jo@p.com",
                },
                {
                    "mu_present": False,
                    "original_upn": "x",
                    "mu_email_addresses": [],
                    "mu_external_email": None,
                    "mail": "jo@p.com",
                    "provisioning_upn": "jo@p.com",
                },
            ],
            expect=[False, True, True, None],
        ),
    ),
)
