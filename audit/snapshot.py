"""Snapshots: one Parquet file per table plus ``manifest.json``, written atomically.

A snapshot is the boundary between collection and analysis. It is written to a temporary sibling folder
and renamed into place, so a crash never leaves a half-written snapshot where a good one was.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import orjson
import pandas as pd

from audit._files import private_dir, private_file, write_private
from audit._version import __version__
from audit.errors import SnapshotError
from audit.models import SourceState, SourceStatus

FORMAT = 1
MANIFEST = "manifest.json"


@dataclass
class Snapshot:
    """Collected tables of one tenant at one moment, with the status of every source."""

    tenant: dict[str, Any]
    collected_at: datetime
    sources: dict[str, SourceStatus]
    tables: dict[str, pd.DataFrame]
    config: dict[str, Any] = field(default_factory=dict)
    extra: dict[str, Any] = field(default_factory=dict)
    path: Path | None = None

    def table(self, name: str) -> pd.DataFrame | None:
        """The table of a usable source, or None when it was not collected or failed."""
        status = self.sources.get(name)
        if status is not None and not status.usable:
            return None
        return self.tables.get(name)

    def source(self, name: str) -> SourceStatus:
        """The status of a source; ``not_requested`` when the snapshot has no record of it."""
        return self.sources.get(name) or SourceStatus(name, SourceState.NOT_REQUESTED)

    def manifest(self) -> dict[str, Any]:
        """The JSON document stored as ``manifest.json``."""
        return {
            "format": FORMAT,
            "tool": "b2b-preflight",
            "version": __version__,
            "tenant": self.tenant,
            "collected_at": self.collected_at.isoformat(),
            "sources": [s.to_dict() for s in self.sources.values()],
            "tables": {name: len(df) for name, df in self.tables.items()},
            "config": self.config,
            "extra": self.extra,
        }

    def _repr_html_(self) -> str:
        from html import escape

        rows = "".join(
            f"<tr><td>{escape(s.name)}</td><td>{escape(s.state.value)}</td><td>{s.rows}</td>"
            f"<td>{escape(s.missing_permission or s.error or '')}</td></tr>"
            for s in self.sources.values()
        )
        name = escape(str(self.tenant.get("name", "")))
        return (
            f"<b>Snapshot</b> of {name}, collected {escape(self.collected_at.isoformat())}"
            f"<table><tr><th>source</th><th>state</th><th>rows</th><th>note</th></tr>{rows}</table>"
        )


def save(snapshot: Snapshot, path: str | os.PathLike[str]) -> Path:
    """Write ``snapshot`` to the folder ``path`` atomically; an existing snapshot there is replaced.

    A ``path`` that holds anything but a snapshot (or nothing) raises :class:`SnapshotError`.
    """
    target = Path(path)
    _check_replaceable(target)
    private_dir(target.parent)
    tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}.", dir=target.parent))  # mode 0o700
    try:
        for name, df in snapshot.tables.items():
            _write_table(df, private_file(tmp / f"{name}.parquet"))
        manifest = orjson.dumps(snapshot.manifest(), option=orjson.OPT_INDENT_2)
        write_private(tmp / MANIFEST, manifest)
        _fsync_dir(tmp)
        _replace(tmp, target)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    snapshot.path = target
    return target


def load(path: str | os.PathLike[str]) -> Snapshot:
    """Read a snapshot folder written by :func:`save`; raises SnapshotError when it is not one.

    When a save was killed between moving the old snapshot aside and moving the new one in, the
    old one is put back first (see :func:`_replace`), so the last complete snapshot is what loads.
    """
    folder = Path(path)
    _recover(folder)
    manifest = _read_manifest(folder)
    tables = {name: _read_table(folder / f"{name}.parquet") for name in manifest["tables"]}
    return Snapshot(
        tenant=dict(manifest.get("tenant") or {}),
        collected_at=datetime.fromisoformat(manifest["collected_at"]),
        sources={s["name"]: SourceStatus.from_dict(s) for s in manifest.get("sources", [])},
        tables=tables,
        config=dict(manifest.get("config") or {}),
        extra=dict(manifest.get("extra") or {}),
        path=folder,
    )


def now_utc() -> datetime:
    """The current time in UTC (the default clock)."""
    return datetime.now(UTC)


def _write_table(df: pd.DataFrame, path: Path) -> None:
    df.reset_index(drop=True).to_parquet(path, index=False)


def _read_table(path: Path) -> pd.DataFrame:
    try:
        df = pd.read_parquet(path)
    except (OSError, ValueError) as exc:
        raise SnapshotError(f"{path}: cannot read table ({exc})") from exc
    for col in df.columns:
        if df[col].dtype == object:
            df[col] = _lists(df[col])
    return df


def _lists(col: pd.Series) -> pd.Series:
    """Parquet returns list columns as numpy arrays; give notebooks plain lists back."""
    if not any(isinstance(v, np.ndarray) for v in col.head(100)):
        return col
    return col.map(lambda v: v.tolist() if isinstance(v, np.ndarray) else v)


def _read_manifest(folder: Path) -> dict[str, Any]:
    file = folder / MANIFEST
    if not file.is_file():
        raise SnapshotError(f"{folder}: not a snapshot (no {MANIFEST})")
    try:
        manifest = orjson.loads(file.read_bytes())
    except orjson.JSONDecodeError as exc:
        raise SnapshotError(f"{file}: corrupt manifest ({exc})") from exc
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
        raise SnapshotError(f"{file}: unsupported snapshot format")
    for name in manifest.get("tables", {}):
        if not (folder / f"{name}.parquet").is_file():
            raise SnapshotError(f"{folder}: table {name!r} is missing")
    return manifest


def _replace(tmp: Path, target: Path) -> None:
    """Move ``tmp`` to ``target``; an old snapshot is moved aside first and removed only afterwards.

    A crash between the two renames leaves no ``target`` but a complete ``.<name>.old`` beside it,
    which :func:`load` moves back (:func:`_recover`): never a half snapshot in place of a good one.
    """
    if not target.exists():
        os.replace(tmp, target)
        _fsync_path(target.parent)
        return
    old = _aside(target)
    shutil.rmtree(old, ignore_errors=True)
    os.replace(target, old)
    os.replace(tmp, target)
    _fsync_path(target.parent)
    shutil.rmtree(old, ignore_errors=True)


def _check_replaceable(target: Path) -> None:
    """Refuse to replace anything but a snapshot or an empty folder (``--out ~`` must not delete ~)."""
    if target.is_dir() and any(target.iterdir()) and not (target / MANIFEST).is_file():
        raise SnapshotError(f"{target} exists and is not a snapshot; choose a new or empty folder")
    if target.exists() and not target.is_dir():
        raise SnapshotError(f"{target} exists and is not a folder")


def _aside(target: Path) -> Path:
    return target.with_name(f".{target.name}.old")


def _recover(folder: Path) -> None:
    """Put back a complete snapshot that a killed :func:`save` left moved aside."""
    old = _aside(folder)
    if not folder.exists() and (old / MANIFEST).is_file():
        os.replace(old, folder)


def _fsync_path(path: Path) -> None:
    """Make a rename durable: fsync the folder that holds it (where the OS allows it)."""
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def _fsync_dir(folder: Path) -> None:
    """Flush every file (owner-only, whatever the writer did) and the folder itself."""
    for file in folder.iterdir():
        os.chmod(file, 0o600)
        with open(file, "rb") as fh:
            os.fsync(fh.fileno())
    _fsync_path(folder)
