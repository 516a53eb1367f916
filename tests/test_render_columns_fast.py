"""Whole-column CSV/JSON formatting: exactly what the per-value code writes, for any text.

The fast writers (``audit.render._columns_fast``, :func:`audit.render.safe.neutralise_arrow`)
are checked against the slow reference paths kept next to them: ``neutralise`` per value,
``csv.writer`` over ``format_column`` and ``dumps(build_document(...))``.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any, Literal

import numpy as np
import orjson
import pandas as pd
import pyarrow as pa
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from audit._values import column, py_values
from audit.analysis.findings import FINDING_COLUMNS
from audit.analysis.result import AuditResult
from audit.render import _common, json_out
from audit.render._columns_fast import (
    TEXT,
    byte_set,
    concat_rows,
    flag_rows,
    map_values,
)
from audit.render._common import GUEST_FIELDS
from audit.render.csv_out import format_column, write_findings_csv, write_guests_csv
from audit.render.json_out import build_document, dumps, write_findings_json
from audit.render.safe import neutralise, neutralise_arrow
from tests.factories import HOSTILE, make_result

Storage = Literal["pyarrow", "python"]

# Characters that matter to neutralise, CSV quoting or JSON escaping, mixed into random text.
_TRICKY = (
    "=+-@ \t\r\n\x00\x01\x1f\x7f\"',;\\\u00a0\u200b\u202e\u3000\ufeff\uff1d\uff0b\uff0d\uff20é🧨"
)
_BLANKS = (
    " \t\r\n\f\v\u00a0\u1680\u180e\u2000\u200b\u200f\u2028\u202f\u205f\u2064\u2066\u3000\ufeff"
)
_TRIGGERS = "=+-@\t\r\uff1d\uff0b\uff0d\uff20"
_CHARS = st.one_of(st.sampled_from(_TRICKY), st.characters(codec="utf-8", max_codepoint=0x2FFF))
_TEXT = st.one_of(
    st.text(alphabet=_CHARS, max_size=12),
    st.builds(  # blanks, then maybe a trigger: the cases neutralise() looks past blanks for
        "".join,
        st.tuples(
            st.text(alphabet=st.sampled_from(_BLANKS), max_size=3),
            st.sampled_from([*_TRIGGERS, "", "x"]),
            st.text(alphabet=_CHARS, max_size=4),
        ),
    ),
)
_CELLS = st.lists(st.one_of(st.none(), _TEXT), max_size=30)
_EXAMPLES = [
    *HOSTILE,
    *(b + t + "1" for b in _BLANKS for t in _TRIGGERS),
    *(chr(c) + "x" for c in range(0x80)),
    "",
    "\x7f=1",
    "\U0001f9e8=1",
]


@pytest.fixture(scope="module")
def result() -> AuditResult:
    return make_result(60, seed=4)


def _reference_csv(frame: pd.DataFrame, fields: tuple[str, ...]) -> bytes:
    """What the writer wrote before it worked column-wise: csv.writer over format_column."""
    out = io.StringIO(newline="")
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(fields)
    writer.writerows(zip(*[format_column(column(frame, f)) for f in fields], strict=True))
    return b"\xef\xbb\xbf" + out.getvalue().encode("utf-8", "replace")


def _texts(cells: Sequence[str | None], storage: Storage = "pyarrow") -> pd.Series:
    """A pandas ``str`` column (NaN for missing), kept in Arrow or in Python objects."""
    data: Any = list(cells)
    return pd.Series(data, dtype=pd.StringDtype(storage, na_value=np.nan), name="x")


@given(_CELLS)
def test_neutralise_arrow_is_neutralise(cells: list[str | None]) -> None:
    out = neutralise_arrow(pa.array(cells, type=TEXT)).to_pylist()
    assert out == [None if c is None else neutralise(c) for c in cells]


def test_neutralise_arrow_on_every_kind_of_start() -> None:
    out = neutralise_arrow(pa.array(_EXAMPLES, type=TEXT)).to_pylist()
    assert out == [neutralise(c) for c in _EXAMPLES]


def test_neutralise_arrow_on_a_slice_with_nulls() -> None:
    texts = pa.array(["=a", None, "ok", " =b", "x\x00y", "é"], type=TEXT)[1:]
    assert neutralise_arrow(texts).to_pylist() == [None, "ok", "' =b", "x\ufffdy", "é"]


@settings(max_examples=60, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(_CELLS, st.sampled_from(["pyarrow", "python"]))
def test_findings_csv_matches_csv_writer(
    result: AuditResult, tmp_path: Path, cells: list[str | None], storage: Storage
) -> None:
    findings = pd.DataFrame(
        {f: _texts([*cells, "x"], storage) for f in FINDING_COLUMNS if f != "level"}
    )
    findings["level"] = pd.Series([[c or ""] for c in [*cells, "x"]], dtype=object)
    path = write_findings_csv(replace(result, findings=findings), tmp_path / "f.csv")
    assert path.read_bytes() == _reference_csv(findings, FINDING_COLUMNS)


def test_guests_csv_matches_csv_writer(result: AuditResult, tmp_path: Path) -> None:
    guests = result.guests.copy()
    guests["display_name"] = pd.Series(
        [HOSTILE[i % len(HOSTILE)] for i in range(len(guests))], dtype=object
    )
    guests.loc[1, "display_name"] = "lone \ud800 surrogate"
    guests.loc[2, "display_name"] = float("nan")
    guests.loc[3, "display_name"] = 1.5
    guests["scope"] = pd.Series(
        [np.array(["a", "=b"], dtype=object), ("t", 1), ["x,y"], None] * 15, dtype=object
    )
    odd = replace(result, guests=guests)
    path = write_guests_csv(odd, tmp_path / "g.csv")
    assert path.read_bytes() == _reference_csv(_common.guest_view(odd), GUEST_FIELDS)


@settings(max_examples=60, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(_CELLS)
def test_findings_json_matches_dumps(
    result: AuditResult, tmp_path: Path, cells: list[str | None]
) -> None:
    findings = result.findings.iloc[: len(cells)].reset_index(drop=True)
    findings["detail"] = _texts(cells)
    findings["domain"] = pd.Series(cells, dtype=object)
    odd = replace(result, findings=findings)
    path = write_findings_json(odd, tmp_path / "f.json")
    assert path.read_bytes() == dumps(build_document(odd))


@pytest.mark.parametrize("dtype", ["str", "string[pyarrow]", "string[python]", "object"])
def test_csv_and_json_on_every_kind_of_start(
    result: AuditResult, tmp_path: Path, dtype: str
) -> None:
    cells: Any = [*_EXAMPLES, None, *(f"a{chr(c)}b" for c in range(0x80))]
    findings = pd.DataFrame({f: pd.Series(cells, dtype=dtype) for f in FINDING_COLUMNS})
    odd = replace(result, findings=findings)
    csv_path = write_findings_csv(odd, tmp_path / "f.csv")
    assert csv_path.read_bytes() == _reference_csv(findings, FINDING_COLUMNS)
    json_path = write_findings_json(odd, tmp_path / "f.json")
    assert json_path.read_bytes() == dumps(build_document(odd))


def test_findings_json_matches_dumps_with_odd_values(result: AuditResult, tmp_path: Path) -> None:
    outcomes = result.outcomes.copy()
    outcomes["reasons"] = pd.Series(
        [np.array(r, dtype=object) for r in outcomes["reasons"]], dtype=object
    )
    outcomes["whatif_reasons"] = pd.Series([[None, 1.5, "x"], [], ["\ud800"]] * 20, dtype=object)
    findings = result.findings.astype({"detail": object})
    findings.loc[1, "detail"] = "lone \ud800 surrogate"
    findings.loc[2, "detail"] = float("nan")
    findings["level"] = pd.Series(np.arange(len(findings)), dtype="Int64")
    tenant = {**result.tenant, "name": "lone \udfff in the document"}  # repairs the whole document
    odd = replace(result, outcomes=outcomes, findings=findings, tenant=tenant)
    path = write_findings_json(odd, tmp_path / "f.json")
    assert path.read_bytes() == dumps(build_document(odd))
    assert orjson.loads(path.read_bytes())["findings"][1]["detail"] == "lone \ufffd surrogate"


@pytest.mark.parametrize("rows", [1, 2, 7])
def test_findings_json_written_in_blocks_of_rows_is_the_same(
    result: AuditResult, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, rows: int
) -> None:
    findings = result.findings.astype({"detail": object})
    findings.loc[1, "detail"] = "lone \ud800 surrogate"
    findings.loc[2, "detail"] = None
    findings.loc[3, "detail"] = '"quoted"\n=cmd|'
    odd = replace(result, findings=findings)
    monkeypatch.setattr(json_out, "_ROWS_PER_PIECE", rows)
    assert len(odd.findings) > rows
    assert len(odd.outcomes) > rows
    path = write_findings_json(odd, tmp_path / "f.json")
    assert path.read_bytes() == dumps(build_document(odd))


def test_empty_result_json(tmp_path: Path) -> None:
    empty = make_result(0)
    empty = replace(empty, findings=empty.findings.iloc[:0])
    path = write_findings_json(empty, tmp_path / "f.json")
    assert path.read_bytes() == dumps(build_document(empty))


@pytest.mark.parametrize(("n", "hostile"), [(0, True), (1, True), (60, True), (40, False)])
def test_guest_view_lists_each_guests_rules(n: int, hostile: bool) -> None:
    """Per guest, the rule ids of its guest-level findings of each status, in findings order."""
    result = make_result(n, seed=5, hostile=hostile)
    view = _common.guest_view(result)
    findings = result.findings[result.findings["level"] != "app"]
    for status, name in (("flagged", "flagged_rules"), ("muted", "muted_rules")):
        chosen = findings[findings["status"] == status]
        for object_id, rules in zip(view["object_id"], view[name], strict=True):
            assert rules == chosen.loc[chosen["object_id"] == object_id, "rule_id"].tolist()


def test_map_values_shares_only_exact_values() -> None:
    series = pd.Series(["a", ["a"], ("a",), ["a", 1], np.nan, None, 1, 1.0, True], dtype=object)
    seen = map_values(series, repr)
    assert seen == [repr(v) for v in py_values(series)]
    bools = pd.Series([True, None, False], dtype="boolean")
    assert map_values(bools, repr) == ["True", "None", "False"]


def test_flag_rows_and_byte_sets() -> None:
    assert byte_set("abcx") == ((97, 99), (120, 120))
    texts = pa.array(["", "a,b", None, "é", "plain", ","], type=TEXT)[1:]
    flags = flag_rows(texts, anywhere=byte_set(","), first=byte_set(range(0x80, 0x100)))
    assert flags.tolist() == [True, False, True, False, True]


def test_concat_rows() -> None:
    a = pa.array(["1", "", "3"], type=TEXT)
    b = pa.array(["x", "y", "é"], type=TEXT)
    assert concat_rows(["<", a, ",", b, ">"], "\n").to_pybytes() == "<1,x>\n<,y>\n<3,é>\n".encode()
    assert concat_rows([a[:0]], "\n").to_pybytes() == b""
