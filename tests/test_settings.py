"""First-hour configuration mistakes are loud: exit 2 (or 3), one line, what to type instead; and
the settings a snapshot was analysed with are recorded and reused.

Each test makes one mistake a new administrator makes with the README and the demo, against the
hand-made export (offline) or the Graph emulator (live, over HTTP).
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import orjson
import pytest
from click.testing import CliRunner

from audit import snapshot as snap
from audit.analysis.waivers import Waiver
from audit.cli import cli
from audit.config import AuditConfig, load_config
from audit.demo.emulator import GraphEmulator
from audit.demo.tenant import generate_tenant
from audit.errors import ConfigError
from audit.models import Severity

HANDMADE = Path(__file__).parent / "data" / "handmade"
DOMAINS = ["--verified-domain", "fabrikam.onmicrosoft.com", "--verified-domain", "contoso.com"]
TOKEN = ["--verification-token", "atlassian-domain-verification=OUR-TOKEN-123"]


def _run(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(cli, list(args))
    return result.exit_code, result.stdout, result.stderr


def _offline(out: Path, *args: str) -> tuple[int, str, str]:
    return _run("run", "--from-export", str(HANDMADE), *args, "--out", str(out))


def _keys(out: Path) -> set[tuple[str, str, str]]:
    doc = orjson.loads((out / "findings.json").read_bytes())
    return {(f["rule_id"], f["object_id"], f["status"]) for f in doc["findings"]}


def _error_line(stderr: str) -> str:
    lines = [line for line in stderr.splitlines() if line.startswith("error: ")]
    assert len(lines) == 1, stderr
    return lines[0]


# ---- verified domains -------------------------------------------------------------------------


def test_no_verified_domain_is_exit_2_naming_the_flag(tmp_path: Path) -> None:
    code, _, err = _offline(tmp_path / "o", *TOKEN)
    assert code == 2
    line = _error_line(err)
    assert "no domain verified in Atlassian Cloud is known" in line
    assert "--verified-domain" in line
    assert "--no-verified-domains" in line
    assert not (tmp_path / "o").exists()  # no report


def test_no_verified_domains_said_on_purpose_is_stated_in_the_report(tmp_path: Path) -> None:
    code, _out, err = _offline(tmp_path / "o", *TOKEN, "--no-verified-domains")
    assert code == 0, err
    html = (tmp_path / "o" / "report.html").read_text(encoding="utf-8")
    assert "none (--no-verified-domains: Atlassian Cloud has no verified domain yet)" in html
    code, _, err = _offline(tmp_path / "p", "--no-verified-domains", *DOMAINS)
    assert code == 2
    assert "--no-verified-domains contradicts --verified-domain" in _error_line(err)


def _live(tmp_path: Path, *args: str) -> tuple[int, str, list[object]]:
    """``run`` against the Graph emulator: exit code, stderr, the requests the emulator saw."""
    with GraphEmulator(generate_tenant(40, 10, seed=1)) as graph:
        code, _, err = _run(
            "run", "--graph-url", graph.base_url, "--auth", "none", "--no-dns", *args,
            "--out", str(tmp_path / "o"),
        )  # fmt: skip
        return code, err, list(graph.requests)


def test_a_live_run_stops_before_collecting(tmp_path: Path) -> None:
    code, err, requests = _live(tmp_path)
    assert code == 2
    assert "--verified-domain" in _error_line(err)
    assert requests == []


def test_organization_domains_from_the_target_satisfy_the_check() -> None:
    """A snapshot holding the target's own domain list (``<target>_domains``) needs no flag."""
    from audit.analysis.settings import require_verified_domains
    from audit.models import SourceState, SourceStatus
    from audit.targets import get_target

    target = get_target("atlassian")
    snapshot = snap.Snapshot({}, snap.now_utc(), {}, {})
    with pytest.raises(ConfigError, match="--verified-domain"):
        require_verified_domains(AuditConfig(), target, snapshot)
    snapshot.sources["atlassian_domains"] = SourceStatus("atlassian_domains", SourceState.OK)
    require_verified_domains(AuditConfig(), target, snapshot)
    require_verified_domains(AuditConfig(), target, None, evidence_requested=True)
    failed = SourceStatus("atlassian_domains", SourceState.FAILED, error="HTTP 403")
    snapshot.sources["atlassian_domains"] = failed
    with pytest.raises(ConfigError, match=r"atlassian_domains could not be read: HTTP 403"):
        require_verified_domains(AuditConfig(), target, snapshot)
    require_verified_domains(AuditConfig(), get_target("generic-scim"), snapshot)


