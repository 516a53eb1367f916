"""The commands behind ``audit/cli.py``: flags → typed options → one library call → printed lines.

Nothing here decides anything the library cannot: ``run`` builds :class:`~audit.job.RunOptions`
and calls :func:`audit.job.run`; the others call the matching library function. Flags arrive as
click's keyword dict; the client secret is read from the environment only, never from a flag.
"""

from __future__ import annotations

import dataclasses
import os
import secrets
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from audit import job
from audit import snapshot as snap
from audit._inputs import domain_list, nameserver_list, token_list
from audit.analysis.diff import diff_results
from audit.analysis.result import AuditResult
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
from audit.collectors.doctor import check_sign_in, probe_sources
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


def config_from(flags: Flags, recorded: Mapping[str, Any] | None = None) -> AuditConfig:
    """The analysis settings: the config file (or else the ``recorded`` settings of a snapshot),
    overlaid with the analysis flags. Domain and token values are checked here (exit 2 with the
    corrected form)."""
    if flags.get("config_file"):
        base = load_config(flags["config_file"])
    elif recorded:
        base = AuditConfig.from_dict(recorded)
    else:
        base = AuditConfig()
    return base.with_overrides(
        target=flags.get("target"),
        verified_domains=domain_list(flags.get("verified_domain") or (), "--verified-domain"),
        no_verified_domains=flags.get("no_verified_domains") or None,
        verification_tokens=token_list(
            flags.get("verification_token") or (), "--verification-token"
        ),
        stale_days=flags.get("stale_days"),
        fail_on=Severity(flags["fail_on"]) if flags.get("fail_on") else None,
        provisioning_scope=flags.get("provisioning_scope"),
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
        log_days=30 if flags.get("log_days") is None else flags["log_days"],
        nameservers=nameserver_list(flags.get("nameserver") or ()),
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
        **_atlassian_from(flags, config),
    )


def _atlassian_from(flags: Flags, config: AuditConfig) -> dict[str, Any]:
    """The Atlassian options: ids from the flags or the config file, keys only from the environment.

    With ``--from-export`` the config file's ids are left out (the export's ``atlassian/`` folder
    is the target side then, so a config file shared by live and offline runs works for both);
    the flags are kept, and refused by the collection as a contradiction.
    """
    offline = bool(flags.get("from_export"))
    return {
        "atlassian_org": flags.get("atlassian_org") or (None if offline else config.atlassian_org),
        "atlassian_directory": flags.get("atlassian_directory")
        or (None if offline else config.atlassian_directory),
        "atlassian_url": flags.get("atlassian_url"),
        "atlassian_api_key": os.environ.get("ATLASSIAN_API_KEY") or None,
        "atlassian_scim_key": os.environ.get("ATLASSIAN_SCIM_KEY") or None,
    }


def _incremental_base(path: str | None) -> snap.Snapshot | None:
    """The snapshot ``--incremental`` names (a snapshot folder or a run folder)."""
    return snap.load(snapshot_dir(path)) if path else None


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
        progress=Progress.for_command(flags),
        keep_tables=False,  # the summary needs only the results
    )
    try:
        done = job.run(options)
    except KeyboardInterrupt:
        raise KeyboardInterrupt(_interrupted(options)) from None
    for note in done.notes:
        say(f"note: {note}", err=True)
    _print_result(done.result, done.out, flags)
    return done.exit_code


def _print_result(result: AuditResult, out: Path | None, flags: Flags) -> None:
    """Warnings on stderr, then the summary (and, for people, what to do next)."""
    for warning in result.warnings:
        say(f"warning: {warning}", err=True)
    print_summary(result, out, quiet=bool(flags.get("quiet")), as_json=bool(flags.get("as_json")))


def _interrupted(options: job.RunOptions) -> str:
    """Where an interrupted run left its checkpoint, and how to go on."""
    collect = options.collect
    folder = collect.checkpoint_dir or job.default_checkpoint_dir(
        out=options.out, history=options.history, tenant_id=collect.tenant_id
    )
    if collect.from_export or folder is None or not Path(folder).is_dir():
        return "nothing was written; run the same command again"
    return (
        f"the guest pages read so far are kept in {folder}; run the same command again to "
        "resume from there (--no-resume starts over)"
    )


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
    """``analyze``: print the summary of a saved snapshot (or run folder), analysed with the
    settings it recorded unless flags (or ``--config``) say otherwise."""
    snapshot = job.load_snapshot(flags["snapshot"])
    config = config_from(flags, snapshot.config)
    result = job.analyze_run(snapshot, config)
    _print_result(result, None, flags)
    return job.exit_code(result, config.fail_on)


def report_command(flags: Flags) -> int:
    """``report``: write the reports of a saved snapshot (or run folder), with its recorded
    settings unless flags (or ``--config``) say otherwise."""
    snapshot = job.load_snapshot(flags["snapshot"])
    config = config_from(flags, snapshot.config)
    done = job.report(
        snapshot,
        flags["out"],
        config,
        redact=bool(flags.get("redact")),
        progress=Progress.for_command(flags),
        keep_tables=False,
    )
    _print_result(done.result, done.out, flags)
    return done.exit_code


def diff_command(flags: Flags) -> int:
    """``diff OLD NEW``: print what changed; with ``--out`` write diff.json and NEW's reports.

    Each side is analysed with the settings it recorded, overridden by the same flags."""
    old_snapshot = job.load_snapshot(flags["old"])
    new_snapshot = job.load_snapshot(flags["new"])
    config = config_from(flags, new_snapshot.config)
    old = job.analyze_run(old_snapshot, config_from(flags, old_snapshot.config))
    new = job.analyze_run(new_snapshot, config)
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
    """``doctor``: sign in, then probe every source once; print what works and which permission
    is missing. A failed sign-in is one line naming the credential and the fix."""
    options = collect_options_from(flags, AuditConfig())
    problem = check_sign_in(options)
    if problem is not None:
        say(f"error: {problem.message}", err=True)
        return problem.exit_code
    probes = probe_sources(options)
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
