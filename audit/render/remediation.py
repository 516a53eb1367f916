"""``remediation.ps1``: a reviewable PowerShell script that fixes what Entra and Exchange can fix.

One section per rule with open findings. Three rules are scripted (``exo-forwarding-broken``,
``primary-smtp-mismatch``, ``external-member``): per guest, ``Set-MailUser`` / ``Update-MgUser``
lines addressed by the immutable object id, each carrying ``-WhatIf:(-not $Apply)`` so the script is
a dry run unless started with ``-Apply``, inside a try/catch so one failure does not stop the rest.
Every other rule is a decision for a human: its section lists the guests with the exact command to
consider, commented out. Muted findings are listed as skipped, never emitted as commands.

Everything from the tenant is hostile. Values in code are single-quoted PowerShell literals
(:func:`ps_quote`), where PowerShell also treats the Unicode quotes U+2018..U+201B as ``'``; all
other tenant text appears only in single-line ``#`` comments (:func:`ps_comment`), which no CR, LF,
NEL, U+2028/U+2029, vertical tab or form feed can end early. Executable lines are only emitted for
GUID object ids and conservative ASCII addresses. The file is UTF-8 with a BOM (Windows PowerShell
5.1 reads BOM-less files as ANSI) with CRLF line endings.
"""

from __future__ import annotations

import os
import re
import textwrap
import unicodedata
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeGuard

import pandas as pd

from audit.render._common import atomic_path, column, iso_utc, py_values, tenant_name
from audit.result import AuditResult

__all__ = ["SCRIPTED_RULES", "ps_comment", "ps_quote", "write_remediation"]

SCRIPTED_RULES = ("exo-forwarding-broken", "primary-smtp-mismatch", "external-member")
"""Rules whose fixes the script runs (in this order); all others get commented suggestions."""

_APP_RULE = "mapping-sends-external-address"
_SINGLE_QUOTES = re.compile("(['\u2018\u2019\u201a\u201b])")
_GUID = re.compile(r"[0-9a-fA-F]{8}-(?:[0-9a-fA-F]{4}-){3}[0-9a-fA-F]{12}")
_ATOM = r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+"
_LABEL = r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
_ADDRESS = re.compile(
    rf"{_ATOM}(?:\.{_ATOM})*@(?:{_LABEL}\.)+(?:[A-Za-z]{{2,63}}|xn--[A-Za-z0-9-]+)"
)
_HOST = re.compile(rf"(?:{_LABEL}\.)+[A-Za-z]{{2,63}}")
_REPLACEMENT = "\ufffd"
_JOINERS = "\u200c\u200d"
_WHATIF = " -WhatIf:(-not $Apply) -ErrorAction Stop"
_RULER = "# " + "=" * 98
_FIELD_LIMIT = 160


def ps_quote(value: str) -> str:
    """``value`` as an inert single-quoted PowerShell string literal.

    Every single-quote character PowerShell recognises (``'`` and U+2018, U+2019, U+201A, U+201B)
    is doubled, which PowerShell reads as one literal quote, so the value round-trips unchanged.
    Control, format, line/paragraph-separator and surrogate characters (NUL, CR, LF, NEL, bidi
    overrides, ...) become U+FFFD so a literal is always one visible line.
    """
    return "'" + _SINGLE_QUOTES.sub(r"\1\1", _clean(value)) + "'"


def ps_comment(value: str, *, limit: int | None = 400) -> str:
    """``value`` as one ``#`` comment line that nothing in it can end early.

    Line breaks of every kind and other invisible characters become U+FFFD (see :func:`ps_quote`);
    text longer than ``limit`` characters is cut with a visible marker. A text that would form
    PowerShell's signature-block marker gets a prefix, so signing the script later stays sound.
    """
    text = _clean(value)
    if limit is not None and len(text) > limit:
        text = text[:limit] + f" …[truncated, {len(text):,} characters]"
    if text.lstrip().upper().startswith("SIG #"):
        text = "(text) " + text
    return f"# {text}".rstrip()


