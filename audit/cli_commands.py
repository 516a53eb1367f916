"""The commands behind ``audit/cli.py``: flags → typed options → one library call → printed lines.

Nothing here decides anything the library cannot: ``run`` builds :class:`~audit.job.RunOptions`
and calls :func:`audit.job.run`; the others call the matching library function. Flags arrive as
click's keyword dict; the client secret is read from the environment only, never from a flag.
"""

from __future__ import annotations

import dataclasses
import os
import secrets
import sys
from pathlib import Path
from typing import Any

from audit import job
from audit import snapshot as snap
from audit.analysis.analyzer import analyze
from audit.analysis.diff import diff_results
from audit.cli_output import (
    collect_lines,
    diff_lines,
    diff_summary_dict,
    doctor_lines,
    history_lines,
    print_summary,
    rules_markdown,
    say,
    say_json,
)
from audit.cli_targets import rules_for_target_lines, target_dict, target_lines, targets_markdown
from audit.collectors.doctor import probe_sources
from audit.collectors.pipeline import CollectOptions
from audit.config import AuditConfig, load_config
from audit.errors import ConfigError
from audit.history import history_runs, snapshot_dir
from audit.models import Severity
from audit.progress import Progress
from audit.redact import Pseudonymiser
from audit.render import render_all
from audit.render.json_out import write_diff_json
from audit.rules import all_rules
from audit.targets import AUTO, all_targets, collected_app_target, get_target

Flags = dict[str, Any]


def config_from(flags: Flags) -> AuditConfig:
    """The config file overlaid with the analysis flags."""
    base = load_config(flags.get("config_file"))
    return base.with_overrides(
        target=flags.get("target"),
        verified_domains=tuple(flags.get("verified_domain") or ()),
        verification_tokens=tuple(flags.get("verification_token") or ()),
        stale_days=flags.get("stale_days"),
        fail_on=Severity(flags["fail_on"]) if flags.get("fail_on") else None,
    )


def collect_options_from(flags: Flags, config: AuditConfig) -> CollectOptions:
    """CollectOptions from the collection flags; the client secret only from the environment."""
    return CollectOptions(
        graph_url=flags.get("graph_url"),
        auth=flags.get("auth") or "default",
        cloud=flags.get("cloud") or "global",
        tenant_id=flags.get("tenant_id"),
        client_id=flags.get("client_id"),
        client_secret=os.environ.get("AZURE_CLIENT_SECRET"),
        certificate_path=flags.get("certificate"),
        app=flags.get("app") or collected_app_target(config.target).app_display_name,
        include_sign_in=bool(flags.get("sign_in")),
        log_days=flags.get("log_days") or 30,
        nameservers=tuple(flags.get("nameserver") or ()),
        dns=not flags.get("no_dns"),
        dns_timeout=flags.get("dns_timeout") or 2.0,
        mailusers=flags.get("mailusers"),
        from_export=flags.get("from_export"),
        save_raw=flags.get("save_raw"),
        partitions=flags.get("partitions") or 0,
        track_changes=bool(flags.get("track_changes")),
        delta_from=_incremental_base(flags.get("incremental")),
        checkpoint_dir=flags.get("checkpoint_dir"),
        resume=flags.get("resume", True),
        max_retry_wait=flags.get("max_retry_wait") or 120.0,
    )


def _incremental_base(path: str | None) -> snap.Snapshot | None:
    """The snapshot ``--incremental`` names (a snapshot folder or a run folder)."""
    return snap.load(snapshot_dir(path)) if path else None


def progress_from(flags: Flags) -> Progress:
    """On with ``--progress``, off with ``--no-progress``; by default on when stderr is a
    terminal and the output is not for machines (``--quiet``, ``--json``)."""
    chosen = flags.get("progress")
    if chosen is None:
        machine = bool(flags.get("quiet") or flags.get("as_json"))
        chosen = sys.stderr.isatty() and not machine
    return Progress(bool(chosen))


def run_command(flags: Flags) -> int:
    """``run``: :func:`audit.job.run` with the flags; prints the summary; returns the exit code."""
    config = config_from(flags)
    options = job.RunOptions(
        collect=collect_options_from(flags, config),
        config=config,
        out=flags.get("out"),
        history=flags.get("history"),
        compare_with=flags.get("compare_with"),
        redact=bool(flags.get("redact")),
        progress=progress_from(flags),
    )
    done = job.run(options)
    for note in done.notes:
        say(f"note: {note}", err=True)
    print_summary(done.result, done.out, quiet=flags.get("quiet", False), as_json=flags.get("as_json", False))  # fmt: skip
    return done.exit_code


