"""remediation.ps1: tenant values stay inert, dry run by default, sections by rule, muted skipped.

The core check is a PowerShell tokeniser written here (comments, single-quoted strings whose
quote is any of ' U+2018 U+2019 U+201A U+201B with doubled-quote escapes, double-quoted strings,
backtick escapes, bare words). With comments removed and every single-quoted literal replaced by
``''``, each line must be one of the script's own fixed lines: data can then add no code.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import tempfile
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from audit.analysis.result import AuditResult
from audit.render.remediation import SCRIPTED_RULES, ps_comment, ps_quote, write_remediation
from tests.factories import make_result

SQ = "'\u2018\u2019\u201a\u201b"
DQ = '"\u201c\u201d\u201e'
LINE_BREAKS = "\r\n\x0b\x0c\x1c\x1d\x1e\x85\u2028\u2029"

INJECT = "'; Remove-Item C:\\ -Recurse; '"
SUBEXPR = "$(Invoke-Expression 'calc')"
BACKTICKS = "`$(calc)` `n `' `\""
SMART = "\u2019; calc; \u2018"
CRLF_NAME = "Eve\r\nRemove-Item C:\\ -Recurse\r\n# "
LSEP = "line\u2028Remove-Item C:\\ -Recurse\u2029x\x85y\x0bz\x0cw"
NUL = "nul\x00byte\x07"
LONG = "A" * 10_000
HOSTILE = (INJECT, SUBEXPR, BACKTICKS, SMART, CRLF_NAME, LSEP, NUL, LONG)

G_FWD = "11111111-1111-4111-8111-111111111111"  # exo-forwarding-broken + primary-smtp
G_ALIAS_OK = "22222222-2222-4222-8222-222222222222"  # forwarding: only ExternalEmailAddress
G_MEMBER = "33333333-3333-4333-8333-333333333333"  # external-member, smart-quote name
G_MUTED = "44444444-4444-4444-8444-444444444444"  # external-member, muted
G_NOMAIL = "55555555-5555-4555-8555-555555555555"  # mail-missing with otherMails
G_BADMAIL = "66666666-6666-4666-8666-666666666666"  # hostile mail, primary-smtp + pending
G_NOMU = "77777777-7777-4777-8777-777777777777"  # forwarding, but no GuestMailUser
BAD_ID = INJECT  # a non-GUID object id
SP_ID = "bbbbbbbb-0000-4000-8000-000000000002"
# Valid RFC 5322 atext, hostile to a shell: must be scripted, quoted, and arrive unchanged.
ODD_MAIL = "o'brien|calc|`x$y{z}&'@partner.example"
EXT_UPN = "o'brien|calc|`x$y{z}&'_partner.example#EXT#@contoso.onmicrosoft.com"

GUEST_SKELETONS = {
    "try {",
    "    Set-MailUser -Identity '' -EmailAddresses @{add=''} -WhatIf:(-not $Apply) -ErrorAction Stop",
    "    Set-MailUser -Identity '' -ExternalEmailAddress '' -WhatIf:(-not $Apply) -ErrorAction Stop",
    "    Set-MailUser -Identity '' -PrimarySmtpAddress '' -WhatIf:(-not $Apply) -ErrorAction Stop",
    "    Update-MgUser -UserId '' -UserType '' -WhatIf:(-not $Apply) -ErrorAction Stop",
    "    $succeeded++",
    "} catch {",
    "    $failed++",
    "    Write-Warning ('' -f '', '', $_.Exception.Message)",
    "}",
}
"""Every code line a guest block may contain, literals blanked: the fixed per-guest templates."""


# -- a PowerShell tokeniser ----------------------------------------------------------------------


@dataclass
class Line:
    """One physical line: code with literals blanked, the decoded literals, and its comment."""

    code: str
    literals: list[str]
    comment: str | None


def tokenise(text: str) -> tuple[list[Line], list[str]]:
    """Lines of ``text`` as PowerShell tokenises them, and every double-quoted string found."""
    lines: list[Line] = []
    doubles: list[str] = []
    code, comment = "", None
    literals: list[str] = []
    i = 0
    while i < len(text):
        c = text[i]
        if c == "\n":
            lines.append(Line(code.rstrip(), literals, comment))
            code, literals, comment = "", [], None
            i += 1
        elif c == "\r":
            assert text[i + 1 : i + 2] == "\n", "bare CR"
            i += 1
        elif c == "`":  # escape outside strings: the next character is part of a bare word
            code += text[i : i + 2]
            i += 2
        elif c == "<" and text[i + 1 : i + 2] == "#":
            raise AssertionError(f"block comment at line {len(lines) + 1}")
        elif c == "@" and text[i + 1 : i + 2] in (SQ + DQ) and text[i + 1 : i + 2] != "":
            raise AssertionError(f"here-string at line {len(lines) + 1}")
        elif c == "#" and (code == "" or code[-1] in " \t;({}|"):
            end = _line_end(text, i)
            comment = text[i:end]
            i = end
        elif c in SQ:
            value, i = _single(text, i + 1)
            literals.append(value)
            code += "''"
        elif c in DQ:
            value, i = _double(text, i + 1)
            doubles.append(value)
            code += '""'
        else:
            code += c
            i += 1
    if code or comment:
        lines.append(Line(code.rstrip(), literals, comment))
    return lines, doubles


def _line_end(text: str, i: int) -> int:
    """Index of the CR or LF ending the line that contains ``i``."""
    ends = [p for p in (text.find("\r", i), text.find("\n", i)) if p >= 0]
    return min(ends) if ends else len(text)


def _single(text: str, i: int) -> tuple[str, int]:
    """A single-quoted literal's value and the index after its closing quote."""
    value = []
    while True:
        assert i < len(text), "unterminated single-quoted string"
        c = text[i]
        if c in SQ:
            if text[i + 1 : i + 2] and text[i + 1] in SQ:
                value.append(text[i + 1])
                i += 2
                continue
            return "".join(value), i + 1
        assert c not in "\r\n", "line break inside a single-quoted string"
        value.append(c)
        i += 1


