"""The ``diff`` and ``history`` commands, and the history helpers ``run`` uses.

Both runs of a diff are analysed with the same flags, each *as of its own collection time*
(exception expiry and sign-in ages mean what they meant then), so a diff of two saved snapshots
is the same whenever it is made.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click
import orjson

from audit.errors import ConfigError
from audit.history import (
    RunInfo,
    history_out_dir,
    history_runs,
    resolve_compare_with,
    snapshot_dir,
)

if TYPE_CHECKING:
    from audit.config import AuditConfig
    from audit.diff import Diff
    from audit.result import AuditResult
    from audit.snapshot import Snapshot

__all__ = [
    "DEFAULT_HISTORY",
    "analyze_run",
    "compare_with_path",
    "diff_command",
    "diff_lines",
    "history_command",
    "history_lines",
    "run_out_dir",
    "write_diff_json",
]

DEFAULT_HISTORY = "reports"
"""History folder of ``run --compare-with latest`` when ``--history`` is not given."""


def analyze_run(path: str | Path, config: AuditConfig) -> AuditResult:
    """Load a snapshot folder (or a run folder's ``snapshot/``) and analyse it as of its date."""
    from audit import snapshot as snap
    from audit.analyze import analyze

    snapshot = snap.load(snapshot_dir(path))
    return analyze(snapshot, config, now=snapshot.collected_at)


def diff_command(kw: dict[str, Any]) -> int:
    """``diff OLD NEW``: print what changed; with ``--out`` write diff.json and NEW's reports."""
    from audit.commands import config_from, exit_code
    from audit.diff import diff_results

    config = config_from(kw)
    old = analyze_run(kw["old"], config)
    new = analyze_run(kw["new"], config)
    new.diff = diff_results(old, new)
    out = Path(kw["out"]) if kw.get("out") else None
    if out is not None:
        from audit.render import render_all

        render_all(new, out)
        write_diff_json(new.diff, out / "diff.json")
    if kw.get("as_json"):
        click.echo(orjson.dumps(_diff_summary(new.diff, out), option=orjson.OPT_INDENT_2).decode())
    else:
        for line in diff_lines(new.diff, out):
            click.echo(line)
    return exit_code(new, config.fail_on)


def write_diff_json(diff: Diff, path: str | os.PathLike[str]) -> Path:
    """Write ``diff.json`` (:meth:`~audit.diff.Diff.to_dict`) atomically."""
    from audit.render._common import atomic_path
    from audit.render.json_out import dumps

    data = dumps(diff.to_dict(), option=orjson.OPT_INDENT_2)
    with atomic_path(path) as tmp:
        tmp.write_bytes(data)
    return Path(path)


def _diff_summary(diff: Diff, out: Path | None) -> dict[str, Any]:
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
    from audit.render._common import DIFF_COUNT_LABELS, diff_since

    tenant = _terminal(diff.new.tenant_name or diff.new.tenant_id or "?")
    lines = [f"changes since {diff_since(diff)} · {tenant}"]
    counts = diff.counts()
    lines += [f"  {label:20} {counts[key]:>7}" for key, label in DIFF_COUNT_LABELS.items()]
    lines += [f"WARNING: {_terminal(w)}" for w in diff.warnings]
    if out is not None:
        lines.append(f"reports: {out}")
    return lines


def history_command(kw: dict[str, Any]) -> int:
    """``history [ROOT]``: one line (or JSON object) per run, oldest first."""
    root = Path(kw.get("root") or DEFAULT_HISTORY)
    if not root.is_dir():
        raise ConfigError(f"{root}: no such history folder")
    runs = history_runs(root, kw.get("tenant"))
    if kw.get("as_json"):
        doc = [r.to_dict() for r in runs]
        click.echo(orjson.dumps(doc, option=orjson.OPT_INDENT_2).decode())
        return 0
    for line in history_lines(runs, root):
        click.echo(line)
    return 0


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
        lines += [f"    ! {_terminal(p)}" for p in run.problems if run.state != "ok"]
    return lines


def _history_row(run: RunInfo) -> str:
    """One run as a table row."""
    when = run.timestamp.strftime("%Y-%m-%d %H:%M") if run.timestamp else "?"
    tenant = _terminal(run.tenant_name or run.tenant_id or "?")[:24]
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
        f"{when:16}  {run.state:7}  {tenant:24}  {figures}  {delta:>9}  {_terminal(str(run.path))}"
    )


def _n(value: int | None) -> str:
    return "-" if value is None else str(value)


def _terminal(text: str) -> str:
    """Tenant text for a terminal: control and format characters shown as escapes, not run."""
    return "".join(c if c.isprintable() else c.encode("unicode_escape").decode() for c in text)


def run_out_dir(kw: dict[str, Any], snapshot: Snapshot) -> Path:
    """``run``'s output folder: ``--out``, else a new run folder of the tenant in ``--history``."""
    if kw.get("out"):
        return Path(kw["out"])
    if kw.get("history"):
        return history_out_dir(kw["history"], snapshot.tenant, now=snapshot.collected_at)
    raise ConfigError("give --out DIR or --history ROOT")


def compare_with_path(kw: dict[str, Any], snapshot: Snapshot, out: Path) -> str | None:
    """The snapshot folder ``run --compare-with`` names; ``latest`` is looked up in the history.

    ``latest`` means the tenant's most recent earlier run under ``--history`` (default
    ``reports``), never the run being written. None (with a note) when there is none yet.
    """
    value = kw.get("compare_with")
    if not value:
        return None
    root = kw.get("history") or DEFAULT_HISTORY
    tenant = snapshot.tenant.get("id") or snapshot.tenant.get("name")
    if value.strip().lower() == "latest" and not tenant:
        click.echo("note: the tenant has no id or name; nothing to compare with", err=True)
        return None
    path = resolve_compare_with(
        value,
        root=root,
        tenant_id=str(tenant) if tenant else None,
        before=snapshot.collected_at,
        exclude=out,
    )
    if path is None:
        click.echo(
            f"note: no earlier run of this tenant in {root}; nothing to compare with", err=True
        )
        return None
    return str(path)
