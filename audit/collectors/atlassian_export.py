"""The ``atlassian/`` folder of a Graph JSON export: read by ``--from-export``, written by ``--save-raw``.

::

    atlassian/domains.json         GET /admin/v1/orgs/{orgId}/domains
    atlassian/users.json           GET /admin/v1/orgs/{orgId}/users
    atlassian/directoryUsers.json  GET /admin/v2/orgs/{orgId}/directories/-/users?claimStatus=unmanaged
    atlassian/scimUsers.json       GET /scim/directory/{directoryId}/Users

Each file is the API's own response body; a listing of several pages is stored as numbered files
(``atlassian/domains.0001.json``, ``atlassian/domains.0002.json``, ...), the convention of
``users.json`` / ``users.0001.json``. A missing file means "not collected", never "empty"; without
an ``atlassian/`` folder the export holds no target-side evidence at all.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import orjson

from audit._files import private_dir, write_private
from audit.collectors.atlassian import COVERS
from audit.collectors.export import load_json
from audit.errors import InputError
from audit.models import SourceState, SourceStatus

__all__ = ["FOLDER", "STEMS", "read_atlassian_export", "redact_pages", "write_atlassian_export"]

JSON = dict[str, Any]
FOLDER = "atlassian"
STEMS = {
    "atlassian_domains": "domains",
    "atlassian_users": "users",
    "atlassian_directory_users": "directoryUsers",
    "atlassian_scim_users": "scimUsers",
}
_ITEMS = {"atlassian_scim_users": "Resources"}  # the admin API lists under "data"


def read_atlassian_export(
    root: str | Path,
) -> tuple[dict[str, list[JSON]], dict[str, SourceStatus]]:
    """Pages and statuses of the export's ``atlassian/`` folder (nothing when it has none).

    A file that is not the API's response shape raises :class:`InputError` naming it.
    """
    folder = Path(root) / FOLDER
    if not folder.is_dir():
        return {}, {}
    pages: dict[str, list[JSON]] = {}
    statuses: dict[str, SourceStatus] = {}
    for source, stem in STEMS.items():
        files = _files(folder, stem)
        if not files:
            statuses[source] = SourceStatus(source, SourceState.NOT_REQUESTED, error="not in the export")  # fmt: skip
            continue
        pages[source] = [_page(file, _ITEMS.get(source, "data")) for file in files]
        rows = sum(len(p.get(_ITEMS.get(source, "data")) or []) for p in pages[source])
        detail: dict[str, Any] = {"file": f"{FOLDER}/{files[0].name}", "pages": len(files)}
        if source in COVERS:
            detail["accounts"] = COVERS[source]
        statuses[source] = SourceStatus(source, SourceState.OK, rows=rows, detail=detail)
    return pages, statuses


def _files(folder: Path, stem: str) -> list[Path]:
    single = folder / f"{stem}.json"
    numbered = sorted(p for p in folder.glob(f"{stem}.*.json") if re.fullmatch(rf"{stem}\.\d+\.json", p.name))  # fmt: skip
    return [single, *numbered] if single.is_file() else numbered


def _page(file: Path, key: str) -> JSON:
    doc = load_json(file)
    if not isinstance(doc, dict):
        raise InputError(file, f'expected the API\'s response object {{"{key}": [...]}}')
    items = doc.get(key, [] if key == "Resources" else None)
    if not isinstance(items, list):
        raise InputError(file, f'expected the API\'s response object {{"{key}": [...]}}')
    for i, item in enumerate(items):
        if not isinstance(item, dict):
            raise InputError(file, f"item {i} of {key} is not an object")
    return doc


def write_atlassian_export(
    pages: Mapping[str, list[JSON]],
    root: str | Path,
    *,
    redact: Callable[[str, JSON], JSON] | None = None,
) -> None:
    """Write each source's pages as returned: ``<stem>.json`` for one page, else numbered."""
    if not pages:
        return
    folder = private_dir(Path(root) / FOLDER)
    for source, docs in pages.items():
        stem = STEMS[source]
        docs = [redact(source, d) for d in docs] if redact is not None else docs
        if len(docs) == 1:
            write_private(folder / f"{stem}.json", orjson.dumps(docs[0]))
            continue
        for n, doc in enumerate(docs, start=1):
            write_private(folder / f"{stem}.{n:04d}.json", orjson.dumps(doc))


# Properties naming a person or an address, wherever they occur in Atlassian's answers.
_PERSONAL = frozenset(
    {"email", "name", "nickname", "userName", "displayName", "givenName", "familyName",
     "formatted", "middleName", "value", "picture", "avatar", "location", "jobTitle",
     "department", "organization", "title"}
)  # fmt: skip


def redact_pages(doc: Any, text: Callable[[str], str], key: str | None = None) -> Any:
    """``doc`` with the strings of personal properties passed through ``text`` (ids kept).

    Used for ``--save-raw`` under ``--redact`` with the run's pseudonymiser, so the export and
    the reports of one run agree.
    """
    if isinstance(doc, dict):
        return {k: redact_pages(v, text, str(k)) for k, v in doc.items()}
    if isinstance(doc, list):
        return [redact_pages(v, text, key) for v in doc]
    if isinstance(doc, str) and key in _PERSONAL:
        return text(doc)
    return doc
