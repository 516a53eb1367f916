"""``audit.run``: the whole job as one library call, exactly what ``b2b-preflight run`` does.

Collect (live or from an export folder) → save the snapshot → analyse → compare with an earlier
run → pseudonymise (``redact``) → write every report → exit status. The CLI only builds
:class:`RunOptions` from its flags and prints the :class:`Run` it gets back, so a notebook or a
scheduler reproduces a command line exactly::

    import audit
    from audit.collectors.pipeline import CollectOptions

    done = audit.run(audit.RunOptions(CollectOptions(from_export="export"), out="reports/x"))
    done.exit_code, done.result.outcome_counts()
"""

from __future__ import annotations

import dataclasses
import secrets
from dataclasses import dataclass, field
from pathlib import Path

from audit import snapshot as snap
from audit._process import return_freed_memory
from audit.analysis.analyzer import analyze
from audit.analysis.diff import diff_results
from audit.analysis.result import AuditResult
from audit.analysis.settings import (
    check_settings,
    check_snapshot_settings,
    require_verified_domains,
)
from audit.collectors.pipeline import CollectOptions, collect_sync, require_core
from audit.config import AuditConfig
from audit.errors import AuditError, CollectionError, ConfigError
from audit.history import history_out_dir, resolve_compare_with, snapshot_dir
from audit.models import Severity
from audit.progress import Progress
from audit.redact import Pseudonymiser, redact_result, redact_snapshot
from audit.render import FORMATS, render_all
from audit.snapshot import Snapshot
from audit.targets import Target

__all__ = [
    "DEFAULT_HISTORY",
    "Run",
    "RunOptions",
    "analyze_and_render",
    "analyze_run",
    "collect_snapshot",
    "default_checkpoint_dir",
    "exit_code",
    "load_snapshot",
    "reads_target_domains",
    "recorded_config",
    "report",
    "require_app",
    "run",
    "save_snapshot",
]

DEFAULT_HISTORY = "reports"
"""History folder of ``compare_with="latest"`` when ``history`` is not given."""


@dataclass(frozen=True)
class RunOptions:
    """Everything one run needs: where to collect, how to analyse, where to write.

    ``out`` is the output folder; without it, ``history`` names a root and the run writes into
    ``<history>/<tenant>/<UTC time>/``. ``compare_with`` is an earlier snapshot or run folder, or
    ``"latest"`` (the tenant's most recent earlier run under ``history``, default ``reports``).
    ``redact`` pseudonymises every written name and address with a key used once and never stored.
    ``keep_tables=False`` lets go of the collected tables once the analysis has read them: the run
    then holds only its results (at a million guests the tables are a third of its memory), and
    ``Run.snapshot`` refuses them (:meth:`~audit.snapshot.Snapshot.table`; load the saved
    snapshot to read them). The CLI runs this way.
    """

    collect: CollectOptions
    config: AuditConfig = field(default_factory=AuditConfig)
    out: str | Path | None = None
    history: str | Path | None = None
    compare_with: str | None = None
    redact: bool = False
    formats: tuple[str, ...] = FORMATS
    progress: Progress = field(default_factory=lambda: Progress(False), compare=False)
    keep_tables: bool = True


@dataclass
class Run:
    """What a run produced: its snapshot, the (redacted, when asked) result, and where it wrote."""

    snapshot: Snapshot
    result: AuditResult
    out: Path
    reports: dict[str, Path]
    fail_on: Severity | None = None
    compared_with: str | None = None
    notes: list[str] = field(default_factory=list)

    @property
    def exit_code(self) -> int:
        """1 when an open finding is at or above ``fail_on``, else 0 (the CLI's exit status)."""
        return exit_code(self.result, self.fail_on)


def run(options: RunOptions) -> Run:
    """Collect, save, analyse, compare, redact and render: ``b2b-preflight run`` as a call.

    Raises :class:`~audit.errors.ConfigError` for a misconfiguration (checked before anything
    is collected where it can be) and :class:`~audit.errors.CollectionError` when a source the
    audit cannot do without failed, or the app was not found.
    """
    if options.out is None and options.history is None:
        raise ConfigError("give an output folder (out) or a history root (history)")
    target = check_settings(options.config, options.collect.app)  # auto: the app's profile
    if not options.collect.from_export:  # an export names its app itself (and reads in seconds)
        evidence = reads_target_domains(options.collect, target)
        require_verified_domains(options.config, target, evidence_requested=evidence)
    collect = _with_checkpoint(options)
    key = secrets.token_bytes(32) if options.redact else None
    collect = dataclasses.replace(collect, redact_key=key)
    with options.progress.stage("collecting") as stage:
        snapshot = collect_snapshot(collect, options.config)
        stage["note"] = _collected(snapshot)
    check_snapshot_settings(options.config, snapshot)
    out = _out_dir(options, snapshot)
    notes = _resumed(snapshot, collect)
    compare = _compare_path(options, snapshot, out, notes)
    pseudonymiser = Pseudonymiser.for_snapshot(snapshot, key=key) if key else None
    with options.progress.stage("saving the snapshot"):
        save_snapshot(snapshot, out / "snapshot", pseudonymiser)
    result, reports = analyze_and_render(
        snapshot,
        options.config,
        out,
        compare_with=compare,
        pseudonymiser=pseudonymiser,
        progress=options.progress,
        formats=options.formats,
        keep_tables=options.keep_tables,
    )
    return Run(snapshot, result, out, reports, options.config.fail_on, compare, notes)


