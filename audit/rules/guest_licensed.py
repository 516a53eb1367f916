"""guest-licensed: a guest holds licences."""

from __future__ import annotations

import pandas as pd

from audit.analysis.engine import Context, DemoCase, Example, Rule
from audit.models import Severity
from audit.plans import suggest


def _check(frame: pd.DataFrame, ctx: Context) -> pd.Series:
    return (frame["license_count"].astype("Int64") > 0).astype("boolean")


def _detail(frame: pd.DataFrame, ctx: Context) -> pd.Series:
    return frame["license_count"].astype("str") + " licence(s) assigned"


RULE = Rule(
    id="guest-licensed",
    title="Guest holds licences",
    severity=Severity.LOW,
    columns=("license_count",),
    rationale=(
        "Guests are billed through monthly active users; Microsoft 365 licences on a guest usually come "
        "from a group-based assignment by mistake and cost money without giving the guest a mailbox."
    ),
    remediation=(
        "Remove the licence or the group membership that grants it: Set-MgUserLicense -UserId <id> "
        "-RemoveLicenses @('<skuId>') -AddLicenses @()."
    ),
    check=_check,
    detail=_detail,
    plan=suggest(
        "Get-MgUserLicenseDetail -UserId {id} | Format-Table SkuPartNumber,SkuId",
        "Set-MgUserLicense -UserId {id} -RemoveLicenses @('<skuId>') -AddLicenses @()",
        note="Group-based licences are removed by leaving the group, not with Set-MgUserLicense.",
    ),
    demo=(DemoCase("licensed", changes={"licensed": True}, flags=frozenset({"guest-licensed"})),),
    examples=(
        Example(
            rows=[{"license_count": 1}, {"license_count": 0}, {"license_count": None}],
            expect=[True, False, None],
        ),
    ),
)