def _double(text: str, i: int) -> tuple[str, int]:
    """A double-quoted string's raw text and the index after its closing quote."""
    start = i
    while i < len(text):
        if text[i] == "`":
            i += 2
        elif text[i] in DQ and not (text[i + 1 : i + 2] and text[i + 1] in DQ):
            return text[start:i], i + 1
        else:
            i += 2 if text[i] in DQ else 1
    raise AssertionError("unterminated double-quoted string")


def decode(literal: str) -> str:
    """The value of one complete single-quoted literal, per the tokeniser."""
    lines, doubles = tokenise(literal)
    assert len(lines) == 1
    assert lines[0].code == "''"
    assert not doubles
    assert lines[0].comment is None
    return lines[0].literals[0]


def normalised(code: str) -> str:
    """A code line with numbers blanked (counts differ between scripts)."""
    return re.sub(r"\d+", "0", code)


# -- data ----------------------------------------------------------------------------------------


def _guest(object_id: str, name: str, **values: Any) -> dict[str, Any]:
    """A guests-frame row with the columns the script reads (defaults: a healthy guest)."""
    row: dict[str, Any] = {
        "object_id": object_id,
        "display_name": name,
        "user_principal_name": f"jo_partner.example#EXT#@contoso.onmicrosoft.com{object_id[:4]}",
        "mail": "jo@partner.example",
        "original_upn": "jo_partner.example#EXT#@contoso.onmicrosoft.com",
        "provisioning_upn": "jo@partner.example",
        "other_mails": [],
        "mu_present": True,
        "mu_external_email": "SMTP:jo@partner.example",
        "mu_email_addresses": ["SMTP:jo@partner.example"],
    }
    row.update(values)
    return row


GUESTS = [
    _guest(
        G_FWD,
        CRLF_NAME,
        user_principal_name=EXT_UPN,
        mail=ODD_MAIL,
        original_upn=EXT_UPN,
        mu_external_email="SMTP:old@partner.example",
        mu_email_addresses=["SMTP:x@partner.example"],
    ),
    _guest(
        G_ALIAS_OK,
        LSEP,
        mu_external_email=None,
        mu_email_addresses=[
            "SMTP:jo@partner.example",
            "smtp:JO_partner.example#EXT#@contoso.onmicrosoft.com",
        ],
    ),
    _guest(G_MEMBER, SMART, user_principal_name=SMART + "@x"),
    _guest(G_MUTED, NUL),
    _guest(G_NOMAIL, BACKTICKS, mail=None, other_mails=["jo.other@partner.example"]),
    _guest(G_BADMAIL, LONG, mail=INJECT + "@evil.example", other_mails=[SUBEXPR]),
    _guest(G_NOMU, SUBEXPR, mu_present=False),
    _guest(BAD_ID, INJECT),
]


