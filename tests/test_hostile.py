"""A hostile tenant end to end, and malformed input files: inert outputs, clear errors.

The corpus (``tests/data/hostile``, written by ``tests/make_hostile_corpus.py``) is run through the
real CLI; the run must succeed and every output must be proven inert: report.html (parsed, and in
a real browser when chromium is there), report.xlsx (no formula cell, every formula-like text
quote-prefixed), the CSVs (no cell a spreadsheet would evaluate), findings.json (data, values
unchanged) and remediation.ps1 (no tenant text outside a comment or a single-quoted literal).
Every payload carries the marker ``PWN``, so "inert" is checked as "the marker is never in code".

Malformed export files (broken JSON, wrong shapes, bad encodings, BOMs, CRLF, a MailUser CSV
without a column, 1 GB files) end in one clear line naming the file (and line), exit code 2, and
leave the output folder and the export untouched; BOMs, UTF-16 and CRLF are simply read.
"""

from __future__ import annotations

import codecs
import contextlib
import csv
import io
import os
import re
import shutil
import signal
import zipfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import lxml.html  # type: ignore[import-untyped]
import openpyxl
import orjson
import pytest
from click.testing import CliRunner, Result

from audit import snapshot as snap
from audit.analysis.analyzer import analyze
from audit.cli import cli
from audit.config import AuditConfig
from audit.render.safe import is_formula_like
from tests._libreoffice import SEPARATORS, formula_cells
from tests.make_hostile_corpus import (
    ALLIANCE,
    HOSTILE_TEXT,
    INITIAL,
    MARKER,
    TARGET,
    counts,
    redaction_guests,
    text_guests,
    users,
    write_corpus,
)

HANDMADE = Path(__file__).parent / "data" / "handmade"
VERIFIED = ("hostile.example", "partner-a.example")
FLAGS = [f"--verified-domain={d}" for d in VERIFIED]
FLAGS += ["--verification-token=atlassian-domain-verification=ours"]


def _invoke(*args: str) -> Result:
    return CliRunner().invoke(cli, list(args))


def _clean_exit(result: Result) -> None:
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exc_info
    assert "Traceback" not in result.output


