"""The CLI contract: flags, outputs, exit codes, exceptions from the config file, clear errors."""

from __future__ import annotations

import shutil
from pathlib import Path

import orjson
import pytest
from click.testing import CliRunner

from audit.cli import cli

HANDMADE = Path(__file__).parent / "data" / "handmade"
BASE = ["--verified-domain", "fabrikam.onmicrosoft.com", "--verified-domain", "contoso.com"]
BASE += ["--verification-token", "atlassian-domain-verification=OUR-TOKEN-123"]
NONE = ["--no-verified-domains"]  # for tests of something else: no verified domain, on purpose


def _run(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(cli, list(args))
    return result.exit_code, result.output


def _findings(out: Path) -> list[dict[str, object]]:
    return list(orjson.loads((out / "findings.json").read_bytes())["findings"])


def test_run_from_export_contract(tmp_path: Path) -> None:
    out = tmp_path / "out"
    code, output = _run(
        "run", "--from-export", str(HANDMADE), "--target", "atlassian", *BASE,
        "--stale-days", "90", "--out", str(out),
    )  # fmt: skip
    assert code == 0, output
    for name in ("report.html", "report.xlsx", "findings.json", "findings.csv", "guests.csv"):
        assert (out / name).is_file(), name
    assert {f["status"] for f in _findings(out)} == {"flagged"}


def test_fail_on_sets_exit_code_1(tmp_path: Path) -> None:
    code, _ = _run(
        "run", "--from-export", str(HANDMADE), *BASE, "--fail-on", "high", "--out", str(tmp_path)
    )
    assert code == 1


def test_exceptions_mute_until_they_expire(tmp_path: Path) -> None:
    config = tmp_path / "audit.toml"
    config.write_text(
        '[[exceptions]]\nmatch = "gmail.com"\nrule = "public-mail-domain"\n'
        'reason = "consumer guests accepted"\nowner = "it@fabrikam.com"\nexpires = 2999-01-01\n'
        '[[exceptions]]\nmatch = "1b5d2a4e-0005-4c3a-9f00-000000000005"\nrule = "*"\n'
        'reason = "old"\nexpires = 2000-01-01\n'
    )
    out = tmp_path / "out"
    code, output = _run(
        "run", "--from-export", str(HANDMADE), *BASE, "--config", str(config), "--out", str(out)
    )
    assert code == 0, output
    findings = _findings(out)
    muted = [f for f in findings if f["status"] == "muted"]
    assert [(f["rule_id"], f["domain"]) for f in muted] == [("public-mail-domain", "gmail.com")]
    assert "consumer guests accepted" in str(muted[0]["muted_by"])
    dave = [f for f in findings if f["object_id"] == "1b5d2a4e-0005-4c3a-9f00-000000000005"]
    assert dave
    assert {f["status"] for f in dave} == {"flagged"}  # expired exception mutes nothing


def test_match_star_is_not_a_wildcard(tmp_path: Path) -> None:
    config = tmp_path / "audit.toml"
    config.write_text('[[exceptions]]\nmatch = "*"\nrule = "*"\nreason = "all"\n')
    code, _ = _run(
        "run",
        "--from-export",
        str(HANDMADE),
        *BASE,
        "--config",
        str(config),
        "--fail-on",
        "info",
        "--out",
        str(tmp_path / "o"),
    )
    assert code == 1  # "*" is not a wildcard for the match: nothing is muted


def test_bad_config_is_exit_2(tmp_path: Path) -> None:
    config = tmp_path / "bad.toml"
    config.write_text("stale_days = [\n")
    code, output = _run(
        "run", "--from-export", str(HANDMADE), "--config", str(config), "--out", str(tmp_path)
    )
    assert code == 2
    assert "not valid TOML" in output


def test_broken_export_names_file_and_line(tmp_path: Path) -> None:
    export = tmp_path / "export"
    shutil.copytree(HANDMADE, export)
    (export / "users.json").write_text('{"value": [\n{"id": "x",\n oops}\n]}')
    code, output = _run("run", "--from-export", str(export), *NONE, "--out", str(tmp_path / "o"))
    assert code == 2
    assert "users.json:3" in output
    assert "Traceback" not in output
    assert not (tmp_path / "o" / "snapshot").exists()


def test_wrong_top_level_shape(tmp_path: Path) -> None:
    export = tmp_path / "export"
    shutil.copytree(HANDMADE, export)
    (export / "domains.json").write_text("[1, 2]")
    code, output = _run("run", "--from-export", str(export), *NONE, "--out", str(tmp_path / "o"))
    assert code == 2
    assert "domains.json" in output
    assert "collection response" in output


def test_missing_required_file(tmp_path: Path) -> None:
    export = tmp_path / "export"
    shutil.copytree(HANDMADE, export)
    (export / "organization.json").unlink()
    code, output = _run("run", "--from-export", str(export), *NONE, "--out", str(tmp_path / "o"))
    assert code == 2
    assert "organization.json" in output


def test_missing_optional_files_skip_rules_with_reason(tmp_path: Path) -> None:
    export = tmp_path / "export"
    shutil.copytree(HANDMADE, export)
    (export / "mailusers.csv").unlink()
    shutil.rmtree(export / "groupMembers")
    out = tmp_path / "o"
    code, output = _run("run", "--from-export", str(export), *BASE, "--out", str(out))
    assert code == 0, output
    rules = {r["rule_id"]: r for r in orjson.loads((out / "findings.json").read_bytes())["rules"]}
    assert rules["exo-forwarding-broken"]["state"] == "skipped"
    assert "mailusers" in rules["exo-forwarding-broken"]["reason"]
    assert rules["not-in-scope"]["state"] == "skipped"
    assert rules["not-in-scope"]["flagged"] == 0


def test_analyze_and_report_a_saved_snapshot(tmp_path: Path) -> None:
    out = tmp_path / "run"
    assert _run("run", "--from-export", str(HANDMADE), *BASE, "--out", str(out))[0] == 0
    code, output = _run("analyze", str(out / "snapshot"), *BASE, "--json")
    assert code == 0
    assert orjson.loads(output)["guests"] == 10
    code, _ = _run("report", str(out / "snapshot"), *BASE, "--out", str(tmp_path / "again"))
    assert code == 0
    assert _findings(tmp_path / "again") == _findings(out)


def test_rules_markdown_lists_the_catalogue() -> None:
    code, output = _run("rules", "--markdown")
    assert code == 0
    assert "`exo-forwarding-broken`" in output


@pytest.mark.parametrize("command", ["run", "collect", "analyze", "report", "demo", "rules"])
def test_every_command_has_help_with_an_example(command: str) -> None:
    code, output = _run(command, "--help")
    assert code == 0
    assert "Example" in output
