"""duplicate-target-key: two in-scope users would send the same key or e-mail to the target.

Keys are compared as the target stores them (``target_key_normalised``: the profile's documented
normalisation, e.g. GitHub's username from the part before ``@`` with non-alphanumerics as dashes),
case-insensitively only where the target documents it; a key whose stored form is not documented,
or that collides only when case is ignored where the case rule is not documented, is not evaluated.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from audit._text import text_codes
from audit.analysis.engine import Context, DemoCase, Example, Rule
from audit.models import Outcome, Severity
from audit.plans import suggest
from audit.rules._common import known, tri
from audit.targets import Target


def duplicated(values: pd.Series, in_scope: pd.Series, *, fold: bool = True) -> pd.Series:
    """True for every in-scope row whose value another in-scope row shares (ignoring case when
    ``fold``)."""
    text = values.astype("str")
    key = (text.str.lower() if fold else text).where(in_scope & known(values))
    codes, _ = text_codes(key)
    counted = codes >= 0
    counts = np.bincount(codes[counted])
    shared = np.zeros(len(key), dtype=bool)
    shared[counted] = counts[codes[counted]] > 1
    return pd.Series(shared, index=values.index, name=values.name)


def in_scope(scope: pd.Series) -> pd.Series:
    """Guests the provisioning service will process (unknown scope counts as in scope)."""
    return (scope.isna() | scope.isin(["direct", "group"])).astype(bool)


def key_collisions(
    raw: pd.Series, stored: pd.Series, scope: pd.Series, case_insensitive: bool | None
) -> pd.Series:
    """Per row, whether its key collides in the target with another in-scope row's: True, False,
    or NA (its stored form, or the target's case rule, is not documented).

    ``stored`` is the key after the target's documented normalisation (NA where unknown); keys
    that are identical as sent are stored identically whatever the normalisation.
    """
    fold = case_insensitive is True
    stored_known = known(stored)
    hit = duplicated(stored.where(stored_known), scope, fold=fold) | duplicated(
        raw, scope, fold=fold
    )
    unsure = scope & known(raw) & ~stored_known
    if case_insensitive is None:
        unsure |= duplicated(stored.where(stored_known), scope) | duplicated(raw, scope)
    return tri(hit, ~(unsure & ~hit))


def _check(frame: pd.DataFrame, ctx: Context) -> pd.Series:
    scope = in_scope(frame["scope"])
    rules = ctx.target.key_rules
    keys = key_collisions(
        frame["target_key"], frame["target_key_normalised"], scope, rules.case_insensitive
    )
    emails = duplicated(frame["target_email"], scope)
    return keys.mask(emails, True)


def _detail(frame: pd.DataFrame, ctx: Context) -> pd.Series:
    raw, stored = frame["target_key"], frame["target_key_normalised"]
    plain = "another in-scope user sends the same key or e-mail: " + frame["target_email"].fillna(
        raw
    )
    changed = (raw != stored).fillna(False).astype(bool)
    note = f"; {ctx.target.title} stores the key " + raw + " as " + stored
    return plain.mask(changed, plain + note)


def _applies(target: Target) -> bool | str:
    if target.key_attribute or target.email_attribute:
        return True
    return f"not evaluated: {target.title} documents neither its key nor its e-mail attribute"


RULE = Rule(
    id="duplicate-target-key",
    title="Another in-scope user sends the same key or e-mail",
    severity=Severity.HIGH,
    columns=("target_key", "target_key_normalised", "target_email", "scope"),
    rationale=(
        "{target.title} requires its key ({target.key_attribute}) to be unique in {target.key_scope}, "
        "compared as it stores it ({target.key_constraints}); SCIM targets also keep e-mail "
        "addresses unique. The second user fails (HTTP 409, scimType uniqueness, RFC 7644 §3.3)."
    ),
    remediation=(
        "Remove or fix the duplicate guest (often a re-invited account: Remove-MgUser -UserId <old id>), "
        "or change the mapping so the key is unique (e.g. objectId → externalId)."
    ),
    check=_check,
    detail=_detail,
    applies=_applies,
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
                {"target_key": k, "target_key_normalised": k, "target_email": k, "scope": s}
                for k, s in (
                    ("jo@p.com", "group"),
                    ("JO@p.com", "direct"),
                    ("ann@p.com", "group"),
                    ("ann@p.com", "none"),
                )
            ],
            expect=[True, True, False, False],
            note="case-insensitive; out-of-scope users never collide",
        ),
    ),
)
