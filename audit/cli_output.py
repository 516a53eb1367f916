"""What the commands print: summaries, diffs, history tables and doctor lines, made safe for a
terminal (tenant text never reaches it raw): every line goes out through :func:`say` (each line's
control and format characters escaped, :func:`audit._terminal.terminal`) and every JSON document
through :func:`say_json`."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Any

import click

from audit._terminal import json_text, terminal
from audit.analysis.diff import Diff
from audit.analysis.result import AuditResult
from audit.collectors.doctor import Probe
from audit.history import RunInfo
from audit.models import SourceStatus
from audit.render._common import DIFF_COUNT_LABELS, diff_since
from audit.rules import all_rules
from audit.targets import DEFAULT_TARGET, get_target

__all__ = [
    "collect_lines",
    "diff_lines",
    "diff_summary_dict",
    "doctor_lines",
    "history_lines",
    "next_steps",
    "print_summary",
    "rules_markdown",
    "say",
    "say_json",
    "summary_dict",
    "summary_lines",
    "terminal",
]


def print_summary(
    result: AuditResult, out: Path | None, *, quiet: bool = False, as_json: bool = False
) -> None:
    """One screen: tenant, guests, outcomes, what-if, top rules, failed sources, where files are;
    with an output folder it ends with the path of report.html and what to do next."""
    if quiet:
        say(str(out or ""))
        return
    if as_json:
        say_json(summary_dict(result, out))
        return
    for line in summary_lines(result, out):
        say(line)
    if out is not None:
        for line in next_steps(result, out):
            say(line)


def next_steps(result: AuditResult, out: Path) -> list[str]:
    """The path of report.html, and one line of what to do next (the most pressing thing)."""
    return [f"open: {out / 'report.html'}", f"next: {_next(result)}"]


def _guests(n: int) -> str:
    """``1 guest is`` / ``2,345 guests are``."""
    return f"{n:,} guest is" if n == 1 else f"{n:,} guests are"


def _next(result: AuditResult) -> str:
    counts = result.outcome_counts()
    failed = [s for s in result.sources if s.state.value == "failed"]
    if failed:
        names = ", ".join(s.name for s in failed)
        return (
            f"{names} could not be read: grant what is missing (b2b-preflight doctor names it) "
            "and run again; the report lists the checks that were skipped"
        )
    findings = result.open_findings()
    app = findings[findings["level"] == "app"]
    if len(app):
        return (
            f"fix the app first ({app['rule_id'].iloc[0]}): the report's first finding and the "
            "start of remediation.ps1 say how; then click Blocked in the report for each "
            "guest's reason and fix"
        )
    if counts.get("blocked"):
        return (
            f"{_guests(counts['blocked'])} blocked: click Blocked in the report to see why and "
            "the fix for each; review remediation.ps1 before running it with -Apply"
        )
    if counts.get("unmanaged"):
        return (
            f"{_guests(counts['unmanaged'])} going to arrive unmanaged: click Unmanaged in the "
            "report for the domains to verify in the target"
        )
    return "nothing blocks provisioning: keep report.html with the go-live records"


def say(line: str, *, err: bool = False) -> None:
    """Print ``line`` as exactly one terminal line (stderr with ``err``): a line break or an
    escape sequence in it is shown as an escape."""
    click.echo(terminal(line), err=err)


def say_json(document: Any) -> None:
    """Print a JSON document (indented) with nothing a terminal could act on."""
    click.echo(json_text(document))


def collect_lines(sources: Iterable[SourceStatus], path: Path) -> list[str]:
    """What ``collect`` prints: one line per source (state, rows, what went wrong), the folder."""
    lines = []
    for status in sources:
        note = status.missing_permission or status.error or ""
        lines.append(f"  {status.name:22} {status.state.value:14} {status.rows:>8,}  {note}")
    return [*lines, f"snapshot: {path}"]


def _target_lines(result: AuditResult) -> list[str]:
    """Target accounts, reconciliation and configured-but-unverified domains (target side)."""
    lines = []
    accounts = result.guests.get("target_account", None)
    if accounts is not None and accounts.notna().any():
        counts = accounts.value_counts()
        lines.append("target accounts: " + ", ".join(f"{k} {v:,}" for k, v in counts.items()))
    rec = result.reconciliation_counts()
    if rec is not None:
        lines.append(
            f"reconciliation: {rec['held']:,} held in the target, {rec['agree']:,} agree, "
            f"{rec['disagree']:,} disagree, {rec['not_compared']:,} not compared"
        )
    domains = result.target_domains or {}
    for entry in domains.get("typed_not_verified", []):
        lines.append(
            f"DOMAIN NOT VERIFIED IN THE TARGET: {entry['domain']} is configured, "
            f"the organization says {entry['status']}"
        )
    return lines


def summary_dict(result: AuditResult, out: Path | None) -> dict[str, Any]:
    """The summary as JSON-ready data (for ``--json``): ``top_rules`` counts guests per rule;
    app-level findings are listed apart (``app_findings``), with ``warnings`` on the settings."""
    open_ = result.open_findings()
    on_app = (open_["level"] == "app").fillna(False).astype(bool)
    top = open_.loc[~on_app, "rule_id"].value_counts().head(10)
    return {
        "tenant": result.tenant,
        "target": result.target,
        "target_selection": result.target_selection,
        "guests": len(result.guests),
        "outcomes": result.outcome_counts(),
        "whatif_newly_ready": result.whatif.newly_ready if result.whatif else None,
        "top_rules": {str(k): int(v) for k, v in top.items()},
        "app_findings": [str(r) for r in open_.loc[on_app, "rule_id"]],
        "warnings": list(result.warnings),
        "failed_sources": [s.name for s in result.sources if s.state.value == "failed"],
        "out": str(out) if out else None,
    }


def summary_lines(result: AuditResult, out: Path | None) -> list[str]:
    """Human-readable summary lines."""
    tenant = result.tenant.get("name") or result.tenant.get("id") or "?"
    lines = [f"b2b-preflight {result.tool_version} · {tenant} → {result.target}"]
    selection = result.target_selection
    if selection.get("mode") == "auto":
        lines.append(f"target: {terminal(str(selection.get('note', result.target)))}")
    lines.append(f"guests: {len(result.guests):,}")
    outcomes = result.outcome_counts().items()
    lines.append("outcomes: " + ", ".join(f"{k.replace('_', ' ')} {v:,}" for k, v in outcomes))
    if result.whatif:
        w = result.whatif
        lines.append(
            f"what-if: {w.description} → {w.newly_ready:,} more ready, provided {w.precondition}"
        )
    for s in result.sources:
        if s.state.value == "failed":
            why = f"missing permission {s.missing_permission}" if s.missing_permission else s.error
            lines.append(f"SOURCE FAILED: {s.name}: {why}")
    open_ = result.open_findings()
    on_app = (open_["level"] == "app").fillna(False).astype(bool)
    affected = dict(zip(result.rules["rule_id"], result.rules["flagged"], strict=True))
    for rule_id in open_.loc[on_app, "rule_id"]:
        lines.append(
            f"app-level: {rule_id} affects {int(affected.get(rule_id) or 0):,} of "
            f"{len(result.guests):,} guests (fix it first)"
        )
    lines += _target_lines(result)
    lines.append("top rules (guests):")
    counts = open_.loc[~on_app, "rule_id"].value_counts().head(8)
    severity = dict(zip(result.rules["rule_id"], result.rules["severity"], strict=True))
    lines += [f"  {n:>7,}  {severity.get(r, ''):7} {r}" for r, n in counts.items()]
    if out is not None:
        lines.append(f"reports: {out}")
    return lines


def rules_markdown() -> str:
    """The README's rule table, generated from rule metadata."""
    lines = ["| id | severity | flags a guest when | needs |", "|---|---|---|---|"]
    for rule in all_rules():
        needs = ", ".join(rule.sources) or "Graph users"
        lines.append(f"| `{rule.id}` | {rule.severity.value} | {rule.title} | {needs} |")
    return "\n".join(lines)


