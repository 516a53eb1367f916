"""Implementations of the CLI commands: option dicts in, library calls, exit code out."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import click
import orjson

from audit.config import AuditConfig, load_config
from audit.models import Severity
from audit.progress import Progress
from audit.result import AuditResult
from audit.snapshot import Snapshot

if TYPE_CHECKING:
    from audit.redact import Pseudonymiser


def config_from(kw: dict[str, Any]) -> AuditConfig:
    """The config file overlaid with CLI flags."""
    base = load_config(kw.get("config_file"))
    return base.with_overrides(
        target=kw.get("target"),
        verified_domains=tuple(kw.get("verified_domain") or ()),
        verification_tokens=tuple(kw.get("verification_token") or ()),
        stale_days=kw.get("stale_days"),
        fail_on=Severity(kw["fail_on"]) if kw.get("fail_on") else None,
    )


def options_from(kw: dict[str, Any], config: AuditConfig) -> Any:
    """CollectOptions from CLI flags; the client secret only ever comes from the environment."""
    import os

    from audit.pipeline import CollectOptions
    from audit.targets import get_target

    return CollectOptions(
        graph_url=kw.get("graph_url"),
        auth=kw.get("auth") or "default",
        cloud=kw.get("cloud") or "global",
        tenant_id=kw.get("tenant_id"),
        client_id=kw.get("client_id"),
        client_secret=os.environ.get("AZURE_CLIENT_SECRET"),
        certificate_path=kw.get("certificate"),
        app=kw.get("app") or get_target(config.target).app_display_name,
        include_sign_in=bool(kw.get("sign_in")),
        log_days=kw.get("log_days") or 30,
        nameservers=tuple(kw.get("nameserver") or ()),
        dns=not kw.get("no_dns"),
        dns_timeout=kw.get("dns_timeout") or 2.0,
        mailusers=kw.get("mailusers"),
        from_export=kw.get("from_export"),
        save_raw=kw.get("save_raw"),
        partitions=kw.get("partitions") or 0,
        track_changes=bool(kw.get("track_changes")),
        delta_from=_incremental_base(kw.get("incremental")),
        checkpoint_dir=checkpoint_dir(kw),
        resume=kw.get("resume", True),
        max_retry_wait=kw.get("max_retry_wait") or 120.0,
        redact_key=kw.get("redact_key"),
    )


def _incremental_base(path: str | None) -> Snapshot | None:
    """The snapshot ``--incremental`` names (a snapshot folder or a run folder)."""
    if not path:
        return None
    from audit import snapshot as snap
    from audit.history import snapshot_dir

    return snap.load(snapshot_dir(path))


def checkpoint_dir(kw: dict[str, Any]) -> str | None:
    """``--checkpoint-dir``, else a folder beside the output, so rerunning the same command resumes.

    ``--out X``: ``.X.checkpoint`` next to ``X`` (a failed run leaves ``X`` as it was);
    ``run --history R``: ``R/.checkpoint-<tenant>``. Offline runs (``--from-export``) have none.
    """
    if kw.get("checkpoint_dir"):
        return str(kw["checkpoint_dir"])
    if kw.get("from_export"):
        return None
    if kw.get("history") and not kw.get("out"):
        tenant = "".join(
            c for c in str(kw.get("tenant_id") or "default") if c.isalnum() or c == "-"
        )
        return str(Path(kw["history"]) / f".checkpoint-{tenant or 'default'}")
    if not kw.get("out"):
        return None
    out = Path(kw["out"]).absolute()
    return str(out.parent / f".{out.name}.checkpoint")


def collect_snapshot(kw: dict[str, Any], config: AuditConfig) -> Snapshot:
    """Collect (live or offline) and check the sources the audit cannot do without."""
    from audit.errors import AuditError, CollectionError
    from audit.pipeline import collect_sync, require_core

    options = options_from(kw, config)
    try:
        snapshot = collect_sync(options, config=config)
    except AuditError:
        raise
    except Exception as exc:  # an unforeseen fault: one clear line and exit code 3, no traceback
        message = f"{type(exc).__name__}: {exc}"[:400]
        raise CollectionError(f"collection failed unexpectedly: {message}") from exc
    require_core(snapshot)
    return snapshot


def run_command(kw: dict[str, Any]) -> int:
    """``run``: collect, save the snapshot, analyse, render; exit 1 on findings at --fail-on."""
    from audit.commands_history import compare_with_path, run_out_dir

    config = config_from(kw)
    _redact_key(kw)
    progress = Progress.for_command(kw)
    with progress.stage("collecting") as stage:
        snapshot = collect_snapshot(kw, config)
        stage["note"] = _collected(snapshot)
    out = run_out_dir(kw, snapshot)
    compare_with = compare_with_path(kw, snapshot, out)
    pseudonymiser = _pseudonymiser(kw, snapshot)
    with progress.stage("saving the snapshot"):
        save_snapshot(snapshot, out / "snapshot", pseudonymiser)
    result = analyze_and_render(
        snapshot,
        config,
        out,
        compare_with=compare_with,
        pseudonymiser=pseudonymiser,
        progress=progress,
    )
    print_summary(result, out, quiet=kw.get("quiet", False), as_json=kw.get("as_json", False))
    return exit_code(result, config.fail_on)


def _redact_key(kw: dict[str, Any]) -> None:
    """With ``--redact``, one random key for everything this run writes (never stored)."""
    if kw.get("redact"):
        import secrets

        kw["redact_key"] = secrets.token_bytes(32)


def _pseudonymiser(kw: dict[str, Any], snapshot: Snapshot) -> Pseudonymiser | None:
    """Under ``--redact``, the run's one pseudonymiser (its key, its guests learned once)."""
    key = kw.get("redact_key")
    if key is None:
        return None
    from audit.redact import Pseudonymiser

    return Pseudonymiser.for_snapshot(snapshot, key=key)


