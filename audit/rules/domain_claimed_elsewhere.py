"""domain-claimed-elsewhere: the guest's domain carries the vendor's verification TXT of another org."""

from __future__ import annotations

import pandas as pd

from audit.analysis.engine import Context, DemoCase, Example, Rule
from audit.models import Severity


def _check(frame: pd.DataFrame, ctx: Context) -> pd.Series:
    return frame["domain_claimed_elsewhere"].astype("boolean")


def _detail(frame: pd.DataFrame, ctx: Context) -> pd.Series:
    return frame["mail_domain"] + " publishes another organisation's verification token"


RULE = Rule(
    id="domain-claimed-elsewhere",
    title="Guest's domain is verified by another organisation in the target",
    severity=Severity.MEDIUM,
    columns=("mail_domain", "domain_claimed_elsewhere"),
    sources=("dns",),
    rationale=(
        "A domain that publishes the vendor's verification TXT ({target.vendor_txt}) with "
        "a token that is not yours is most likely claimed by the partner's own organisation: accounts on it "
        "are managed there, and provisioning them from your tenant conflicts with that."
    ),
    remediation=(
        "Coordinate with the partner's administrators, or map the e-mail from "
        "[originalUserPrincipalName] so the account lives on your own verified initial domain."
    ),
    check=_check,
    applies=lambda target: target.verifies_domains is not False,
    detail=_detail,
    plan_note="Fixed in the target or the mapping, not per guest (see the remediation above).",
    demo=(
        DemoCase("claimed-domain", "on:claimed"),
        DemoCase(
            "other-vendor-txt",
            "on:partner",
            trips=frozenset({"domain-unverified"}),
            twin_of=frozenset({"domain-claimed-elsewhere"}),
        ),
    ),
    examples=(
        Example(
            rows=[
                {"mail_domain": "p.com", "domain_claimed_elsewhere": True},
                {"mail_domain": "q.com", "domain_claimed_elsewhere": False},
                {"mail_domain": "slow.com", "domain_claimed_elsewhere": None},
            ],
            expect=[True, False, None],
        ),
    ),
)