def write_remediation(result: AuditResult, path: str | os.PathLike[str]) -> Path:
    """Write ``remediation.ps1`` for ``result`` to ``path`` and return the path.

    The file is written atomically, UTF-8 with BOM and CRLF line endings.
    """
    text = "\r\n".join(_script_lines(result)) + "\r\n"
    with atomic_path(path) as tmp:
        tmp.write_bytes(b"\xef\xbb\xbf" + text.encode("utf-8"))
    return Path(path)


@dataclass(frozen=True)
class _Finding:
    """One finding, as text."""

    rule_id: str
    object_id: str
    upn: str
    display_name: str
    mail: str
    detail: str
    level: str
    muted_by: str


@dataclass(frozen=True)
class _Guest:
    """The guests-frame values the script needs for one guest (None when unknown)."""

    mail: str | None = None
    original_upn: str | None = None
    provisioning_upn: str | None = None
    other_mails: tuple[str, ...] = ()
    mu_present: bool | None = None
    mu_external_email: str | None = None
    mu_email_addresses: tuple[str, ...] = ()


@dataclass(frozen=True)
class _Ctx:
    """Tenant-wide values the suggestions use."""

    initial_domain: str | None
    sp_id: str | None
    app_name: str


@dataclass
class _Plan:
    """What one guest's block holds: executable commands and commented notes/suggestions."""

    commands: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    suggestions: list[str] = field(default_factory=list)


_Planner = Callable[[_Finding, _Guest, _Ctx], _Plan]


@dataclass
class _Section:
    """One rule's lines and how many of its guest blocks are scripted or only commented."""

    lines: list[str]
    scripted: int
    commented: int


def _script_lines(result: AuditResult) -> list[str]:
    """The script as lines (no line endings); see the module docstring for the layout."""
    findings = _findings(result.findings)
    open_ = [f for f in findings if not f.muted_by and f.level != "app"]
    ctx = _context(result)
    guests = _guests(result.guests, {f.object_id for f in open_})
    sections = [
        _section(result.rules, rule_id, group, guests, ctx)
        for rule_id, group in _sections(result.rules, open_)
    ]
    muted = [f for f in findings if f.muted_by]
    apps = [f for f in findings if f.level == "app" and not f.muted_by]
    lines = _header(result, ctx) + _preamble(sum(s.scripted for s in sections))
    for section in sections:
        lines += section.lines
    lines += _app_sections(result.rules, apps, ctx)
    lines += _muted_block(muted) + _skipped_rules(result.rules)
    return lines + _summary(sum(s.commented for s in sections), len(muted))


# -- tenant text ----------------------------------------------------------------------------------


def _clean(value: str) -> str:
    """``value`` with every non-printable character replaced (spaces kept, tab → space)."""
    if value.isprintable():
        return value
    return "".join(_clean_char(c) for c in value)


def _clean_char(char: str) -> str:
    """One character made visible: Unicode spaces and tab → space, other invisibles → U+FFFD.

    Zero-width (non-)joiners stay: emoji and Indic names need them and they break no line.
    """
    if char.isprintable() or char in _JOINERS:
        return char
    if char == "\t" or unicodedata.category(char) == "Zs":
        return " "
    return _REPLACEMENT


def _short(value: str, limit: int = _FIELD_LIMIT) -> str:
    """A field shortened for a comment, so the line's other fields stay visible."""
    return value if len(value) <= limit else value[:limit] + "…"


def _text(value: Any) -> str | None:
    """A frame value as text; None for NA and empty."""
    if value is None or value is pd.NA or value is pd.NaT:
        return None
    if isinstance(value, float) and value != value:
        return None
    text = str(value)
    return text or None