def test_a_comma_list_in_any_case_equals_separate_flags(tmp_path: Path) -> None:
    assert _offline(tmp_path / "a", *DOMAINS, *TOKEN)[0] == 0
    code, _, err = _offline(
        tmp_path / "b", "--verified-domain", "Fabrikam.onmicrosoft.COM,contoso.com.", *TOKEN
    )
    assert code == 0, err
    assert _keys(tmp_path / "a") == _keys(tmp_path / "b")


@pytest.mark.parametrize(
    ("value", "what", "fixed"),
    [
        ("https://contoso.com/", "is a URL", "--verified-domain contoso.com"),
        ("@contoso.com", "is an address suffix", "--verified-domain contoso.com"),
        ("admin@Contoso.com", "is an e-mail address", "--verified-domain contoso.com"),
        ("contoso.com/sites", "is a path", "--verified-domain contoso.com"),
        (
            "contoso.com fabrikam.com",
            "is several values separated by spaces",
            "--verified-domain contoso.com,fabrikam.com",
        ),
        ("*.contoso.com", "is a wildcard", "--verified-domain contoso.com"),
        ("contoso.com:443", "is a host and port", "--verified-domain contoso.com"),
        ("contoso", "is not a domain name", ""),
    ],
)
def test_a_domain_of_the_wrong_shape_is_exit_2_with_the_corrected_form(
    tmp_path: Path, value: str, what: str, fixed: str
) -> None:
    code, _, err = _offline(tmp_path / "o", "--verified-domain", value, *TOKEN)
    assert code == 2
    line = _error_line(err)
    assert f"--verified-domain {value!r} {what}" in line
    assert line.endswith(f"type {fixed}") if fixed else "type" not in line
    assert not (tmp_path / "o").exists()


@pytest.mark.parametrize(
    ("key", "value", "fixed"),
    [
        ("verified_domains", '"contoso.com"', 'verified_domains = ["contoso.com"]'),
        ("verified_domains", '"a.com, b.com"', 'verified_domains = ["a.com", "b.com"]'),
        ("verification_tokens", '"atlassian-domain-verification=x"',
         'verification_tokens = ["atlassian-domain-verification=x"]'),
        ("verified_domains", '["https://contoso.com"]', 'verified_domains = ["contoso.com"]'),
    ],
)  # fmt: skip
def test_a_config_string_instead_of_a_list_is_exit_2_with_the_list_form(
    tmp_path: Path, key: str, value: str, fixed: str
) -> None:
    config = tmp_path / "audit.toml"
    config.write_text(f"{key} = {value}\n", encoding="utf-8")
    code, _, err = _offline(tmp_path / "o", "--config", str(config))
    assert code == 2
    line = _error_line(err)
    assert str(config) in line
    assert fixed in line


@pytest.mark.parametrize(
    ("value", "what", "fixed"),
    [
        ("https://admin.atlassian.com/x", "is a URL", ""),
        ('TXT "atlassian-domain-verification=abc"', "has a space",
         "--verification-token atlassian-domain-verification=abc"),
        ("admin@contoso.com", "is an e-mail address", ""),
        ("google-site-verification=abc", "is a google-site-verification record, not Miro's",
         "--verification-token miro-verification=<your token>"),
    ],
)  # fmt: skip
def test_a_token_of_the_wrong_shape_is_exit_2(
    tmp_path: Path, value: str, what: str, fixed: str
) -> None:
    miro = ("--target", "miro")  # a target whose verification record's form is documented
    code, _, err = _offline(tmp_path / "o", *miro, *DOMAINS, "--verification-token", value)
    assert code == 2
    line = _error_line(err)
    assert what in line
    assert fixed in line


