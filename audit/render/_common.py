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
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from audit.models import Outcome, Severity, SourceState
from audit.result import AuditResult, WhatIf

if TYPE_CHECKING:
    from audit.diff import Diff

SEVERITIES = tuple(s.value for s in sorted(Severity, key=lambda s: s.rank, reverse=True))
"""Severity values, most severe first (``high, medium, low, info``)."""

OUTCOMES = tuple(o.value for o in Outcome)
"""Outcome values in display order."""

FINDING_FIELDS = (
    "rule_id",
    "severity",
    "status",
    "object_id",
    "user_principal_name",
    "display_name",
    "mail",
    "domain",
    "detail",
    "level",
    "muted_by",
)
"""Columns of a finding in findings.json, findings.csv and the Findings sheet (public contract)."""

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
)
"""Columns of guests.csv, in order (public contract)."""

_OUTCOME_COLUMNS = ("outcome", "reasons", "whatif_outcome", "whatif_reasons")


def column(frame: pd.DataFrame, name: str) -> pd.Series:
    """``frame[name]``, or an all-NA column when the frame lacks it (older or partial results)."""
    if name in frame.columns:
        return frame[name]
    return pd.Series([None] * len(frame), index=frame.index, dtype=object)


def py_values(series: pd.Series) -> list[Any]:
    """The column as plain Python values: NA → None, datetimes tz-aware UTC, arrays → lists."""
    if isinstance(series.dtype, pd.DatetimeTZDtype) or pd.api.types.is_datetime64_dtype(series):
        return list(_datetimes(series))
    values = series.astype(object).where(series.notna(), None).tolist()
    if series.dtype == object:
        return [_plain(v) for v in values]
    return values


def _datetimes(series: pd.Series) -> list[datetime | None]:
    """Datetimes as tz-aware UTC ``datetime`` objects (naive input is taken as UTC)."""
    stamps = pd.to_datetime(series, utc=True)
    values = stamps.array.to_pydatetime()  # one vectorised conversion; NaT stays NaT
    return [v if present else None for v, present in zip(values, stamps.notna(), strict=True)]


def _plain(value: Any) -> Any:
    """One object-column value as a JSON/Excel-friendly Python value."""
    if isinstance(value, np.ndarray | tuple | set):
        return [_plain(v) for v in value]
    if isinstance(value, list):
        return [_plain(v) for v in value]
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, float) and np.isnan(value):
        return None
    if value is pd.NA or value is pd.NaT:
        return None
    return value


def iso_utc(value: datetime | None) -> str | None:
    """ISO 8601 in UTC with a ``Z`` suffix; naive datetimes are taken as UTC."""
    if value is None:
        return None
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.astimezone(UTC).isoformat().replace("+00:00", "Z")


def naive_utc(value: datetime | None) -> datetime | None:
    """A timezone-naive UTC datetime (Excel has no time zones)."""
    if value is None:
        return None
    if value.tzinfo is not None:
        value = value.astimezone(UTC).replace(tzinfo=None)
    return value


def joined(value: Any, sep: str = ";") -> str:
    """A list cell as ``sep``-joined text; scalars as text, None as ""."""
    if value is None:
        return ""
    if isinstance(value, list):
        return sep.join("" if v is None else str(v) for v in value)
    return str(value)


def guest_view(result: AuditResult) -> pd.DataFrame:
    """The guests frame with outcome columns and per-guest rule ids joined on (display only).

    ``flagged_rules``/``muted_rules`` list the rule ids of the guest's open and muted findings.
    """
    guests = result.guests.reset_index(drop=True)
    outcomes = result.outcomes.drop_duplicates("object_id").set_index("object_id")
    ids = column(guests, "object_id")
    view = guests.drop(columns=[c for c in _OUTCOME_COLUMNS if c in guests.columns])
    for name in _OUTCOME_COLUMNS:
        source = column(outcomes, name)
        view[name] = ids.map(source).to_numpy() if len(source) else None
    keys = ids.tolist()
    none: list[str] = []  # shared by every guest without such findings; never mutated
    for status, name in (("flagged", "flagged_rules"), ("muted", "muted_rules")):
        by_guest = _rules_by_guest(result.findings, status)
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


def whatif_sentence(whatif: WhatIf | None) -> str:
    """The what-if headline, e.g. "Switching the e-mail mapping … makes 24 more guests ready, …"."""
    if whatif is None:
        return "No what-if evaluation: the target has no recommended guest mapping."
    met = {True: "met", False: "not met yet", None: "not verified"}[whatif.precondition_met]
    plural = "guest" if whatif.newly_ready == 1 else "guests"
    return (
        f"Switching the e-mail mapping ({whatif.description}) makes {whatif.newly_ready:,} more "
        f"{plural} ready, provided {whatif.precondition} (precondition {met})." + _mail_fix(whatif)
    )


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


def _mail_fix(whatif: WhatIf) -> str:
    """The what-if's caveat: guests whose mail forwarding needs an Exchange fix first."""
    if not whatif.needs_mail_fix:
        return ""
    return (
        f" {whatif.needs_mail_fix:,} of them also need an Exchange Online fix before mail to the "
        "initial-domain address reaches them (exo-forwarding-broken, exo-not-mail-enabled)."
    )


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
"""Headline labels of :meth:`audit.diff.Diff.counts`, in display order."""

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