def _texts(value: Any) -> tuple[str, ...]:
    """A list-like frame value as a tuple of texts (NA → empty)."""
    if isinstance(value, list | tuple):
        return tuple(t for t in (_text(v) for v in value) if t is not None)
    return ()


def _is_guid(value: str | None) -> TypeGuard[str]:
    """True for a GUID in canonical 8-4-4-4-12 hex form."""
    return value is not None and _GUID.fullmatch(value) is not None


def _is_address(value: str | None) -> TypeGuard[str]:
    """True for a conservative ASCII dot-atom address within the RFC 5321 length limits."""
    if value is None or len(value) > 254 or _ADDRESS.fullmatch(value) is None:
        return False
    return len(value.rsplit("@", 1)[0]) <= 64


# -- reading the result ---------------------------------------------------------------------------


def _findings(frame: pd.DataFrame) -> list[_Finding]:
    """Findings as records, first occurrence of each (rule, object) only, muted_by "" when open."""
    names = ("rule_id", "object_id", "user_principal_name", "display_name", "mail", "detail")
    cols = [py_values(column(frame, n)) for n in (*names, "level", "status", "muted_by")]
    out: list[_Finding] = []
    seen: set[tuple[str, str]] = set()
    for row in zip(*cols, strict=True):
        text = [_text(v) or "" for v in row]
        status, muted_by = text[7], text[8]
        if status not in ("flagged", "muted") or (text[0], text[1]) in seen:
            continue
        seen.add((text[0], text[1]))
        reason = (muted_by or "muted by an exception") if status == "muted" else ""
        rule_id, object_id, upn, name, mail, detail = text[:6]
        level = text[6] or "guest"
        out.append(_Finding(rule_id, object_id, upn, name, mail, detail, level, reason))
    return out


def _guests(frame: pd.DataFrame, ids: set[str]) -> dict[str, _Guest]:
    """The needed guest columns for the guests with open findings, by object id."""
    sub = frame[column(frame, "object_id").isin(ids)]
    names = ("mail", "original_upn", "provisioning_upn", "mu_external_email")
    cols = {n: py_values(column(sub, n)) for n in names}
    lists = {n: py_values(column(sub, n)) for n in ("other_mails", "mu_email_addresses")}
    present = py_values(column(sub, "mu_present"))
    out: dict[str, _Guest] = {}
    for i, object_id in enumerate(py_values(column(sub, "object_id"))):
        mu = present[i]
        out[str(object_id)] = _Guest(
            mail=_text(cols["mail"][i]),
            original_upn=_text(cols["original_upn"][i]),
            provisioning_upn=_text(cols["provisioning_upn"][i]),
            other_mails=_texts(lists["other_mails"][i]),
            mu_present=None if mu is None else bool(mu),
            mu_external_email=_text(cols["mu_external_email"][i]),
            mu_email_addresses=_texts(lists["mu_email_addresses"][i]),
        )
    return out


def _context(result: AuditResult) -> _Ctx:
    """Initial domain and service principal id, kept only when well-formed."""
    domain = _text(result.tenant.get("initial_domain"))
    sp_id = _text(result.app.get("service_principal_id") or result.app.get("id"))
    name = _text(result.app.get("display_name") or result.app.get("displayName")) or "the app"
    return _Ctx(
        initial_domain=domain if domain and _HOST.fullmatch(domain) else None,
        sp_id=sp_id if _is_guid(sp_id) else None,
        app_name=name,
    )


def _rule_info(rules: pd.DataFrame, rule_id: str) -> dict[str, str]:
    """Title, severity and remediation of one rule ("" when unknown)."""
    match = rules[column(rules, "rule_id") == rule_id]
    info = {"title": "", "severity": "", "remediation": ""}
    if len(match):
        for key in info:
            info[key] = _text(py_values(column(match, key))[0]) or ""
    return info


