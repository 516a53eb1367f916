"""The Atlassian sources through the command line: keys never leak, hostile answers stay inert,
misconfiguration is an error, ``doctor`` checks the organization.

Runs use the Graph emulator and the Atlassian emulator on loopback (real HTTP), or the hostile
export corpus with a hostile ``atlassian/`` folder next to it.
"""

from __future__ import annotations

import codecs
import csv
import io
import logging
import os
import shutil
import subprocess
import sys
import zipfile
from collections.abc import Iterator
from pathlib import Path

import lxml.html  # type: ignore[import-untyped]
import openpyxl
import orjson
import pytest
from click.testing import CliRunner

from audit import snapshot as snap
from audit.analysis.analyzer import analyze
from audit.cli import cli
from audit.collectors.atlassian_export import write_atlassian_export
from audit.config import AuditConfig
from audit.demo.atlassian_emulator import AtlassianEmulator, AtlassianFaults
from audit.demo.atlassian_org import AtlassianOrg, export_pages
from audit.demo.emulator import GraphEmulator
from audit.demo.tenant import generate_tenant
from audit.render.remediation import write_remediation
from audit.render.safe import is_formula_like
from tests._atlassian import directory_user, domain, managed, scim_user
from tests.make_hostile_corpus import HOSTILE_TEXT, MARKER, TARGET, text_guests
from tests.test_hostile import _code_outside_literals

ORG_KEY = "CANARY-ATLASSIAN-ORG-KEY-3d7f0c"
SCIM_KEY = "CANARY-ATLASSIAN-SCIM-KEY-91ab4e"


@pytest.fixture(scope="module")
def served() -> Iterator[tuple[GraphEmulator, AtlassianEmulator, AtlassianOrg]]:
    tenant = generate_tenant(60, 20, seed=3)
    org = tenant.atlassian
    assert org is not None
    org.api_key, org.scim_key = ORG_KEY, SCIM_KEY
    with GraphEmulator(tenant) as graph, AtlassianEmulator(org, page_size=7) as target:
        yield graph, target, org


def _target_flags(target: AtlassianEmulator, org: AtlassianOrg) -> list[str]:
    return ["--atlassian-url", target.base_url, "--atlassian-org", org.org_id,
            "--atlassian-directory", org.directory_id]  # fmt: skip


