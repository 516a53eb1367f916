"""Display helpers shared by every renderer: value conversion, the guest view, headline texts.

Renderers compute nothing about guests; these helpers only reshape what ``AuditResult`` holds
(join outcomes and findings onto guests, count for display, turn pandas values into plain Python),
so the HTML, Excel, JSON and CSV outputs show the same numbers.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
from pandas.api.extensions import ExtensionDtype

from audit._values import column
from audit.analysis.result import AuditResult
from audit.models import Outcome, Severity, SourceState

if TYPE_CHECKING:
    from audit.analysis.diff import Diff

SEVERITIES = tuple(s.value for s in sorted(Severity, key=lambda s: s.rank, reverse=True))
"""Severity values, most severe first (``high, medium, low, info``)."""

OUTCOMES = tuple(o.value for o in Outcome)
"""Outcome values in display order."""

GUEST_FIELDS = (
    "object_id",
    "display_name",
    "user_principal_name",
    "mail",
    "provisioning_upn",
    "original_upn",
    "target_email",
    "target_key",
    "outcome",
    "reasons",
    "whatif_outcome",
    "scope",
    "account_enabled",
    "external_user_state",
    "flagged_rules",
    "muted_rules",
    "target_account",
    "in_scope",
    "match_attribute",
    "match_value",
    "step_scope",
    "step_match",
    "step_action",
    "step_attributes",
    "step_result",
)
"""Columns of guests.csv, in order (public contract; the ``step_*`` columns are provision on
demand's steps for each guest)."""

_OUTCOME_COLUMNS = ("outcome", "reasons", "whatif_outcome", "whatif_reasons")


def guest_view(result: AuditResult) -> pd.DataFrame:
    """The guests frame with outcome columns and per-guest rule ids joined on (display only).

    ``flagged_rules``/``muted_rules`` list the rule ids of the guest's open and muted findings.
    """
    return next(guest_views(result, max(1, len(result.guests))))


def guest_views(result: AuditResult, rows: int) -> Iterator[pd.DataFrame]:
    """:func:`guest_view` in consecutive blocks of ``rows`` guests (a writer that formats a
    block at a time holds one block's joined values, not a million guests'). At least one block,
    empty for a result without guests."""
    guests = result.guests.reset_index(drop=True)
    outcomes = result.outcomes.drop_duplicates("object_id").set_index("object_id")
    ids = column(guests, "object_id")
    rules = {
        name: _RulesByGuest.of(result.findings, status, ids)
        for status, name in (("flagged", "flagged_rules"), ("muted", "muted_rules"))
    }
    for start in range(0, max(len(guests), 1), rows):
        block = guests.iloc[start : start + rows].reset_index(drop=True)
        yield _joined(block, outcomes, rules, start)


def _joined(
    guests: pd.DataFrame,
    outcomes: pd.DataFrame,
    rules: dict[str, _RulesByGuest],
    start: int,
) -> pd.DataFrame:
    """``guests`` (the rows from ``start`` on) with their outcome columns and rule ids (see
    :func:`guest_view`)."""
    ids = column(guests, "object_id")
    view = guests.drop(columns=[c for c in _OUTCOME_COLUMNS if c in guests.columns])
    at = outcomes.index.get_indexer(pd.Index(ids))  # once for all four (as ``ids.map`` looks up)
    for name in _OUTCOME_COLUMNS:
        source = column(outcomes, name)
        view[name] = _picked(source, at) if len(source) else None
    for name, by_guest in rules.items():
        view[name] = pd.Series(by_guest.lists(start, len(guests)), dtype=object)
    return view


def _picked(source: pd.Series, at: np.ndarray) -> np.ndarray:
    """``source``'s values at positions ``at`` (-1: missing), as ``ids.map(source).to_numpy()``."""
    values = source.array if isinstance(source.dtype, ExtensionDtype) else source.to_numpy()
    picked = pd.Series(pd.api.extensions.take(values, at, allow_fill=True))
    return picked.to_numpy()


@dataclass(frozen=True)
class _RulesByGuest:
    """Rule ids of one status per guest, in findings order, kept as one list sorted by guest
    until a block asks (a dict of a list per guest held hundreds of MB at a million guests while
    every block was written)."""

    guest_code: np.ndarray  # per guest row: the code of its object id
    starts: np.ndarray  # per object-id code: where its rule ids start in ``rule_ids``
    rule_ids: list[str]  # the findings' rule ids grouped by object-id code (shared strings)

    @classmethod
    def of(cls, findings: pd.DataFrame, status: str, ids: pd.Series) -> _RulesByGuest:
        """The guest-level findings of ``status``, keyed by the object ids of ``ids``."""
        wanted = (column(findings, "status") == status) & (column(findings, "level") != "app")
        mask = wanted.fillna(False).astype(bool).to_numpy()
        keys = pd.Index(ids.astype(object)).unique()
        codes = keys.get_indexer(findings["object_id"].to_numpy(dtype=object)[mask])
        rule_codes, names = pd.factorize(findings["rule_id"].to_numpy(dtype=object)[mask])
        order = np.argsort(codes, kind="stable")  # findings of ids no guest has (-1) come first
        counts = np.bincount(codes[codes >= 0], minlength=len(keys))
        starts = np.concatenate([[0], np.cumsum(counts)]) + int((codes < 0).sum())
        rule_ids = np.asarray(names, dtype=object)[rule_codes[order]].tolist()
        return cls(keys.get_indexer(ids.astype(object)), starts, rule_ids)

    def lists(self, start: int, rows: int) -> list[list[str]]:
        """The rule ids of guest rows ``start`` to ``start + rows``; one shared empty list for the
        guests without (never mutated)."""
        codes = self.guest_code[start : start + rows]
        firsts, ends = self.starts[codes].tolist(), self.starts[codes + 1].tolist()
        rule_ids, none = self.rule_ids, list[str]()
        return [rule_ids[a:b] if b > a else none for a, b in zip(firsts, ends, strict=True)]


def findings_by_severity(result: AuditResult, status: str = "flagged") -> dict[str, int]:
    """Findings of one status per severity, every severity present, most severe first."""
    findings = result.findings
    counts = findings.loc[column(findings, "status") == status, "severity"].value_counts()
    return {s: int(counts.get(s, 0)) for s in SEVERITIES}


def tenant_name(result: AuditResult) -> str:
    """The tenant's display name, falling back to its id."""
    tenant = result.tenant
    return str(tenant.get("name") or tenant.get("display_name") or tenant.get("id") or "unknown")


def target_label(result: AuditResult) -> str:
    """The target profile and how it was chosen (``slack (auto: the app's displayName is ...)``)."""
    return str(result.target_selection.get("note") or result.target)


def app_name(result: AuditResult) -> str:
    """The target app's display name, falling back to its ids."""
    app = result.app
    name = (
        app.get("displayName")
        or app.get("display_name")
        or app.get("name")
        or app.get("app_id")
        or app.get("id")
    )
    return str(name or "not collected")


def problem_sources(result: AuditResult) -> list[dict[str, Any]]:
    """Failed sources (and partial ones), as dicts, for banners that must not be missed."""
    bad = (SourceState.FAILED, SourceState.PARTIAL)
    return [s.to_dict() for s in result.sources if s.state in bad]


def skipped_rules(result: AuditResult) -> list[dict[str, Any]]:
    """Rules that did not run, with the reason."""
    rules = result.rules
    mask = column(rules, "state") == "skipped"
    return [
        {"rule_id": str(r), "title": str(t), "reason": str(why)}
        for r, t, why in zip(
            rules.loc[mask, "rule_id"],
            column(rules, "title")[mask].fillna(""),
            column(rules, "reason")[mask].fillna(""),
            strict=True,
        )
    ]


@contextmanager
def atomic_path(path: str | os.PathLike[str]) -> Iterator[Path]:
    """Yield a temporary sibling of ``path`` and move it into place only when the block succeeds.

    A crash while writing a 100,000-row report therefore never leaves a truncated file behind.
    The file is owner-only (``0o600``) from its creation: reports hold guest names and addresses.
    """
    from audit._files import FILE_MODE, private_dir, private_file

    target = Path(path)
    private_dir(target.parent)
    tmp = target.with_name(f".{target.name}.{os.getpid()}.{secrets.token_hex(4)}.tmp")
    try:
        private_file(tmp)
        yield tmp
        os.chmod(tmp, FILE_MODE)  # in case the writer replaced the file instead of filling it
        os.replace(tmp, target)
    finally:
        tmp.unlink(missing_ok=True)


DIFF_COUNT_LABELS = {
    "new": "New findings",
    "fixed": "Fixed",
    "still_open": "Still open",
    "outcome_changes": "Outcome changes",
    "guests_added": "Guests added",
    "guests_removed": "Guests removed",
    "exceptions_expired": "Exceptions expired",
    "newly_muted": "Newly muted",
    "not_rechecked": "Not re-checked",
}
"""Headline labels of :meth:`audit.analysis.diff.Diff.counts`, in display order."""

_OPTIONAL_COUNTS = ("newly_muted", "not_rechecked")


def diff_since(diff: Diff) -> str:
    """When the earlier run's data was collected, e.g. ``2025-02-14 09:20 UTC``."""
    when = diff.old.when
    if when.tzinfo is not None:
        when = when.astimezone(UTC)
    return when.strftime("%Y-%m-%d %H:%M UTC")


def diff_counts(diff: Diff) -> list[dict[str, Any]]:
    """The diff's headline counts as ``{key, label, count}``; rare kinds only when non-zero."""
    counts = diff.counts()
    return [
        {"key": key, "label": label, "count": counts[key]}
        for key, label in DIFF_COUNT_LABELS.items()
        if key not in _OPTIONAL_COUNTS or counts[key]
    ]