def _finding(rule_id: str, object_id: str, detail: str, **values: Any) -> dict[str, Any]:
    """A findings row (flagged unless ``status`` is given)."""
    guest = next((g for g in GUESTS if g["object_id"] == object_id), None)
    row: dict[str, Any] = {
        "rule_id": rule_id,
        "severity": "high",
        "status": "flagged",
        "object_id": object_id,
        "user_principal_name": guest["user_principal_name"] if guest else None,
        "display_name": guest["display_name"] if guest else "Atlassian Cloud",
        "mail": guest["mail"] if guest else None,
        "domain": "partner.example",
        "detail": detail,
        "level": "guest" if guest else "app",
        "muted_by": "",
    }
    row.update(values)
    return row


FINDINGS = [
    _finding("pending-acceptance", G_BADMAIL, SUBEXPR),
    _finding("exo-forwarding-broken", G_FWD, CRLF_NAME),
    _finding("exo-forwarding-broken", G_ALIAS_OK, LSEP),
    _finding("exo-forwarding-broken", G_NOMU, NUL),
    _finding("primary-smtp-mismatch", G_FWD, BACKTICKS),
    _finding("primary-smtp-mismatch", G_BADMAIL, INJECT),
    _finding("external-member", G_MEMBER, SMART),
    _finding("external-member", BAD_ID, INJECT),
    _finding("external-member", G_MUTED, "muted", status="muted", muted_by=CRLF_NAME),
    _finding("mail-missing", G_NOMAIL, "mail is empty; otherMails holds jo.other@partner.example"),
    _finding("mail-missing", G_BADMAIL, LONG),
    _finding("stale-guest", G_MEMBER, "\ud800 lone surrogate"),
    _finding("domain-unverified", G_FWD, "target e-mail on partner.example\n" + INJECT),
    _finding("mapping-sends-external-address", SP_ID, 'emails = [mail]\r\nRemove-Item C:\\ "x"'),
]

RULES = [
    ("domain-unverified", "E-mail domain not verified in the target", "high"),
    ("exo-forwarding-broken", "MailUser forwarding broken", "high"),
    ("primary-smtp-mismatch", "Primary SMTP proxy missing or differs", "medium"),
    ("external-member", "External account with userType Member", "medium"),
    ("mail-missing", "mail attribute is empty", "high"),
    ("pending-acceptance", "Invitation never redeemed", "medium"),
    ("stale-guest", "No recent sign-in\r\nRemove-Item C:\\", "low"),
    ("mapping-sends-external-address", "Mapping sends the external address", "high"),
    ("prior-provisioning-failure", "Last provisioning attempt failed", "high"),
]


def _rules_frame() -> pd.DataFrame:
    """The rules table; prior-provisioning-failure skipped with a hostile reason."""
    rows = []
    for rule_id, title, severity in RULES:
        skipped = rule_id == "prior-provisioning-failure"
        rows.append(
            {
                "rule_id": rule_id,
                "title": title,
                "severity": severity,
                "level": "app" if rule_id.startswith("mapping") else "guest",
                "state": "skipped" if skipped else "ran",
                "reason": "403\r\nRemove-Item C:\\" if skipped else "",
                "flagged": 1,
                "passed": 0,
                "not_evaluated": 0,
                "muted": 0,
                "rationale": "why",
                "remediation": f"Fix {rule_id}: {INJECT} {SUBEXPR}\u2028 Set-MailUser -Identity <id>",
            }
        )
    return pd.DataFrame(rows)


