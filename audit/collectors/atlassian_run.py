"""How a collection takes in the Atlassian sources: live beside Graph, or from an export folder.

:func:`read_live` runs while the Graph collection runs (the two share nothing but the loop);
:func:`read_offline` reads an export's ``atlassian/`` folder. Either way the result is a
:class:`TargetRead` whose pages ``--save-raw`` writes as they are and whose tables join the
snapshot under the source names.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import pandas as pd

from audit.collectors.atlassian import AtlassianOptions, collect_atlassian
from audit.collectors.atlassian_export import (
    read_atlassian_export,
    redact_pages,
    write_atlassian_export,
)
from audit.collectors.atlassian_tables import atlassian_tables
from audit.errors import ConfigError
from audit.models import SourceStatus

__all__ = ["TargetRead", "beside", "check_options", "read_live", "read_offline"]

JSON = dict[str, Any]
T = TypeVar("T")


@dataclass
class TargetRead:
    """Target-side pages (as returned, per source), statuses and counts for the manifest."""

    pages: dict[str, list[JSON]] = field(default_factory=dict)
    statuses: dict[str, SourceStatus] = field(default_factory=dict)
    extra: dict[str, Any] = field(default_factory=dict)

    def tables(self) -> dict[str, pd.DataFrame]:
        """The snapshot tables of the sources that were read."""
        return atlassian_tables(self.pages)

    def save_raw(self, folder: str | Path, text: Callable[[str], str] | None = None) -> None:
        """Write the pages into an export folder; ``text`` pseudonymises names and addresses."""
        redact = None
        if text is not None:
            redact = lambda _source, doc: redact_pages(doc, text)  # noqa: E731
        write_atlassian_export(self.pages, folder, redact=redact)


def check_options(options: AtlassianOptions, *, from_export: bool) -> None:
    """ConfigError for target-side options that cannot work (before anything is collected)."""
    if not options.requested:
        return
    if from_export:
        raise ConfigError(
            "--from-export reads the target side from the export's atlassian/ folder; "
            "drop --atlassian-org / --atlassian-directory"
        )
    options.check()


async def read_live(options: AtlassianOptions) -> TargetRead:
    """Read the requested Atlassian sources (nothing when none is requested)."""
    if not options.requested:
        return TargetRead()
    data = await collect_atlassian(options)
    ids = {"org": options.org, "directory": options.directory}
    return TargetRead(data.pages, data.statuses, {"atlassian": data.extra() | ids})


def read_offline(folder: str | Path) -> TargetRead:
    """The export folder's ``atlassian/`` pages (nothing when it has none)."""
    pages, statuses = read_atlassian_export(folder)
    return TargetRead(pages, statuses)


async def beside(main: Awaitable[T], options: AtlassianOptions) -> tuple[T, TargetRead]:
    """Await ``main`` while the Atlassian sources are read; if ``main`` fails, the read stops."""
    if not options.requested:
        return await main, TargetRead()
    target = asyncio.ensure_future(read_live(options))
    try:
        result = await main
    except BaseException:
        target.cancel()
        with contextlib.suppress(BaseException):
            await target
        raise
    return result, await target
