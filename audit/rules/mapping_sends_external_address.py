"""mapping-sends-external-address: (app) the mapping sends guests' external address as the e-mail."""

from __future__ import annotations

import pandas as pd

from audit.analysis.engine import APP, Context, Example, Rule
from audit.models import Severity
from audit.rules._common import known, tri


def _check(frame: pd.DataFrame, ctx: Context) -> pd.Series:
    email = frame["target_email"].astype("str").str.lower()
    external = email.eq(frame["mail"].astype("str").str.lower()) | email.eq(
        frame["provisioning_upn"].astype("str").str.lower()
    )
    off_tenant = frame["target_email_domain"].astype("str") != (ctx.initial_domain or "")
    return tri(external.fillna(False) & off_tenant.fillna(True), known(email))


def _detail(frame: pd.DataFrame, ctx: Context) -> pd.Series:
    expr = ctx.email_expression or "the e-mail mapping"
    return f"{expr} sends the guest's external address " + frame["target_email"]


RULE = Rule(
    id="mapping-sends-external-address",
    title="The e-mail mapping sends guests' external addresses",
    severity=Severity.HIGH,
    level=APP,
    columns=("target_email", "target_email_domain", "mail", "provisioning_upn"),
    sources=("sync_schema",),
    rationale=(
        'The gallery default maps emails[type eq "work"].value from [mail] (and userName from '
        "[userPrincipalName], which the provisioning service de-mangles to the guest's own address). "
        "Partners' domains are not verified in your target, so those guests arrive unmanaged."
    ),
    remediation=(
        "In Entra → Enterprise applications → <app> → Provisioning → Mappings → Provision users, set "
        'emails[type eq "work"].value to [originalUserPrincipalName] (or IIF([userType]="Guest", '
        "[originalUserPrincipalName], [mail])) and verify the tenant's initial domain in the target."
    ),
    check=_check,
    detail=_detail,
    examples=(
        Example(
            rows=[
                {
                    "target_email": "jo@partner.com",
                    "target_email_domain": "partner.com",
                    "mail": "jo@partner.com",
                    "provisioning_upn": "jo@partner.com",
                },
                {
                    "target_email": "jo_partner.com#EXT#@t.onmicrosoft.com",
                    "target_email_domain": "t.onmicrosoft.com",
                    "mail": "jo@partner.com",
                    "provisioning_upn": "jo@partner.com",
                },
                {
                    "target_email": None,
                    "target_email_domain": None,
                    "mail": None,
                    "provisioning_upn": "x",
                },
            ],
            expect=[True, False, None],
        ),
    ),
)