def test_tokens_take_comma_lists_and_quotes(tmp_path: Path) -> None:
    assert _offline(tmp_path / "a", *DOMAINS, *TOKEN)[0] == 0
    value = '"atlassian-domain-verification=OUR-TOKEN-123",OTHER-TOKEN'
    code, _, err = _offline(tmp_path / "b", *DOMAINS, "--verification-token", value)
    assert code == 0, err
    assert _keys(tmp_path / "a") == _keys(tmp_path / "b")


def test_a_missing_token_is_a_warning_in_the_terminal_and_the_report(tmp_path: Path) -> None:
    code, _, err = _offline(tmp_path / "o", "--target", "miro", *DOMAINS)
    assert code == 0, err
    assert "warning: no --verification-token given: domain-claimed-elsewhere" in err
    html = (tmp_path / "o" / "report.html").read_text(encoding="utf-8")
    assert 'id="settings-warnings"' in html
    assert "domain-claimed-elsewhere cannot tell your own Miro" in html
    # a target whose verification record is undocumented has nothing to warn about
    code, _, err = _offline(tmp_path / "a", "--target", "atlassian", *DOMAINS)
    assert code == 0, err
    assert "warning" not in err


def test_nameserver_takes_ip_addresses_only(tmp_path: Path) -> None:
    code, _, err = _offline(tmp_path / "o", *DOMAINS, "--nameserver", "dns.google")
    assert code == 2
    assert "--nameserver 'dns.google' is not an IP address" in _error_line(err)
    help_text = _run("run", "--help")[1]
    assert "IP[:PORT]" in help_text
    assert "not host name" in " ".join(help_text.split())


def test_target_is_case_insensitive_and_an_unknown_one_lists_the_known(tmp_path: Path) -> None:
    code, _, err = _offline(tmp_path / "a", "--target", "ATLASSIAN", *DOMAINS, *TOKEN)
    assert code == 0, err
    code, _, err = _offline(tmp_path / "b", "--target", "atlasian", *DOMAINS)
    assert code == 2
    assert "unknown target 'atlasian' (known: " in _error_line(err)


# ---- the app --------------------------------------------------------------------------------


def test_a_misspelt_app_is_exit_3_naming_the_closest_apps(tmp_path: Path) -> None:
    code, err, _ = _live(tmp_path, *DOMAINS, *TOKEN, "--app", "Atlassian Cluod")
    assert code == 3
    line = _error_line(err)
    assert "no service principal named 'Atlassian Cluod'; closest: 'Atlassian Cloud'" in line
    assert "--app" in line
    assert not (tmp_path / "o").exists()  # never a report naming an app that was not found


# ---- exceptions (waivers) -----------------------------------------------------------------


def _waiver_config(tmp_path: Path, rule: str, match: str) -> Path:
    config = tmp_path / "audit.toml"
    config.write_text(
        f'[[exceptions]]\nmatch = "{match}"\nrule = "{rule}"\nreason = "r"\n'
        'owner = "a@b.c"\nexpires = 2099-01-01\n',
        encoding="utf-8",
    )
    return config


def test_an_exception_with_an_unknown_rule_id_is_exit_2(tmp_path: Path) -> None:
    config = _waiver_config(tmp_path, "domain-unverifed", "gmail.com")
    code, _, err = _offline(tmp_path / "o", *DOMAINS, *TOKEN, "--config", str(config))
    assert code == 2
    line = _error_line(err)
    assert "unknown rule id 'domain-unverifed'" in line
    assert 'rule = "domain-unverified"' in line