def _sections(
    rules: pd.DataFrame, findings: list[_Finding]
) -> Iterator[tuple[str, list[_Finding]]]:
    """Open guest findings grouped by rule: scripted rules first, then the catalogue order."""
    by_rule: dict[str, list[_Finding]] = {}
    for finding in findings:
        by_rule.setdefault(finding.rule_id, []).append(finding)
    order = [*SCRIPTED_RULES, *(str(r) for r in py_values(column(rules, "rule_id")))]
    order += sorted(by_rule)
    for rule_id in dict.fromkeys(order):
        if rule_id in by_rule:
            yield rule_id, by_rule[rule_id]


# -- script text ----------------------------------------------------------------------------------


def _header(result: AuditResult, ctx: _Ctx) -> list[str]:
    """What the file is, for which tenant, when, and how to run it."""
    tenant = f"{tenant_name(result)} (tenant id {_text(result.tenant.get('id')) or 'unknown'})"
    facts = [
        "remediation.ps1: fixes for open b2b-preflight findings that Entra ID / Exchange can make.",
        f"Tenant: {_short(tenant, 300)}",
        f"Target: {_short(result.target)}; app: {_short(ctx.app_name)}",
        f"Generated: {iso_utc(result.generated_at)} by b2b-preflight {_short(result.tool_version)}",
    ]
    return [ps_comment(line) for line in facts] + list(_HOW_TO_RUN)


_HOW_TO_RUN = (
    "#",
    "# Review every command before running. Each one changes one guest, addressed by its immutable",
    "# object id. Sections for other rules list commands to consider; they are commented out on",
    "# purpose (decisions for a human). Muted findings are listed at the end and not touched.",
    "#",
    "# How to run (Windows PowerShell 5.1 or PowerShell 7):",
    "#   .\\remediation.ps1           dry run (default): nothing changes, -WhatIf shows each change",
    "#   .\\remediation.ps1 -Apply    make the changes",
    "# A downloaded file may need: Unblock-File .\\remediation.ps1",
    "# Needs ExchangeOnlineManagement 3.x (an Exchange administrator) and Microsoft.Graph.Users",
    "# (User.ReadWrite.All). Set-MailUser resolves -Identity through ExternalDirectoryObjectId.",
    "#Requires -Modules ExchangeOnlineManagement, Microsoft.Graph.Users",
)


def _preamble(planned: int) -> list[str]:
    """Parameters, the dry-run banner, connections and counters."""
    return [
        "[CmdletBinding()]",
        "param([switch]$Apply)",
        "",
        "$ErrorActionPreference = 'Stop'",
        f"$planned = {planned}",
        "$succeeded = 0",
        "$failed = 0",
        "if ($Apply) {",
        "    Write-Warning 'APPLY: the commands below change Entra ID and Exchange Online.'",
        "} else {",
        "    Write-Host 'DRY RUN: nothing is changed. Re-run with -Apply to make the changes.' "
        "-ForegroundColor Yellow",
        "}",
        "if ($planned -gt 0) {",
        "    $exo = Get-ConnectionInformation | Where-Object { $_.State -eq 'Connected' }",
        "    if (-not $exo) { Connect-ExchangeOnline -ShowBanner:$false }",
        "    if (-not (Get-MgContext)) { Connect-MgGraph -Scopes 'User.ReadWrite.All' }",
        "}",
    ]


def _section(
    rules: pd.DataFrame,
    rule_id: str,
    findings: list[_Finding],
    guests: dict[str, _Guest],
    ctx: _Ctx,
) -> _Section:
    """One rule's section: its heading, then a block per guest."""
    info = _rule_info(rules, rule_id)
    kind = "scripted below" if rule_id in SCRIPTED_RULES else "decisions for a human: commented out"
    lines = _heading(f"{rule_id} ({info['severity'] or '?'}): {info['title']}", info["remediation"])
    lines.append(ps_comment(f"{len(findings)} open finding(s); {kind}."))
    if rule_id in _SECTION_NOTES:
        lines.append(ps_comment(_SECTION_NOTES[rule_id]))
    planner = _PLANNERS.get(rule_id, _no_suggestion)
    scripted = 0
    for finding in findings:
        plan = _guard(finding, planner(finding, guests.get(finding.object_id, _Guest()), ctx))
        lines += _block(rule_id, finding, plan)
        scripted += bool(plan.commands)
    return _Section(lines, scripted, len(findings) - scripted)