def _result(guests: list[dict[str, Any]], findings: list[dict[str, Any]]) -> AuditResult:
    """A hand-made AuditResult (columns as documented in audit/result.py)."""
    guest_frame = pd.DataFrame(guests, columns=list(_guest("x", "x")))
    guest_frame["mu_present"] = guest_frame["mu_present"].astype("boolean")
    # object dtype: Arrow-backed strings cannot hold the lone surrogate this test feeds in
    finding_frame = pd.DataFrame(findings, columns=list(_finding("x", "x", "x")), dtype=object)
    return AuditResult(
        tool_version="0.1.0",
        tenant={
            "id": "11111111-2222-3333-4444-555555555555",
            "name": "Contoso\r\n" + INJECT,
            "initial_domain": "contoso.onmicrosoft.com",
        },
        target="atlassian",
        app={"display_name": "Atlassian\n" + SUBEXPR, "service_principal_id": SP_ID},
        generated_at=datetime(2025, 3, 14, 9, 26, 53, tzinfo=UTC),
        collected_at=None,
        sources=[],
        guests=guest_frame,
        findings=finding_frame,
        rules=_rules_frame(),
        outcomes=pd.DataFrame(
            {
                "object_id": guest_frame["object_id"],
                "outcome": "ready",
                "reasons": [[]] * len(guests),
            }
        ),
        domains=pd.DataFrame(columns=["domain", "guests", "affected"]),
    )


@pytest.fixture(scope="module")
def script(tmp_path_factory: pytest.TempPathFactory) -> tuple[bytes, str]:
    """The hostile result's script: raw bytes and decoded text."""
    path = tmp_path_factory.mktemp("ps") / "remediation.ps1"
    written = write_remediation(_result(GUESTS, FINDINGS), path)
    assert written == path
    raw = path.read_bytes()
    return raw, raw.decode("utf-8-sig")


@pytest.fixture(scope="module")
def static_lines(tmp_path_factory: pytest.TempPathFactory) -> set[str]:
    """Code lines of a script with no findings: the script's own fixed lines."""
    path = tmp_path_factory.mktemp("ps") / "empty.ps1"
    write_remediation(_result([], []), path)
    lines, doubles = tokenise(path.read_bytes().decode("utf-8-sig"))
    assert not doubles
    return {normalised(line.code) for line in lines}


def _code_lines(text: str) -> list[Line]:
    """Lines that hold code (comments removed)."""
    lines, doubles = tokenise(text)
    assert doubles == [], "double-quoted strings are never used"
    return [line for line in lines if line.code]


# -- ps_quote / ps_comment -----------------------------------------------------------------------


def test_ps_quote_doubles_every_single_quote_kind() -> None:
    assert ps_quote("O'Brien") == "'O''Brien'"
    for quote in SQ:
        assert ps_quote(f"a{quote}b") == f"'a{quote}{quote}b'"
    assert ps_quote(SMART) == "'\u2019\u2019; calc; \u2018\u2018'"
    assert ps_quote("") == "''"


def test_ps_quote_replaces_control_and_line_break_characters() -> None:
    quoted = ps_quote(CRLF_NAME + LSEP + NUL + "\u202e\ud800")
    assert quoted.isprintable()
    assert len(quoted.splitlines()) == 1
    assert "\ufffd" in quoted


@pytest.mark.parametrize("value", [*HOSTILE, "", "'", "''", "\u2019'", "x'\u201b"])
def test_ps_quote_round_trips_hostile_values(value: str) -> None:
    decoded = decode(ps_quote(value))
    if value.isprintable():
        assert decoded == value
    else:
        assert decoded == "".join(c if c.isprintable() else "\ufffd" for c in value)


@given(st.text())
def test_ps_quote_is_one_inert_literal(value: str) -> None:
    decoded = decode(ps_quote(value))
    if value.isprintable():
        assert decoded == value
    else:
        assert len(decoded) == len(value)


@given(st.text())
def test_ps_comment_is_one_comment_line(value: str) -> None:
    line = ps_comment(value)
    assert line.startswith("#")
    assert len(line.splitlines()) == 1
    assert not any(c in line for c in LINE_BREAKS + "\x00")
    lines, doubles = tokenise(line)
    assert [(x.code, x.comment) for x in lines] == [("", line)]
    assert not doubles


@pytest.mark.parametrize("value", HOSTILE)
def test_ps_comment_hostile_values(value: str) -> None:
    line = ps_comment(value)
    assert line.isprintable()
    assert len(line) < 460, "long values are truncated with a marker"
    assert line.startswith("# ")