def doctor_lines(probes: list[Probe]) -> list[str]:
    """One line per source, then the rules each failed source disables."""
    lines = []
    for p in probes:
        state = {True: "ok", False: "FAILED", None: "not tested"}[p.ok]
        need = f"  needs {p.permission}" if p.ok is False else ""
        lines.append(f"{p.source:22} {state:11} {p.detail}{need}")
    failed = {p.source for p in probes if p.ok is False}
    if failed & {"organization", "domains", "users"}:
        lines.append("The audit cannot run without organization, domains and users.")
    # rules name target-side sources by role (target_provisioned...): the default target's names
    roles = get_target(DEFAULT_TARGET).evidence.aliases()
    for rule in all_rules():
        needs = {roles.get(source, source) for source in rule.sources}
        if blocked := failed & needs:
            lines.append(f"disabled: {rule.id} (needs {', '.join(sorted(blocked))})")
    return lines


def diff_summary_dict(diff: Diff, out: Path | None) -> dict[str, Any]:
    """What ``diff --json`` prints: both sides, counts, warnings, the output folder."""
    return {
        "old": diff.old.to_dict(),
        "new": diff.new.to_dict(),
        "counts": diff.counts(),
        "warnings": list(diff.warnings),
        "out": str(out) if out is not None else None,
    }