def _heading(title: str, remediation: str) -> list[str]:
    """A section heading: ruler, title and the rule's remediation text, wrapped."""
    lines = ["", _RULER, ps_comment(title, limit=200)]
    wrapped = textwrap.wrap(_clean(_short(remediation, 1500)), 96, break_on_hyphens=False)
    for i, part in enumerate(wrapped):
        lines.append(ps_comment(("Remediation: " if i == 0 else "  ") + part))
    return [*lines, _RULER]


def _block(rule_id: str, finding: _Finding, plan: _Plan) -> list[str]:
    """One guest: who and why as comments, then try/catch commands or commented suggestions.

    A guest with nothing to do or consider gets a single line, so rules that hit most guests
    (domain-unverified) keep the script reviewable.
    """
    who = f"Guest: {_short(finding.display_name)} | UPN: {_short(finding.upn)}"
    who += f" | id: {_short(finding.object_id, 60)}"
    if not (plan.commands or plan.notes or plan.suggestions):
        return [ps_comment(f"{who} | {_short(finding.detail, 200)}")]
    lines = ["", ps_comment(who), ps_comment(f"Reason: {finding.detail}")]
    lines += [ps_comment(note) for note in plan.notes]
    lines += [ps_comment(s, limit=None) for s in plan.suggestions]
    if not plan.commands:
        return lines
    commands = [f"    {c}{_WHATIF}" for c in plan.commands]
    return [*lines, "try {", *commands, *_catch(rule_id, finding)]


def _catch(rule_id: str, finding: _Finding) -> list[str]:
    """Count success, or count and report the failure and go on with the next guest."""
    where = f"{ps_quote(rule_id)}, {ps_quote(finding.object_id)}"
    return [
        "    $succeeded++",
        "} catch {",
        "    $failed++",
        f"    Write-Warning ('{{0}} for {{1}} failed: {{2}}' -f {where}, $_.Exception.Message)",
        "}",
    ]


def _app_sections(rules: pd.DataFrame, findings: list[_Finding], ctx: _Ctx) -> list[str]:
    """Open app-level findings: portal steps, never scripted."""
    lines: list[str] = []
    for finding in findings:
        info = _rule_info(rules, finding.rule_id)
        lines += _heading(f"{finding.rule_id} (app level): {info['title']}", info["remediation"])
        app = f"App: {_short(ctx.app_name)} (service principal {_short(finding.object_id, 60)})"
        lines += [ps_comment(app), ps_comment(f"Reason: {finding.detail}")]
        if finding.rule_id == _APP_RULE:
            lines += [ps_comment(step, limit=None) for step in _portal_steps(ctx)]
        else:
            lines.append(ps_comment("Not scripted: follow the remediation above."))
    return lines


def _portal_steps(ctx: _Ctx) -> list[str]:
    """The mapping change, step by step (a portal change; not scripted)."""
    domain = ctx.initial_domain or "<initial domain>.onmicrosoft.com"
    return [
        "Not scripted: change the attribute mapping in the Entra admin center:",
        f"  1. Enterprise applications > {_short(ctx.app_name, 80)} > Provisioning > Mappings >",
        "     Provision Microsoft Entra ID Users.",
        '  2. Edit emails[type eq "work"].value: source attribute [originalUserPrincipalName]',
        '     (guests only: IIF([userType]="Guest", [originalUserPrincipalName], [mail])).',
        f"  3. Verify {domain} in the target before the next cycle.",
        "  4. Save, then 'Provision on demand' one guest and check it arrives managed.",
        "  Mail to that address reaches a guest only when exo-forwarding-broken is fixed for it.",
    ]