def test_an_exception_matching_nothing_is_a_warning(tmp_path: Path) -> None:
    config = _waiver_config(tmp_path, "public-mail-domain", "no-such-partner.example")
    code, _, err = _offline(tmp_path / "o", *DOMAINS, *TOKEN, "--config", str(config))
    assert code == 0, err
    assert "warning: exception 'no-such-partner.example' (rule public-mail-domain)" in err
    assert "matches no finding" in (tmp_path / "o" / "report.html").read_text(encoding="utf-8")


# ---- settings recorded in the snapshot and reused -----------------------------------------


def test_settings_round_trip() -> None:
    config = AuditConfig(
        target="atlassian",
        verified_domains=("contoso.com",),
        verification_tokens=("atlassian-domain-verification=x",),
        stale_days=30,
        fail_on=Severity.HIGH,
        exceptions=(Waiver("gmail.com", "public-mail-domain", "r", "o", None),),
        mapping={"userName": "[mail]"},
    )
    recorded = orjson.loads(orjson.dumps(config.to_dict()))
    assert AuditConfig.from_dict(recorded) == config
    old = {"target": "atlassian", "verified_domains": ["a.com"], "verification_tokens": 1}
    assert AuditConfig.from_dict(old) == AuditConfig("atlassian", verified_domains=("a.com",))


def test_layers_replace_domains_and_none(tmp_path: Path) -> None:
    none = AuditConfig(no_verified_domains=True)
    assert none.with_overrides(verified_domains=("a.com",)) == AuditConfig(
        verified_domains=("a.com",)
    )
    assert AuditConfig(verified_domains=("a.com",)).with_overrides(no_verified_domains=True) == none
    config = tmp_path / "audit.toml"
    config.write_text("no_verified_domains = true\n", encoding="utf-8")
    assert load_config(config) == none


def test_analyze_and_report_of_a_run_folder_reuse_its_settings(tmp_path: Path) -> None:
    config = _waiver_config(tmp_path, "public-mail-domain", "gmail.com")
    run = tmp_path / "run"
    code, _, err = _offline(run, *DOMAINS, *TOKEN, "--config", str(config), "--stale-days", "30")
    assert code == 0, err
    recorded = snap.load(run / "snapshot").config
    assert recorded["verified_domains"] == ["fabrikam.onmicrosoft.com", "contoso.com"]
    assert recorded["verification_tokens"] == ["atlassian-domain-verification=OUR-TOKEN-123"]
    assert recorded["stale_days"] == 30
    assert recorded["exceptions"][0]["match"] == "gmail.com"
    assert recorded["app"] == "Atlassian Cloud"
    # the run folder itself, no flags: the same result
    code, out, err = _run("analyze", str(run), "--json")
    assert code == 0, err
    assert orjson.loads(out)["outcomes"] == orjson.loads(orjson.dumps(_summary(run)))
    code, _, err = _run("report", str(run), "--out", str(tmp_path / "again"))
    assert code == 0, err
    assert _keys(tmp_path / "again") == _keys(run)
    assert "muted" in {s for _, _, s in _keys(run)}
    # a flag overrides one setting, --config replaces them all
    code, _, err = _run("report", str(run), "--no-verified-domains", "--out", str(tmp_path / "n"))
    assert code == 0, err
    assert _keys(tmp_path / "n") != _keys(run)
    plain = tmp_path / "plain.toml"
    plain.write_text("stale_days = 90\n", encoding="utf-8")
    code, _, err = _run("report", str(run), "--config", str(plain), "--out", str(tmp_path / "c"))
    assert code == 2  # the file has no verified domains: the recorded ones are not used
    assert "--verified-domain" in _error_line(err)


def _summary(run: Path) -> dict[str, int]:
    doc = orjson.loads((run / "findings.json").read_bytes())
    counts: dict[str, int] = doc["summary"]["outcomes"]
    return counts


