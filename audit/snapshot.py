"""Snapshots: one Parquet file per table plus ``manifest.json``, written atomically.

A snapshot is the boundary between collection and analysis. It is written to a temporary sibling folder
and renamed into place, so a crash never leaves a half-written snapshot where a good one was.

A snapshot folder may come from elsewhere (a customer, a share), so :func:`load` trusts nothing in
it: ``manifest.json`` is checked against :data:`MANIFEST_SCHEMA` (a wrong one is a
:class:`~audit.errors.SnapshotError`, exit 2, naming the file), table names are plain identifiers
so a table is always a regular file inside the folder, and a planted ``.<name>.old`` beside it (a
symlink, a file) is neither followed nor put in place of the snapshot.
"""

from __future__ import annotations

import os
import re
import shutil
import tempfile
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import orjson
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from audit._files import (
    MAX_JSON_DEPTH,
    nested_deeper_than,
    open_regular,
    private_dir,
    private_file,
    write_private,
)
from audit._text import TEXT_LISTS, is_arrow_lists
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
    released: frozenset[str] = frozenset()

    def table(self, name: str) -> pd.DataFrame | None:
        """The table of a usable source, or None when it was not collected or failed.

        Raises :class:`SnapshotError` for a table let go with :meth:`release` (never None: that
        would read as "not collected").
        """
        if name in self.released:
            raise SnapshotError(f"the {name} table was released to save memory; load the snapshot")
        status = self.sources.get(name)
        if status is not None and not status.usable:
            return None
        return self.tables.get(name)

    def release(self, names: Iterable[str]) -> None:
        """Let go of these tables (a run that keeps only its results, at a million guests a third
        of its memory); :meth:`table` then refuses them, and :func:`load` reads them again."""
        gone = {name for name in names if name in self.tables}
        for name in gone:
            del self.tables[name]
        self.released |= gone

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
    if snapshot.released:
        raise SnapshotError(
            f"cannot save a snapshot whose tables were released: {sorted(snapshot.released)}"
        )
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
        collected_at=_timestamp(manifest["collected_at"]),
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
    """Write a table as Parquet (what ``DataFrame.to_parquet`` writes). Columns of lists held in
    Arrow are recorded in the pandas metadata as the object columns they are read back as
    (pandas cannot parse its own name of a nested Arrow dtype when reading)."""
    table = pa.Table.from_pandas(df.reset_index(drop=True), preserve_index=False)
    arrow_lists = {str(name) for name in df.columns if is_arrow_lists(df[name])}
    metadata = table.schema.metadata or {}
    if arrow_lists and b"pandas" in metadata:
        pandas_meta = orjson.loads(metadata[b"pandas"])
        for entry in pandas_meta.get("columns", []):
            if entry.get("name") in arrow_lists:
                entry["pandas_type"], entry["numpy_type"] = "object", "object"
        table = table.replace_schema_metadata(metadata | {b"pandas": orjson.dumps(pandas_meta)})
    pq.write_table(table, path)


def _read_table(path: Path) -> pd.DataFrame:
    try:
        df = pd.read_parquet(path)
    except (OSError, ValueError) as exc:
        raise SnapshotError(f"{path}: cannot read table ({exc})") from exc
    for col in df.columns:
        if df[col].dtype == object:
            df[col] = _lists(df[col], arrow=col in _ADDRESS_LISTS)
    return df


_ADDRESS_LISTS = frozenset({"otherMails", "proxyAddresses", "EmailAddresses"})
"""Columns of addresses (users, member users, mail users) that the collectors hold in Arrow."""


def _lists(col: pd.Series, *, arrow: bool = False) -> pd.Series:
    """Parquet returns list columns as numpy arrays; give notebooks plain lists back, or with
    ``arrow`` an Arrow list column as the collectors hold it (lists of strings only)."""
    if not any(isinstance(v, np.ndarray) for v in col.head(100)):
        return col
    if arrow:
        try:
            lists = pa.array(col, type=TEXT_LISTS, from_pandas=True)
        except (pa.ArrowException, TypeError, ValueError):
            pass
        else:
            return pd.Series(pd.array(lists, dtype=pd.ArrowDtype(TEXT_LISTS)), index=col.index)
    return col.map(lambda v: v.tolist() if isinstance(v, np.ndarray) else v)


def _read_manifest(folder: Path) -> dict[str, Any]:
    file = folder / MANIFEST
    if not file.is_file():
        raise SnapshotError(f"{folder}: not a snapshot (no {MANIFEST})")
    try:
        with open_regular(file) as handle:
            manifest = orjson.loads(handle.read())
    except OSError as exc:
        raise SnapshotError(f"{file}: cannot read ({exc.strerror})") from None
    except orjson.JSONDecodeError as exc:
        raise SnapshotError(f"{file}: corrupt manifest ({exc})") from None
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
        raise SnapshotError(f"{file}: unsupported snapshot format")
    problem = manifest_problem(manifest)
    if problem:
        raise SnapshotError(f"{file}: invalid manifest: {problem}")
    for name in manifest["tables"]:
        table = folder / f"{name}.parquet"
        if table.is_symlink() or not table.is_file():
            raise SnapshotError(f"{folder}: table {name!r} is missing")
    return manifest


