"""The engine simulation as the admin meets it: ``--provisioning-scope`` and the config key on the
CLI, and report.html's header, first screen and guest detail, on the hand-written engine tenant
(``tests/data/engine``, see ``tests/test_engine_tenant.py``).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson
import pytest
from click.testing import CliRunner

from audit.cli import cli
from audit.render.html import write_html
from tests.test_engine_tenant import ANN, DEE, EVE, VERIFIED, _tenant, audit

DOMAINS = [arg for domain in VERIFIED for arg in ("--verified-domain", domain)]


def _run(export: Path, out: Path, *args: str) -> tuple[int, str]:
    result = CliRunner().invoke(
        cli, ["run", "--from-export", str(export), *DOMAINS, *args, "--out", str(out)]
    )
    return result.exit_code, result.output


def _flagged(out: Path, rule: str) -> set[str]:
    document = orjson.loads((out / "findings.json").read_bytes())
    return {
        str(f["object_id"])
        for f in document["findings"]
        if f["rule_id"] == rule and f["status"] == "flagged"
    }


def test_run_from_export_with_provisioning_scope_all(tmp_path: Path) -> None:
    """how-provisioning-works: under "Sync all users and groups" assignment does not decide scope;
    the report header and findings.json state the scope the audit was told."""
    export, out = _tenant(tmp_path, None), tmp_path / "out"
    code, output = _run(export, out, "--provisioning-scope", "all")
    assert code == 0, output
    assert orjson.loads((out / "findings.json").read_bytes())["provisioning_scope"] == "all"
    assert not _flagged(out, "not-in-scope")
    assert not _flagged(out, "nested-group-only")
    assert ANN in _flagged(out, "duplicate-target-key")  # the unassigned contractor now counts
    html = (out / "report.html").read_text(encoding="utf-8")
    assert 'id="provisioning-scope">Sync all users and groups' in html
    again = CliRunner().invoke(cli, ["report", str(out), "--out", str(tmp_path / "again")])
    assert again.exit_code == 0, again.output  # the snapshot recorded the scope it was told
    document = orjson.loads((tmp_path / "again" / "findings.json").read_bytes())
    assert document["provisioning_scope"] == "all"


def test_the_default_and_the_config_key(tmp_path: Path) -> None:
    export = _tenant(tmp_path, None)
    code, output = _run(export, tmp_path / "default")
    assert code == 0, output
    assert DEE in _flagged(tmp_path / "default", "not-in-scope")
    html = (tmp_path / "default" / "report.html").read_text(encoding="utf-8")
    assert 'id="provisioning-scope">Sync only assigned users and groups' in html
    config = tmp_path / "audit.toml"
    config.write_text('provisioning_scope = "all"\n')
    code, output = _run(export, tmp_path / "all", "--config", str(config))
    assert code == 0, output
    assert DEE not in _flagged(tmp_path / "all", "not-in-scope")


def test_an_unknown_scope_in_the_config_is_a_misconfiguration(tmp_path: Path) -> None:
    config = tmp_path / "audit.toml"
    config.write_text('provisioning_scope = "everyone"\n')
    code, output = _run(_tenant(tmp_path, None), tmp_path / "o", "--config", str(config))
    assert code == 2
    assert "provisioning_scope must be one of assigned, all" in output
    assert "Traceback" not in output


@pytest.fixture(scope="module")
def partial_report(tmp_path_factory: pytest.TempPathFactory) -> Path:
    tmp = tmp_path_factory.mktemp("engine-report")
    return write_html(audit(tmp, "partial"), tmp / "report.html")


def test_the_first_screen_names_what_cannot_be_evaluated(partial_report: Path) -> None:
    """The app-level finding mapping-not-evaluable, the quarantine forecast and the job scope are
    on the report's first screen, before the guest table."""
    html = partial_report.read_text(encoding="utf-8")
    banner = html.index('id="app-finding-mapping-not-evaluable"')
    assert banner < html.index('id="guests"')
    assert "extension_9d98c0f5a1b24c3d8e7f6a5b4c3d2e1f_altMail] was not collected" in html
    assert html.index('id="quarantine-forecast"') < html.index('id="guests"')
    assert 'id="provisioning-scope">Sync only assigned users and groups' in html


@pytest.fixture
def browser() -> Iterator[Any]:
    from tests.test_render_browser import chromium_session

    yield from chromium_session()


@pytest.mark.browser
def test_the_guest_detail_shows_the_five_steps(browser: Any, partial_report: Path) -> None:
    """provision-on-demand's steps (scope, match, action, attributes, result) for one guest."""
    tab = browser.new_page(viewport={"width": 1360, "height": 1000})
    errors: list[str] = []
    tab.on("pageerror", lambda e: errors.append(str(e)))
    tab.goto(partial_report.as_uri())
    tab.wait_for_selector("html[data-ready=true]")
    tab.fill("#guest-q", EVE)
    tab.wait_for_selector('#guest-count[data-count="1"]', state="attached")
    tab.click("#guest-table tbody tr[data-row] .toggle")
    detail = tab.locator("#guest-table tr.detail").first.text_content() or ""
    tab.close()
    assert errors == []
    assert "1. Scopein scope: assigned as a direct member of an assigned group" in detail
    assert "2. MatchuserName = eve@tailspin.com" in detail
    assert "3. Actioncreate" in detail
    assert "4. AttributesuserName=eve@tailspin.com; active=True" in detail
    assert "5. Resultblocked: duplicate-target-key" in detail
