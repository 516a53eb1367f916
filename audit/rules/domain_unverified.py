"""domain-unverified: the e-mail the target receives is on a domain not verified in the target."""

from __future__ import annotations

import pandas as pd

from audit.analysis.engine import Context, DemoCase, Example, Rule
from audit.models import Outcome, Severity
from audit.rules._common import domain_rule_applies


def _check(frame: pd.DataFrame, ctx: Context) -> pd.Series:
    return ~frame["target_domain_verified"].astype("boolean")


def _detail(frame: pd.DataFrame, ctx: Context) -> pd.Series:
    return "target e-mail " + frame["target_email"] + " is on " + frame["target_email_domain"]


RULE = Rule(
    id="domain-unverified",
    title="Target e-mail is on a domain not verified in the target",
    severity=Severity.HIGH,
    columns=("target_email", "target_email_domain", "target_domain_verified"),
    rationale=(
        "{target.title} manages only accounts whose e-mail domain the organisation has verified. A guest "
        "sent with a partner's address on a domain not verified there: {target.unverified_meaning}."
    ),
    remediation=(
        "Either verify the domain in the target ({target.verify_hint}) or map the e-mail from the "
        "guest's #EXT# UPN on your initial domain: in Entra → Enterprise applications → <app> → "
        "Provisioning → Mappings → Provision users, set {target.email_attribute} to "
        "{target.recommended_email} and verify the initial domain."
    ),
    check=_check,
    applies=domain_rule_applies,
    detail=_detail,
    outcome=Outcome.UNMANAGED,
    plan_note="Fixed in the target or the mapping, not per guest (see the remediation above).",
    demo=(
        DemoCase("unverified-partner", "on:partner"),
        DemoCase(
            "clean-verified",
            twin_of=frozenset(
                {
                    "domain-unverified",
                    "public-mail-domain",
                    "account-disabled",
                    "guest-licensed",
                    "external-member",
                }
            ),
        ),
    ),
    examples=(
        Example(
            rows=[
                {
                    "target_email": "a@partner.com",
                    "target_email_domain": "partner.com",
                    "target_domain_verified": False,
                },
                {
                    "target_email": "b@contoso.com",
                    "target_email_domain": "contoso.com",
                    "target_domain_verified": True,
                },
                {
                    "target_email": "c@slow.com",
                    "target_email_domain": "slow.com",
                    "target_domain_verified": None,
                },
            ],
            expect=[True, False, None],
            note="unknown TXT answers are not evaluated",
        ),
    ),
)
