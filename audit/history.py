"""Run history: one folder per tenant, one sub-folder per run, for monthly compliance reports.

Layout (what ``b2b-preflight run --history reports`` writes)::

    reports/<tenant id>/<UTC timestamp>/snapshot/       the collected snapshot
                                       /findings.json   and the reports of that run
                                       /report.html ...

:func:`history_runs` reads each run's ``findings.json`` summary and ``snapshot/manifest.json``
(never the Parquet tables, so listing a year of runs stays fast). It also finds runs one level
higher (``<root>/<run>/``) and a root that is itself a run. Broken or half-written runs never
stop a listing: they come back as entries with ``state`` ``partial`` or ``broken`` and their
``problems``, and :func:`latest_run` passes over runs without a readable snapshot.
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson

from audit._files import open_regular

__all__ = [
    "STAMP_FORMAT",
    "RunInfo",
    "history_out_dir",
    "history_runs",
    "latest_run",
    "resolve_compare_with",
    "snapshot_dir",
    "tenant_folder_name",
]

STAMP_FORMAT = "%Y%m%dT%H%M%SZ"
"""Run folder names: the UTC time of the run, e.g. ``20261126T210319Z``."""

_STAMP = re.compile(r"(\d{8}T\d{6}Z)(?:-\d+)?")
_SAFE_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,99}")
_SEVERITIES = ("high", "medium", "low", "info")
_MANIFEST = "manifest.json"
_FINDINGS = "findings.json"


@dataclass(frozen=True)
class RunInfo:
    """Headline figures of one run folder, or what is wrong with it."""

    path: Path
    timestamp: datetime | None = None
    tenant_id: str | None = None
    tenant_name: str | None = None
    guests: int | None = None
    outcomes: dict[str, int] = field(default_factory=dict)
    open_by_severity: dict[str, int] = field(default_factory=dict)
    failed_sources: tuple[str, ...] = ()
    diff_counts: dict[str, int] | None = None
    has_snapshot: bool = False
    has_report: bool = False
    problems: tuple[str, ...] = ()

    @property
    def state(self) -> str:
        """``ok`` (snapshot and report readable), ``partial`` (one of them) or ``broken``."""
        if self.has_snapshot and self.has_report:
            return "ok"
        return "partial" if self.has_snapshot or self.has_report else "broken"

    @property
    def open_findings(self) -> int | None:
        """Open findings of all severities (None when the report could not be read)."""
        return sum(self.open_by_severity.values()) if self.has_report else None

    @property
    def snapshot(self) -> Path:
        """The run's snapshot folder."""
        return self.path / "snapshot"

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form (for ``history --json``)."""
        return {
            "path": str(self.path),
            "state": self.state,
            "timestamp": _iso(self.timestamp),
            "tenant_id": self.tenant_id,
            "tenant_name": self.tenant_name,
            "guests": self.guests,
            "outcomes": dict(self.outcomes),
            "open_by_severity": dict(self.open_by_severity),
            "open_findings": self.open_findings,
            "failed_sources": list(self.failed_sources),
            "diff": self.diff_counts,
            "problems": list(self.problems),
        }


def history_runs(root: Path | str, tenant_id: str | None = None) -> list[RunInfo]:
    """Every run under ``root`` (oldest first), optionally of one tenant only.

    ``tenant_id`` matches the tenant's id or name (case-insensitive) or its folder name, so a
    broken run that names no tenant is still listed under its tenant's folder.
    """
    runs = [_read_run(path) for path in _run_folders(Path(root))]
    if tenant_id is not None:
        runs = [r for r in runs if _is_tenant(r, tenant_id)]
    return sorted(runs, key=_order)


def latest_run(
    root: Path | str,
    tenant_id: str | None,
    before: datetime | None = None,
    *,
    exclude: Path | str | None = None,
) -> RunInfo | None:
    """The most recent run of ``tenant_id`` with a readable snapshot, strictly before ``before``.

    ``exclude`` (the run being written) is never returned. None when there is no such run.
    """
    limit = _aware(before) if before is not None else None
    skip = Path(exclude).resolve() if exclude is not None else None
    candidates = [
        run
        for run in history_runs(root, tenant_id)
        if run.has_snapshot
        and run.timestamp is not None
        and (limit is None or run.timestamp < limit)
        and (skip is None or run.path.resolve() != skip)
    ]
    return candidates[-1] if candidates else None


def history_out_dir(
    root: Path | str, tenant: Mapping[str, Any] | str, *, now: datetime | None = None
) -> Path:
    """``root/<tenant folder>/<UTC timestamp>``: where a new run of ``tenant`` goes.

    The folder is not created; a ``-2``, ``-3``... suffix avoids a run of the same second.
    """
    stamp = (_aware(now) if now is not None else datetime.now(UTC)).strftime(STAMP_FORMAT)
    base = Path(root) / tenant_folder_name(tenant)
    path, number = base / stamp, 1
    while path.exists():
        number += 1
        path = base / f"{stamp}-{number}"
    return path


def tenant_folder_name(tenant: Mapping[str, Any] | str) -> str:
    """A safe folder name for a tenant: its id, else a slug of its name, else ``unknown-tenant``.

    Tenant names come from the tenant and are hostile (``../``, markup, control characters), so
    only a plain id is used as is; names are reduced to ASCII letters, digits and dashes.
    """
    if isinstance(tenant, str):
        ident, name = tenant, ""
    else:
        ident, name = str(tenant.get("id") or ""), str(tenant.get("name") or "")
    if _SAFE_ID.fullmatch(ident) and ".." not in ident:
        return ident
    text = name or ident
    if not text:
        return "unknown-tenant"
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode("ascii")
    slug = re.sub(r"[^a-z0-9]+", "-", ascii_text.lower()).strip("-")[:60].strip("-")
    if slug:
        return slug
    return "tenant-" + hashlib.sha256(text.encode("utf-8", "replace")).hexdigest()[:12]


def snapshot_dir(path: Path | str) -> Path:
    """The snapshot folder of ``path``: the folder itself, or its ``snapshot/`` (a run folder).

    Raises :class:`~audit.errors.SnapshotError` when neither holds a snapshot manifest.
    """
    from audit.errors import SnapshotError

    folder = Path(path)
    if (folder / _MANIFEST).is_file():
        return folder
    if (folder / "snapshot" / _MANIFEST).is_file():
        return folder / "snapshot"
    raise SnapshotError(f"{folder}: neither a snapshot nor a run folder with snapshot/")


def resolve_compare_with(
    value: str | None,
    *,
    root: Path | str,
    tenant_id: str | None,
    before: datetime | None = None,
    exclude: Path | str | None = None,
) -> Path | None:
    """The snapshot folder ``run --compare-with VALUE`` means.

    ``latest`` is the most recent earlier run of the tenant under ``root`` (None when there is
    none yet: the first run of a history has nothing to compare with); anything else is a
    snapshot or run folder.
    """
    if not value:
        return None
    if value.strip().lower() != "latest":
        return snapshot_dir(value)
    run = latest_run(root, tenant_id, before, exclude=exclude)
    return run.snapshot if run is not None else None


def _run_folders(root: Path) -> Iterator[Path]:
    """Run folders at ``root``, one level down (``root/<run>``) and two (``root/<tenant>/<run>``)."""
    if not root.is_dir():
        return
    if _looks_like_run(root):
        yield root
        return
    for child in _subdirs(root):
        if _looks_like_run(child) or _STAMP.fullmatch(child.name):
            yield child
            continue
        for grandchild in _subdirs(child):
            if _looks_like_run(grandchild) or _STAMP.fullmatch(grandchild.name):
                yield grandchild


def _subdirs(folder: Path) -> list[Path]:
    """Visible sub-folders, sorted (temporary and hidden folders start with a dot)."""
    try:
        return sorted(
            p
            for p in folder.iterdir()
            if p.is_dir() and not p.is_symlink() and not p.name.startswith(".")
        )
    except OSError:
        return []


def _looks_like_run(folder: Path) -> bool:
    """A run folder holds a ``snapshot/`` folder or a ``findings.json``."""
    return (folder / "snapshot").is_dir() or (folder / _FINDINGS).is_file()


def _read_run(path: Path) -> RunInfo:
    """Everything the listing shows about one run; problems are collected, never raised."""
    problems: list[str] = []
    manifest = _read_json(path / "snapshot" / _MANIFEST, "snapshot manifest", problems)
    report = _read_json(path / _FINDINGS, _FINDINGS, problems)
    tenant = _dict(manifest.get("tenant")) or _dict(report.get("tenant"))
    summary = _dict(report.get("summary"))
    diff = _dict(report.get("diff"))
    return RunInfo(
        path=path,
        timestamp=_timestamp(path, manifest, report, problems),
        tenant_id=_str(tenant.get("id")),
        tenant_name=_str(tenant.get("name")),
        guests=_int(summary.get("guests")) if report else _guests(manifest),
        outcomes=_counts(summary.get("outcomes")),
        open_by_severity=_severities(summary.get("findings_by_severity")) if report else {},
        failed_sources=_failed(manifest.get("sources") or report.get("sources")),
        diff_counts=_counts(diff.get("counts")) if diff else None,
        has_snapshot=bool(manifest),
        has_report=bool(report),
        problems=tuple(problems),
    )


def _read_json(file: Path, what: str, problems: list[str]) -> dict[str, Any]:
    """A JSON object from ``file``; {} (and a problem noted) when missing or unreadable."""
    try:
        with open_regular(file) as handle:
            data = orjson.loads(handle.read())
    except FileNotFoundError:
        problems.append(f"no {what}")
        return {}
    except OSError as exc:
        problems.append(f"unreadable {what}: {exc.strerror}")
        return {}
    except orjson.JSONDecodeError as exc:
        problems.append(f"unreadable {what}: {exc}")
        return {}
    if not isinstance(data, dict):
        problems.append(f"unreadable {what}: not a JSON object")
        return {}
    return data


def _timestamp(
    path: Path, manifest: dict[str, Any], report: dict[str, Any], problems: list[str]
) -> datetime | None:
    """When the run's data was collected; else when it was analysed; else its folder name (a
    folder named like a time that is none, ``20261399T999999Z``, gives None and a problem)."""
    for value in (
        manifest.get("collected_at"),
        report.get("collected_at"),
        report.get("generated_at"),
    ):
        if isinstance(value, str):
            try:
                return _aware(datetime.fromisoformat(value.replace("Z", "+00:00")))
            except ValueError:
                continue
    match = _STAMP.fullmatch(path.name)
    if match:
        try:
            return datetime.strptime(match.group(1), STAMP_FORMAT).replace(tzinfo=UTC)
        except ValueError:
            problems.append(f"folder name {path.name} is not a valid UTC time; run skipped")
    return None


def _is_tenant(run: RunInfo, wanted: str) -> bool:
    """True when ``wanted`` names the run's tenant (id, name or folder), case-insensitive."""
    key = wanted.strip().casefold()
    names = (run.tenant_id, run.tenant_name)
    if any(n is not None and n.casefold() == key for n in names):
        return True
    known = run.tenant_id is not None or run.tenant_name is not None
    return not known and run.path.parent.name.casefold() == key


