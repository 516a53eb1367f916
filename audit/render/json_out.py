"""``findings.json``: the machine-readable result for automation (a public contract).

Top-level fields, in order: ``tool``, ``version``, ``tenant``, ``target``, ``app``,
``generated_at``, ``collected_at``, ``sources``, ``rules``, ``findings``, ``outcomes``,
``summary``, ``whatif``, ``provisioning_scope`` (the job scope assumed: ``assigned`` or ``all``),
``quarantine_forecast`` (would a first full cycle cross the documented escrow thresholds),
``engine`` (the User mapping simulated, its matching attributes, parts that could not be
evaluated, caveats); with target-side evidence ``reconciliation`` (``summary``: guests the
target's directory holds, agreeing and not, per predicted outcome; ``guests``: one entry per held
guest, :data:`RECONCILIATION_FIELDS`) and ``target_domains`` (the organization's domains against the
configured ones); then ``diff`` only when the result was compared with an earlier run
(see :meth:`audit.analysis.diff.Diff.to_dict`). Times are ISO 8601 UTC with a ``Z``; NA becomes ``null``.
Records are built column by column (no per-row pandas access) so 100,000 guests serialise in well
under a second.
"""

from __future__ import annotations

import dataclasses
import os
import re
from collections.abc import Callable, Iterable, Iterator, Sequence
from datetime import date, datetime
from pathlib import Path
from typing import Any

import numpy as np
import orjson
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from audit._values import column, iso_utc, records
from audit.analysis.diff import Diff
from audit.analysis.findings import FINDING_COLUMNS
from audit.analysis.reconcile import RECONCILIATION_COLUMNS
from audit.analysis.result import AuditResult
from audit.render._columns_fast import (
    TEXT,
    arrow_strings,
    byte_set,
    concat_rows,
    flag_rows,
    map_values,
    replace_where,
    text_scalar,
)
from audit.render._common import atomic_path, findings_by_severity

__all__ = [
    "OUTCOME_FIELDS",
    "RECONCILIATION_FIELDS",
    "RULE_FIELDS",
    "build_document",
    "dumps",
    "outcome_fields",
    "records",
    "write_diff_json",
    "write_findings_json",
]

RULE_FIELDS = (
    "rule_id",
    "title",
    "severity",
    "level",
    "state",
    "reason",
    "flagged",
    "passed",
    "not_evaluated",
    "muted",
)
"""Fields of each entry of ``rules`` (public contract)."""

OUTCOME_FIELDS = (
    "object_id",
    "outcome",
    "reasons",
    "whatif_outcome",
    "whatif_reasons",
    "target_account",
)
"""Fields of each entry of ``outcomes`` (public contract; ``target_account`` only with target-side
evidence, see :func:`outcome_fields`)."""

RECONCILIATION_FIELDS = tuple(c for c in RECONCILIATION_COLUMNS if c != "display_name")
"""Fields of each entry of ``reconciliation.guests``."""

_SURROGATES = re.compile("[\ud800-\udfff]")
_NEEDS_ESCAPES = byte_set(['"', "\\", *range(0x20)])
"""Characters orjson escapes in a string."""
_ROWS_PER_PIECE = 25_000
"""Rows of the findings and outcomes arrays serialised at a time (see :func:`_records_json`)."""
_SLOT = b"\x00"
"""Stands for a spliced-in array in the serialised document (orjson never writes a raw NUL)."""
_OPTIONS = orjson.OPT_UTC_Z | orjson.OPT_NAIVE_UTC | orjson.OPT_SERIALIZE_NUMPY


def write_findings_json(result: AuditResult, path: str | os.PathLike[str]) -> Path:
    """Write ``findings.json`` for ``result`` to ``path`` and return the path.

    The same bytes as ``dumps(build_document(result))``; the two big arrays (findings, outcomes)
    are serialised column by column, a block of rows at a time while the file is written
    (:func:`_records_json`), into their slots.
    """
    arrays: list[Iterable[bytes | pa.Buffer]] = []

    def slot(frame: pd.DataFrame, fields: Sequence[str]) -> orjson.Fragment:
        arrays.append(_records_json(frame, fields))
        return orjson.Fragment(_SLOT)

    around = dumps(_document(result, slot)).split(_SLOT)
    if len(around) != len(arrays) + 1:
        raise RuntimeError("findings.json: spliced arrays do not match their slots")
    with atomic_path(path) as tmp, tmp.open("wb") as handle:
        for text, pieces in zip(around, [*arrays, []], strict=True):
            handle.write(text)
            for piece in pieces:
                handle.write(piece)
    return Path(path)


def build_document(result: AuditResult) -> dict[str, Any]:
    """The findings.json document as plain Python data."""
    return _document(result, records)


def _document(
    result: AuditResult, big_records: Callable[[pd.DataFrame, Sequence[str]], Any]
) -> dict[str, Any]:
    """The document, with findings and outcomes built by ``big_records``."""
    document: dict[str, Any] = {
        "tool": "b2b-preflight",
        "version": result.tool_version,
        "tenant": result.tenant,
        "target": result.target,
        "target_selection": result.target_selection,
        "app": result.app,
        "generated_at": iso_utc(result.generated_at),
        "collected_at": iso_utc(result.collected_at),
        "sources": [s.to_dict() for s in result.sources],
        "rules": records(result.rules, RULE_FIELDS),
        "findings": big_records(result.findings, FINDING_COLUMNS),
        "outcomes": big_records(result.outcomes, outcome_fields(result)),
        "summary": {
            "guests": len(result.guests),
            "outcomes": result.outcome_counts(),
            "findings_by_severity": findings_by_severity(result),
        },
        "whatif": dataclasses.asdict(result.whatif) if result.whatif is not None else None,
        "provisioning_scope": result.provisioning_scope,
        "quarantine_forecast": (
            result.quarantine_forecast.to_dict() if result.quarantine_forecast is not None else None
        ),
        "engine": result.mapping.get("engine"),
    }
    if result.reconciliation is not None:
        document["reconciliation"] = {
            "summary": result.reconciliation_counts(),
            "guests": records(result.reconciliation, RECONCILIATION_FIELDS),
        }
    if result.target_domains is not None:
        document["target_domains"] = result.target_domains
    if result.diff is not None:
        document["diff"] = result.diff.to_dict()
    return document


