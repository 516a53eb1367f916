"""original-upn-missing: no originalUserPrincipalName of the guest form can be derived."""

from __future__ import annotations

import pandas as pd

from audit.analysis.engine import Context, DemoCase, Example, Rule
from audit.models import Outcome, Severity
from audit.plans import suggest
from audit.rules._common import known


def _check(frame: pd.DataFrame, ctx: Context) -> pd.Series:
    return (~frame["original_upn_ok"].fillna(False).astype(bool)).astype("boolean")


def _detail(frame: pd.DataFrame, ctx: Context) -> pd.Series:
    upn = frame["original_upn"].fillna("(no UPN)")
    return "UPN " + upn + f" is not alias_domain#EXT#@{ctx.initial_domain or '<initial domain>'}"


def _no_fallback(frame: pd.DataFrame, ctx: Context) -> pd.Series:
    """The target e-mail is missing and no #EXT# UPN could stand in for it."""
    missing = ~known(frame["target_email"])
    return (missing & ~frame["original_upn_ok"].fillna(False).astype(bool)).astype("boolean")


RULE = Rule(
    id="original-upn-missing",
    title="No #EXT# UPN on the initial domain (originalUserPrincipalName)",
    severity=Severity.HIGH,
    columns=("original_upn", "original_upn_ok"),
    rationale=(
        "The recommended guest mapping sends originalUserPrincipalName, the stored UPN of the form "
        "alias_domain#EXT#@<tenant>.onmicrosoft.com, as the e-mail. A guest whose UPN lacks #EXT# or sits on "
        "another domain would be sent an address that is not on the verified initial domain."
    ),
    remediation=(
        "Restore the guest UPN form with Update-MgUser -UserId <id> -UserPrincipalName "
        "'<alias>_<domain>#EXT#@<initial domain>', or exclude the account from the guest mapping."
    ),
    check=_check,
    detail=_detail,
    outcome=Outcome.BLOCKED,
    outcome_when=_no_fallback,
    outcome_columns=("target_email", "original_upn_ok"),
    plan=suggest("Update-MgUser -UserId {id} -UserPrincipalName {ext}"),
    demo=(
        DemoCase("upn-custom-domain", "upn_custom_domain"),
        DemoCase("ext-upn-wrong-domain", "ext_upn_wrong_domain"),
    ),
    examples=(
        Example(
            rows=[
                {"original_upn": "jo_partner.com#EXT#@t.onmicrosoft.com", "original_upn_ok": True},
                {"original_upn": "jo@partner.com", "original_upn_ok": False},
                {"original_upn": None, "original_upn_ok": False},
            ],
            expect=[False, True, True],
        ),
    ),
)