def _muted_block(muted: list[_Finding]) -> list[str]:
    """Muted findings: listed, with the exception that mutes them, and never acted on."""
    if not muted:
        return []
    lines = _heading("Skipped: muted by an exception (no commands)", "")
    for f in muted:
        who = f"{f.rule_id} | {_short(f.display_name, 80)} | UPN: {_short(f.upn, 120)}"
        lines.append(ps_comment(f"{who} | id: {_short(f.object_id, 60)} | muted by: {f.muted_by}"))
    return lines


def _skipped_rules(rules: pd.DataFrame) -> list[str]:
    """Rules that did not run, so an empty section is not read as 'all fine'."""
    state = column(rules, "state").astype(object) == "skipped"
    skipped = rules[state.fillna(False).astype(bool)]
    if not len(skipped):
        return []
    lines = _heading("Rules that did not run (their findings are unknown, not absent)", "")
    pairs = zip(
        py_values(column(skipped, "rule_id")), py_values(column(skipped, "reason")), strict=True
    )
    return lines + [ps_comment(f"{_text(r) or '?'}: {_text(why) or ''}") for r, why in pairs]


def _summary(commented: int, muted: int) -> list[str]:
    """Counts at the end; a non-zero exit code when any guest failed."""
    return [
        "",
        _RULER,
        "$mode = if ($Apply) { 'applied' } else { 'dry run, nothing changed' }",
        "Write-Host ('Guest fixes {0}: {1} of {2} succeeded, {3} failed.' -f "
        "$mode, $succeeded, $planned, $failed)",
        f"Write-Host ('Not scripted: {{0}} commented suggestion(s), {{1}} muted.' -f {commented}, "
        f"{muted})",
        "if ($failed -gt 0) { exit 1 }",
    ]


# -- per-rule plans -------------------------------------------------------------------------------


def _forwarding(finding: _Finding, guest: _Guest, ctx: _Ctx) -> _Plan:
    """exo-forwarding-broken: add the #EXT# alias and point ExternalEmailAddress at mail."""
    plan = _Plan()
    if guest.mu_present is False:
        plan.notes.append("No GuestMailUser in the export: fix exo-not-mail-enabled first.")
        return plan
    ident = ps_quote(finding.object_id)
    alias = guest.original_upn
    have = {a.split(":", 1)[-1].lower() for a in guest.mu_email_addresses}
    if not _is_address(alias):
        plan.notes.append("The #EXT# UPN is not a usable address; fix original-upn-missing first.")
    elif alias.lower() not in have:
        add = ps_quote("smtp:" + alias)
        plan.commands.append(f"Set-MailUser -Identity {ident} -EmailAddresses @{{add={add}}}")
    _forward_target(plan, ident, guest)
    if not plan.commands and not plan.notes:
        plan.notes.append("The export shows no change to make; re-check with Get-MailUser.")
    return plan


def _forward_target(plan: _Plan, ident: str, guest: _Guest) -> None:
    """Point ExternalEmailAddress at mail when it differs (a suggestion when mail is unusable)."""
    mail = guest.mail
    if not _is_address(mail):
        plan.notes.append(
            "mail is empty or not a valid address: decide where mail should go, then:"
        )
        target = ps_quote("SMTP:<address>")
        plan.suggestions.append(f"Set-MailUser -Identity {ident} -ExternalEmailAddress {target}")
    elif (guest.mu_external_email or "").lower() != "smtp:" + mail.lower():
        target = ps_quote("SMTP:" + mail)
        plan.commands.append(f"Set-MailUser -Identity {ident} -ExternalEmailAddress {target}")