def collect_command(flags: Flags) -> None:
    """``collect``: write a snapshot folder."""
    options = collect_options_from(flags, AuditConfig())
    if flags.get("redact"):
        options = _with_redact_key(options)
    snapshot = job.collect_snapshot(options, AuditConfig())
    pseudonymiser = _pseudonymiser(options, snapshot)
    path = job.save_snapshot(snapshot, flags["out"], pseudonymiser)
    for line in collect_lines(snapshot.sources.values(), path):
        say(line)


def _with_redact_key(options: CollectOptions) -> CollectOptions:
    return dataclasses.replace(options, redact_key=secrets.token_bytes(32))


def _pseudonymiser(options: CollectOptions, snapshot: snap.Snapshot) -> Pseudonymiser | None:
    key = options.redact_key
    return Pseudonymiser.for_snapshot(snapshot, key=key) if key is not None else None


def analyze_command(flags: Flags) -> int:
    """``analyze``: print the summary of a saved snapshot (or run folder)."""
    config = config_from(flags)
    result = analyze(snap.load(snapshot_dir(flags["snapshot"])), config)
    print_summary(result, None, as_json=flags.get("as_json", False))
    return job.exit_code(result, config.fail_on)


def report_command(flags: Flags) -> int:
    """``report``: write the reports of a saved snapshot (or run folder)."""
    config = config_from(flags)
    done = job.report(
        flags["snapshot"],
        flags["out"],
        config,
        redact=bool(flags.get("redact")),
        progress=progress_from(flags),
    )
    print_summary(done.result, done.out)
    return done.exit_code


def diff_command(flags: Flags) -> int:
    """``diff OLD NEW``: print what changed; with ``--out`` write diff.json and NEW's reports."""
    config = config_from(flags)
    old = job.analyze_run(flags["old"], config)
    new = job.analyze_run(flags["new"], config)
    new.diff = diff_results(old, new)
    out = Path(flags["out"]) if flags.get("out") else None
    if out is not None:
        render_all(new, out)
        write_diff_json(new.diff, out / "diff.json")
    if flags.get("as_json"):
        say_json(diff_summary_dict(new.diff, out))
    else:
        for line in diff_lines(new.diff, out):
            say(line)
    return job.exit_code(new, config.fail_on)


def history_command(flags: Flags) -> int:
    """``history [ROOT]``: one line (or JSON object) per run, oldest first."""
    root = Path(flags.get("root") or job.DEFAULT_HISTORY)
    if not root.is_dir():
        raise ConfigError(f"{root}: no such history folder")
    runs = history_runs(root, flags.get("tenant"))
    if flags.get("as_json"):
        say_json([r.to_dict() for r in runs])
        return 0
    for line in history_lines(runs, root):
        say(line)
    return 0


def doctor_command(flags: Flags) -> int:
    """``doctor``: probe every source once; print what works and which permission is missing."""
    probes = probe_sources(collect_options_from(flags, AuditConfig()))
    for line in doctor_lines(probes):
        say(line)
    return 0 if all(p.ok is not False for p in probes) else 3


def rules_command(markdown: bool, target: str | None = None) -> None:
    """``rules``: the catalogue; with ``target``, which rules run for it, in its words."""
    if markdown:
        for line in rules_markdown().splitlines():
            say(line)
        return
    if target is not None:
        if target.strip().lower() == AUTO:
            raise ConfigError("rules --target needs a profile name (b2b-preflight targets)")
        for line in rules_for_target_lines(get_target(target)):
            say(line)
        return
    for rule in all_rules():
        needs = f"  (needs {', '.join(rule.sources)})" if rule.sources else ""
        say(f"{rule.id:32} {rule.severity.value:7} {rule.title}{needs}")


def targets_command(name: str | None, *, markdown: bool = False, as_json: bool = False) -> None:
    """``targets [NAME]``: the profiles with their facts and sources."""
    if markdown:
        for line in targets_markdown().splitlines():
            say(line)
        return
    chosen = [get_target(name)] if name else list(all_targets().values())
    if as_json:
        say_json([target_dict(t) for t in chosen])
        return
    for line in target_lines(chosen):
        say(line)