def report(
    snapshot_path: str | Path | Snapshot,
    out: str | Path,
    config: AuditConfig | None = None,
    *,
    redact: bool = False,
    progress: Progress | None = None,
    keep_tables: bool = True,
) -> Run:
    """Write the reports of a saved snapshot (or run folder): ``b2b-preflight report`` as a call.

    Without ``config``, the settings the snapshot recorded are used, so the same snapshot gives
    the same result. ``keep_tables`` as in :class:`RunOptions`.
    """
    snapshot = load_snapshot(snapshot_path)
    config = config or recorded_config(snapshot)
    check_snapshot_settings(config, snapshot)
    pseudonymiser = (
        Pseudonymiser.for_snapshot(snapshot, key=secrets.token_bytes(32)) if redact else None
    )
    result, reports = analyze_and_render(
        snapshot,
        config,
        Path(out),
        pseudonymiser=pseudonymiser,
        progress=progress,
        keep_tables=keep_tables,
    )
    return Run(snapshot, result, Path(out), reports, config.fail_on)


def collect_snapshot(options: CollectOptions, config: AuditConfig) -> Snapshot:
    """Collect (live or offline) and check the sources the audit cannot do without.

    The snapshot records the settings (``config`` and the app asked for), which ``analyze`` and
    ``report`` reuse.
    """
    try:
        snapshot = collect_sync(options, config=config)
    except AuditError:
        raise
    except Exception as exc:  # an unforeseen fault: one clear line and exit code 3, no traceback
        message = f"{type(exc).__name__}: {exc}"[:400]
        raise CollectionError(f"collection failed unexpectedly: {message}") from exc
    require_core(snapshot)
    require_app(snapshot)
    snapshot.config = config.to_dict() | {"app": options.app}
    return snapshot


def require_app(snapshot: Snapshot) -> None:
    """Raise CollectionError when the app named was not found (or names several apps): a report
    about an app that is not there would be a wrong answer, not a partial one."""
    status = snapshot.sources.get("service_principal")
    if status is None or status.usable:
        return
    if status.detail.get("app_not_found") or status.detail.get("app_ambiguous"):
        raise CollectionError(
            f"service_principal: {status.error}; give --app with the app's exact display name "
            "(Entra admin center > Enterprise applications) or its appId"
        )


def reads_target_domains(options: CollectOptions, target: Target) -> bool:
    """True when the collection reads the target's own organization (``<target>_org``, e.g.
    ``atlassian_org``), whose verified domains then stand in for ``--verified-domain``."""
    return bool(getattr(options, f"{target.name}_org", None))


def load_snapshot(path: str | Path | Snapshot) -> Snapshot:
    """A snapshot folder, or a run folder's ``snapshot/`` (a loaded snapshot is passed through)."""
    return path if isinstance(path, Snapshot) else snap.load(snapshot_dir(path))


def recorded_config(snapshot: Snapshot) -> AuditConfig:
    """The settings the snapshot was analysed with (defaults for what it did not record)."""
    return AuditConfig.from_dict(snapshot.config)


def save_snapshot(
    snapshot: Snapshot, path: str | Path, pseudonymiser: Pseudonymiser | None = None
) -> Path:
    """Save the snapshot, pseudonymised with the run's pseudonymiser under ``redact``."""
    if pseudonymiser is not None:
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
    formats: tuple[str, ...] = FORMATS,
    keep_tables: bool = True,
) -> tuple[AuditResult, dict[str, Path]]:
    """Analyse a snapshot and write the reports into ``out``.

    With a ``pseudonymiser`` the analysis is the original's and only the written texts are
    pseudonymised (:mod:`audit.redact`); the returned result is the redacted one.
    ``keep_tables=False``: the snapshot's tables are released during the analysis
    (:class:`RunOptions`).
    """
    progress = progress or Progress(False)
    with progress.stage("analysing") as stage:
        result = analyze(snapshot, config, release_tables=not keep_tables)
        stage["note"] = f"{len(result.guests):,} guests, {len(result.findings):,} findings"
    return_freed_memory()  # where the process allows it
    if compare_with:
        with progress.stage(f"comparing with {compare_with}"):
            result.diff = diff_results(analyze_run(compare_with, config), result)
    if pseudonymiser is not None:
        result = redact_result(result, pseudonymiser)
        result.warnings = [pseudonymiser.known_text(w) for w in result.warnings]
    with progress.stage(f"writing reports to {out}"):
        reports = render_all(result, out, formats=formats)
    return result, reports