def outcome_fields(result: AuditResult) -> tuple[str, ...]:
    """:data:`OUTCOME_FIELDS`, without ``target_account`` when no target-side evidence was read
    (a run without it writes what it wrote before)."""
    accounts = column(result.outcomes, "target_account")
    return OUTCOME_FIELDS if bool(accounts.notna().any()) else OUTCOME_FIELDS[:-1]


def _records_json(frame: pd.DataFrame, fields: Sequence[str]) -> Iterator[bytes | pa.Buffer]:
    """``dumps(records(frame, fields))``, in pieces to write one after the other.

    Built ``_ROWS_PER_PIECE`` rows at a time (:func:`_rows_json`) as the pieces are written, so
    only one block's text is held at once: at a million guests the whole array is over 500 MB of
    text, and its column parts as much again.
    """
    if not fields or len(frame) == 0:
        yield dumps([{}] * len(frame))
        return
    yield b"["
    for start in range(0, len(frame), _ROWS_PER_PIECE):
        if start:
            yield b","
        yield _rows_json(frame.iloc[start : start + _ROWS_PER_PIECE], fields)
    yield b"]"


def _rows_json(frame: pd.DataFrame, fields: Sequence[str]) -> pa.Buffer:
    """The rows of a non-empty ``frame`` as JSON objects joined by commas.

    Each column becomes the JSON text of its values (:func:`_json_parts`), and each row
    ``{"field":value,...}`` is joined from them in Arrow: no dict per row, no per-cell call for
    plain text.
    """
    parts: list[pa.Array | str] = []
    for i, name in enumerate(fields):
        parts += ["{" if i == 0 else ",", dumps(name).decode() + ":"]
        parts += _json_parts(column(frame, name))
    rows = concat_rows([*parts, "}"], ",")
    return rows.slice(0, rows.size - 1)  # without the last row's comma


def _json_parts(series: pd.Series) -> list[pa.Array | str]:
    """The JSON text of a column's values (as :func:`dumps` writes each), as row parts.

    Arrow-held text is quoted vectorised: orjson escapes only ``"``, ``\\`` and control
    characters below U+0020 and writes everything else as is, so only texts holding those go
    through orjson itself; without nulls the quotes are constant parts of the row. Other columns
    convert once per distinct value.
    """
    texts = arrow_strings(series)
    if texts is None:
        return [pa.array(map_values(series, lambda v: dumps(v).decode()), type=TEXT)]
    escaping = flag_rows(texts, anywhere=_NEEDS_ESCAPES)
    if not texts.null_count:
        return ['"', replace_where(texts, escaping, lambda t: dumps(t).decode()[1:-1]), '"']
    quote = text_scalar('"')
    quoted = pc.binary_join_element_wise(quote, texts, quote, text_scalar(""))
    quoted = replace_where(quoted, escaping, lambda q: dumps(q[1:-1]).decode())
    return [quoted.fill_null(text_scalar("null"))]


def dumps(document: Any, *, option: int = 0) -> bytes:
    """Serialise with orjson; text orjson rejects (lone surrogates) is repaired, never fatal."""
    try:
        return orjson.dumps(document, default=_default, option=_OPTIONS | option)
    except orjson.JSONEncodeError:
        return orjson.dumps(_repair(document), default=_default, option=_OPTIONS | option)


def _default(value: Any) -> Any:
    """Values orjson does not know: pandas and numpy scalars, arrays, sets."""
    if value is pd.NA or value is pd.NaT:
        return None
    if isinstance(value, pd.Timestamp):
        return value.to_pydatetime()
    if isinstance(value, np.ndarray | set | frozenset | tuple):
        return list(value.tolist() if isinstance(value, np.ndarray) else value)
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, os.PathLike):
        return os.fspath(value)
    raise TypeError(f"cannot serialise {type(value).__name__}")


def _repair(value: Any) -> Any:
    """A copy of ``value`` whose strings are valid UTF-8 (lone surrogates → U+FFFD)."""
    if isinstance(value, str):
        return _SURROGATES.sub("\ufffd", value)
    if isinstance(value, dict):
        return {_repair(k): _repair(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_repair(v) for v in value]
    if isinstance(value, datetime | date):
        return value
    return _repair(_default(value)) if _needs_default(value) else value


def _needs_default(value: Any) -> bool:
    """True for values only :func:`_default` can convert."""
    return isinstance(value, np.ndarray | np.generic | set | frozenset | pd.Timestamp)


def write_diff_json(diff: Diff, path: str | os.PathLike[str]) -> Path:
    """Write ``diff.json`` (:meth:`~audit.analysis.diff.Diff.to_dict`) atomically."""
    data = dumps(diff.to_dict(), option=orjson.OPT_INDENT_2)
    with atomic_path(path) as tmp:
        tmp.write_bytes(data)
    return Path(path)