def _env(**keys: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AZURE_", "ATLASSIAN_"))}
    return env | {"PYTHONWARNINGS": "default"} | keys


def _tree(*folders: Path) -> dict[str, bytes]:
    return {str(p): p.read_bytes() for f in folders if f.exists() for p in f.rglob("*") if p.is_file()}  # fmt: skip


def _leaks(blobs: dict[str, bytes], *secrets: str) -> list[str]:
    return [f"{name}: {s[:12]}" for name, blob in blobs.items() for s in secrets if s.encode() in blob]  # fmt: skip


def test_a_run_writes_the_keys_nowhere(
    served: tuple[GraphEmulator, AtlassianEmulator, AtlassianOrg], tmp_path: Path
) -> None:
    graph, target, org = served
    out, raw = tmp_path / "out", tmp_path / "raw"
    args = ["run", "--graph-url", graph.base_url, "--auth", "none", "--no-dns",
            *_target_flags(target, org), "--save-raw", str(raw), "--out", str(out)]  # fmt: skip
    done = subprocess.run([sys.executable, "-m", "audit", *args], capture_output=True, timeout=180,
                          env=_env(ATLASSIAN_API_KEY=ORG_KEY, ATLASSIAN_SCIM_KEY=SCIM_KEY))  # fmt: skip
    assert done.returncode == 0, done.stderr.decode()
    assert all(r.authorized for r in target.requests)
    document = orjson.loads((out / "findings.json").read_bytes())
    states = {
        s["name"]: s["state"] for s in document["sources"] if s["name"].startswith("atlassian")
    }
    assert set(states.values()) == {"ok"}
    assert len(states) == 4
    assert sorted(p.name for p in (raw / "atlassian").iterdir())[0].startswith("directoryUsers")
    blobs = {"stdout": done.stdout, "stderr": done.stderr, **_tree(out, raw)}
    assert len(blobs) > 12
    assert _leaks(blobs, ORG_KEY, SCIM_KEY) == []


def test_refused_keys_print_no_key_even_when_echoed(
    served: tuple[GraphEmulator, AtlassianEmulator, AtlassianOrg],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    graph, _, org = served
    wrong = org.api_key + "-EXPIRED"
    with AtlassianEmulator(org, faults=AtlassianFaults(echo=True)) as target:
        monkeypatch.setenv("ATLASSIAN_API_KEY", wrong)
        monkeypatch.setenv("ATLASSIAN_SCIM_KEY", SCIM_KEY)
        caplog.set_level(logging.DEBUG)
        # the organization's domains fail with the key: the typed ones stand in (else exit 2)
        result = CliRunner().invoke(cli, ["run", "--graph-url", graph.base_url, "--auth", "none",
                                          "--no-dns", *_target_flags(target, org),
                                          "--verified-domain", "contoso-demo.com",
                                          "--out", str(tmp_path / "out")])  # fmt: skip
    assert result.exit_code == 0, result.output
    document = orjson.loads((tmp_path / "out" / "findings.json").read_bytes())
    failed = {s["name"]: s for s in document["sources"] if s["state"] == "failed"}
    assert set(failed) == {"atlassian_domains", "atlassian_users", "atlassian_directory_users"}
    assert "[key]" in failed["atlassian_users"]["error"]  # the echoed header, masked
    logs = "\n".join(f"{r.getMessage()} {r.args!r}" for r in caplog.records)
    assert len(caplog.records) > 10
    blobs = {"output": result.output.encode(), "logs": logs.encode(), **_tree(tmp_path)}
    assert _leaks(blobs, wrong, SCIM_KEY, ORG_KEY) == []


def test_a_flag_without_its_key_is_a_configuration_error(
    served: tuple[GraphEmulator, AtlassianEmulator, AtlassianOrg], tmp_path: Path
) -> None:
    graph, target, org = served
    args = ["run", "--graph-url", graph.base_url, "--auth", "none", "--no-dns",
            *_target_flags(target, org), "--out", str(tmp_path / "out")]  # fmt: skip
    runner = CliRunner(env={"ATLASSIAN_API_KEY": ORG_KEY, "ATLASSIAN_SCIM_KEY": ""})
    result = runner.invoke(cli, args)
    assert result.exit_code == 2, result.output
    assert "ATLASSIAN_SCIM_KEY" in result.output
    assert "Traceback" not in result.output
    assert not (tmp_path / "out").exists()


def test_doctor_checks_the_organization_and_names_a_missing_scope(
    served: tuple[GraphEmulator, AtlassianEmulator, AtlassianOrg],
) -> None:
    graph, _, org = served
    faults = AtlassianFaults(forbidden={"atlassian_scim_users", "atlassian_domains"})
    with AtlassianEmulator(org, faults=faults) as target:
        runner = CliRunner(env={"ATLASSIAN_API_KEY": ORG_KEY, "ATLASSIAN_SCIM_KEY": SCIM_KEY})
        result = runner.invoke(cli, ["doctor", "--graph-url", graph.base_url, "--auth", "none",
                                     *_target_flags(target, org)])  # fmt: skip
        assert {r.method for r in target.requests} == {"GET"}
    assert result.exit_code == 3, result.output
    lines = {line.split()[0]: line for line in result.output.splitlines() if line.strip()}
    assert " ok " in lines["atlassian_users"]
    assert "needs org API key scope read:domains:admin" in lines["atlassian_domains"]
    assert "FAILED" in lines["atlassian_scim_users"]
    assert "disabled: target-email-conflict (needs atlassian_scim_users)" in result.output
    assert ORG_KEY not in result.output
    assert SCIM_KEY not in result.output


# ---- hostile answers from the target ------------------------------------------------------------


def _hostile_org() -> AtlassianOrg:
    """Every hostile text as a domain name, an account name and a directory user's name and
    address; some directory users hold hostile guests (reconciled), the others hold nobody."""
    guests = text_guests()
    scim = [scim_user(f"held-{n}", g["mail"], f"{text[:40]}@held.example", external=g["id"],
                      display=text, account=f"acct-{n}")
            for n, (g, text) in enumerate(zip(guests, HOSTILE_TEXT, strict=False))]  # fmt: skip
    scim += [scim_user(f"gone-{n}", f"{text}@gone.example", f"{text}@gone.example", display=text)
             for n, text in enumerate(HOSTILE_TEXT)]  # fmt: skip
    return AtlassianOrg(
        "org", "dir", "k", "s",
        domains=[domain(text, "verified") for text in HOSTILE_TEXT],
        managed=[managed(f"acct-{n}", f"{text[:40]}@held.example") for n, text in enumerate(HOSTILE_TEXT)],
        directory_users=[directory_user(f"u-{n}", f"{text}@gone.example") for n, text in enumerate(HOSTILE_TEXT)],
        scim_users=scim,
    )  # fmt: skip


@pytest.fixture(scope="module")
def hostile_out(tmp_path_factory: pytest.TempPathFactory) -> Path:
    export = tmp_path_factory.mktemp("hostile-target") / "export"
    shutil.copytree(TARGET, export)
    write_atlassian_export(export_pages(_hostile_org(), page_size=9), export)
    out = export.parent / "out"
    result = CliRunner().invoke(cli, ["run", "--from-export", str(export), "--out", str(out)])
    assert result.exit_code == 0, result.output
    write_remediation(analyze(snap.load(out / "snapshot"), AuditConfig()), out / "remediation.ps1")
    return out


def test_hostile_target_answers_reach_the_reports(hostile_out: Path) -> None:
    document = orjson.loads((hostile_out / "findings.json").read_bytes())
    gone = [f for f in document["findings"] if f["rule_id"] == "target-unlinked-account"]
    assert {f["display_name"] for f in gone} >= set(HOSTILE_TEXT)  # kept exactly
    assert len(document["reconciliation"]["guests"]) >= 20
    assert {d["name"] for d in document["target_domains"]["domains"]} == set(HOSTILE_TEXT)


def test_hostile_target_answers_are_inert_in_html(hostile_out: Path) -> None:
    page = lxml.html.fromstring((hostile_out / "report.html").read_bytes())
    scripts = page.xpath("//script")
    assert [s.get("type") for s in scripts] == ["application/json", None]
    section = page.get_element_by_id("target")
    assert MARKER in section.text_content()  # shown, as text
    for element in page.iter():
        if isinstance(element.tag, str):
            assert element.tag not in ("img", "iframe", "object", "embed", "svg:svg", "form")
            assert not any(name.lower().startswith("on") for name in element.attrib)


def test_hostile_target_answers_are_inert_in_excel_and_csv(hostile_out: Path) -> None:
    book = openpyxl.load_workbook(hostile_out / "report.xlsx")
    assert "Reconciliation" in book.sheetnames
    risky = 0
    for sheet in book.worksheets:
        for row in sheet.iter_rows():
            for cell in row:
                assert cell.data_type != "f", (sheet.title, cell.coordinate)
                if isinstance(cell.value, str) and is_formula_like(cell.value):
                    assert cell.quotePrefix, (sheet.title, cell.coordinate, cell.value)
                    risky += sheet.title == "Reconciliation"
    assert risky >= 3
    with zipfile.ZipFile(hostile_out / "report.xlsx") as archive:
        xml = b"".join(
            archive.read(n) for n in archive.namelist() if n.startswith("xl/worksheets/")
        )
    assert b"<f>" not in xml
    raw = (hostile_out / "findings.csv").read_bytes().decode("utf-8-sig")
    for row in csv.reader(io.StringIO(raw, newline="")):
        assert not any(is_formula_like(field) for field in row)


def test_hostile_target_answers_are_inert_in_the_script(hostile_out: Path) -> None:
    raw = (hostile_out / "remediation.ps1").read_bytes()
    assert raw.startswith(codecs.BOM_UTF8)
    for line in raw[3:].decode("utf-8").split("\r\n"):
        code = _code_outside_literals(line)
        assert MARKER not in code, line[:200]
        assert '"' not in code


def test_redaction_covers_the_target_side(
    served: tuple[GraphEmulator, AtlassianEmulator, AtlassianOrg], tmp_path: Path
) -> None:
    graph, target, org = served
    out, raw = tmp_path / "out", tmp_path / "raw"
    runner = CliRunner(env={"ATLASSIAN_API_KEY": ORG_KEY, "ATLASSIAN_SCIM_KEY": SCIM_KEY})
    result = runner.invoke(cli, ["run", "--graph-url", graph.base_url, "--auth", "none", "--no-dns",
                                 *_target_flags(target, org), "--redact", "--save-raw", str(raw),
                                 "--out", str(out)])  # fmt: skip
    assert result.exit_code == 0, result.output
    leaver = next(u for u in org.scim_users if u["userName"].startswith("left.guest"))
    names = [leaver["userName"].split("@")[0], *(a["email"].split("@")[0] for a in org.managed)]
    blobs = _tree(out, raw)
    assert (raw / "atlassian" / "scimUsers.json").is_file()
    assert [f"{n}: {name}" for n, b in blobs.items() for name in names if name.encode() in b] == []
    tables = snap.load(out / "snapshot").tables  # Parquet may compress: read the values
    kept = [str(v) for t in tables.values() for c in t.columns for v in t[c].astype(str)]
    assert not [v for v in kept for name in names if name in v]
    document = orjson.loads((out / "findings.json").read_bytes())
    assert document["reconciliation"]["summary"]["held"] > 0  # the analysis is the original's


def test_a_forbidden_directory_skips_the_rules_that_need_it(
    served: tuple[GraphEmulator, AtlassianEmulator, AtlassianOrg], tmp_path: Path
) -> None:
    graph, _, org = served
    with AtlassianEmulator(
        org, faults=AtlassianFaults(forbidden={"atlassian_scim_users"})
    ) as target:
        runner = CliRunner(env={"ATLASSIAN_API_KEY": ORG_KEY, "ATLASSIAN_SCIM_KEY": SCIM_KEY})
        result = runner.invoke(cli, ["run", "--graph-url", graph.base_url, "--auth", "none",
                                     "--no-dns", *_target_flags(target, org),
                                     "--out", str(tmp_path / "out")])  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "SOURCE FAILED: atlassian_scim_users" in result.output
    document = orjson.loads((tmp_path / "out" / "findings.json").read_bytes())
    rules = {r["rule_id"]: r for r in document["rules"]}
    for rule_id in ("target-email-conflict", "target-unlinked-account"):
        assert rules[rule_id]["state"] == "skipped"
        assert "atlassian_scim_users failed" in rules[rule_id]["reason"]
    assert "reconciliation" not in document
    accounts = {o["target_account"] for o in document["outcomes"]}
    assert "conflict" not in accounts
    assert "already_provisioned" not in accounts
    assert "links_managed" in accounts  # the organization's listings still count
