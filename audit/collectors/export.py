"""The Graph JSON export folder: read it for offline analysis, write it with ``--save-raw``.

Layout (DESIGN.md)::

    organization.json  domains.json  users.json (or users.0001.json, users.0002.json, ...)   required
    servicePrincipal.json  appRoleAssignedTo.json  groupMembers/<groupId>.json  groups.json
    memberUsers.json  userAttributes.json  synchronizationJobs.json
    synchronizationSchema.json  provisioningLogs.json  mailusers.csv  dns.json                optional

``groups.json`` holds the assigned groups (``securityEnabled``), ``memberUsers.json`` the users who
are not guests (``/users?$filter=userType eq 'Member'``, a few properties), ``userAttributes.json``
the extra properties the job schema's mapping or scoping filter names, per user.

Each ``.json`` is what Graph returned: ``{"value": [...]}`` for lists, the object itself for the schema.
A missing optional file means "not collected", never "empty".

Ids come from Graph (or from a hand-made export) and are not trusted: a group's file is named by
its id only when the id is a GUID; any other id is written percent-encoded behind a ``~``
(``~..%2F..%2Fx.json``), so no id can name a path outside ``groupMembers/``, and reading decodes it
back. Only regular files are read (a FIFO named like a page never blocks), and JSON nested deeper
than :data:`~audit._files.MAX_JSON_DEPTH` is refused with the file named.
"""

from __future__ import annotations

import codecs
import os
import re
import shutil
import urllib.parse
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson

from audit._files import (
    MAX_JSON_DEPTH,
    nested_deeper_than,
    open_regular,
    private_dir,
    write_private,
)
from audit.errors import CollectionError, ConfigError, InputError
from audit.models import SourceState, SourceStatus

JSON = dict[str, Any]

LISTS = {
    "organization": "organization",
    "domains": "domains",
    "users": "users",
    "service_principal": "servicePrincipal",
    "app_role_assignments": "appRoleAssignedTo",
    "groups": "groups",
    "member_users": "memberUsers",
    "user_attributes": "userAttributes",
    "sync_jobs": "synchronizationJobs",
    "provisioning_logs": "provisioningLogs",
}
REQUIRED = ("organization", "domains", "users")
MAX_FILE = 2 * 1024**3


def read_export(folder: str | Path) -> tuple[dict[str, list[JSON]], dict[str, SourceStatus]]:
    """Records per source and their statuses; InputError names the file (and line) when malformed."""
    root = Path(folder)
    if not root.is_dir():
        raise InputError(root, "export folder not found")
    records: dict[str, list[JSON]] = {}
    statuses: dict[str, SourceStatus] = {}
    for source, stem in LISTS.items():
        files = _files(root, stem)
        if not files:
            if source in REQUIRED:
                raise InputError(root / f"{stem}.json", "required file is missing")
            statuses[source] = SourceStatus(source, SourceState.NOT_REQUESTED)
            continue
        records[source] = [obj for f in files for obj in _collection(f)]
        statuses[source] = _ok(source, records[source], files[0].name)
    _read_groups(root, records, statuses)
    _read_schema(root, records, statuses)
    statuses["sign_in_activity"] = _sign_in_status(records["users"])
    return records, statuses


def _sign_in_status(users: list[JSON]) -> SourceStatus:
    """signInActivity was collected when the export's users carry the property (even as null)."""
    if any("signInActivity" in u for u in users):
        rows = sum(1 for u in users if isinstance(u.get("signInActivity"), dict))
        return SourceStatus("sign_in_activity", SourceState.OK, rows=rows)
    return SourceStatus("sign_in_activity", SourceState.NOT_REQUESTED)


def _ok(source: str, rows: list[JSON], name: str) -> SourceStatus:
    return SourceStatus(source, SourceState.OK, rows=len(rows), detail={"file": name})


def _files(root: Path, stem: str) -> list[Path]:
    single = root / f"{stem}.json"
    pages = sorted(
        p for p in root.glob(f"{stem}.*.json") if re.fullmatch(r"\d+", p.suffixes[0][1:])
    )
    return [single, *pages] if single.is_file() else pages


