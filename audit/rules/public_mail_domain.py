"""public-mail-domain: the target e-mail is on a consumer mail provider that can never be verified."""

from __future__ import annotations

import pandas as pd

from audit.analysis.engine import Context, DemoCase, Example, Rule
from audit.models import Outcome, Severity
from audit.rules._common import domain_rule_applies, known, tri


def _check(frame: pd.DataFrame, ctx: Context) -> pd.Series:
    """Not evaluated where the target documents no effect of an unverified domain."""
    evaluable = known(frame["target_email_domain"]) & (ctx.target.verifies_domains is True)
    return tri(frame["target_email_public"], evaluable)


def _detail(frame: pd.DataFrame, ctx: Context) -> pd.Series:
    return frame["target_email_domain"] + " is a consumer mail provider"


RULE = Rule(
    id="public-mail-domain",
    title="Target e-mail is on a consumer mail provider",
    severity=Severity.MEDIUM,
    columns=("target_email_domain", "target_email_public"),
    rationale=(
        "Consumer domains such as gmail.com or outlook.com belong to the provider; no customer can verify "
        "them in {target.title} or any other SaaS, so such guests stay unmanaged for as long as the mapping "
        "sends their own address."
    ),
    remediation=(
        "Map the target e-mail from [originalUserPrincipalName] (an address on your verified initial "
        "domain), or ask the guest to be re-invited with a work address."
    ),
    check=_check,
    applies=domain_rule_applies,
    detail=_detail,
    outcome=Outcome.UNMANAGED,
    plan_note="Fixed in the target or the mapping, not per guest (see the remediation above).",
    demo=(
        DemoCase(
            "public-mail", "on:public", trips=frozenset({"public-mail-domain", "domain-unverified"})
        ),
    ),
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
