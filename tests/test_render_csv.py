"""findings.csv and guests.csv: BOM, stable columns, every text cell inert, readable values."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest

from audit.analysis.result import AuditResult
from audit.render import write_findings_csv, write_guests_csv
from audit.render.safe import is_formula_like
from tests.factories import HOSTILE, make_result

FINDING_COLUMNS = [
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
]
GUEST_COLUMNS = [
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
]


@pytest.fixture(scope="module")
def result() -> AuditResult:
    return make_result(40, seed=2)


def _read(path: Path) -> list[list[str]]:
    raw = path.read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf"), "UTF-8 BOM for Excel"
    with path.open(encoding="utf-8-sig", newline="") as handle:
        return list(csv.reader(handle))


def test_findings_columns_and_rows(result: AuditResult, tmp_path: Path) -> None:
    rows = _read(write_findings_csv(result, tmp_path / "findings.csv"))
    assert rows[0] == FINDING_COLUMNS
    assert len(rows) == len(result.findings) + 1


def test_guests_columns_and_rows(result: AuditResult, tmp_path: Path) -> None:
    rows = _read(write_guests_csv(result, tmp_path / "guests.csv"))
    assert rows[0] == GUEST_COLUMNS
    assert len(rows) == len(result.guests) + 1
    by_id = {r[0]: dict(zip(GUEST_COLUMNS, r, strict=True)) for r in rows[1:]}
    outcomes = result.outcomes.set_index("object_id")
    for object_id, row in by_id.items():
        assert row["outcome"] == outcomes.loc[object_id, "outcome"]
        assert row["reasons"] == ";".join(outcomes.loc[object_id, "reasons"])
        assert row["account_enabled"] in ("true", "false", "")
    flagged = result.findings[
        (result.findings["status"] == "flagged") & (result.findings["level"] == "guest")
    ]
    some = flagged.iloc[0]
    assert some["rule_id"] in by_id[some["object_id"]]["flagged_rules"].split(";")


@pytest.mark.parametrize("writer", [write_findings_csv, write_guests_csv])
def test_no_cell_can_start_a_formula(result: AuditResult, tmp_path: Path, writer: object) -> None:
    path = writer(result, tmp_path / "out.csv")  # type: ignore[operator]
    for row in _read(path):
        for cell in row:
            assert not is_formula_like(cell), cell
            assert "\x00" not in cell


def test_hostile_names_stay_readable(result: AuditResult, tmp_path: Path) -> None:
    rows = _read(write_guests_csv(result, tmp_path / "guests.csv"))
    names = [r[1] for r in rows[1:]]
    assert names[0] == "<script>alert(1)</script>"
    assert names[3] == '\'=HYPERLINK("http://evil","x")'
    assert names[4] == "'+cmd|' /C calc'!A0"
    assert names[5] == "'-2+3"
    assert names[6] == "'@SUM(1)"
    assert names[7] == "'\t'=1+1 tab-led"  # a tab also starts a cell in a tab-separated import
    assert names[8] == "'\r'=1+1 cr-led"
    assert names[9] == "'  =1+2 space-led"
    assert names[11] == HOSTILE[11]  # 10,000 characters, intact
    assert names[12] == "evil\u202egnp.exe"
    assert names[14] == "nul\ufffdbyte and \x07bell"
    assert names[15] == HOSTILE[15]
    assert rows[4][3] == '\'=HYPERLINK("http://evil","x")@evil.example'  # hostile mail


def test_numbers_are_not_prefixed(tmp_path: Path) -> None:
    result = make_result(5, hostile=False)
    rows = _read(write_findings_csv(result, tmp_path / "f.csv"))
    assert all(not r[0].startswith("'") for r in rows)


def test_replaces_atomically(result: AuditResult, tmp_path: Path) -> None:
    target = tmp_path / "guests.csv"
    target.write_text("old")
    write_guests_csv(result, target)
    assert [p.name for p in tmp_path.iterdir()] == ["guests.csv"]