def test_ps_comment_truncates_visibly_and_guards_the_signature_marker() -> None:
    assert ps_comment(LONG).endswith("…[truncated, 10,000 characters]")
    assert len(ps_comment(LONG, limit=None)) == 10_002
    assert ps_comment("SIG # Begin signature block") != "# SIG # Begin signature block"


# -- the script ----------------------------------------------------------------------------------


def test_file_is_utf8_bom_crlf_and_printable(script: tuple[bytes, str]) -> None:
    raw, text = script
    assert raw.startswith(b"\xef\xbb\xbf")
    without_crlf = raw.replace(b"\r\n", b"")
    assert b"\r" not in without_crlf
    assert b"\n" not in without_crlf
    for line in text.split("\r\n"):
        assert all(c.isprintable() or c in "\u200c\u200d" for c in line), repr(line[:80])
    assert "<#" not in "".join(line.code for line in tokenise(text)[0])


def test_only_our_own_code_remains_after_removing_comments_and_literals(
    script: tuple[bytes, str], static_lines: set[str]
) -> None:
    lines = _code_lines(script[1])
    allowed = static_lines | GUEST_SKELETONS
    foreign = [line.code for line in lines if normalised(line.code) not in allowed]
    assert foreign == []
    guest_code = [line.code for line in lines if line.code in GUEST_SKELETONS]
    assert guest_code, "the hostile fixture produces scripted commands"
    for code in guest_code:
        for token in ("$(", ";", "|", "`", "&", '"'):
            assert token not in code


def test_no_tenant_value_appears_outside_comments_and_literals(script: tuple[bytes, str]) -> None:
    code = "\n".join(line.code for line in _code_lines(script[1]))
    for marker in ("Remove-Item", "Invoke-Expression", "calc", "brien", "Eve", "AAAA"):
        assert marker not in code


def test_every_state_changing_command_is_a_dry_run_by_default(script: tuple[bytes, str]) -> None:
    text = script[1]
    assert "param([switch]$Apply)" in text
    assert "[CmdletBinding()]" in text
    assert "#Requires -Modules ExchangeOnlineManagement, Microsoft.Graph.Users" in text
    assert "DRY RUN" in text
    changing = re.compile(r"\b(Set|Update|Remove|New|Add|Enable|Disable|Clear|Reset)-\w+")
    commands = [line.code for line in _code_lines(text) if changing.search(line.code)]
    assert len(commands) == 5
    for code in commands:
        assert code.endswith(" -WhatIf:(-not $Apply) -ErrorAction Stop")


def test_connects_only_when_not_connected(script: tuple[bytes, str]) -> None:
    text = script[1]
    assert "Get-ConnectionInformation" in text
    assert "if (-not (Get-MgContext)) { Connect-MgGraph -Scopes 'User.ReadWrite.All' }" in text
    assert "if (-not $exo) { Connect-ExchangeOnline" in text
    assert "$ErrorActionPreference = 'Stop'" in text


def _commands(text: str) -> list[tuple[str, list[str]]]:
    """Guest command lines (skeleton, decoded literals)."""
    return [
        (line.code.strip(), line.literals)
        for line in _code_lines(text)
        if line.code.strip().startswith(("Set-MailUser", "Update-MgUser"))
    ]


GUEST_SKELETONS_LIST = [
    "",
    "Set-MailUser -Identity '' -EmailAddresses @{add=''} -WhatIf:(-not $Apply) -ErrorAction Stop",
    "Set-MailUser -Identity '' -ExternalEmailAddress '' -WhatIf:(-not $Apply) -ErrorAction Stop",
    "Set-MailUser -Identity '' -PrimarySmtpAddress '' -WhatIf:(-not $Apply) -ErrorAction Stop",
    "Update-MgUser -UserId '' -UserType '' -WhatIf:(-not $Apply) -ErrorAction Stop",
]