def diff_lines(diff: Diff, out: Path | None) -> list[str]:
    """Human-readable diff summary (tenant text made safe for a terminal)."""
    tenant = terminal(diff.new.tenant_name or diff.new.tenant_id or "?")
    lines = [f"changes since {diff_since(diff)} · {tenant}"]
    counts = diff.counts()
    lines += [f"  {label:20} {counts[key]:>7,}" for key, label in DIFF_COUNT_LABELS.items()]
    lines += [f"WARNING: {terminal(w)}" for w in diff.warnings]
    if out is not None:
        lines.append(f"reports: {out}")
    return lines


def history_lines(runs: list[RunInfo], root: Path) -> list[str]:
    """A table of runs with headline figures; problems of broken runs on their own line."""
    if not runs:
        return [f"no runs in {root}"]
    head = f"{'when (UTC)':16}  {'state':7}  {'tenant':24}  {'guests':>6}  "
    head += (
        f"{'ready':>5} {'unman':>5} {'block':>5}  {'open':>5} {'high':>5}  {'new/fixed':>9}  path"
    )
    lines = [head]
    for run in runs:
        lines.append(_history_row(run))
        lines += [f"    ! {terminal(p)}" for p in run.problems if run.state != "ok"]
    return lines


def _history_row(run: RunInfo) -> str:
    """One run as a table row."""
    when = run.timestamp.strftime("%Y-%m-%d %H:%M") if run.timestamp else "?"
    tenant = terminal(run.tenant_name or run.tenant_id or "?")[:24]
    delta = ""
    if run.diff_counts is not None:
        delta = f"+{run.diff_counts.get('new', 0)}/-{run.diff_counts.get('fixed', 0)}"
    cells = (
        _n(run.guests),
        _n(run.outcomes.get("ready")),
        _n(run.outcomes.get("unmanaged")),
        _n(run.outcomes.get("blocked")),
        _n(run.open_findings),
        _n(run.open_by_severity.get("high")),
    )
    figures = (
        f"{cells[0]:>6}  {cells[1]:>5} {cells[2]:>5} {cells[3]:>5}  {cells[4]:>5} {cells[5]:>5}"
    )
    return (
        f"{when:16}  {run.state:7}  {tenant:24}  {figures}  {delta:>9}  {terminal(str(run.path))}"
    )


def _n(value: int | None) -> str:
    return "-" if value is None else f"{value:,}"
