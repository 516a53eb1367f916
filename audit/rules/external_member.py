"""external-member: an externally-invited account has ``userType`` Member."""

from __future__ import annotations

import pandas as pd

from audit.analysis.engine import Context, DemoCase, Example, Rule
from audit.models import Severity
from audit.plans import Ctx, Finding, Guest, Plan, scripted
from audit.powershell import ps_quote


def _check(frame: pd.DataFrame, ctx: Context) -> pd.Series:
    return frame["is_external_member"].fillna(False).astype("boolean")


def _detail(frame: pd.DataFrame, ctx: Context) -> pd.Series:
    return (
        "externally invited ("
        + frame["creation_type"].fillna("#EXT# UPN")
        + ") but userType Member"
    )


def _plan(finding: Finding, guest: Guest, ctx: Ctx) -> Plan:
    """Flip userType back to Guest."""
    return Plan(commands=[f"Update-MgUser -UserId {ps_quote(finding.object_id)} -UserType 'Guest'"])


_plan.reads_guest = False  # type: ignore[attr-defined]


RULE = Rule(
    id="external-member",
    title="Externally invited account is a Member",
    severity=Severity.MEDIUM,
    columns=("is_external_member", "creation_type"),
    rationale=(
        "External members get member-level directory access and are not mail-enabled in Exchange. Tenants "
        "often flip guests to Member temporarily (e.g. for Set-MailUser) and forget to flip them back."
    ),
    remediation="Flip it back: Update-MgUser -UserId <id> -UserType Guest.",
    check=_check,
    detail=_detail,
    plan=scripted(_plan),
    demo=(
        DemoCase(
            "external-member",
            changes={"user_type": "Member", "mailuser": False, "scope": "direct"},
            flags=frozenset({"external-member", "exo-not-mail-enabled"}),
        ),
    ),
    examples=(
        Example(
            rows=[
                {"is_external_member": True, "creation_type": "Invitation"},
                {"is_external_member": False, "creation_type": "Invitation"},
            ],
            expect=[True, False],
        ),
    ),
)