def analyze_run(path: str | Path | Snapshot, config: AuditConfig | None = None) -> AuditResult:
    """Load a snapshot folder (or a run folder's ``snapshot/``) and analyse it as of its date,
    with ``config`` or else the settings it recorded. A snapshot loaded here (from a path) lets
    go of its large tables once the guests frame is built; one passed in is left whole."""
    snapshot = load_snapshot(path)
    config = config or recorded_config(snapshot)
    check_snapshot_settings(config, snapshot)
    release = not isinstance(path, Snapshot)
    return analyze(snapshot, config, now=snapshot.collected_at, release_tables=release)


def exit_code(result: AuditResult, fail_on: Severity | None) -> int:
    """1 when an open finding is at or above ``fail_on``, else 0."""
    if fail_on is None:
        return 0
    ranks = result.open_findings()["severity"].map(lambda s: Severity(s).rank)
    return 1 if bool((ranks >= fail_on.rank).any()) else 0


def default_checkpoint_dir(
    *, out: str | Path | None, history: str | Path | None, tenant_id: str | None
) -> Path | None:
    """Where a run keeps its page log, so rerunning the same command resumes it.

    ``out X``: ``.X.checkpoint`` next to ``X`` (a failed run leaves ``X`` as it was);
    ``history R`` alone: ``R/.checkpoint-<tenant>``.
    """
    if out is None and history is not None:
        tenant = "".join(c for c in str(tenant_id or "default") if c.isalnum() or c == "-")
        return Path(history) / f".checkpoint-{tenant or 'default'}"
    if out is None:
        return None
    folder = Path(out).absolute()
    return folder.parent / f".{folder.name}.checkpoint"


def _with_checkpoint(options: RunOptions) -> CollectOptions:
    """The collect options with the default checkpoint folder (live runs only)."""
    collect = options.collect
    if collect.checkpoint_dir or collect.from_export:
        return collect
    folder = default_checkpoint_dir(
        out=options.out, history=options.history, tenant_id=collect.tenant_id
    )
    return dataclasses.replace(collect, checkpoint_dir=str(folder) if folder else None)


def _out_dir(options: RunOptions, snapshot: Snapshot) -> Path:
    if options.out is not None:
        return Path(options.out)
    assert options.history is not None
    return history_out_dir(options.history, snapshot.tenant, now=snapshot.collected_at)


def _compare_path(
    options: RunOptions, snapshot: Snapshot, out: Path, notes: list[str]
) -> str | None:
    """The snapshot folder ``compare_with`` names; ``latest`` is looked up in the history.

    None, with a note, when there is no earlier run to compare with.
    """
    value = options.compare_with
    if not value:
        return None
    root = options.history or DEFAULT_HISTORY
    tenant = snapshot.tenant.get("id") or snapshot.tenant.get("name")
    if value.strip().lower() == "latest" and not tenant:
        notes.append("the tenant has no id or name; nothing to compare with")
        return None
    path = resolve_compare_with(
        value, root=root, tenant_id=str(tenant) if tenant else None,
        before=snapshot.collected_at, exclude=out,
    )  # fmt: skip
    if path is None:
        notes.append(f"no earlier run of this tenant in {root}; nothing to compare with")
        return None
    return str(path)


def _resumed(snapshot: Snapshot, options: CollectOptions) -> list[str]:
    """A note when the collection continued an interrupted one from its checkpoint."""
    pages = snapshot.extra.get("resumed_pages")
    if not pages:
        return []
    where = f" in {options.checkpoint_dir}" if options.checkpoint_dir else ""
    return [f"resumed the interrupted collection from its checkpoint{where} ({pages:,} pages)"]


def _collected(snapshot: Snapshot) -> str:
    """``99,600 users, 5,000 domains resolved`` for the progress line."""
    users = snapshot.tables.get("users")
    dns = snapshot.tables.get("dns")
    parts = [f"{len(users):,} users" if users is not None else "no users"]
    if dns is not None:
        parts.append(f"{len(dns):,} domains resolved")
    return ", ".join(parts)
