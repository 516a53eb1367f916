"""Renderers: turn one ``AuditResult`` into report.html, report.xlsx, findings.json, CSVs and
remediation.ps1.

Renderers only format and aggregate for display; every number they show comes from the
``AuditResult``. Tenant strings are hostile: HTML escapes them, spreadsheets neutralise them
(:mod:`audit.render.safe`). Each writer replaces its file atomically.

Example::

    from audit.render import render_all
    paths = render_all(result, "reports/2025-03-14", formats=("html", "xlsx"))
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterable, Iterator
from pathlib import Path

from audit._files import private_dir
from audit.analysis.result import AuditResult
from audit.errors import ConfigError
from audit.render._parallel import Helper, Job, Writer
from audit.render.csv_out import write_findings_csv, write_guests_csv
from audit.render.excel import write_xlsx
from audit.render.html import write_html
from audit.render.json_out import write_findings_json
from audit.render.remediation import write_remediation
from audit.render.safe import neutralise

__all__ = [
    "FORMATS",
    "neutralise",
    "render_all",
    "write_findings_csv",
    "write_findings_json",
    "write_guests_csv",
    "write_html",
    "write_remediation",
    "write_xlsx",
]

_OUTPUTS: dict[str, tuple[tuple[str, str, Writer], ...]] = {
    "html": (("html", "report.html", write_html),),
    "xlsx": (("xlsx", "report.xlsx", write_xlsx),),
    "json": (("json", "findings.json", write_findings_json),),
    "csv": (
        ("findings_csv", "findings.csv", write_findings_csv),
        ("guests_csv", "guests.csv", write_guests_csv),
    ),
    "ps1": (("ps1", "remediation.ps1", write_remediation),),
}

FORMATS = tuple(_OUTPUTS)
"""Format names :func:`render_all` accepts."""


def render_all(
    result: AuditResult,
    out_dir: str | os.PathLike[str],
    *,
    formats: Iterable[str] = FORMATS,
    parallel: bool = True,
    timings: dict[str, float] | None = None,
) -> dict[str, Path]:
    """Write the chosen formats into ``out_dir``; return ``{output key: path}``.

    Keys: ``html`` (report.html), ``xlsx`` (report.xlsx), ``json`` (findings.json),
    ``findings_csv`` and ``guests_csv`` (the ``csv`` format writes both), ``ps1``
    (remediation.ps1, commented-out fix commands to review and run).
    Raises :class:`~audit.errors.ConfigError` for an unknown format, before writing anything.

    With ``parallel`` (the default), in a process that allows forking (the CLI opts in, see
    :mod:`audit._process`; a library caller does not by default), a forked child process writes
    report.xlsx, by far the slowest, and then shares the rest with this one, each taking the next
    file when free (Linux, single-threaded callers; elsewhere everything runs here; see
    :mod:`audit.render._parallel`). The files are the same either way; an error in the child is
    raised here, with the child's traceback as a note, after this process wrote the other files.
    ``timings`` receives the seconds each output took.
    """
    chosen = list(dict.fromkeys(formats))
    unknown = [f for f in chosen if f not in _OUTPUTS]
    if unknown:
        raise ConfigError(f"unknown report format(s) {unknown}; choose from {list(FORMATS)}")
    folder = private_dir(out_dir)
    jobs = [(key, folder / name, writer) for f in chosen for key, name, writer in _OUTPUTS[f]]
    helper = Helper.start(result, jobs) if parallel else None
    written: dict[str, Path] = {}
    try:
        for key, path, writer in _own_jobs(helper, jobs):
            started = time.perf_counter()
            written[key] = writer(result, path)
            if timings is not None:
                timings[key] = round(time.perf_counter() - started, 3)
    except BaseException:
        if helper is not None:
            helper.abort()
        raise
    if helper is not None:
        written |= helper.finish(timings)
    return {key: written[key] for key, _, _ in jobs}


def _own_jobs(helper: Helper | None, jobs: list[Job]) -> Iterator[Job]:
    """The jobs this process writes: all of them, or those it claims before the helper does."""
    if helper is None:
        yield from jobs
        return
    while (job := helper.claim()) is not None:
        yield job
