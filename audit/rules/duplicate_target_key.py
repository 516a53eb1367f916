"""duplicate-target-key: two in-scope users would send the same key or e-mail to the target."""

from __future__ import annotations

import numpy as np
import pandas as pd

from audit._text import text_codes
from audit.analysis.engine import Context, DemoCase, Example, Rule
from audit.models import Outcome, Severity
from audit.plans import suggest
from audit.rules._common import known


def duplicated(values: pd.Series, in_scope: pd.Series) -> pd.Series:
    """True for every in-scope row whose value (case-insensitive) another in-scope row shares."""
    key = values.astype("str").str.lower().where(in_scope & known(values))
    codes, _ = text_codes(key)
    counted = codes >= 0
    counts = np.bincount(codes[counted])
    shared = np.zeros(len(key), dtype=bool)
    shared[counted] = counts[codes[counted]] > 1
    return pd.Series(shared, index=values.index, name=values.name)


def in_scope(scope: pd.Series) -> pd.Series:
    """Guests the provisioning service will process (unknown scope counts as in scope)."""
    return (scope.isna() | scope.isin(["direct", "group"])).astype(bool)


def _check(frame: pd.DataFrame, ctx: Context) -> pd.Series:
    scope = in_scope(frame["scope"])
    dup = duplicated(frame["target_key"], scope) | duplicated(frame["target_email"], scope)
    return dup.astype("boolean")


def _detail(frame: pd.DataFrame, ctx: Context) -> pd.Series:
    return "another in-scope user sends the same key or e-mail: " + frame["target_email"].fillna(
        frame["target_key"]
    )


RULE = Rule(
    id="duplicate-target-key",
    title="Another in-scope user sends the same key or e-mail",
    severity=Severity.HIGH,
    columns=("target_key", "target_email", "scope"),
    rationale=(
        "SCIM targets require userName and e-mail to be unique (case-insensitive). The second user fails "
        "with HTTP 409 (scimType uniqueness, RFC 7644 §3.3)."
    ),
    remediation=(
        "Remove or fix the duplicate guest (often a re-invited account: Remove-MgUser -UserId <old id>), "
        "or change the mapping so the key is unique (e.g. objectId → externalId)."
    ),
    check=_check,
    detail=_detail,
    outcome=Outcome.BLOCKED,
    plan=suggest(
        "Get-MgUser -UserId {id} -Property Id,DisplayName,Mail,UserPrincipalName,CreatedDateTime",
        "Remove-MgUser -UserId {id}",
        note="Remove only the stale twin, or make the key unique in the mapping.",
    ),
    demo=(
        DemoCase("duplicate-mail", "pair:group_b"),
        DemoCase("duplicate-twin", "pair:none", twin_of=frozenset({"duplicate-target-key"})),
    ),
    examples=(
        Example(
            rows=[
                {"target_key": "jo@p.com", "target_email": "jo@p.com", "scope": "group"},
                {"target_key": "JO@p.com", "target_email": "JO@p.com", "scope": "direct"},
                {"target_key": "ann@p.com", "target_email": "ann@p.com", "scope": "group"},
                {"target_key": "ann@p.com", "target_email": "ann@p.com", "scope": "none"},
            ],
            expect=[True, True, False, False],
            note="case-insensitive; out-of-scope users never collide",
        ),
    ),
)