MANIFEST_SCHEMA: dict[str, tuple[bool, tuple[type, ...]]] = {
    "format": (True, (int,)),
    "collected_at": (True, (str,)),
    "tables": (True, (dict,)),
    "sources": (False, (list,)),
    "tenant": (False, (dict, type(None))),
    "config": (False, (dict, type(None))),
    "extra": (False, (dict, type(None))),
    "tool": (False, (str,)),
    "version": (False, (str,)),
}
"""What ``manifest.json`` holds: per key, whether it is required and the JSON types it may have.
Besides: ``collected_at`` is an ISO 8601 time, ``tables`` maps plain names (letters, digits,
``_``) to row counts, every source has a ``name`` and a known ``state``, and nothing nests deeper
than :data:`~audit._files.MAX_JSON_DEPTH` levels."""

_TABLE_NAME = re.compile(r"[A-Za-z0-9_]{1,64}")
_SOURCE_TYPES: dict[str, tuple[type, ...]] = {
    "name": (str,),
    "state": (str,),
    "rows": (int,),
    "error": (str, type(None)),
    "missing_permission": (str, type(None)),
    "detail": (dict, type(None)),
}


def manifest_problem(manifest: dict[str, Any]) -> str | None:
    """What is wrong with a parsed manifest (see :data:`MANIFEST_SCHEMA`), or None."""
    for key, (required, types) in MANIFEST_SCHEMA.items():
        if key not in manifest:
            if required:
                return f"{key!r} is missing"
        elif not isinstance(manifest[key], types) or isinstance(manifest[key], bool):
            return f"{key!r} is not {_kind(types)}"
    if nested_deeper_than(manifest):
        return f"nested deeper than {MAX_JSON_DEPTH} levels"
    try:
        _timestamp(manifest["collected_at"])
    except ValueError:
        return f"'collected_at' is not an ISO 8601 time: {str(manifest['collected_at'])[:40]!r}"
    for name, rows in manifest["tables"].items():
        if not _TABLE_NAME.fullmatch(name):
            return f"table name {name[:40]!r} is not a plain name"
        if not isinstance(rows, int) or isinstance(rows, bool) or rows < 0:
            return f"row count of table {name!r} is not a number"
    tenant = manifest.get("tenant") or {}
    for key in ("id", "name", "initial_domain"):
        if not isinstance(tenant.get(key), str | None):
            return f"tenant {key!r} is not a string"
    return next(filter(None, map(_source_problem, manifest.get("sources", []))), None)


def _source_problem(source: Any) -> str | None:
    if not isinstance(source, dict):
        return "a source is not an object"
    for key, types in _SOURCE_TYPES.items():
        if key in source and not isinstance(source[key], types):
            return f"source field {key!r} is not {_kind(types)}"
    if not isinstance(source.get("name"), str):
        return "a source has no name"
    if source.get("state") not in {s.value for s in SourceState}:
        return f"source {source['name'][:40]!r} has an unknown state"
    return None


def _kind(types: tuple[type, ...]) -> str:
    names = {dict: "an object", list: "a list", str: "a string", int: "a number"}
    return " or ".join(names.get(t, "null") for t in types)


def _timestamp(value: str) -> datetime:
    """An ISO 8601 time (``Z`` allowed); a time without a zone is taken as UTC."""
    stamp = datetime.fromisoformat(value.replace("Z", "+00:00"))
    return stamp if stamp.tzinfo else stamp.replace(tzinfo=UTC)


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
    _remove(old)
    os.replace(target, old)
    os.replace(tmp, target)
    _fsync_path(target.parent)
    shutil.rmtree(old, ignore_errors=True)


def _check_replaceable(target: Path) -> None:
    """Refuse to replace anything but a snapshot or an empty folder (``--out ~`` must not delete ~)."""
    if target.is_symlink():
        raise SnapshotError(f"{target} is a symbolic link; remove it or choose another folder")
    if target.is_dir() and any(target.iterdir()) and not (target / MANIFEST).is_file():
        raise SnapshotError(f"{target} exists and is not a snapshot; choose a new or empty folder")
    if target.exists() and not target.is_dir():
        raise SnapshotError(f"{target} exists and is not a folder")


def _aside(target: Path) -> Path:
    return target.with_name(f".{target.name}.old")


def _recover(folder: Path) -> None:
    """Put back a complete snapshot that a killed :func:`save` left moved aside: a real folder of
    ours only (a planted symlink or a foreign folder named like it is left where it is)."""
    old = _aside(folder)
    if folder.exists() or folder.is_symlink() or old.is_symlink() or not old.is_dir():
        return
    if old.stat().st_uid == os.geteuid() and (old / MANIFEST).is_file():
        os.replace(old, folder)


def _remove(path: Path) -> None:
    """Remove whatever is at ``path``: a folder with its content, a file or a symlink (never
    what a symlink points to)."""
    if path.is_symlink() or (path.exists() and not path.is_dir()):
        path.unlink()
    else:
        shutil.rmtree(path, ignore_errors=True)


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