def test_scripted_commands_carry_the_exact_values(script: tuple[bytes, str]) -> None:
    """Set-MailUser names the mail user by the guest's #EXT# UPN (Microsoft's known-issues example:
    ``Set-MailUser guestuser1_contoso.com#EXT#@fabrikam.onmicrosoft.com ...``), never by the Entra
    object id, which -Identity does not document; Update-MgUser by the object id."""
    cmds = _commands(script[1])
    assert cmds == [
        (GUEST_SKELETONS_LIST[1], [EXT_UPN, "smtp:" + EXT_UPN]),
        (GUEST_SKELETONS_LIST[2], [EXT_UPN, "SMTP:" + ODD_MAIL]),
        (GUEST_SKELETONS_LIST[2], [ALIAS_OK_UPN, "SMTP:jo@partner.example"]),
        (GUEST_SKELETONS_LIST[4], [G_MEMBER, "Guest"]),
        (GUEST_SKELETONS_LIST[3], [EXT_UPN, ODD_MAIL]),
    ]


ALIAS_OK_UPN = "jo_partner.example#EXT#@contoso.onmicrosoft.com"


def test_identities_in_code_are_guids_or_ext_upns(script: tuple[bytes, str]) -> None:
    guid = re.compile(r"[0-9a-f]{8}-(?:[0-9a-f]{4}-){3}[0-9a-f]{12}")
    for code, literals in _commands(script[1]):
        if code.startswith("Set-MailUser"):
            assert "#EXT#@" in literals[0]
        else:
            assert guid.fullmatch(literals[0])
    warnings = [x for x in _code_lines(script[1]) if "Write-Warning (''" in x.code]
    assert len(warnings) == 4
    for line in warnings:
        assert line.literals[1] in SCRIPTED_RULES
        assert guid.fullmatch(line.literals[2])


def test_each_guest_block_has_its_own_try_catch(script: tuple[bytes, str]) -> None:
    codes = [line.code for line in _code_lines(script[1])]
    assert codes.count("try {") == codes.count("} catch {") == 4
    assert codes.count("    $failed++") == 4
    assert "if ($failed -gt 0) { exit 1 }" in codes
    assert "$planned = 4" in script[1]


def _sections(text: str) -> dict[str, str]:
    """Section title rule id → section text (up to the next section)."""
    starts = list(re.finditer(r"\r\n# ={98}\r\n# ([a-z-]+) \(", text))
    ends = [m.start() for m in starts[1:]] + [len(text)]
    return {m.group(1): text[m.start() : end] for m, end in zip(starts, ends, strict=True)}


def test_app_fix_first_then_sections_grouped_by_rule_scripted_first(
    script: tuple[bytes, str],
) -> None:
    text = script[1]
    order = [m.group(1) for m in re.finditer(r"\r\n# ={98}\r\n# ([a-z-]+) \(", text)]
    assert order == [
        "mapping-sends-external-address",
        "exo-forwarding-broken",
        "external-member",
        "primary-smtp-mismatch",
        "domain-unverified",
        "mail-missing",
        "pending-acceptance",
        "stale-guest",
    ]
    assert text.index("# START HERE") < text.index("# mapping-sends-external-address (")
    assert text.index("param([switch]$Apply)") < text.index("# START HERE")
    sections = _sections(text)
    forwarding = sections["exo-forwarding-broken"]
    assert G_FWD in forwarding
    assert G_ALIAS_OK in forwarding
    assert G_MEMBER not in forwarding
    assert "No GuestMailUser in the export" in forwarding
    assert "3 open finding(s)" in forwarding
    assert "MailUser forwarding broken" in forwarding


def test_muted_findings_are_listed_not_scripted(script: tuple[bytes, str]) -> None:
    text = script[1]
    for line in _code_lines(text):
        assert G_MUTED not in line.literals
    sections = _sections(text)
    assert G_MUTED not in sections["external-member"]
    muted = text.split("# Skipped: muted by an exception", 1)[1]
    assert f"id: {G_MUTED}" in muted
    assert "muted by: Eve\ufffd\ufffdRemove-Item" in muted


def test_non_guid_id_and_unusable_addresses_are_not_scripted(script: tuple[bytes, str]) -> None:
    text = script[1]
    literals = [v for line in _code_lines(text) for v in line.literals]
    assert INJECT not in literals
    assert not any("evil.example" in v for v in literals)
    member = _sections(text)["external-member"]
    assert "The object id is not a GUID: nothing is scripted" in member
    primary = _sections(text)["primary-smtp-mismatch"]
    assert "mail is empty or not a valid address" in primary


