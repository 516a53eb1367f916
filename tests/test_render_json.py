"""findings.json: exact public fields, nulls for NA, UTC times, never crashes on odd text."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import orjson
import pandas as pd
import pytest

from audit.analysis.result import AuditResult
from audit.render import write_findings_json
from tests.factories import HOSTILE, make_result

TOP = [
    "tool",
    "version",
    "tenant",
    "target",
    "target_selection",
    "app",
    "generated_at",
    "collected_at",
    "sources",
    "rules",
    "findings",
    "outcomes",
    "summary",
    "whatif",
    "provisioning_scope",
    "quarantine_forecast",
    "engine",
]
RULE_KEYS = [
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
]
FINDING_KEYS = [
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
OUTCOME_KEYS = ["object_id", "outcome", "reasons", "whatif_outcome", "whatif_reasons"]


@pytest.fixture(scope="module")
def result() -> AuditResult:
    return make_result(60, seed=1)


def _load(result: AuditResult, tmp_path: Path) -> dict:
    path = write_findings_json(result, tmp_path / "findings.json")
    assert path == tmp_path / "findings.json"
    return orjson.loads(path.read_bytes())


def test_exact_fields(result: AuditResult, tmp_path: Path) -> None:
    doc = _load(result, tmp_path)
    assert list(doc) == TOP
    assert doc["tool"] == "b2b-preflight"
    assert doc["version"] == "0.1.0"
    assert all(list(r) == RULE_KEYS for r in doc["rules"])
    assert all(list(f) == FINDING_KEYS for f in doc["findings"])
    assert all(list(o) == OUTCOME_KEYS for o in doc["outcomes"])
    assert list(doc["summary"]) == ["guests", "outcomes", "findings_by_severity"]
    assert list(doc["sources"][0]) == [
        "name",
        "state",
        "rows",
        "error",
        "missing_permission",
        "detail",
    ]
    assert set(doc["whatif"]) == {
        "description",
        "precondition",
        "precondition_met",
        "before",
        "after",
        "newly_ready",
        "needs_mail_fix",
    }


def test_values(result: AuditResult, tmp_path: Path) -> None:
    doc = _load(result, tmp_path)
    assert doc["generated_at"] == "2025-03-14T09:26:53Z"
    assert doc["collected_at"] == "2025-03-14T09:20:00Z"
    assert len(doc["findings"]) == len(result.findings)
    assert len(doc["outcomes"]) == len(result.guests)
    summary = doc["summary"]
    assert summary["guests"] == 60
    assert summary["outcomes"] == result.outcome_counts()
    open_ = result.findings[result.findings["status"] == "flagged"]
    assert summary["findings_by_severity"] == {
        s: int((open_["severity"] == s).sum()) for s in ("high", "medium", "low", "info")
    }
    failed = next(s for s in doc["sources"] if s["state"] == "failed")
    assert failed["missing_permission"] == "AuditLog.Read.All"
    assert isinstance(doc["outcomes"][0]["reasons"], list)
    assert isinstance(doc["rules"][0]["flagged"], int)


def test_na_becomes_null(result: AuditResult, tmp_path: Path) -> None:
    doc = _load(result, tmp_path)
    app = next(f for f in doc["findings"] if f["level"] == "app")
    assert app["user_principal_name"] is None
    assert app["mail"] is None
    missing = result.findings["mail"].isna() & (result.findings["level"] == "guest")
    assert missing.any()
    idx = int(missing.to_numpy().nonzero()[0][0])
    assert doc["findings"][idx]["mail"] is None


def test_hostile_strings_kept_exactly(result: AuditResult, tmp_path: Path) -> None:
    doc = _load(result, tmp_path)
    names = {f["display_name"] for f in doc["findings"]}
    assert names & set(HOSTILE)
    assert doc["tenant"]["name"] == "Contoso <img src=x onerror=alert(3)>"


def test_no_whatif_is_null(result: AuditResult, tmp_path: Path) -> None:
    doc = _load(replace(result, whatif=None, collected_at=None), tmp_path)
    assert doc["whatif"] is None
    assert doc["collected_at"] is None


def test_numpy_arrays_nan_and_surrogates_do_not_crash(result: AuditResult, tmp_path: Path) -> None:
    outcomes = result.outcomes.copy()
    outcomes["reasons"] = [pd.array(r, dtype=object).to_numpy() for r in outcomes["reasons"]]
    findings = result.findings.astype({"detail": object})
    findings.loc[1, "detail"] = "lone \ud800 surrogate"
    findings.loc[2, "detail"] = float("nan")
    doc = _load(replace(result, outcomes=outcomes, findings=findings), tmp_path)
    assert doc["findings"][1]["detail"] == "lone \ufffd surrogate"
    assert doc["findings"][2]["detail"] is None
    assert doc["outcomes"][0]["reasons"] == list(result.outcomes["reasons"][0])


def test_empty_result(tmp_path: Path) -> None:
    base = make_result(0)
    doc = _load(base, tmp_path)
    assert doc["summary"]["guests"] == 0
    assert doc["outcomes"] == []
    assert [f["level"] for f in doc["findings"]] == ["app"]