def save_snapshot(
    snapshot: Snapshot, path: str | Path, pseudonymiser: Pseudonymiser | None = None
) -> Path:
    """Save the snapshot, pseudonymised with the run's pseudonymiser under ``--redact``."""
    from audit import snapshot as snap

    if pseudonymiser is not None:
        from audit.redact import redact_snapshot

        snapshot = redact_snapshot(snapshot, pseudonymiser)
    return snap.save(snapshot, path)


def analyze_and_render(
    snapshot: Snapshot,
    config: AuditConfig,
    out: Path,
    *,
    compare_with: str | None = None,
    pseudonymiser: Pseudonymiser | None = None,
    progress: Progress | None = None,
) -> AuditResult:
    """Analyse a snapshot and write every report format into ``out``.

    With a ``pseudonymiser`` the analysis is the original's and only the written texts are
    pseudonymised (:mod:`audit.redact`); the returned result is the redacted one.
    """
    from audit.analyze import analyze
    from audit.render import render_all

    progress = progress or Progress(False)
    with progress.stage("analysing") as stage:
        result = analyze(snapshot, config)
        stage["note"] = f"{len(result.guests):,} guests, {len(result.findings):,} findings"
    if compare_with:
        from audit.commands_history import analyze_run
        from audit.diff import diff_results

        with progress.stage(f"comparing with {compare_with}"):
            result.diff = diff_results(analyze_run(compare_with, config), result)
    if pseudonymiser is not None:
        from audit.redact import redact_result

        result = redact_result(result, pseudonymiser)
    with progress.stage(f"writing reports to {out}"):
        render_all(result, out)
    return result


def _collected(snapshot: Snapshot) -> str:
    """``99,600 guests, 5,000 domains`` for the progress line."""
    users = snapshot.tables.get("users")
    dns = snapshot.tables.get("dns")
    parts = [f"{len(users):,} users" if users is not None else "no users"]
    if dns is not None:
        parts.append(f"{len(dns):,} domains resolved")
    return ", ".join(parts)


def collect_command(kw: dict[str, Any]) -> None:
    """``collect``: write a snapshot folder."""

    config = AuditConfig()
    _redact_key(kw)
    snapshot = collect_snapshot(kw, config)
    path = save_snapshot(snapshot, kw["out"], _pseudonymiser(kw, snapshot))
    for status in snapshot.sources.values():
        note = status.missing_permission or status.error or ""
        click.echo(f"  {status.name:22} {status.state.value:14} {status.rows:>8}  {note}")
    click.echo(f"snapshot: {path}")


def analyze_command(kw: dict[str, Any]) -> int:
    """``analyze``: print the summary of a saved snapshot."""
    from audit import snapshot as snap
    from audit.analyze import analyze

    config = config_from(kw)
    result = analyze(snap.load(kw["snapshot"]), config)
    print_summary(result, None, as_json=kw.get("as_json", False))
    return exit_code(result, config.fail_on)


def report_command(kw: dict[str, Any]) -> int:
    """``report``: write the reports of a saved snapshot."""
    from audit import snapshot as snap

    config = config_from(kw)
    out = Path(kw["out"])
    _redact_key(kw)
    snapshot = snap.load(kw["snapshot"])
    result = analyze_and_render(
        snapshot,
        config,
        out,
        pseudonymiser=_pseudonymiser(kw, snapshot),
        progress=Progress.for_command(kw),
    )
    print_summary(result, out)
    return exit_code(result, config.fail_on)


