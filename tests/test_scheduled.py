"""The README's scheduled monthly job, run twice against the emulator a "month" apart.

The same command line as the README's cron example (config file, MailUser export, ``--history``,
``--compare-with latest``, ``--fail-on high``, ``--quiet``), with ``--auth none`` on loopback in
place of the certificate (a certificate credential signs in at login.microsoftonline.com only).
Between the runs the emulator serves the demo tenant one month later (:mod:`audit.demo.evolve`),
whose oracle says exactly which findings were fixed and which are new.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import orjson
from click.testing import CliRunner

from audit.cli import cli
from audit.demo.dnsserver import DnsServer
from audit.demo.emulator import GraphEmulator
from audit.demo.evolve import evolve_tenant
from audit.demo.model import DemoTenant
from audit.demo.run import write_mailusers_csv
from audit.demo.tenant import generate_tenant

# Findings that depend on the analysis date: the CLI analyses as of now, the oracle as of the
# tenant's own clock, which the second month has moved 29 days ahead of now.
TIME_DEPENDENT = {"stale-guest"}


def _config(tenant: DemoTenant, path: Path) -> Path:
    domains = ", ".join(f'"{d}"' for d in tenant.verified_in_target)
    tokens = ", ".join(f'"{t}"' for t in tenant.verification_tokens)
    path.write_text(
        f'target = "atlassian"\nverified_domains = [{domains}]\nverification_tokens = [{tokens}]\n',
        encoding="utf-8",
    )
    return path


def _scheduled_run(tenant: DemoTenant, root: Path, work: Path) -> tuple[int, str]:
    """One run of the README's scheduled command against ``tenant``."""
    work.mkdir(parents=True, exist_ok=True)
    mailusers = write_mailusers_csv(tenant, work / "mailusers.csv")
    config = _config(tenant, work / "config.toml")
    with GraphEmulator(tenant) as graph, DnsServer(tenant.dns) as dns:
        args = ["run", "--graph-url", graph.base_url, "--auth", "none"]
        args += [
            "--nameserver",
            dns.address,
            "--config",
            str(config),
            "--mailusers",
            str(mailusers),
        ]
        args += ["--history", str(root), "--compare-with", "latest", "--fail-on", "high", "--quiet"]
        result = CliRunner().invoke(cli, args)
    return result.exit_code, result.output


def _pairs(records: list[dict[str, Any]]) -> set[tuple[str, str]]:
    return {(r["rule_id"], r["object_id"]) for r in records if r["rule_id"] not in TIME_DEPENDENT}


def _oracle(ids: set[str], rules: Any) -> set[tuple[str, str]]:
    return {(r, u) for u in ids for r in rules(u) if r not in TIME_DEPENDENT}


def test_two_scheduled_runs_a_month_apart_give_the_expected_diff(tmp_path: Path) -> None:
    start = (datetime.now(UTC) - timedelta(days=1)).replace(hour=0, minute=0, second=0)
    may = generate_tenant(250, 30, seed=21, now=start.replace(microsecond=0))
    june = evolve_tenant(may, 1, seed=5)
    root = tmp_path / "reports"

    code, output = _scheduled_run(may, root, tmp_path / "may")
    assert code == 1, output  # the demo tenant has open high findings: --fail-on high says so
    first = Path(output.strip().splitlines()[-1])
    assert first.parent.parent == root
    assert (first / "report.html").is_file()
    assert "diff" not in orjson.loads((first / "findings.json").read_bytes())  # nothing before

    code, output = _scheduled_run(june, root, tmp_path / "june")
    assert code == 1, output
    second = Path(output.strip().splitlines()[-1])
    assert second.parent == first.parent
    assert second != first

    diff = orjson.loads((second / "findings.json").read_bytes())["diff"]
    shared = set(may.expected) & set(june.expected)
    added = set(june.expected) - set(may.expected)
    fixed = _oracle(shared, lambda u: may.expected[u] - june.expected[u])
    new = _oracle(shared, lambda u: june.expected[u] - may.expected[u])
    new |= _oracle(added, lambda u: june.expected[u])
    assert _pairs(diff["new_findings"]) == new
    assert _pairs(diff["fixed_findings"]) >= fixed
    assert _pairs(diff["fixed_findings"]) - fixed <= _oracle(
        set(may.expected) - shared, lambda u: may.expected[u]
    )  # beyond the oracle's fixes: only findings of guests who left
    assert len(new) >= 5
    assert len(fixed) >= 5
    html = (second / "report.html").read_text(encoding="utf-8")
    assert "since" in html.lower()  # the report has its changes section

    history = CliRunner().invoke(cli, ["history", str(root)])
    assert history.exit_code == 0, history.output
    assert first.name in history.output
    assert second.name in history.output