@pytest.fixture(scope="module")
def out(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("hostile") / "out"
    result = _invoke("run", "--from-export", str(TARGET), *FLAGS, "--out", str(folder))
    _clean_exit(result)
    assert result.exit_code == 0, result.output
    from audit.render.remediation import write_remediation  # not (yet) one of render_all's formats

    config = AuditConfig(verified_domains=VERIFIED)
    write_remediation(analyze(snap.load(folder / "snapshot"), config), folder / "remediation.ps1")
    return folder


def test_corpus_is_reproducible(tmp_path: Path) -> None:
    fresh = write_corpus(tmp_path / "hostile")
    files = sorted(p.relative_to(fresh) for p in fresh.rglob("*") if p.is_file())
    assert files == sorted(p.relative_to(TARGET) for p in TARGET.rglob("*") if p.is_file())
    for name in files:
        assert (fresh / name).read_bytes() == (TARGET / name).read_bytes(), name
    assert counts()["hostile_texts"] >= 30


def test_snapshot_keeps_hostile_text_exactly(out: Path) -> None:
    users = snap.load(out / "snapshot").tables["users"].set_index("id")
    for guest in text_guests():
        assert users.at[guest["id"], "displayName"] == guest["displayName"]
    ids = users.index.tolist()
    assert len(ids) == len(set(ids))  # duplicate ids collapsed
    assert not any(i in (None, "") for i in ids)


# ---- report.html ----------------------------------------------------------------------------------

_SAFE_ATTRIBUTES = {"class", "id", "title", "aria-label", "value", "data-key", "data-count"}


def test_html_is_inert(out: Path) -> None:
    raw = (out / "report.html").read_bytes()
    page = lxml.html.fromstring(raw)
    scripts = page.xpath("//script")
    assert [s.get("type") for s in scripts] == ["application/json", None]
    data = scripts[0].text or ""
    assert MARKER in data  # the hostile guests are in the page's data ...
    for needle in ("<", ">", "\u2028", "\u2029"):
        assert needle not in data  # ... escaped, so nothing in it can end the element
    assert MARKER not in (scripts[1].text or "")
    csp = page.xpath("//meta[@http-equiv='Content-Security-Policy']/@content")[0]
    assert "default-src 'none'" in csp
    assert "unsafe" not in csp
    for element in page.iter():
        if not isinstance(element.tag, str):
            continue
        assert element.tag not in ("img", "iframe", "object", "embed", "frame", "base", "form")
        for name, value in element.attrib.items():
            assert not name.lower().startswith("on"), (element.tag, name, value)
            if name in ("href", "src", "action", "srcdoc", "style") or MARKER in value:
                assert MARKER not in value
                assert not value.strip().lower().startswith("javascript:")
                assert name in _SAFE_ATTRIBUTES | {"href", "src", "style", "d", "points"}, name
    text = page.text_content()
    assert "alert('PWN-ORG')" in text  # the tenant name, shown as text


@pytest.fixture
def browser() -> Iterator[Any]:
    """Function-scoped: Playwright's sync API keeps an event loop running while it is open."""
    from tests.test_render_browser import ARGS, CHROMIUM, _missing

    reason = _missing()
    if reason:
        if os.environ.get("CI") == "true":
            pytest.fail(f"browser test cannot run in CI: {reason}")
        pytest.skip(reason)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as driver:
        chromium = driver.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
        yield chromium
        chromium.close()


@pytest.mark.browser
def test_html_in_a_browser_runs_nothing_from_the_tenant(browser: Any, out: Path) -> None:
    events: dict[str, list[str]] = {"errors": [], "dialogs": [], "requests": []}
    tab = browser.new_page(viewport={"width": 1360, "height": 1000})
    tab.on("console", lambda m: events["errors"].append(m.text) if m.type == "error" else None)
    tab.on("pageerror", lambda e: events["errors"].append(str(e)))

    def dialog(d: Any) -> None:
        events["dialogs"].append(d.message)
        d.dismiss()

    tab.on("dialog", dialog)
    tab.on("request", lambda r: events["requests"].append(r.url))
    tab.goto((out / "report.html").as_uri())
    tab.wait_for_selector("html[data-ready=true]")
    total = tab.get_attribute("#guest-count", "data-count")
    for needle in ("PWN-02", "PWN-03", "PWN-22", "PWN-13"):
        tab.click("#guest-clear")
        tab.wait_for_selector(f'#guest-count[data-count="{total}"]', state="attached")
        tab.fill("#guest-q", needle)
        tab.wait_for_selector('#guest-count[data-count="1"]', state="attached")
        tab.click("#guest-table tbody tr[data-row] .toggle")
        shown = tab.locator("#guest-table tbody tr[data-row] .name").first.text_content()
        expected = next(t for t in HOSTILE_TEXT if needle in t)
        assert needle in shown, shown
        assert shown.strip() in expected, shown
    assert tab.evaluate("document.scripts.length") == 2
    assert tab.evaluate("document.querySelectorAll('img, iframe, [onerror], [onload]').length") == 0
    tab.close()
    assert events["dialogs"] == []
    assert events["errors"] == []
    assert [u for u in events["requests"] if not u.startswith("file://")] == []


# ---- report.xlsx, CSVs, findings.json ---------------------------------------------------------------


def test_excel_cells_are_inert(out: Path) -> None:
    book = openpyxl.load_workbook(out / "report.xlsx")
    risky = 0
    for sheet in book.worksheets:
        for row in sheet.iter_rows():
            for cell in row:
                assert cell.data_type != "f", (sheet.title, cell.coordinate, cell.value)
                if isinstance(cell.value, str) and is_formula_like(cell.value):
                    assert cell.quotePrefix, (sheet.title, cell.coordinate, cell.value)
                    risky += 1
    assert risky >= 8  # the formula payloads are really in there
    with zipfile.ZipFile(out / "report.xlsx") as archive:
        sheets = [n for n in archive.namelist() if n.startswith("xl/worksheets/")]
        xml = b"".join(archive.read(n) for n in sheets)
    assert sheets
    assert b"<f>" not in xml
    assert b"<f " not in xml


@pytest.mark.parametrize("name", ["findings.csv", "guests.csv"])
def test_csv_cells_are_inert(out: Path, name: str) -> None:
    raw = (out / name).read_bytes()
    assert b"\x00" not in raw
    rows = list(csv.reader(io.StringIO(raw.decode("utf-8-sig"), newline="")))
    width = len(rows[0])
    quoted = 0
    for row in rows:
        assert len(row) == width  # no row broken by a line break in a value
        for field in row:
            assert not is_formula_like(field), field[:80]
            quoted += field.startswith("'") and is_formula_like(field[1:])
    assert quoted >= 3
    assert MARKER in raw.decode("utf-8-sig")


@pytest.mark.spreadsheet
@pytest.mark.parametrize("separator", list(SEPARATORS))
def test_libreoffice_imports_no_formula_with_any_separator(out: Path, separator: str) -> None:
    """Imported as a ``;`` or tab locale's spreadsheet would: no cell becomes a formula."""
    found = formula_cells([out / "findings.csv", out / "guests.csv"], separator)
    assert found == {"findings.csv": [], "guests.csv": []}


def test_findings_json_keeps_values_unchanged(out: Path) -> None:
    document = orjson.loads((out / "findings.json").read_bytes())
    names = {f["display_name"] for f in document["findings"]}
    assert {t for t in HOSTILE_TEXT if t.startswith(("<script>", "=HYPERLINK", "+cmd"))} <= names
    sources = {s["name"]: s["state"] for s in document["sources"]}
    assert sources["mailusers"] == "partial"  # the broken rows are reported, not dropped silently


# ---- remediation.ps1 ------------------------------------------------------------------------------

_SQ = "'\u2018\u2019\u201a\u201b"


def _code_outside_literals(line: str) -> str:
    """The line with ``#`` comments and single-quoted literals removed (PowerShell rules)."""
    out, i = [], 0
    while i < len(line):
        char = line[i]
        if char == "#":
            break
        if char in _SQ:
            i += 1
            while i < len(line):
                if line[i] in _SQ:
                    if i + 1 < len(line) and line[i + 1] in _SQ:
                        i += 2
                        continue
                    break
                i += 1
            assert i < len(line), f"unterminated literal: {line[:120]}"
            i += 1
            out.append("''")
            continue
        out.append(char)
        i += 1
    return "".join(out)


def test_remediation_script_is_inert(out: Path) -> None:
    raw = (out / "remediation.ps1").read_bytes()
    assert raw.startswith(codecs.BOM_UTF8)
    text = raw[3:].decode("utf-8")
    lines = text.split("\r\n")
    breaks = re.compile("[\r\n\x0b\x0c\x85\u2028\u2029\x00]")
    assert not any(breaks.search(line) for line in lines)
    assert MARKER in text  # hostile guests are listed ...
    for line in lines:
        code = _code_outside_literals(line)
        assert MARKER not in code, line[:200]  # ... but only in comments and literals
        assert "<#" not in code
        assert "#>" not in code
        assert '"' not in code  # no double-quoted (expanding) strings


# ---- malformed input files ---------------------------------------------------------------------------


@pytest.fixture(scope="module")
def previous(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A complete earlier run of the handmade tenant: what a failed run must leave untouched."""
    folder = tmp_path_factory.mktemp("previous") / "out"
    args = ("run", "--from-export", str(HANDMADE), "--no-verified-domains", "--out", str(folder))
    assert _invoke(*args).exit_code == 0
    return folder


def _files(folder: Path) -> dict[str, object]:
    """Each file's bytes (size and mtime for the huge sparse ones)."""
    return {
        str(p.relative_to(folder)): p.read_bytes()
        if p.stat().st_size < 2**20
        else (p.stat().st_size, p.stat().st_mtime_ns)
        for p in folder.rglob("*")
        if p.is_file()
    }


def _sparse(path: Path, size: int, head: bytes = b"") -> None:
    with path.open("wb") as handle:
        handle.write(head)
        handle.truncate(size)


Breaker = Callable[[Path], object]
MALFORMED: dict[str, tuple[Breaker, str]] = {
    "truncated JSON": (
        lambda e: (e / "users.json").write_bytes((e / "users.json").read_bytes()[:-40]),
        "users.json:",
    ),
    "trailing garbage": (
        lambda e: (e / "domains.json").write_bytes((e / "domains.json").read_bytes() + b"\n}x"),
        "domains.json:",
    ),
    "NUL bytes": (
        lambda e: (e / "users.json").write_bytes(b'{"value": [\n\x00\x00]}'),
        "users.json:2",
    ),
    "not UTF-8": (
        lambda e: (e / "organization.json").write_bytes(b'{"value": [\n{"displayName": "\xe9"}]}'),
        "organization.json:2: not UTF-8",
    ),
    "lone surrogate": (
        lambda e: (e / "users.json").write_bytes(b'{"value": [{"id": "\\ud800"}]}'),
        "users.json:1: not valid JSON",
    ),
    "empty file": (lambda e: (e / "domains.json").write_bytes(b""), "domains.json:1: empty"),
    "plain text": (lambda e: (e / "domains.json").write_text("hello\n"), "domains.json:1"),
    "top level list": (lambda e: (e / "users.json").write_text("[]"), "users.json: expected"),
    "top level string": (lambda e: (e / "users.json").write_text('"x"'), "users.json:1"),
    "value not a list": (
        lambda e: (e / "users.json").write_text('{"value": {"id": "x"}}'),
        "users.json: expected",
    ),
    "item not an object": (
        lambda e: (e / "users.json").write_text('{"value": [1]}'),
        "users.json: item 0",
    ),
    "schema as a collection": (
        lambda e: (e / "synchronizationSchema.json").write_text('{"value": []}'),
        "synchronizationSchema.json: expected",
    ),
    "broken group file": (
        lambda e: next((e / "groupMembers").iterdir()).write_text("{"),
        "groupMembers/",
    ),
    "broken dns.json": (lambda e: (e / "dns.json").write_text('{"format": 9}'), "dns.json"),
    "mailusers missing a column": (
        lambda e: (e / "mailusers.csv").write_text(
            "\n".join(
                line.replace(',"EmailAddresses"', "")
                for line in (e / "mailusers.csv").read_text("utf-8-sig").splitlines()
            )
        ),
        "mailusers.csv:1: missing column(s) EmailAddresses",
    ),
    "mailusers not UTF-8": (
        lambda e: (e / "mailusers.csv").write_bytes(
            (e / "mailusers.csv").read_bytes().replace(b"John", b"J\xf6hn", 1)
        ),
        "mailusers.csv:2: not UTF-8",
    ),
    "1 GB users.json": (lambda e: _sparse(e / "users.json", 2**30), "users.json:1: not JSON text"),
    "1 GB users.json with a valid start": (
        lambda e: _sparse(e / "users.json", 2**30, b'{"value": [\n'),
        "users.json:2: not JSON text",
    ),
    "1 GB mailusers.csv": (
        lambda e: _sparse(e / "mailusers.csv", 2**30, b"DisplayName\n"),
        "mailusers.csv: file is larger than 512 MiB",
    ),
    "identities 400 deep": (
        lambda e: _deepen(e / "users.json", lambda u: u["value"][0], "identities", 400),
        "users.json: JSON nested deeper than 100 levels",
    ),
    "schema parameters 300 deep": (
        lambda e: _deepen(
            e / "synchronizationSchema.json",
            lambda s: s["synchronizationRules"][0]["objectMappings"][0]["attributeMappings"][0],
            "source",
            300,
        ),
        "synchronizationSchema.json: JSON nested deeper than 100 levels",
    ),
    "a FIFO named like a page": (
        lambda e: os.mkfifo(e / "users.0002.json"),
        "users.0002.json: cannot read (not a regular file)",
    ),
    "a FIFO named like a group file": (
        lambda e: os.mkfifo(e / "groupMembers" / "9c0e5b1e-cccc-4b7a-8c3e-000000000003.json"),
        "9c0e5b1e-cccc-4b7a-8c3e-000000000003.json: cannot read (not a regular file)",
    ),
}


def _deepen(path: Path, pick: Callable[[Any], dict[str, Any]], key: str, depth: int) -> None:
    """Nest ``key`` of the picked object ``depth`` levels deep (valid JSON, as Graph never sends)."""
    document = orjson.loads(path.read_bytes())
    pick(document)[key] = "DEEP-PLACEHOLDER"
    opening = "".join("[" if level % 2 else '{"parameters":' for level in range(depth))
    closing = "".join("]" if level % 2 else "}" for level in reversed(range(depth)))
    nested = f'{opening}"bottom"{closing}'.encode()
    path.write_bytes(orjson.dumps(document).replace(b'"DEEP-PLACEHOLDER"', nested))


@pytest.mark.parametrize("name", list(MALFORMED))
def test_malformed_file_is_a_clear_error_that_touches_nothing(
    name: str, previous: Path, tmp_path: Path
) -> None:
    breaker, message = MALFORMED[name]
    export = tmp_path / "export"
    shutil.copytree(HANDMADE, export)
    breaker(export)
    inputs = _files(export)
    out = tmp_path / "out"
    shutil.copytree(previous, out)
    before = _files(out)
    with _deadline(60):  # a FIFO must never block the run
        result = _invoke("run", "--from-export", str(export), "--save-raw",
                         str(tmp_path / "raw"), "--no-verified-domains",
                         "--out", str(out))  # fmt: skip
    _clean_exit(result)
    assert result.exit_code == 2, result.output
    lines = result.output.strip().splitlines()
    assert len(lines) == 1, result.output
    assert lines[0].startswith("error: "), result.output
    assert message in lines[0], lines[0]
    assert str(export) in lines[0]
    assert _files(out) == before
    assert _files(export) == inputs
    assert not (tmp_path / "raw").exists()


@contextlib.contextmanager
def _deadline(seconds: int) -> Iterator[None]:
    """Fail (instead of hanging the suite) when the block takes longer than ``seconds``."""

    def expired(*_: object) -> None:
        raise TimeoutError(f"still running after {seconds} s")

    previous = signal.signal(signal.SIGALRM, expired)
    signal.alarm(seconds)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)


def _with_bom(path: Path) -> None:
    path.write_bytes(codecs.BOM_UTF8 + path.read_bytes())


def _utf16(path: Path) -> None:
    path.write_bytes(path.read_bytes().decode("utf-8-sig").encode("utf-16"))


def _crlf(path: Path) -> None:
    path.write_bytes(path.read_bytes().replace(b"\r\n", b"\n").replace(b"\n", b"\r\n"))


def _every(pattern: str, change: Callable[[Path], None]) -> Breaker:
    def apply(export: Path) -> None:
        for path in export.rglob(pattern):
            if path.is_file():
                change(path)

    return apply


TOLERATED: dict[str, Breaker] = {
    "UTF-8 BOMs": _every("*.json", _with_bom),
    "UTF-16 with BOM (Out-File)": _every("*.json", _utf16),
    "CRLF line ends": _every("*", _crlf),
    "mailusers as UTF-16": _every("mailusers.csv", _utf16),
    "mailusers with LF and no BOM": lambda e: (e / "mailusers.csv").write_bytes(
        (e / "mailusers.csv").read_bytes().removeprefix(codecs.BOM_UTF8).replace(b"\r\n", b"\n")
    ),
}


@pytest.mark.parametrize("name", list(TOLERATED))
def test_encodings_windows_tools_write_are_read(name: str, previous: Path, tmp_path: Path) -> None:
    export = tmp_path / "export"
    shutil.copytree(HANDMADE, export)
    TOLERATED[name](export)
    result = _invoke(
        "run", "--from-export", str(export), "--no-verified-domains", "--out", str(tmp_path / "out")
    )
    _clean_exit(result)
    assert result.exit_code == 0, result.output

    def findings(folder: Path) -> list[tuple[str, str, str]]:
        data = orjson.loads((folder / "findings.json").read_bytes())
        return sorted((f["rule_id"], f["object_id"], f["detail"]) for f in data["findings"])

    assert findings(tmp_path / "out") == findings(previous)


# ---- Get-MailUser rows that cannot be read -------------------------------------------------------

_EXO = ["exo-not-mail-enabled", "exo-forwarding-broken"]
_ANN, _BOB = "1b5d2a4e-0002-4c3a-9f00-000000000002", "1b5d2a4e-0003-4c3a-9f00-000000000003"


def _exo_statuses(export: Path) -> dict[str, dict[str, str]]:
    """Per guest, the status of each Exchange rule (flagged, passed, not_evaluated)."""
    from audit.collectors.pipeline import CollectOptions, collect_sync

    result = analyze(collect_sync(CollectOptions(from_export=str(export))), AuditConfig())
    assert result.statuses is not None
    table = result.statuses.set_index("object_id")[_EXO]
    return {str(k): dict(v) for k, v in table.to_dict(orient="index").items()}


def _mailusers_edit(change: Callable[[str], str]) -> Breaker:
    def apply(export: Path) -> None:
        path = export / "mailusers.csv"
        path.write_bytes(change(path.read_bytes().decode("utf-8")).encode("utf-8"))

    return apply


UNREADABLE_ROWS: dict[str, tuple[Breaker, set[str]]] = {
    "a missing closing quote swallowing the next row": (
        _mailusers_edit(lambda t: t.replace('"GuestMailUser"\r\n"Bob"', '"GuestMailUser\r\n"Bob"')),
        {_ANN, _BOB},
    ),
    "an oversized row": (
        _mailusers_edit(lambda t: t.replace('"Bob",', '"Bob' + "x" * 200_000 + '",')),
        {_BOB},
    ),
    "an id written as {GUID}": (
        _mailusers_edit(lambda t: t.replace(f'"{_BOB}"', '"{' + _BOB.upper() + '}"')),
        set(),
    ),
}


@pytest.mark.parametrize("name", list(UNREADABLE_ROWS))
def test_unreadable_mailuser_rows_leave_their_guests_not_evaluated(
    name: str, tmp_path: Path
) -> None:
    breaker, unknown = UNREADABLE_ROWS[name]
    export = tmp_path / "export"
    shutil.copytree(HANDMADE, export)
    breaker(export)
    clean, broken = _exo_statuses(HANDMADE), _exo_statuses(export)
    assert broken.keys() == clean.keys()
    for guest, rules in broken.items():
        if guest in unknown:  # never flagged: their row could not be read
            assert rules == dict.fromkeys(_EXO, "not_evaluated"), (guest, rules)
        else:
            assert rules == clean[guest], (guest, rules)
    assert any(r["exo-forwarding-broken"] == "flagged" for r in clean.values())


# ---- ids used as file names ----------------------------------------------------------------------

HOSTILE_GROUP_IDS = ["../../PWN-x", "..", ".", "", "a/b", "C:\\PWN", "nul\x00PWN", "~x", "é/..",
                     "<script>PWN</script>", "6F3B8D21-4C5E-4A7F-9B0C-1D2E3F4A5B60"]  # fmt: skip


def test_save_raw_keeps_hostile_group_ids_inside_the_export(tmp_path: Path) -> None:
    """Group ids come from Graph: ``../../x`` must not name a file outside the export."""
    from audit.collectors.export import read_export, write_raw

    members = [{"id": f"u{n}", "_groupId": g} for n, g in enumerate(HOSTILE_GROUP_IDS)]
    records = {"organization": [], "domains": [], "users": [], "group_members": members}
    root = write_raw(records, tmp_path / "a" / "b" / "raw")
    files = [p for p in tmp_path.rglob("*") if p.is_file()]
    assert files
    assert all(p.is_relative_to(root) for p in files), files
    assert len(list((root / "groupMembers").iterdir())) == len(HOSTILE_GROUP_IDS)
    again, _ = read_export(root)
    assert sorted(m["_groupId"] for m in again["group_members"]) == sorted(HOSTILE_GROUP_IDS)


def test_save_raw_of_the_hostile_tenant_stays_inside_the_export(tmp_path: Path) -> None:
    raw = tmp_path / "a" / "b" / "raw"
    result = _invoke("collect", "--from-export", str(TARGET), "--save-raw", str(raw),
                     "--out", str(tmp_path / "a" / "b" / "snapshot"))  # fmt: skip
    _clean_exit(result)
    assert result.exit_code == 0, result.output
    assert sorted(p.name for p in (tmp_path / "a").iterdir()) == ["b"]
    assert sorted(p.name for p in (tmp_path / "a" / "b").iterdir()) == ["raw", "snapshot"]
    assert sorted(p.name for p in (raw / "groupMembers").iterdir()) == sorted(
        p.name for p in (TARGET / "groupMembers").iterdir()
    )


# ---- the terminal ------------------------------------------------------------------------------

_TERMINAL_BAD = re.compile("[\x00-\x09\x0b-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069]")


def _printable(output: str) -> None:
    """Every line of ``output`` is one printed line: no escape sequence, CR, bell or C1 control,
    no bidi override."""
    found = _TERMINAL_BAD.search(output)
    assert found is None, repr(output[max(found.start() - 40, 0) : found.end() + 40])


def test_tenant_text_reaches_the_terminal_escaped(out: Path, tmp_path: Path) -> None:
    """The tenant's name holds OSC/CSI sequences, a CR and a forged line: every command shows
    them as escapes (text and --json)."""
    runs = {
        "run": ["run", "--from-export", str(TARGET), *FLAGS, "--out", str(tmp_path / "run")],
        "analyze": ["analyze", str(out / "snapshot")],
        "analyze --json": ["analyze", str(out / "snapshot"), "--json"],
        "report": ["report", str(out / "snapshot"), "--out", str(tmp_path / "report")],
        "collect": ["collect", "--from-export", str(TARGET), "--out", str(tmp_path / "snap")],
    }
    for name, args in runs.items():
        result = _invoke(*args)
        _clean_exit(result)
        assert result.exit_code == 0, (name, result.output)
        _printable(result.output)
        assert not any(line.startswith("forged") for line in result.output.splitlines()), name
    summary = _invoke("analyze", str(out / "snapshot")).output
    assert "\\x1b]0;PWN-TITLE\\x07\\x1b[2K\\r\\nforged: PWN-LINE\\u202e" in summary
    document = orjson.loads(_invoke("analyze", str(out / "snapshot"), "--json").output)
    assert document["tenant"]["name"].endswith("\x1b[2K\r\nforged: PWN-LINE\u202e")  # same value


def test_an_error_quoting_a_dns_key_stays_one_escaped_line(tmp_path: Path) -> None:
    export = tmp_path / "export"
    shutil.copytree(HANDMADE, export)
    document = orjson.loads((export / "dns.json").read_bytes())
    document["domains"]["evil\x1b]0;PWN\x07\r\nerror: forged\u009b2K.example"] = "not an object"
    (export / "dns.json").write_bytes(orjson.dumps(document))
    args = ("--from-export", str(export), "--no-verified-domains", "--out", str(tmp_path / "out"))
    result = _invoke("run", *args)
    _clean_exit(result)
    assert result.exit_code == 2, result.output
    _printable(result.output)
    assert len(result.output.strip().splitlines()) == 1, result.output
    assert (
        "evil\\x1b]0;PWN\\x07\\r\\nerror: forged\\x9b2K.example: expected an object"
        in result.output
    )


# ---- --redact ------------------------------------------------------------------------------------

_NAME_FIELDS = ("displayName", "userPrincipalName", "mail", "otherMails", "proxyAddresses")
"""Display names, addresses and UPNs (a one-word given name such as "Address" is also a word of
the tool's own texts, so it cannot be looked for on its own)."""


def _originals() -> set[str]:
    """Every name, address and UPN of the corpus' users that has something to hide: redacting it
    changes it (``_#EXT#@<tenant>`` or ``"   "`` hide nothing)."""
    from audit.redact import Pseudonymiser

    p = Pseudonymiser(keep=[INITIAL, "hostile.example", ALLIANCE])
    values: set[str] = set()
    for user in users():
        for field in _NAME_FIELDS:
            value = user.get(field)
            for text in value if isinstance(value, list) else [value]:
                if isinstance(text, str) and p.text(text) != text:
                    values.add(text)
    return values


def _output_texts(folder: Path) -> str:
    """Every text a person or a program can read from the files under ``folder``: the raw
    bytes, and the values inside (workbook cells, Parquet columns, JSON strings, CSV cells)."""
    import pyarrow.parquet as pq

    texts: list[str] = []
    for path in sorted(p for p in folder.rglob("*") if p.is_file()):
        raw = path.read_bytes()
        texts.append(raw.decode("utf-8", "replace"))
        if path.suffix == ".xlsx":
            book = openpyxl.load_workbook(path, read_only=True)
            texts += [str(c) for sheet in book.worksheets for row in sheet.iter_rows(values_only=True) for c in row if c is not None]  # fmt: skip
            book.close()
        elif path.suffix == ".parquet":
            table = pq.read_table(path)
            texts += [orjson.dumps(table.to_pylist(), default=str).decode()]
            texts += [str(v) for column in table.to_pydict().values() for v in column]
        elif path.suffix == ".json":
            texts.append(str(orjson.loads(raw.removeprefix(codecs.BOM_UTF8))))
        elif path.suffix == ".html":
            page = lxml.html.fromstring(raw)
            texts.append(page.text_content())
            texts += [str(orjson.loads(s.text)) for s in page.xpath("//script[@type='application/json']")]  # fmt: skip
        elif path.suffix == ".csv":
            texts += [c for row in csv.reader(io.StringIO(raw.decode("utf-8-sig"))) for c in row]
    return "\n".join(texts)


def _found(value: str, blob: str) -> bool:
    """Is ``value`` in the (case-folded) ``blob``, not as the tail or head of another word?"""
    needle, at = value.casefold(), -1
    while (at := blob.find(needle, at + 1)) >= 0:
        before, after = blob[at - 1 : at], blob[at + len(needle) : at + len(needle) + 1]
        if not (needle[:1].isalnum() and before.isalnum()) and not (
            needle[-1:].isalnum() and after.isalnum()
        ):
            return True
    return False


@pytest.fixture(scope="module")
def redacted(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Result]:
    folder = tmp_path_factory.mktemp("redacted")
    result = _invoke("run", "--from-export", str(TARGET), *FLAGS, "--redact",
                     "--save-raw", str(folder / "raw"), "--out", str(folder / "out"))  # fmt: skip
    _clean_exit(result)
    assert result.exit_code == 0, result.output
    return folder, result


def test_redacted_hostile_run_leaves_no_original_in_any_output_byte(
    redacted: tuple[Path, Result],
) -> None:
    """Snapshot, reports and the --save-raw export of a redacted run: no name, address or UPN
    of a guest, whole or its first 40 characters, case-insensitively."""
    folder, result = redacted
    blob = (_output_texts(folder) + "\n" + result.output).casefold()
    originals = _originals()
    assert len(originals) > 150
    leaked = sorted(v for v in originals if _found(v, blob) or _found(v[:40], blob))
    assert leaked == []
    assert INITIAL in blob  # the tenant's own domains stay readable
    assert ALLIANCE in blob


def test_redaction_keeps_the_tool_text_and_hides_words_of_tenant_domains(
    redacted: tuple[Path, Result],
) -> None:
    folder, _ = redacted
    document = orjson.loads((folder / "out" / "findings.json").read_bytes())
    a_address, bob = (g["id"] for g in redaction_guests())
    details = [f["detail"] for f in document["findings"] if f["object_id"] == a_address]
    assert any(d.startswith("not a valid address: mail=") for d in details), details
    text = (folder / "out" / "guests.csv").read_text("utf-8-sig")
    row = next(r for r in csv.DictReader(io.StringIO(text)) if r["object_id"] == bob)
    assert row["mail"].endswith(".example")
    assert "adatum" not in " ".join(row.values()).casefold()
    assert "adatum.example" not in _output_texts(folder).casefold().replace(ALLIANCE, "")
    assert ALLIANCE in text or ALLIANCE in _output_texts(folder / "out" / "snapshot")
