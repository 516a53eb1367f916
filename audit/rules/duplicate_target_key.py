"""duplicate-target-key: two in-scope users would send the same key or e-mail to the target.

Who takes part: the users the provisioning engine processes (``in_scope``: job scope, assignment,
scoping filter, enabled account), guests and the users who are not guests alike (``Context.
other_users``); a user whose scope is unknown makes its collisions not evaluated. Which values:
the key, the e-mail, and the value of the highest-precedence matching attribute (two users with one
matching value are matched to one target account).

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
    return _shared(_value_codes(values, fold), in_scope & known(values), values)


def _value_codes(values: pd.Series, fold: bool) -> np.ndarray:
    """Each row's value as a code (equal values, equal codes; -1 for none): one hash pass."""
    text = values.astype("str")
    codes, _ = text_codes(text.str.lower() if fold else text)
    return codes


def _shared(codes: np.ndarray, counted: pd.Series, values: pd.Series) -> pd.Series:
    """True for each counted row whose code another counted row has."""
    codes = np.where(counted.to_numpy(dtype=bool, na_value=False), codes, -1)
    taken = codes >= 0
    counts = np.bincount(codes[taken])
    shared = np.zeros(len(codes), dtype=bool)
    shared[taken] = counts[codes[taken]] > 1
    return pd.Series(shared, index=values.index, name=values.name)


class _Hashed:
    """The codes of each value column (and case rule) made once, for both scopes of a check."""

    def __init__(self) -> None:
        self._codes: dict[tuple[str, bool], np.ndarray] = {}

    def duplicated(
        self, name: str, values: pd.Series, in_scope: pd.Series, *, fold: bool = True
    ) -> pd.Series:
        """:func:`duplicated`, with the codes of ``name`` (the same values every call) reused."""
        codes = self._codes.get((name, fold))
        if codes is None:
            codes = self._codes[(name, fold)] = _value_codes(values, fold)
        return _shared(codes, in_scope & known(values), values)


def in_scope(column: pd.Series) -> tuple[pd.Series, pd.Series]:
    """Users the provisioning service will surely process, and those it may (scope unknown)."""
    scope = column.astype("boolean")
    return scope.fillna(False).astype(bool), scope.fillna(True).astype(bool)


def key_collisions(
    raw: pd.Series,
    stored: pd.Series,
    scope: pd.Series,
    case_insensitive: bool | None,
    hashed: _Hashed | None = None,
) -> pd.Series:
    """Per row, whether its key collides in the target with another in-scope row's: True, False,
    or NA (its stored form, or the target's case rule, is not documented).

    ``stored`` is the key after the target's documented normalisation (NA where unknown); keys
    that are identical as sent are stored identically whatever the normalisation. ``hashed``
    keeps the values' codes for another call on the same keys.
    """
    dup = (hashed or _Hashed()).duplicated
    fold = case_insensitive is True
    stored_known = known(stored)
    stored = stored.where(stored_known)
    hit = dup("stored", stored, scope, fold=fold) | dup("raw", raw, scope, fold=fold)
    unsure = scope & known(raw) & ~stored_known
    if case_insensitive is None:
        unsure |= dup("stored", stored, scope) | dup("raw", raw, scope)
    return tri(hit, ~(unsure & ~hit))


_VALUES = ("target_key", "target_key_normalised", "target_email", "match_value", "in_scope")


def _check(frame: pd.DataFrame, ctx: Context) -> pd.Series:
    both = _with_others(frame, ctx.other_users)
    sure, maybe = in_scope(both["in_scope"])
    hashed = _Hashed()  # both scopes compare the same values
    surely = _collisions(both, sure, ctx, hashed).iloc[: len(frame)].set_axis(frame.index)
    possibly = _collisions(both, maybe, ctx, hashed).iloc[: len(frame)].set_axis(frame.index)
    yes = surely.fillna(False).astype(bool) & sure.iloc[: len(frame)].to_numpy()
    open_ = (surely.isna() | possibly.fillna(True).astype(bool)) & maybe.iloc[
        : len(frame)
    ].to_numpy()
    return pd.Series(yes, index=frame.index, dtype="boolean").mask(open_ & ~yes, pd.NA)


def _with_others(frame: pd.DataFrame, others: pd.DataFrame | None) -> pd.DataFrame:
    """The guests' values, then the other users' (those the context carries)."""
    guests = frame.loc[:, list(_VALUES)].reset_index(drop=True)
    if others is None or not len(others):
        return guests
    theirs = others.reindex(columns=list(_VALUES))
    return pd.concat([guests, theirs.astype(guests.dtypes.to_dict())], ignore_index=True)


def _collisions(both: pd.DataFrame, scope: pd.Series, ctx: Context, hashed: _Hashed) -> pd.Series:
    """Per user, whether its key, e-mail or matching value collides with another counted user's
    (NA where the target's stored form or case rule is not documented)."""
    rules = ctx.target.key_rules
    keys = key_collisions(
        both["target_key"], both["target_key_normalised"], scope, rules.case_insensitive, hashed
    )
    others = hashed.duplicated("email", both["target_email"], scope)
    if not both["match_value"].equals(both["target_key"]):
        others |= hashed.duplicated("match", both["match_value"], scope)
    return keys.mask(others, True)


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
    columns=("target_key", "target_key_normalised", "target_email", "match_value", "in_scope"),
    rationale=(
        "{target.title} requires its key ({target.key_attribute}) to be unique in {target.key_scope}, "
        "compared as it stores it ({target.key_constraints}); SCIM targets also keep e-mail "
        "addresses unique. The second user fails (HTTP 409, scimType uniqueness, RFC 7644 §3.3); "
        "two users with one value of the matching attribute are matched to one target account. "
        "Only users the provisioning service processes take part: in scope (assignment or Sync all, "
        "scoping filter) and enabled, guests and the assigned users who are not guests alike."
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
        DemoCase("duplicate-of-member", "member_twin"),
        DemoCase(
            "duplicate-twin-disabled",
            "pair:disabled",
            twin_of=frozenset({"duplicate-target-key"}),
        ),
        DemoCase(
            "duplicate-twin-filtered",
            "pair:filtered",
            twin_of=frozenset({"duplicate-target-key"}),
        ),
    ),
    examples=(
        Example(
            rows=[
                {
                    "target_key": k,
                    "target_key_normalised": k,
                    "target_email": k,
                    "match_value": k,
                    "in_scope": s,
                }
                for k, s in (
                    ("jo@p.com", True),
                    ("JO@p.com", True),
                    ("ann@p.com", True),
                    ("ann@p.com", False),
                    ("al@p.com", True),
                    ("al@p.com", None),
                )
            ],
            expect=[True, True, False, False, None, None],
            note="case-insensitive; out-of-scope users never collide; unknown scope: not evaluated",
        ),
    ),
)
