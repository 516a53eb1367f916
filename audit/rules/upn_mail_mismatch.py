"""upn-mail-mismatch: the de-mangled provisioning UPN and ``mail`` differ."""

from __future__ import annotations

import pandas as pd

from audit.analysis.engine import Context, DemoCase, Example, Rule
from audit.models import Severity
from audit.plans import suggest
from audit.rules._common import known, tri


def _check(frame: pd.DataFrame, ctx: Context) -> pd.Series:
    upn = frame["provisioning_upn"].astype("str").str.lower()
    mail = frame["mail"].astype("str").str.lower()
    return tri(upn != mail, known(upn) & known(mail))


def _detail(frame: pd.DataFrame, ctx: Context) -> pd.Series:
    return "userPrincipalName sends " + frame["provisioning_upn"] + ", mail is " + frame["mail"]


RULE = Rule(
    id="upn-mail-mismatch",
    title="Provisioning UPN and mail differ",
    severity=Severity.MEDIUM,
    columns=("provisioning_upn", "mail"),
    rationale=(
        "The provisioning service sends a guest's userPrincipalName de-mangled (alias@theirdomain). When it "
        "differs from mail, userName and emails disagree in the target; matching on one and updating the "
        "other creates duplicates or 409 uniqueness errors."
    ),
    remediation=(
        "Align the two (Update-MgUser -UserId <id> -Mail '<address>'), or match on a stable key: map "
        "objectId to externalId with matching precedence 1."
    ),
    check=_check,
    detail=_detail,
    plan=suggest(
        "Update-MgUser -UserId {id} -Mail {upn}",
        note="If the invited address is the right one; or match objectId to externalId instead.",
    ),
    demo=(
        DemoCase("changed-alias", "changed_alias"),
        DemoCase("changed-domain", "changed_domain"),
        DemoCase("upn-case-differs", "upn_case_differs", twin_of=frozenset({"upn-mail-mismatch"})),
        DemoCase(
            "underscore-alias",
            "alias:underscore",
            twin_of=frozenset({"original-upn-missing", "upn-mail-mismatch", "upn-invalid"}),
        ),
    ),
    examples=(
        Example(
            rows=[
                {"provisioning_upn": "jo@partner.com", "mail": "JO@Partner.com"},
                {"provisioning_upn": "jo@partner.com", "mail": "joanna@partner.com"},
                {"provisioning_upn": "jo@partner.com", "mail": None},
            ],
            expect=[False, True, None],
        ),
    ),
)
