"""mapping-sends-external-address: (app) the mapping sends guests' external address as the e-mail."""

from __future__ import annotations

import pandas as pd

from audit.analysis.engine import APP, Context, Example, Rule
from audit.models import Severity
from audit.plans import Ctx, Finding, Guest, Plan
from audit.powershell import short
from audit.rules._common import known, tri
from audit.targets import Target


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


def _portal_steps(finding: Finding, guest: Guest, ctx: Ctx) -> Plan:
    """The mapping change, step by step: a portal change, never scripted."""
    domain = ctx.initial_domain or "<initial domain>.onmicrosoft.com"
    return Plan(
        notes=[
            "Not scripted: change the attribute mapping in the Entra admin center:",
            f"  1. Enterprise applications > {short(ctx.app_name, 80)} > Provisioning > Mappings >",
            "     Provision Microsoft Entra ID Users.",
            f"  2. Edit {ctx.email_attribute}: source attribute {ctx.recommended_email}",
            "     (for members it equals their UPN, so one mapping serves everyone).",
            f"  3. Verify {domain} in the target before the next cycle.",
            "  4. Save, then 'Provision on demand' one guest and check it arrives managed.",
            "  Mail to that address reaches a guest only when exo-forwarding-broken is fixed for it.",
        ]
    )


_portal_steps.reads_guest = False  # type: ignore[attr-defined]


def _applies(target: Target) -> bool | str:
    if target.verifies_domains is False:
        return False
    if not target.verifies_domains:
        return f"not evaluated: {target.title} documents no effect of an unverified e-mail domain"
    if not target.recommended_email:
        return f"not evaluated: no documented guest mapping to recommend for {target.title}"
    return True


RULE = Rule(
    id="mapping-sends-external-address",
    title="The e-mail mapping sends guests' external addresses",
    severity=Severity.HIGH,
    level=APP,
    columns=("target_email", "target_email_domain", "mail", "provisioning_upn"),
    sources=("sync_schema",),
    rationale=(
        "The gallery default maps {target.email_attribute} from [mail] (and {target.key_attribute} from "
        "[userPrincipalName], which the provisioning service de-mangles to the guest's own address). "
        "Partners' domains are not verified in your target, so those guests arrive unmanaged."
    ),
    remediation=(
        "In Entra → Enterprise applications → <app> → Provisioning → Mappings → Provision users, set "
        "{target.email_attribute} to {target.recommended_email} (for members it equals their UPN) "
        "and verify the tenant's initial domain in the target ({target.verify_hint})."
    ),
    check=_check,
    applies=_applies,
    plan=_portal_steps,
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