def _read_groups(
    root: Path, records: dict[str, list[JSON]], statuses: dict[str, SourceStatus]
) -> None:
    folder = root / "groupMembers"
    if not folder.is_dir():
        statuses["group_members"] = SourceStatus("group_members", SourceState.NOT_REQUESTED)
        return
    members = []
    for file in sorted(folder.glob("*.json")):
        members += [{**m, "_groupId": group_id_of(file)} for m in _collection(file)]
    records["group_members"] = members
    statuses["group_members"] = _ok("group_members", members, "groupMembers/")


def _read_schema(
    root: Path, records: dict[str, list[JSON]], statuses: dict[str, SourceStatus]
) -> None:
    file = root / "synchronizationSchema.json"
    if not file.is_file():
        statuses["sync_schema"] = SourceStatus("sync_schema", SourceState.NOT_REQUESTED)
        return
    schema = load_json(file)
    if not isinstance(schema, dict) or "value" in schema:
        raise InputError(file, "expected the synchronizationSchema object itself")
    records["sync_schema"] = [schema]
    statuses["sync_schema"] = _ok("sync_schema", [schema], file.name)


def _collection(file: Path) -> Iterator[JSON]:
    data = load_json(file)
    if not isinstance(data, dict) or not isinstance(data.get("value"), list):
        raise InputError(file, 'expected a Graph collection response {"value": [...]}')
    for i, item in enumerate(data["value"]):
        if not isinstance(item, dict):
            raise InputError(file, f"item {i} of value is not an object")
        yield item


def load_json(file: Path) -> Any:
    """Parse a JSON file; InputError with the line number when it is not JSON.

    A UTF-8 byte order mark is skipped and UTF-16 with a BOM is decoded (Windows PowerShell's
    ``Out-File`` writes both). A file whose first 64 KiB hold a NUL byte or that does not start
    with ``{`` or ``[`` is refused before the rest of it is read. Only a regular file is read (a
    FIFO would block the run forever), and a document nested deeper than 100 levels is
    refused (:func:`~audit._files.nested_deeper_than`).
    """
    try:
        with open_regular(file) as handle:
            if os.fstat(handle.fileno()).st_size > MAX_FILE:
                raise InputError(
                    file, "file is larger than 2 GiB; export it in pages (name.0001.json)"
                )
            head = handle.read(_SNIFF)
            _sniff(file, head)
            raw = _utf8(file, head + handle.read())
    except OSError as exc:
        raise InputError(file, f"cannot read ({exc.strerror})") from None
    try:
        document = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        if "UTF-8" in exc.msg:
            raise _not_utf8(file, raw) from None
        raise InputError(file, f"not valid JSON ({exc.msg})", line=exc.lineno) from None
    if nested_deeper_than(document):
        raise InputError(file, f"JSON nested deeper than {MAX_JSON_DEPTH} levels")
    return document


_SNIFF = 64 * 1024
_BOMS = (codecs.BOM_UTF8, codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)


def _sniff(file: Path, head: bytes) -> None:
    """Refuse what cannot be a Graph JSON document from its first bytes."""
    if head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return
    body = head.removeprefix(codecs.BOM_UTF8)
    nul = body.find(b"\x00")
    if nul >= 0:
        where = body[:nul].count(b"\n") + 1
        raise InputError(file, "not JSON text (it holds NUL bytes)", line=where)
    start = body.lstrip()
    if not start:
        if len(head) < _SNIFF:
            raise InputError(file, "empty file: expected a JSON document", line=1)
        return
    if start[:1] not in (b"{", b"["):
        where = body[: len(body) - len(start)].count(b"\n") + 1
        raise InputError(file, "not valid JSON (expected '{' or '[')", line=where)


def _utf8(file: Path, raw: bytes) -> bytes:
    """``raw`` as UTF-8 without a BOM; UTF-16 (with its BOM) is decoded."""
    if raw.startswith(codecs.BOM_UTF8):
        return raw[len(codecs.BOM_UTF8) :]
    if raw.startswith(_BOMS[1:]):
        try:
            return raw.decode("utf-16").encode("utf-8", "surrogatepass")
        except UnicodeDecodeError as exc:
            raise InputError(file, f"not valid UTF-16 text ({exc.reason})", line=1) from None
    return raw


def _not_utf8(file: Path, raw: bytes) -> InputError:
    """The error for bytes that are not UTF-8, with the line of the first bad byte."""
    try:
        raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        return InputError(file, "not UTF-8 text; save it as UTF-8", line=line)
    return InputError(file, "not valid JSON (a lone UTF-16 surrogate in a string)")


