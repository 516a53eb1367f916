"""domain-unverified: the e-mail the target receives is on a domain not verified in the target."""

from __future__ import annotations

import pandas as pd

from audit.analysis.engine import Context, Example, Rule
from audit.models import Outcome, Severity


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
        "Atlassian Cloud only manages accounts whose e-mail domain the organisation has verified (and "
        "claimed). A guest sent with a partner address arrives as an unmanaged external account: it cannot "
        "be managed, updates are not pushed, and an e-mail change unlinks it from SCIM groups."
    ),
    remediation=(
        "Either verify the domain in the target (Atlassian Administration → Settings → Domains → Verify "
        "domain, DNS TXT method) or map the e-mail from the guest's #EXT# UPN on your initial domain: in "
        "Entra → Enterprise applications → <app> → Provisioning → Mappings → Provision users, set "
        'emails[type eq "work"].value to [originalUserPrincipalName] and verify the initial domain.'
    ),
    check=_check,
    detail=_detail,
    decides=Outcome.UNMANAGED,
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
