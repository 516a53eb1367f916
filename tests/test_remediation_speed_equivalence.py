"""remediation.ps1's fast paths return exactly what the straightforward code they replace returned.

A 100,000-guest script is built column by column and checks its common case once per batch
(:func:`ps_comments`, :func:`_strings`, only the guest rows a plan reads). Each
fast path is compared here with a plain reference, written as the code was before, on hostile and
random input: the script's bytes, and so its safety, must not depend on which path ran.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from audit import plans
from audit._values import column, py_values
from audit.powershell import as_text, as_texts, ps_comment, ps_comments, ps_quote
from audit.render import _ps1_plans as ps1_plans
from audit.render import _ps1_read as read
from audit.render import remediation as rem
from audit.rules import all_rules, get_rule
from tests.factories import make_result
from tests.test_remediation import FINDINGS, GUESTS, HOSTILE, _guest, _result

TRICKY = [
    *HOSTILE,
    "",
    " ",
    "x ",
    "SIG # Begin signature block",
    "sig # begin signature block",
    "  sig #x",
    "\tSIG #",
    "\u3000SIG #",
    "\u017fIG # long s upper-cases to S",
    "\ufb06 ligature st",
    "\u00df sharp s",
    "s",
    "S",
    "Guest: x",
    "a" * 401,
    "\u2026" * 50,
    "\ud800 lone surrogate",
]
_TEXTS = st.one_of(st.text(max_size=60), st.sampled_from(TRICKY))


def _reference_clean(value: str) -> str:
    """The cleaning of comments and literals, character by character."""

    def one(char: str) -> str:
        if char.isprintable() or char in "\u200c\u200d":
            return char
        return " " if char == "\t" or unicodedata.category(char) == "Zs" else "\ufffd"

    return "".join(one(c) for c in value)


def _reference_comment(value: str, limit: int | None = 400) -> str:
    """ps_comment as first written."""
    text = _reference_clean(value)
    if limit is not None and len(text) > limit:
        text = text[:limit] + f" …[truncated, {len(text):,} characters]"
    if text.lstrip().upper().startswith("SIG #"):
        text = "(text) " + text
    return f"# {text}".rstrip()


def _reference_quote(value: str) -> str:
    """ps_quote as first written."""
    return "'" + re.sub("(['\u2018\u2019\u201a\u201b])", r"\1\1", _reference_clean(value)) + "'"


# -- text primitives -----------------------------------------------------------------------------


@pytest.mark.parametrize("value", TRICKY)
@pytest.mark.parametrize("limit", [400, None, 3])
def test_ps_comment_matches_reference_on_tricky_values(value: str, limit: int | None) -> None:
    assert ps_comment(value, limit=limit) == _reference_comment(value, limit)


@given(value=_TEXTS, limit=st.sampled_from([400, None, 5]))
def test_ps_comment_matches_reference(value: str, limit: int | None) -> None:
    assert ps_comment(value, limit=limit) == _reference_comment(value, limit)


@given(_TEXTS)
def test_ps_quote_matches_reference(value: str) -> None:
    assert ps_quote(value) == _reference_quote(value)


@given(values=st.lists(_TEXTS, max_size=8), limit=st.sampled_from([400, 10]))
def test_ps_comments_matches_one_by_one(values: list[str], limit: int) -> None:
    assert ps_comments(values, limit=limit) == [ps_comment(v, limit=limit) for v in values]


@pytest.mark.parametrize("odd", TRICKY)
def test_ps_comments_one_odd_value_among_plain_ones(odd: str) -> None:
    values = ["Guest: a | b", odd, "plain text "]
    assert ps_comments(values) == [_reference_comment(v) for v in values]


# -- reading frames ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "series",
    [
        pd.Series(["a", None, "", "b"], dtype="str"),
        pd.Series(["a", None, "", "b"], dtype="string"),
        pd.Series(["a", None, "", float("nan"), pd.NA], dtype=object),
        pd.Series(["a", np.str_("b"), 3, 2.5, ["x", None], True], dtype=object),
        pd.Series([1, 2], dtype="Int64"),
        pd.Series([datetime(2025, 1, 1, tzinfo=UTC), None]),
        pd.Series([], dtype=object),
        pd.Series(["\ud800", "x"], dtype=object),
    ],
)
def test_strings_match_the_general_conversion(series: pd.Series) -> None:
    assert read._strings(series) == [as_text(v) or "" for v in py_values(series)]


def _reference_findings(frame: pd.DataFrame) -> list[tuple[str, ...]]:
    """Findings read row by row, as first written."""
    names = ("rule_id", "object_id", "user_principal_name", "display_name", "detail")
    cols = [py_values(column(frame, n)) for n in (*names, "level", "status", "muted_by")]
    out: list[tuple[str, ...]] = []
    seen: set[tuple[str, str]] = set()
    for row in zip(*cols, strict=True):
        text = [as_text(v) or "" for v in row]
        status, muted_by = text[6], text[7]
        if status not in ("flagged", "muted") or (text[0], text[1]) in seen:
            continue
        seen.add((text[0], text[1]))
        reason = (muted_by or "muted by an exception") if status == "muted" else ""
        out.append((*text[:5], text[5] or "guest", reason))
    return out


def _findings_frame(dtype: str) -> pd.DataFrame:
    """The hostile findings plus duplicates, NA, passed and muted rows."""
    rows = [dict(f) for f in FINDINGS]
    rows += [dict(FINDINGS[1], detail="duplicate"), dict(FINDINGS[2], status="muted", muted_by="")]
    rows += [dict(FINDINGS[3], status="passed"), dict(FINDINGS[4], level=None, status=None)]
    rows += [dict(FINDINGS[5], object_id=None, display_name=None), dict(FINDINGS[5], object_id="")]
    frame = pd.DataFrame(rows, dtype=object)
    if dtype == "str":
        frame["detail"] = frame["detail"].str.replace("\ud800", "?")
        frame = frame.astype("str")
    return frame


@pytest.mark.parametrize("dtype", ["object", "str"])
def test_findings_match_row_by_row_reading(dtype: str) -> None:
    frame = _findings_frame(dtype)
    assert _records(read.read_findings(frame)) == _reference_findings(frame)


def _records(table: read.Findings) -> list[tuple[str, ...]]:
    """Every finding of ``table``, as a tuple."""
    return [tuple(f) for f in table.records(range(len(table.rule_id)))]


def test_findings_of_a_large_result_match_row_by_row_reading() -> None:
    frame = make_result(400, seed=5).findings
    frame = pd.concat([frame, frame.iloc[:50]], ignore_index=True)
    assert _records(read.read_findings(frame)) == _reference_findings(frame)


def _reference_guests(frame: pd.DataFrame, ids: set[str]) -> dict[str, tuple[Any, ...]]:
    """Guest rows read with isin, as first written."""
    sub = frame[column(frame, "object_id").isin(ids)]
    out: dict[str, tuple[Any, ...]] = {}
    for i, object_id in enumerate(py_values(column(sub, "object_id"))):
        mu = py_values(column(sub, "mu_present"))[i]
        out[str(object_id)] = (
            as_text(py_values(column(sub, "mail"))[i]),
            as_text(py_values(column(sub, "original_upn"))[i]),
            as_text(py_values(column(sub, "provisioning_upn"))[i]),
            as_texts(py_values(column(sub, "other_mails"))[i]),
            None if mu is None else bool(mu),
            as_text(py_values(column(sub, "mu_external_email"))[i]),
            as_texts(py_values(column(sub, "mu_email_addresses"))[i]),
        )
    return out


def test_guests_match_isin_reading() -> None:
    rows = [*GUESTS, _guest(GUESTS[0]["object_id"], "twin", mail="twin@partner.example")]
    rows += [_guest("", "empty id"), _guest("None", "the text None")]
    frame = _result(rows, []).guests
    frame.loc[len(frame)] = [None] * len(frame.columns)
    ids = {g["object_id"] for g in rows[::2]} | {"", "None", "not-a-guest"}
    got = {k: tuple(v) for k, v in read.read_guests(frame, ids).items()}
    assert got == _reference_guests(frame, ids)
    assert got[GUESTS[0]["object_id"]][0] == "twin@partner.example"  # the last row wins


def test_rule_infos_match_the_first_matching_row() -> None:
    rules = _result([], []).rules
    extra = rules.iloc[:2].assign(title="second row", severity=None)
    rules = pd.concat([rules, extra, rules.iloc[:1].assign(rule_id=None)], ignore_index=True)
    infos = read.rule_infos(rules)
    for rule_id in [*rules["rule_id"].dropna(), "unknown"]:
        match = rules[rules["rule_id"] == rule_id]
        want = {"title": "", "severity": "", "remediation": ""}
        if len(match):
            want = {k: as_text(py_values(match[k])[0]) or "" for k in want}
        assert read.rule_info(infos, rule_id) == want


# -- plans and lines -----------------------------------------------------------------------------


def _guest_record(row: dict[str, Any]) -> plans.Guest:
    """A guest row as the planners see it."""
    frame = _result([row], []).guests
    return read.read_guests(frame, {row["object_id"]})[row["object_id"]]


@pytest.mark.parametrize("rule_id", sorted(r.id for r in all_rules() if r.plan is not None))
def test_plans_of_rules_said_not_to_read_the_guest_ignore_it(rule_id: str) -> None:
    planner = get_rule(rule_id).plan
    assert planner is not None
    ctx = plans.Ctx("contoso.onmicrosoft.com", "bbbbbbbb-0000-4000-8000-000000000002", "App")
    seen = set()
    for row in GUESTS:
        finding = plans.Finding(rule_id, GUESTS[0]["object_id"], "u", "n", "d", "guest", "")
        plan = planner(finding, _guest_record(row), ctx)
        seen.add(repr(plan))
    seen.add(repr(planner(finding, plans.NO_GUEST, ctx)))
    if not ps1_plans.uses_guest(rule_id):
        assert len(seen) == 1
    else:
        assert len(seen) > 1, "a rule that reads the guest should show it in its plan"


@settings(max_examples=25, deadline=None)
@given(seed=st.integers(0, 50))
def test_script_does_not_depend_on_the_column_types(seed: int, tmp_path_factory: Any) -> None:
    result = make_result(60, seed=seed)
    text_columns = [c for c in result.findings.columns if result.findings[c].dtype == "str"]
    as_objects = result.findings.astype({c: object for c in text_columns})
    folder: Path = tmp_path_factory.mktemp("ps")
    first = rem.write_remediation(result, folder / "a.ps1").read_bytes()
    second = rem.write_remediation(replace(result, findings=as_objects), folder / "b.ps1")
    assert second.read_bytes() == first


@pytest.mark.parametrize("lines", [1, 7])
def test_script_written_in_blocks_of_lines_is_the_same(
    lines: int, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    result = _result(GUESTS, FINDINGS)
    whole = rem.write_remediation(result, tmp_path / "whole.ps1").read_bytes()
    monkeypatch.setattr(rem, "_LINES_PER_WRITE", lines)
    assert rem.write_remediation(result, tmp_path / "blocks.ps1").read_bytes() == whole
    text = whole.decode("utf-8-sig")
    assert text.endswith("\r\n")
    assert text.count("\r\n") > 7