_EXPORT_FILE = re.compile(
    r"(organization|domains|users|servicePrincipal|appRoleAssignedTo|groups|memberUsers"
    r"|userAttributes|synchronizationJobs"
    r"|synchronizationSchema|provisioningLogs|dns)(\.\d+)?\.json|mailusers\.csv|groupMembers"
    r"|atlassian"
)


def check_export_target(folder: str | Path) -> Path:
    """``folder`` as an export destination: absent, empty or an earlier export, else ConfigError.

    An export folder is replaced as a whole, so a folder holding anything else is refused before
    any work is done rather than deleted.
    """
    root = Path(folder)
    if not root.exists():
        return root
    if not root.is_dir():
        raise ConfigError(f"{root} exists and is not a folder")
    foreign = [p.name for p in root.iterdir() if not _EXPORT_FILE.fullmatch(p.name)]
    for sub in ("groupMembers", "atlassian"):
        folder = root / sub
        if folder.is_dir():
            foreign += [f"{sub}/{p.name}" for p in folder.iterdir() if p.suffix != ".json"]
        elif folder.exists():
            foreign.append(sub)
    if foreign:
        raise ConfigError(
            f"{root} holds files that are not part of an export ({', '.join(sorted(foreign)[:3])}); "
            "choose a new or empty folder"
        )
    return root


def publish_folder(staging: Path, final: Path) -> None:
    """Move the complete folder ``staging`` to ``final``, replacing an earlier one there."""
    if not final.exists():
        os.replace(staging, final)
        return
    aside = final.with_name(f".{final.name}.old")
    shutil.rmtree(aside, ignore_errors=True)
    os.replace(final, aside)
    os.replace(staging, final)
    shutil.rmtree(aside, ignore_errors=True)


def write_raw(records: dict[str, list[JSON]], folder: str | Path, *, page_size: int = 999) -> Path:
    """Write collected records as an export folder that :func:`read_export` reads back."""
    root = private_dir(folder)
    for source, stem in LISTS.items():
        if source in records:
            _write_pages(root, stem, records[source], page_size)
    if "group_members" in records:
        _write_groups(root / "groupMembers", records["group_members"])
    if records.get("sync_schema"):
        schema = {k: v for k, v in records["sync_schema"][0].items() if not k.startswith("_")}
        write_private(root / "synchronizationSchema.json", orjson.dumps(schema))
    return root


def _write_pages(root: Path, stem: str, rows: list[JSON], page_size: int) -> None:
    if len(rows) <= page_size:
        write_private(root / f"{stem}.json", orjson.dumps({"value": rows}))
        return
    for n, start in enumerate(range(0, len(rows), page_size), start=1):
        page = {"value": rows[start : start + page_size]}
        write_private(root / f"{stem}.{n:04d}.json", orjson.dumps(page))


def _write_groups(folder: Path, members: list[JSON]) -> None:
    private_dir(folder)
    by_group: dict[str, list[JSON]] = {}
    for m in members:
        clean = {k: v for k, v in m.items() if k != "_groupId"}
        by_group.setdefault(str(m.get("_groupId")), []).append(clean)
    for group_id, rows in by_group.items():
        write_private(folder / group_file_name(group_id), orjson.dumps({"value": rows}))


_GUID = re.compile(r"[0-9A-Fa-f]{8}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{12}")
_NAME_MAX = 200
"""Longest file name written (file systems allow 255 bytes)."""
_PLAIN = frozenset(b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-")


def group_file_name(group_id: str) -> str:
    """The file of a group's members: ``<id>.json`` for a GUID (what Graph uses), else the id
    percent-encoded (every byte but ASCII letters, digits and ``-``) behind a ``~``."""
    if _GUID.fullmatch(group_id):
        return f"{group_id}.json"
    raw = group_id.encode("utf-8", "surrogatepass")
    name = "~" + "".join(chr(b) if b in _PLAIN else f"%{b:02X}" for b in raw)
    if len(name) > _NAME_MAX:
        raise CollectionError(
            f"group id {group_id[:40]!r}... is not a GUID and too long to name a file in an export"
        )
    return name + ".json"


def group_id_of(file: Path) -> str:
    """The group id a ``groupMembers`` file is named by (see :func:`group_file_name`)."""
    stem = file.name.removesuffix(".json")
    if stem.startswith("~"):
        return urllib.parse.unquote(stem[1:], encoding="utf-8", errors="surrogatepass")
    return stem.split(".")[0]