def _primary_smtp(finding: _Finding, guest: _Guest, ctx: _Ctx) -> _Plan:
    """primary-smtp-mismatch: make mail the primary SMTP address."""
    plan = _Plan()
    ident = ps_quote(finding.object_id)
    if guest.mu_present is False:
        plan.notes.append("No GuestMailUser in the export: fix exo-not-mail-enabled first.")
    elif not _is_address(guest.mail):
        plan.notes.append("mail is empty or not a valid address; fix mail first, then:")
        plan.suggestions.append(f"Set-MailUser -Identity {ident} -PrimarySmtpAddress '<address>'")
    else:
        plan.commands.append(
            f"Set-MailUser -Identity {ident} -PrimarySmtpAddress {ps_quote(guest.mail)}"
        )
    return plan


def _external_member(finding: _Finding, guest: _Guest, ctx: _Ctx) -> _Plan:
    """external-member: flip userType back to Guest."""
    plan = _Plan()
    plan.commands.append(f"Update-MgUser -UserId {ps_quote(finding.object_id)} -UserType 'Guest'")
    return plan


def _guard(finding: _Finding, plan: _Plan) -> _Plan:
    """Drop every command of a finding whose object id is not a GUID (the id is not trusted)."""
    if _is_guid(finding.object_id) or not plan.commands:
        return plan
    note = "The object id is not a GUID: nothing is scripted for this finding."
    return _Plan(notes=[note, *plan.notes], suggestions=plan.suggestions)


def _suggest(*templates: str, note: str = "") -> _Planner:
    """A planner for a human decision: ``note`` plus commented command templates.

    Templates use ``{id}``, ``{mail}``, ``{other}``, ``{upn}``, ``{ext}`` and ``{sp}``, each
    replaced by a quoted value or a quoted placeholder when the value is not usable.
    """

    def plan(finding: _Finding, guest: _Guest, ctx: _Ctx) -> _Plan:
        values = _suggestion_values(finding, guest, ctx)
        lines = [t.format(**values) for t in templates]
        return _Plan(notes=[note] if note else [], suggestions=lines)

    return plan


def _suggestion_values(finding: _Finding, guest: _Guest, ctx: _Ctx) -> dict[str, str]:
    """Quoted values for suggestion templates (placeholders where a value is not usable)."""
    other = next(iter(guest.other_mails), None)
    ext = None
    if _is_address(guest.mail) and ctx.initial_domain:
        ext = guest.mail.replace("@", "_") + "#EXT#@" + ctx.initial_domain
    return {
        "id": ps_quote(finding.object_id),
        "mail": ps_quote(_or(guest.mail, "<address>")),
        "other": ps_quote(_or(other, "<address from the partner>")),
        "upn": ps_quote(_or(guest.provisioning_upn, "<address>")),
        "ext": ps_quote(_or(ext, "<alias>_<domain>#EXT#@<initial domain>")),
        "sp": ps_quote(ctx.sp_id or "<service principal id>"),
    }


def _or(address: str | None, placeholder: str) -> str:
    """``address`` when it is a usable address, else the placeholder."""
    return address if _is_address(address) else placeholder


def _mail_missing(finding: _Finding, guest: _Guest, ctx: _Ctx) -> _Plan:
    """mail-missing: suggest otherMails[0] as mail, with the mail-contact conflict check."""
    if not _is_address(next(iter(guest.other_mails), None)):
        return _ask_partner(finding, guest, ctx)
    return _contact_conflict(finding, guest, ctx)


_contact_conflict = _suggest(
    "Update-MgUser -UserId {id} -Mail {other}",
    "Contact conflict? A mail contact holding the address blocks mail-enablement:",
    "Get-MailContact -Identity {other} | Format-List Name,PrimarySmtpAddress,ExternalEmailAddress",
    "Remove-MailContact -Identity {other}",
)
_ask_partner = _suggest(
    "Update-MgUser -UserId {id} -Mail '<address>'",
    note="otherMails holds no usable address: ask the partner for the guest's address, then:",
)


