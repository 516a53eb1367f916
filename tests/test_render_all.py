"""render_all: one call writes every chosen report; unknown formats fail before writing."""

from __future__ import annotations

from pathlib import Path

import pytest

import audit.render
from audit.errors import ConfigError
from audit.render import render_all
from tests.factories import make_result


def test_public_names() -> None:
    assert sorted(audit.render.__all__) == [
        "FORMATS",
        "neutralise",
        "render_all",
        "write_findings_csv",
        "write_findings_json",
        "write_guests_csv",
        "write_html",
        "write_remediation",
        "write_xlsx",
    ]


def test_writes_every_format(tmp_path: Path) -> None:
    paths = render_all(make_result(20), tmp_path / "out")
    assert {k: p.name for k, p in paths.items()} == {
        "html": "report.html",
        "xlsx": "report.xlsx",
        "json": "findings.json",
        "findings_csv": "findings.csv",
        "guests_csv": "guests.csv",
        "ps1": "remediation.ps1",
    }
    assert all(p.parent == tmp_path / "out" and p.stat().st_size > 0 for p in paths.values())
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == sorted(
        p.name for p in paths.values()
    )


def test_subset(tmp_path: Path) -> None:
    paths = render_all(make_result(5), tmp_path, formats=("json", "json", "csv"))
    assert list(paths) == ["json", "findings_csv", "guests_csv"]


def test_unknown_format_writes_nothing(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="pdf"):
        render_all(make_result(5), tmp_path / "out", formats=("html", "pdf"))
    assert not (tmp_path / "out").exists()
