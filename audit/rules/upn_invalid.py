"""upn-invalid: the UPN breaks Entra's character or length rules."""

from __future__ import annotations

import pandas as pd

from audit.analysis.engine import Context, DemoCase, Example, Rule
from audit.models import Severity
from audit.plans import suggest
from audit.rules._common import known, tri

_PATTERN = r"^[A-Za-z0-9'.\-_!#^~]{1,64}@[A-Za-z0-9.\-]{1,48}$"


def _check(frame: pd.DataFrame, ctx: Context) -> pd.Series:
    upn = frame["user_principal_name"].astype("str")
    good = upn.str.match(_PATTERN).fillna(False).astype(bool)
    good &= ~upn.str.contains(".@", regex=False).fillna(False).astype(bool)
    good &= (upn.str.len() <= 113).fillna(False).astype(bool)
    return tri(~good, known(upn))


def _detail(frame: pd.DataFrame, ctx: Context) -> pd.Series:
    return "UPN " + frame["user_principal_name"].str.slice(0, 200) + " breaks Entra's UPN rules"


RULE = Rule(
    id="upn-invalid",
    title="UPN breaks Entra's character or length rules",
    severity=Severity.LOW,
    columns=("user_principal_name",),
    rationale=(
        "Entra UPNs allow only A-Z a-z 0-9 ' . - _ ! # ^ ~, at most 64 characters before the @, 48 after "
        "and 113 in all, and no dot right before the @. Objects breaking this were created by older tools; "
        "any later update that writes the UPN fails."
    ),
    remediation="Rename the UPN: Update-MgUser -UserId <id> -UserPrincipalName '<valid UPN>'.",
    check=_check,
    detail=_detail,
    plan=suggest("Update-MgUser -UserId {id} -UserPrincipalName '<valid UPN>'"),
    demo=(DemoCase("upn-plus", "alias:plus"), DemoCase("upn-ampersand", "alias:team")),
    examples=(
        Example(
            rows=[
                {"user_principal_name": "jo_p.com#EXT#@t.onmicrosoft.com"},
                {"user_principal_name": "jo+tag_p.com#EXT#@t.onmicrosoft.com"},
                {"user_principal_name": "jo._p.com#EXT#.@t.onmicrosoft.com"},
                {"user_principal_name": "a" * 65 + "@t.onmicrosoft.com"},
            ],
            expect=[False, True, True, True],
        ),
    ),
)