def test_human_decisions_are_commented_suggestions(script: tuple[bytes, str]) -> None:
    sections = _sections(script[1])
    missing = sections["mail-missing"]
    assert f"# Update-MgUser -UserId '{G_NOMAIL}' -Mail 'jo.other@partner.example'" in missing
    assert "# Get-MailContact -Identity 'jo.other@partner.example'" in missing
    assert f"# Update-MgUser -UserId '{G_BADMAIL}' -Mail '<address>'" in missing
    assert "otherMails holds no usable address" in missing
    stale = sections["stale-guest"]  # the same command for each guest but the id: shown once
    assert "#   Remove-MgUser -UserId '<object id>'" in stale
    assert G_MEMBER not in stale
    assert "# 1 guest(s) to decide on." in stale
    assert "-InvitedUserEmailAddress '<address>'" in sections["pending-acceptance"]


def test_rules_fixed_elsewhere_are_summarised_not_listed(script: tuple[bytes, str]) -> None:
    section = _sections(script[1])["domain-unverified"]
    assert "# Fixed in the target or the mapping, not per guest" in section
    assert G_FWD not in section  # no line per guest where no command follows
    assert "# 1 guest(s) with nothing to run here." in section
    assert "# By mail domain: partner.example 1" in section
    assert "findings.csv (rule_id domain-unverified)" in section


def test_guests_with_only_a_note_are_counted_not_listed(script: tuple[bytes, str]) -> None:
    forwarding = _sections(script[1])["exo-forwarding-broken"]
    assert G_NOMU not in forwarding
    assert "#   1 x No GuestMailUser in the export: fix exo-not-mail-enabled first." in forwarding


def test_readable_at_100000_guests(tmp_path: Path) -> None:
    """100,000 guests on unverified domains and 100 scripted fixes: a script of a few hundred
    lines in which every guest line is followed by its command."""
    n = 100_000
    guests = [_guest(f"{k:08x}-0000-4000-8000-000000000000", f"G{k}") for k in range(n)]
    findings = [
        _finding("domain-unverified", g["object_id"], "on partner", domain=f"p{k % 7}.example")
        for k, g in enumerate(guests)
    ]
    findings += [_finding("external-member", g["object_id"], "Member") for g in guests[:100]]
    for row in findings:  # _finding looks guests up in the module's list; fill in the rest
        row["level"] = "guest"
    text = write_remediation(_result(guests, findings), tmp_path / "r.ps1").read_bytes()
    lines = text.decode("utf-8-sig").split("\r\n")
    assert len(lines) < 100 * 12 + 200
    assert "# 100,000 open finding(s); nothing to run per guest." in lines
    assert any(line.startswith("# By mail domain: p0.example 14,286;") for line in lines)
    guest_lines = [k for k, line in enumerate(lines) if line.startswith("# Guest: ")]
    assert len(guest_lines) == 100
    assert all(lines[k + 2] == "try {" for k in guest_lines)


def test_mapping_finding_is_a_portal_step(script: tuple[bytes, str]) -> None:
    app = _sections(script[1])["mapping-sends-external-address"]
    assert "[originalUserPrincipalName]" in app
    assert "Not scripted" in app
    assert SP_ID in app
    assert "Verify contoso.onmicrosoft.com in the target" in app


def test_skipped_rules_and_summary(script: tuple[bytes, str]) -> None:
    text = script[1]
    assert "# prior-provisioning-failure: 403\ufffd\ufffdRemove-Item C:\\" in text
    assert "Write-Host ('Not scripted: {0} commented suggestion(s), {1} muted.' -f 8, 1)" in text


def test_nothing_to_script_leaves_no_commands(tmp_path: Path) -> None:
    findings = [f for f in FINDINGS if f["rule_id"] not in SCRIPTED_RULES]
    path = write_remediation(_result(GUESTS, findings), tmp_path / "r.ps1")
    text = path.read_bytes().decode("utf-8-sig")
    assert "$planned = 0" in text
    assert _commands(text) == []