def test_diff_accepts_run_folders_and_uses_each_ones_settings(tmp_path: Path) -> None:
    assert _offline(tmp_path / "a", *DOMAINS, *TOKEN)[0] == 0
    assert _offline(tmp_path / "b", *DOMAINS, *TOKEN)[0] == 0
    code, out, err = _run("diff", str(tmp_path / "a"), str(tmp_path / "b"), "--json")
    assert code == 0, err
    assert orjson.loads(out)["counts"]["new"] == 0


def test_a_collect_snapshot_asks_for_the_domains_when_analysed(tmp_path: Path) -> None:
    code, _, err = _run("collect", "--from-export", str(HANDMADE), "--out", str(tmp_path / "s"))
    assert code == 0, err
    code, _, err = _run("analyze", str(tmp_path / "s"))
    assert code == 2
    assert "--verified-domain" in _error_line(err)
    assert _run("analyze", str(tmp_path / "s"), *DOMAINS, *TOKEN)[0] == 0


# ---- the terminal ---------------------------------------------------------------------------


def test_run_ends_with_the_report_and_what_to_do_next(tmp_path: Path) -> None:
    code, out, err = _offline(tmp_path / "o", *DOMAINS, *TOKEN)
    assert code == 0, err
    lines = out.strip().splitlines()
    assert lines[-2] == f"open: {tmp_path / 'o' / 'report.html'}"
    assert lines[-1].startswith("next: ")
    assert "progress" not in err  # stderr is not a terminal here: no stage lines


def test_figures_have_thousands_separators() -> None:
    from audit.cli_output import summary_lines
    from tests.factories import make_result

    text = "\n".join(summary_lines(make_result(1500, seed=2, hostile=False), None))
    assert "guests: 1,500" in text


def test_demo_shows_progress_and_ends_with_the_report(tmp_path: Path) -> None:
    result = CliRunner().invoke(
        cli, ["demo", "--guests", "60", "--domains", "12", "--out", str(tmp_path), "--progress"]
    )
    assert result.exit_code == 0, result.output
    for stage in ("generating a demo tenant of 60 guests", "collecting", "analysing"):
        assert f"{stage} …" in result.stderr
    assert f"writing reports to {tmp_path} …" in result.stderr
    assert result.stdout.strip().splitlines()[-2] == f"open: {tmp_path / 'report.html'}"


def test_an_interrupted_run_says_where_its_checkpoint_is_and_a_rerun_resumes(
    tmp_path: Path,
) -> None:
    tenant = generate_tenant(3000, 30, seed=3)
    out = tmp_path / "o"
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    with GraphEmulator(tenant, latency=0.4) as graph:
        args = [
            sys.executable, "-m", "audit", "run", "--graph-url", graph.base_url, "--auth", "none",
            "--no-dns", "--partitions", "0", *DOMAINS, *TOKEN, "--out", str(out),
        ]  # fmt: skip
        proc = subprocess.Popen(args, stderr=subprocess.PIPE, text=True, env=env)
        deadline = time.monotonic() + 60
        checkpoint = tmp_path / ".o.checkpoint"
        while _logged_pages(checkpoint) < 2:  # two guest pages in the checkpoint
            assert time.monotonic() < deadline
            assert proc.poll() is None
            time.sleep(0.05)
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=60)
        assert proc.returncode == 130, err
        assert checkpoint.is_dir()
        assert f"the guest pages read so far are kept in {checkpoint}" in err
        assert "run the same command again to resume" in err
        graph.latency = 0.0
        again = subprocess.run(args, capture_output=True, text=True, env=env, timeout=120)
    assert again.returncode == 0, again.stderr
    assert f"note: resumed the interrupted collection from its checkpoint in {checkpoint}" in (
        again.stderr
    )
    assert not checkpoint.exists()
    shutil.rmtree(out)


def _logged_pages(checkpoint: Path) -> int:
    """Pages in the checkpoint's page logs (a header line, then one line per page)."""
    if not checkpoint.is_dir():
        return 0
    logs = [p.read_bytes().count(b"\n") - 1 for p in checkpoint.glob("*.pages.jsonl")]
    return max([0, *logs])