def exit_code(result: AuditResult, fail_on: Severity | None) -> int:
    """1 when an open finding is at or above ``fail_on``, else 0."""
    if fail_on is None:
        return 0
    open_ = result.open_findings()
    ranks = open_["severity"].map(lambda s: Severity(s).rank)
    return 1 if bool((ranks >= fail_on.rank).any()) else 0


def print_summary(
    result: AuditResult, out: Path | None, *, quiet: bool = False, as_json: bool = False
) -> None:
    """One screen: tenant, guests, outcomes, what-if, top rules, failed sources, where files are."""
    if quiet:
        click.echo(str(out or ""))
        return
    if as_json:
        click.echo(orjson.dumps(summary_dict(result, out), option=orjson.OPT_INDENT_2).decode())
        return
    for line in summary_lines(result, out):
        click.echo(line)


def summary_dict(result: AuditResult, out: Path | None) -> dict[str, Any]:
    """The summary as JSON-ready data (for ``--json``)."""
    top = result.open_findings()["rule_id"].value_counts().head(10)
    return {
        "tenant": result.tenant,
        "guests": len(result.guests),
        "outcomes": result.outcome_counts(),
        "whatif_newly_ready": result.whatif.newly_ready if result.whatif else None,
        "top_rules": {str(k): int(v) for k, v in top.items()},
        "failed_sources": [s.name for s in result.sources if s.state.value == "failed"],
        "out": str(out) if out else None,
    }


def summary_lines(result: AuditResult, out: Path | None) -> list[str]:
    """Human-readable summary lines."""
    tenant = result.tenant.get("name") or result.tenant.get("id") or "?"
    lines = [f"b2b-preflight {result.tool_version} · {tenant} → {result.target}"]
    lines.append(f"guests: {len(result.guests)}")
    lines.append("outcomes: " + ", ".join(f"{k} {v}" for k, v in result.outcome_counts().items()))
    if result.whatif:
        w = result.whatif
        lines.append(
            f"what-if: {w.description} → {w.newly_ready} more ready, provided {w.precondition}"
        )
    for s in result.sources:
        if s.state.value == "failed":
            why = f"missing permission {s.missing_permission}" if s.missing_permission else s.error
            lines.append(f"SOURCE FAILED: {s.name}: {why}")
    lines.append("top rules:")
    counts = result.open_findings()["rule_id"].value_counts().head(8)
    severity = dict(zip(result.rules["rule_id"], result.rules["severity"], strict=True))
    lines += [f"  {n:>7}  {severity.get(r, ''):7} {r}" for r, n in counts.items()]
    if out is not None:
        lines.append(f"reports: {out}")
    return lines


def rules_command(markdown: bool) -> None:
    """``rules``: the catalogue."""
    from audit.rules import all_rules

    if markdown:
        click.echo(rules_markdown())
        return
    for rule in all_rules():
        needs = f"  (needs {', '.join(rule.sources)})" if rule.sources else ""
        click.echo(f"{rule.id:32} {rule.severity.value:7} {rule.title}{needs}")


def rules_markdown() -> str:
    """The README's rule table, generated from rule metadata."""
    from audit.rules import all_rules

    lines = ["| id | severity | flags a guest when | needs |", "|---|---|---|---|"]
    for rule in all_rules():
        needs = ", ".join(rule.sources) or "Graph users"
        lines.append(f"| `{rule.id}` | {rule.severity.value} | {rule.title} | {needs} |")
    return "\n".join(lines)


def doctor_command(kw: dict[str, Any]) -> int:
    """``doctor``: probe every source once; print what works and which permission is missing."""
    import asyncio

    config = AuditConfig()
    options = options_from(kw, config)
    probes = asyncio.run(_probes(options))
    for line in doctor_lines(probes):
        click.echo(line)
    return 0 if all(p.ok is not False for p in probes) else 3


async def _probes(options: Any) -> list[Any]:
    from audit.collect.doctor import run_probes
    from audit.pipeline import graph_client

    async with graph_client(options) as client:
        return await run_probes(client, app=options.app)


def doctor_lines(probes: list[Any]) -> list[str]:
    """One line per source, then the rules each failed source disables."""
    from audit.rules import all_rules

    lines = []
    for p in probes:
        state = {True: "ok", False: "FAILED", None: "not tested"}[p.ok]
        need = f"  needs {p.permission}" if p.ok is False else ""
        lines.append(f"{p.source:22} {state:11} {p.detail}{need}")
    failed = {p.source for p in probes if p.ok is False}
    if failed & {"organization", "domains", "users"}:
        lines.append("The audit cannot run without organization, domains and users.")
    for rule in all_rules():
        if blocked := failed & set(rule.sources):
            lines.append(f"disabled: {rule.id} (needs {', '.join(sorted(blocked))})")
    return lines