def test_factory_result_is_inert(tmp_path: Path, static_lines: set[str]) -> None:
    result = make_result(80, seed=3)
    guests = result.guests.copy()
    guests.loc[:, "mu_present"] = pd.array([True] * len(guests), dtype="boolean")
    guests["user_type"] = "Member"
    findings = result.findings.copy()
    extra = findings.iloc[:5].assign(rule_id="external-member", status="flagged")
    result = replace(
        result, guests=guests, findings=pd.concat([findings, extra], ignore_index=True)
    )
    text = write_remediation(result, tmp_path / "f.ps1").read_bytes().decode("utf-8-sig")
    foreign = [
        line.code
        for line in _code_lines(text)
        if normalised(line.code) not in static_lines | GUEST_SKELETONS
    ]
    assert foreign == []
    commands = _commands(text)
    assert sum(code.startswith("Update-MgUser") for code, _ in commands) >= 5


_LOCAL = st.text(
    alphabet="ab'`$|{}&;()\"\u2018\u2019\u201a\u201b#.-_\r\n\u2028 !%*+/=?^~", max_size=20
)
_ATEXT = st.text(alphabet="ab'`$|{}&#!%*+/=?^~_-", min_size=1, max_size=20)
_MAILS = st.one_of(
    st.text(max_size=40),
    _LOCAL.map(lambda local: local + "@partner.example"),
    _ATEXT.map(lambda local: local + "@partner.example"),  # valid and scripted, yet shell-hostile
)


@settings(max_examples=60, deadline=None)
@given(name=st.text(max_size=40), mail=_MAILS, upn=_MAILS, detail=st.text(max_size=40))
def test_random_tenant_values_add_no_code(
    static_lines: set[str], name: str, mail: str, upn: str, detail: str
) -> None:
    guest = _guest(G_FWD, name, mail=mail, original_upn=upn, other_mails=[mail])
    guest["mu_email_addresses"] = []
    findings = [
        _finding(rule_id, G_FWD, detail)
        for rule_id in (*SCRIPTED_RULES, "mail-missing", "pending-acceptance")
    ]
    lines = build_script(_result([guest], findings))
    allowed = static_lines | GUEST_SKELETONS
    assert [x.code for x in lines if normalised(x.code) not in allowed] == []
    for code, literals in ((x.code.strip(), x.literals) for x in lines):
        if code.startswith("Set-MailUser -Identity '' -PrimarySmtpAddress"):
            assert literals == [upn, mail]
        if code.startswith("Set-MailUser -Identity '' -EmailAddresses"):
            assert literals == [upn, "smtp:" + upn]


def build_script(result: AuditResult) -> list[Line]:
    """The tokenised lines of ``result``'s script, written to a temporary file."""
    with tempfile.TemporaryDirectory() as folder:
        path = write_remediation(result, Path(folder) / "r.ps1")
        text = path.read_bytes().decode("utf-8-sig")
    lines, doubles = tokenise(text)
    assert doubles == []
    return lines


PWSH_CHECK = """param([string]$Path)
$tokens = $null
$errors = $null
$ast = [System.Management.Automation.Language.Parser]::ParseFile($Path, [ref]$tokens, [ref]$errors)
if ($errors.Count -gt 0) { $errors | ForEach-Object { $_.Message }; exit 1 }
$commands = $ast.FindAll({ param($node) $node -is [System.Management.Automation.Language.CommandAst] }, $true)
$commands | ForEach-Object { $_.GetCommandName() } | Sort-Object -Unique
"""
"""Parse a script with PowerShell's own parser; print the distinct command names it runs."""


def test_parses_with_pwsh(script: tuple[bytes, str], tmp_path: Path) -> None:
    pwsh = shutil.which("pwsh")
    if pwsh is None:
        pytest.skip("pwsh (PowerShell 7) is not installed; the Python tokeniser checks stand in")
    path = tmp_path / "remediation.ps1"
    path.write_bytes(script[0])
    checker = tmp_path / "check.ps1"
    checker.write_text(PWSH_CHECK, encoding="utf-8")
    out = subprocess.run(
        [pwsh, "-NoProfile", "-NonInteractive", "-File", str(checker), str(path)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert out.returncode == 0, out.stdout + out.stderr
    assert set(out.stdout.split()) == {
        "Connect-ExchangeOnline",
        "Connect-MgGraph",
        "Get-ConnectionInformation",
        "Get-MgContext",
        "Set-MailUser",
        "Update-MgUser",
        "Where-Object",
        "Write-Host",
        "Write-Warning",
    }
