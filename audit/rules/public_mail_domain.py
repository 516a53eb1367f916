"""public-mail-domain: the target e-mail is on a consumer mail provider that can never be verified."""

from __future__ import annotations

import pandas as pd

from audit.analysis.engine import Context, Example, Rule
from audit.models import Outcome, Severity
from audit.rules._common import known, tri


def _check(frame: pd.DataFrame, ctx: Context) -> pd.Series:
    return tri(frame["target_email_public"], known(frame["target_email_domain"]))


def _detail(frame: pd.DataFrame, ctx: Context) -> pd.Series:
    return frame["target_email_domain"] + " is a consumer mail provider"


RULE = Rule(
    id="public-mail-domain",
    title="Target e-mail is on a consumer mail provider",
    severity=Severity.MEDIUM,
    columns=("target_email_domain", "target_email_public"),
    rationale=(
        "Consumer domains such as gmail.com or outlook.com belong to the provider; no customer can verify "
        "them in Atlassian or any other SaaS, so such guests stay unmanaged for as long as the mapping "
        "sends their own address."
    ),
    remediation=(
        "Map the target e-mail from [originalUserPrincipalName] (an address on your verified initial "
        "domain), or ask the guest to be re-invited with a work address."
    ),
    check=_check,
    detail=_detail,
    decides=Outcome.UNMANAGED,
    examples=(
        Example(
            rows=[
                {"target_email_domain": "gmail.com", "target_email_public": True},
                {"target_email_domain": "partner.com", "target_email_public": False},
                {"target_email_domain": None, "target_email_public": False},
            ],
            expect=[True, False, None],
        ),
    ),
)
