"""original-upn-missing: no originalUserPrincipalName of the guest form can be derived."""

from __future__ import annotations

import pandas as pd

from audit.analysis.engine import Context, DemoCase, Example, Rule
from audit.models import Outcome, Severity
from audit.plans import suggest
from audit.rules._common import known, tri


def _check(frame: pd.DataFrame, ctx: Context) -> pd.Series:
    return (~frame["original_upn_ok"].fillna(False).astype(bool)).astype("boolean")


def _detail(frame: pd.DataFrame, ctx: Context) -> pd.Series:
    upn = frame["original_upn"].fillna("(no UPN)")
    domain = ctx.initial_domain or "<initial domain>"
    return (
        "UPN " + upn + f" is not alias_domain#EXT#@{domain} (or on another verified tenant domain)"
    )


def _no_fallback(frame: pd.DataFrame, ctx: Context) -> pd.Series:
    """The target e-mail is missing and no #EXT# UPN could stand in for it."""
    missing = ~known(frame["target_email"]) & ~frame["original_upn_ok"].fillna(False).astype(bool)
    return tri(missing, frame["target_email_known"])


RULE = Rule(
    id="original-upn-missing",
    title="No #EXT# UPN on a tenant domain (originalUserPrincipalName)",
    severity=Severity.HIGH,
    columns=("original_upn", "original_upn_ok"),
    rationale=(
        "The recommended guest mapping sends originalUserPrincipalName, the stored UPN of the form "
        "alias_theirdomain#EXT#@yourdomain (how provisioning works, B2B users), as the e-mail: "
        "yourdomain is the tenant's initial domain or another of its verified domains. A guest whose "
        "UPN lacks #EXT# or sits on a domain the tenant has not verified would be sent an address "
        "that is not on a domain you control."
    ),
    remediation=(
        "Restore the guest UPN form with Update-MgUser -UserId <id> -UserPrincipalName "
        "'<alias>_<domain>#EXT#@<initial domain>', or exclude the account from the guest mapping."
    ),
    check=_check,
    detail=_detail,
    outcome=Outcome.BLOCKED,
    outcome_when=_no_fallback,
    outcome_columns=("target_email", "target_email_known", "original_upn_ok"),
    plan=suggest("Update-MgUser -UserId {id} -UserPrincipalName {ext}"),
    demo=(
        DemoCase("upn-custom-domain", "upn_custom_domain"),
        DemoCase(
            "ext-upn-custom-domain",
            "ext_upn_wrong_domain",
            twin_of=frozenset({"original-upn-missing"}),
        ),
        DemoCase(
            "alias-trailing-underscore",
            "alias:trailing-underscore",
            twin_of=frozenset({"original-upn-missing", "upn-mail-mismatch"}),
        ),
    ),
    examples=(
        Example(
            rows=[
                {"original_upn": "jo_partner.com#EXT#@t.onmicrosoft.com", "original_upn_ok": True},
                {"original_upn": "jo@partner.com", "original_upn_ok": False},
                {"original_upn": None, "original_upn_ok": False},
                {"original_upn": "lee__partner.com#EXT#@contoso.com", "original_upn_ok": True},
            ],
            expect=[False, True, True, False],
        ),
    ),
)