def _no_suggestion(finding: _Finding, guest: _Guest, ctx: _Ctx) -> _Plan:
    """Rules fixed elsewhere (target, mapping, portal): the section's remediation applies."""
    return _Plan()


_MAIL_FIX = "Update-MgUser -UserId {id} -Mail '<corrected address>'"
_TARGET_SIDE = "Fixed in the target or the mapping, not per guest (see the remediation above)."

_PLANNERS: dict[str, _Planner] = {
    "exo-forwarding-broken": _forwarding,
    "primary-smtp-mismatch": _primary_smtp,
    "external-member": _external_member,
    "mail-missing": _mail_missing,
    "pending-acceptance": _suggest(
        "New-MgInvitation -InvitedUserEmailAddress {mail} -InviteRedirectUrl "
        "'https://myapplications.microsoft.com' -SendInvitationMessage",
        note="Resend the invitation (module Microsoft.Graph.Identity.SignIns) or remove the guest "
        "from the app's scope.",
    ),
    "account-disabled": _suggest(
        "Update-MgUser -UserId {id} -AccountEnabled:$true",
        note="Enable only if the guest should work; otherwise remove its assignment.",
    ),
    "guest-licensed": _suggest(
        "Get-MgUserLicenseDetail -UserId {id} | Format-Table SkuPartNumber,SkuId",
        "Set-MgUserLicense -UserId {id} -RemoveLicenses @('<skuId>') -AddLicenses @()",
        note="Group-based licences are removed by leaving the group, not with Set-MgUserLicense.",
    ),
    "stale-guest": _suggest(
        "Remove-MgUser -UserId {id}",
        note="Confirm with an access review before removing.",
    ),
    "duplicate-target-key": _suggest(
        "Get-MgUser -UserId {id} -Property Id,DisplayName,Mail,UserPrincipalName,CreatedDateTime",
        "Remove-MgUser -UserId {id}",
        note="Remove only the stale twin, or make the key unique in the mapping.",
    ),
    "upn-mail-mismatch": _suggest(
        "Update-MgUser -UserId {id} -Mail {upn}",
        note="If the invited address is the right one; or match objectId to externalId instead.",
    ),
    "original-upn-missing": _suggest("Update-MgUser -UserId {id} -UserPrincipalName {ext}"),
    "upn-invalid": _suggest("Update-MgUser -UserId {id} -UserPrincipalName '<valid UPN>'"),
    "address-invalid": _suggest(_MAIL_FIX),
    "address-too-long": _suggest(_MAIL_FIX),
    "address-non-ascii": _suggest(_MAIL_FIX),
    "mail-domain-undeliverable": _suggest(
        _MAIL_FIX, note="Confirm the address with the partner, or remove the guest."
    ),
    "exo-not-mail-enabled": _suggest(
        "Get-MailContact -Identity {mail} | Format-List Name,PrimarySmtpAddress",
        "Remove-MailContact -Identity {mail}",
        note="Then re-invite or re-save the guest so Exchange mail-enables it.",
    ),
    "nested-group-only": _suggest(
        "New-MgGroupMember -GroupId '<assigned group id>' -DirectoryObjectId {id}"
    ),
    "not-in-scope": _suggest(
        "New-MgUserAppRoleAssignment -UserId {id} -PrincipalId {id} -ResourceId {sp} "
        "-AppRoleId '<app role id>'",
        note="Only if the guest needs the app.",
    ),
}

_SECTION_NOTES = {
    "prior-provisioning-failure": "Provisioning logs: filter on each guest below, fix the cause, "
    "then 'Provision on demand'.",
    "domain-unverified": _TARGET_SIDE,
    "public-mail-domain": _TARGET_SIDE,
    "domain-claimed-elsewhere": _TARGET_SIDE,
}
"""Rules with nothing to do per guest: one note for the section, one line per guest."""