def _order(run: RunInfo) -> tuple[datetime, str]:
    """Oldest first; runs without a time first of all."""
    return (run.timestamp or datetime.min.replace(tzinfo=UTC), str(run.path))


def _guests(manifest: dict[str, Any]) -> int | None:
    """Guests collected, from the snapshot's row counts (the ``users`` table)."""
    return _int(_dict(manifest.get("tables")).get("users"))


def _failed(sources: Any) -> tuple[str, ...]:
    """Names of sources that failed."""
    if not isinstance(sources, list):
        return ()
    return tuple(
        str(s.get("name"))
        for s in sources
        if isinstance(s, dict) and s.get("state") == "failed" and s.get("name")
    )


def _severities(value: Any) -> dict[str, int]:
    """Open findings per severity, every severity present."""
    counts = _counts(value)
    return {s: counts.get(s, 0) for s in _SEVERITIES}


def _counts(value: Any) -> dict[str, int]:
    """A ``{name: count}`` dict with integer values only."""
    if not isinstance(value, dict):
        return {}
    return {str(k): n for k, v in value.items() if (n := _int(v)) is not None}


def _dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _str(value: Any) -> str | None:
    return str(value) if isinstance(value, str | int) and str(value) else None


def _int(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _aware(value: datetime) -> datetime:
    """Naive datetimes are taken as UTC."""
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def _iso(value: datetime | None) -> str | None:
    return value.astimezone(UTC).isoformat().replace("+00:00", "Z") if value else None
