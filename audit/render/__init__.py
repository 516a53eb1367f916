"""Renderers: turn one ``AuditResult`` into report.html, report.xlsx, findings.json and CSVs.

Renderers only format and aggregate for display; every number they show comes from the
``AuditResult``. Tenant strings are hostile: HTML escapes them, spreadsheets neutralise them
(:mod:`audit.render.safe`). Each writer replaces its file atomically.

Example::

    from audit.render import render_all
    paths = render_all(result, "reports/2025-03-14", formats=("html", "xlsx"))
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable
from pathlib import Path

from audit.errors import ConfigError
from audit.render.csv_out import write_findings_csv, write_guests_csv
from audit.render.excel import write_xlsx
from audit.render.html import write_html
from audit.render.json_out import write_findings_json
from audit.render.safe import neutralise
from audit.result import AuditResult

__all__ = [
    "FORMATS",
    "neutralise",
    "render_all",
    "write_findings_csv",
    "write_findings_json",
    "write_guests_csv",
    "write_html",
    "write_xlsx",
]

_Writer = Callable[[AuditResult, Path], Path]

_OUTPUTS: dict[str, tuple[tuple[str, str, _Writer], ...]] = {
    "html": (("html", "report.html", write_html),),
    "xlsx": (("xlsx", "report.xlsx", write_xlsx),),
    "json": (("json", "findings.json", write_findings_json),),
    "csv": (
        ("findings_csv", "findings.csv", write_findings_csv),
        ("guests_csv", "guests.csv", write_guests_csv),
    ),
}

FORMATS = tuple(_OUTPUTS)
"""Format names :func:`render_all` accepts."""


def render_all(
    result: AuditResult,
    out_dir: str | os.PathLike[str],
    *,
    formats: Iterable[str] = ("html", "xlsx", "json", "csv"),
) -> dict[str, Path]:
    """Write the chosen formats into ``out_dir``; return ``{output key: path}``.

    Keys: ``html`` (report.html), ``xlsx`` (report.xlsx), ``json`` (findings.json),
    ``findings_csv`` and ``guests_csv`` (the ``csv`` format writes both).
    Raises :class:`~audit.errors.ConfigError` for an unknown format, before writing anything.
    """
    chosen = list(dict.fromkeys(formats))
    unknown = [f for f in chosen if f not in _OUTPUTS]
    if unknown:
        raise ConfigError(f"unknown report format(s) {unknown}; choose from {list(FORMATS)}")
    folder = Path(out_dir)
    folder.mkdir(parents=True, exist_ok=True)
    written: dict[str, Path] = {}
    for name in chosen:
        for key, filename, writer in _OUTPUTS[name]:
            written[key] = writer(result, folder / filename)
    return written
