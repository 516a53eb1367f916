"""Display helpers shared by every renderer: value conversion, the guest view, headline texts.

Renderers compute nothing about guests; these helpers only reshape what ``AuditResult`` holds
(join outcomes and findings onto guests, count for display, turn pandas values into plain Python),
so the HTML, Excel, JSON and CSV outputs show the same numbers.
"""

from __future__ import annotations

import itertools
import os
import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd

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
    rules = {
        name: _rules_by_guest(result.findings, status)
        for status, name in (("flagged", "flagged_rules"), ("muted", "muted_rules"))
    }
    for start in range(0, max(len(guests), 1), rows):
        block = guests.iloc[start : start + rows].reset_index(drop=True)
        yield _joined(block, outcomes, rules)


def _joined(
    guests: pd.DataFrame, outcomes: pd.DataFrame, rules: dict[str, dict[Any, list[str]]]
) -> pd.DataFrame:
    """``guests`` with their outcome columns and rule ids (see :func:`guest_view`)."""
    ids = column(guests, "object_id")
    view = guests.drop(columns=[c for c in _OUTCOME_COLUMNS if c in guests.columns])
    for name in _OUTCOME_COLUMNS:
        source = column(outcomes, name)
        view[name] = ids.map(source).to_numpy() if len(source) else None
    keys = ids.tolist()
    none: list[str] = []  # shared by every guest without such findings; never mutated
    for name, by_guest in rules.items():
        view[name] = pd.Series(list(map(by_guest.get, keys, itertools.repeat(none))), dtype=object)
    return view


def _rules_by_guest(findings: pd.DataFrame, status: str) -> dict[Any, list[str]]:
    """Rule ids of one status per guest object id (a dict: groupby(list) is 50x slower here;
    only the two columns are filtered, not the whole findings frame)."""
    mask = (column(findings, "status") == status) & (column(findings, "level") != "app")
    mask = mask.fillna(False).astype(bool)
    out: dict[Any, list[str]] = {}
    for object_id, rule_id in zip(
        findings["object_id"][mask].tolist(), findings["rule_id"][mask].tolist(), strict=True
    ):
        found = out.get(object_id)
        if found is None:
            out[object_id] = [rule_id]
        else:
            found.append(rule_id)
    return out


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
