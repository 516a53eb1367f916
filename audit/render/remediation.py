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
import string
import textwrap
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from itertools import compress
from pathlib import Path
from typing import Any, NamedTuple

import pandas as pd

from audit.render._common import atomic_path, column, iso_utc, py_values, tenant_name
from audit.render._ps1_text import (
    HOST,
    as_text,
    as_texts,
    clean,
    is_address,
    is_guid,
    ps_comment,
    ps_comments,
    ps_quote,
    short,
)
from audit.result import AuditResult

__all__ = ["SCRIPTED_RULES", "ps_comment", "ps_quote", "write_remediation"]

SCRIPTED_RULES = ("exo-forwarding-broken", "primary-smtp-mismatch", "external-member")
"""Rules whose fixes the script runs (in this order); all others get commented suggestions."""

_APP_RULE = "mapping-sends-external-address"
_WHATIF = " -WhatIf:(-not $Apply) -ErrorAction Stop"
_RULER = "# " + "=" * 98
_LISTED = ("flagged", "muted")
_FINDING_COLUMNS = (
    "rule_id",
    "object_id",
    "user_principal_name",
    "display_name",
    "detail",
    "level",
    "status",
    "muted_by",
)


def write_remediation(result: AuditResult, path: str | os.PathLike[str]) -> Path:
    """Write ``remediation.ps1`` for ``result`` to ``path`` and return the path.

    The file is written atomically, UTF-8 with BOM and CRLF line endings.
    """
    text = "\r\n".join(_script_lines(result)) + "\r\n"
    with atomic_path(path) as tmp:
        tmp.write_bytes(b"\xef\xbb\xbf" + text.encode("utf-8"))
    return Path(path)


class _Finding(NamedTuple):
    """One finding, as text."""

    rule_id: str
    object_id: str
    upn: str
    display_name: str
    detail: str
    level: str
    muted_by: str


class _Findings(NamedTuple):
    """Findings as columns, one list per :class:`_Finding` field and one row per finding.

    At 100,000 guests most findings become a single comment line built column by column
    (:func:`_one_lines`); only the others are made into records, which also keeps 100,000
    long-lived objects away from the garbage collector.
    """

    rule_id: list[str]
    object_id: list[str]
    upn: list[str]
    display_name: list[str]
    detail: list[str]
    level: list[str]
    muted_by: list[str]

    def records(self, rows: Iterable[int]) -> list[_Finding]:
        """The findings at ``rows``, as records."""
        rows = list(rows)
        return list(map(_Finding, *([values[i] for i in rows] for values in self)))


class _Guest(NamedTuple):
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

_NO_GUEST = _Guest()


@dataclass
class _Section:
    """One rule's lines and how many of its guest blocks are scripted or only commented."""

    lines: list[str]
    scripted: int
    commented: int


def _script_lines(result: AuditResult) -> list[str]:
    """The script as lines (no line endings); see the module docstring for the layout."""
    table = _findings(result.findings)
    rows = range(len(table.rule_id))
    open_ = [i for i in rows if not table.muted_by[i] and table.level[i] != "app"]
    ctx = _context(result)
    groups = list(_sections(result.rules, table.rule_id, open_))
    ids = {table.object_id[i] for rule_id, group in groups if _uses_guest(rule_id) for i in group}
    guests = _guests(result.guests, ids)
    infos = _rule_infos(result.rules)
    sections = [_section(infos, rule_id, table, group, guests, ctx) for rule_id, group in groups]
    muted = table.records(i for i in rows if table.muted_by[i])
    apps = table.records(i for i in rows if table.level[i] == "app" and not table.muted_by[i])
    lines = _header(result, ctx) + _preamble(sum(s.scripted for s in sections))
    for section in sections:
        lines += section.lines
    lines += _app_sections(infos, apps, ctx)
    lines += _muted_block(muted) + _skipped_rules(result.rules)
    return lines + _summary(sum(s.commented for s in sections), len(muted))


# -- reading the result ---------------------------------------------------------------------------


def _findings(frame: pd.DataFrame) -> _Findings:
    """Flagged and muted findings, first occurrence of each (rule, object) only.

    ``muted_by`` is "" when open (and never empty when muted), ``level`` "guest" when empty.
    """
    rule_id, object_id, upn, name, detail, level, status, muted_by = (
        _strings(column(frame, n)) for n in _FINDING_COLUMNS
    )
    levels = [value or "guest" for value in level]
    reasons = [
        (by or "muted by an exception") if state == "muted" else ""
        for state, by in zip(status, muted_by, strict=True)
    ]
    keep = _first_listed(rule_id, object_id, status)
    columns = (rule_id, object_id, upn, name, detail, levels, reasons)
    return _Findings(*(list(compress(values, keep)) for values in columns))


def _first_listed(rule_ids: list[str], object_ids: list[str], statuses: list[str]) -> list[bool]:
    """Per row: flagged or muted, and the first such row of its (rule, object) pair."""
    seen: set[tuple[str, str]] = set()
    keep: list[bool] = []
    for rule_id, object_id, status in zip(rule_ids, object_ids, statuses, strict=True):
        first = status in _LISTED and (rule_id, object_id) not in seen
        if first:
            seen.add((rule_id, object_id))
        keep.append(first)
    return keep


def _strings(series: pd.Series) -> list[str]:
    """A column as texts: ``as_text(v) or ""`` for each of its :func:`py_values`.

    String columns (the normal case) are read as one list; anything else takes the general path.
    """
    values: list[object] = []
    if isinstance(series.dtype, pd.StringDtype):
        values = series.fillna("").tolist()
    elif series.dtype == object:
        values = series.tolist()
    if len(values) == len(series) and set(map(type, values)) <= {str}:
        return values  # type: ignore[return-value]  # checked just above
    return [as_text(v) or "" for v in py_values(series)]


def _guests(frame: pd.DataFrame, ids: set[str]) -> dict[str, _Guest]:
    """The needed guest columns for the guests ``ids``, by object id (an id's last row wins)."""
    rows = {
        object_id: position
        for position, object_id in enumerate(column(frame, "object_id").tolist())
        if isinstance(object_id, str) and object_id in ids
    }
    positions = sorted(rows.values())

    def values(name: str) -> list[Any]:
        return py_values(column(frame, name).iloc[positions])

    names = ("mail", "original_upn", "provisioning_upn", "mu_external_email")
    cols = {n: values(n) for n in names}
    lists = {n: values(n) for n in ("other_mails", "mu_email_addresses")}
    present = values("mu_present")
    out: dict[str, _Guest] = {}
    for i, object_id in enumerate(values("object_id")):
        mu = present[i]
        out[str(object_id)] = _Guest(
            mail=as_text(cols["mail"][i]),
            original_upn=as_text(cols["original_upn"][i]),
            provisioning_upn=as_text(cols["provisioning_upn"][i]),
            other_mails=as_texts(lists["other_mails"][i]),
            mu_present=None if mu is None else bool(mu),
            mu_external_email=as_text(cols["mu_external_email"][i]),
            mu_email_addresses=as_texts(lists["mu_email_addresses"][i]),
        )
    return out


def _context(result: AuditResult) -> _Ctx:
    """Initial domain and service principal id, kept only when well-formed."""
    domain = as_text(result.tenant.get("initial_domain"))
    sp_id = as_text(result.app.get("service_principal_id") or result.app.get("id"))
    name = as_text(result.app.get("display_name") or result.app.get("displayName")) or "the app"
    return _Ctx(
        initial_domain=domain if domain and HOST.fullmatch(domain) else None,
        sp_id=sp_id if is_guid(sp_id) else None,
        app_name=name,
    )


def _rule_infos(rules: pd.DataFrame) -> dict[str, dict[str, str]]:
    """Title, severity and remediation ("" when unknown) by rule id; a rule's first row wins."""
    keys = ("title", "severity", "remediation")
    values = zip(*(py_values(column(rules, key)) for key in keys), strict=True)
    infos: dict[str, dict[str, str]] = {}
    for rule_id, row in zip(py_values(column(rules, "rule_id")), values, strict=True):
        if isinstance(rule_id, str) and rule_id not in infos:
            infos[rule_id] = {key: as_text(v) or "" for key, v in zip(keys, row, strict=True)}
    return infos


def _rule_info(infos: dict[str, dict[str, str]], rule_id: str) -> dict[str, str]:
    """Title, severity and remediation of one rule ("" when unknown)."""
    return infos.get(rule_id) or {"title": "", "severity": "", "remediation": ""}


def _sections(
    rules: pd.DataFrame, rule_ids: list[str], rows: list[int]
) -> Iterator[tuple[str, list[int]]]:
    """Open guest findings' rows grouped by rule: scripted rules first, then the catalogue order."""
    by_rule: dict[str, list[int]] = {}
    for row in rows:
        by_rule.setdefault(rule_ids[row], []).append(row)
    order = [*SCRIPTED_RULES, *(str(r) for r in py_values(column(rules, "rule_id")))]
    order += sorted(by_rule)
    for rule_id in dict.fromkeys(order):
        if rule_id in by_rule:
            yield rule_id, by_rule[rule_id]


# -- script text ----------------------------------------------------------------------------------


def _header(result: AuditResult, ctx: _Ctx) -> list[str]:
    """What the file is, for which tenant, when, and how to run it."""
    tenant = f"{tenant_name(result)} (tenant id {as_text(result.tenant.get('id')) or 'unknown'})"
    facts = [
        "remediation.ps1: fixes for open b2b-preflight findings that Entra ID / Exchange can make.",
        f"Tenant: {short(tenant, 300)}",
        f"Target: {short(result.target)}; app: {short(ctx.app_name)}",
        f"Generated: {iso_utc(result.generated_at)} by b2b-preflight {short(result.tool_version)}",
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
    infos: dict[str, dict[str, str]],
    rule_id: str,
    table: _Findings,
    rows: list[int],
    guests: dict[str, _Guest],
    ctx: _Ctx,
) -> _Section:
    """One rule's section: its heading, then a block per guest (the findings at ``rows``)."""
    info = _rule_info(infos, rule_id)
    kind = "scripted below" if rule_id in SCRIPTED_RULES else "decisions for a human: commented out"
    lines = _heading(f"{rule_id} ({info['severity'] or '?'}): {info['title']}", info["remediation"])
    lines.append(ps_comment(f"{len(rows)} open finding(s); {kind}."))
    if rule_id in _SECTION_NOTES:
        lines.append(ps_comment(_SECTION_NOTES[rule_id]))
    planner = _PLANNERS.get(rule_id, _no_suggestion)
    if planner is _no_suggestion:  # nothing per guest (most findings): one line each
        lines += _one_lines(table, rows)
        return _Section(lines, 0, len(rows))
    scripted = 0
    for finding in table.records(rows):
        plan = _guard(finding, planner(finding, guests.get(finding.object_id, _NO_GUEST), ctx))
        lines += _block(rule_id, finding, plan)
        scripted += bool(plan.commands)
    return _Section(lines, scripted, len(rows) - scripted)


def _heading(title: str, remediation: str) -> list[str]:
    """A section heading: ruler, title and the rule's remediation text, wrapped."""
    lines = ["", _RULER, ps_comment(title, limit=200)]
    wrapped = textwrap.wrap(clean(short(remediation, 1500)), 96, break_on_hyphens=False)
    for i, part in enumerate(wrapped):
        lines.append(ps_comment(("Remediation: " if i == 0 else "  ") + part))
    return [*lines, _RULER]


def _block(rule_id: str, finding: _Finding, plan: _Plan) -> list[str]:
    """One guest: who and why as comments, then try/catch commands or commented suggestions.

    A guest with nothing to do or consider gets a single line, so rules that hit most guests
    (domain-unverified) keep the script reviewable.
    """
    if not (plan.commands or plan.notes or plan.suggestions):
        return [ps_comment(f"{_who(finding)} | {short(finding.detail, 200)}")]
    lines = ["", ps_comment(_who(finding)), ps_comment(f"Reason: {finding.detail}")]
    lines += [ps_comment(note) for note in plan.notes]
    lines += [ps_comment(s, limit=None) for s in plan.suggestions]
    if not plan.commands:
        return lines
    commands = [f"    {c}{_WHATIF}" for c in plan.commands]
    return [*lines, "try {", *commands, *_catch(rule_id, finding)]


def _one_lines(table: _Findings, rows: list[int]) -> list[str]:
    """Guests with nothing to do or consider: who and why, one comment line each.

    The lines of :func:`_block` for an empty plan, built column by column: rules of this kind
    (domain-unverified) hold most of the findings of a large tenant.
    """
    names = _shortened([table.display_name[i] for i in rows], 160)
    upns = _shortened([table.upn[i] for i in rows], 160)
    ids = _shortened([table.object_id[i] for i in rows], 60)
    details = _shortened([table.detail[i] for i in rows], 200)
    fields = zip(names, upns, ids, details, strict=True)
    return ps_comments([f"Guest: {n} | UPN: {u} | id: {i} | {d}" for n, u, i, d in fields])


def _shortened(values: list[str], limit: int) -> list[str]:
    """:func:`short` of each value; the list itself when no value is too long (the common case)."""
    if max(map(len, values), default=0) <= limit:
        return values
    return [short(value, limit) for value in values]


def _who(finding: _Finding) -> str:
    """Name, UPN and object id of a finding's guest, each shortened."""
    name, upn, object_id = finding.display_name, finding.upn, finding.object_id
    return f"Guest: {short(name)} | UPN: {short(upn)} | id: {short(object_id, 60)}"


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


def _app_sections(
    infos: dict[str, dict[str, str]], findings: list[_Finding], ctx: _Ctx
) -> list[str]:
    """Open app-level findings: portal steps, never scripted."""
    lines: list[str] = []
    for finding in findings:
        info = _rule_info(infos, finding.rule_id)
        lines += _heading(f"{finding.rule_id} (app level): {info['title']}", info["remediation"])
        app = f"App: {short(ctx.app_name)} (service principal {short(finding.object_id, 60)})"
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
        f"  1. Enterprise applications > {short(ctx.app_name, 80)} > Provisioning > Mappings >",
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
        who = f"{f.rule_id} | {short(f.display_name, 80)} | UPN: {short(f.upn, 120)}"
        lines.append(ps_comment(f"{who} | id: {short(f.object_id, 60)} | muted by: {f.muted_by}"))
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
    return lines + [ps_comment(f"{as_text(r) or '?'}: {as_text(why) or ''}") for r, why in pairs]


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
    if not is_address(alias):
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
    if not is_address(mail):
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
    elif not is_address(guest.mail):
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
    if not plan.commands or is_guid(finding.object_id):
        return plan
    note = "The object id is not a GUID: nothing is scripted for this finding."
    return _Plan(notes=[note, *plan.notes], suggestions=plan.suggestions)


@dataclass(frozen=True)
class _Suggest:
    """A planner for a human decision: ``note`` plus commented command templates.

    Templates use ``{id}``, ``{mail}``, ``{other}``, ``{upn}``, ``{ext}`` and ``{sp}``, each
    replaced by a quoted value or a quoted placeholder when the value is not usable (only the
    fields a template uses are computed).
    """

    templates: tuple[str, ...]
    note: str
    fields: frozenset[str]
    """The template fields used, e.g. ``{"id", "sp"}``."""

    def __call__(self, finding: _Finding, guest: _Guest, ctx: _Ctx) -> _Plan:
        """The plan for one finding: the note and the filled-in templates."""
        values = {name: _VALUES[name](finding, guest, ctx) for name in self.fields}
        lines = [t.format_map(values) for t in self.templates]
        return _Plan(notes=[self.note] if self.note else [], suggestions=lines)


def _suggest(*templates: str, note: str = "") -> _Suggest:
    """A :class:`_Suggest` planner (see there)."""
    parse = string.Formatter().parse
    fields = frozenset(name for t in templates for _, name, _, _ in parse(t) if name)
    return _Suggest(templates, note, fields)


def _ext_upn(guest: _Guest, ctx: _Ctx) -> str | None:
    """The #EXT# UPN Entra would give the guest's mail, when mail and initial domain are usable."""
    if is_address(guest.mail) and ctx.initial_domain:
        return guest.mail.replace("@", "_") + "#EXT#@" + ctx.initial_domain
    return None


_VALUES: dict[str, Callable[[_Finding, _Guest, _Ctx], str]] = {
    "id": lambda finding, guest, ctx: ps_quote(finding.object_id),
    "mail": lambda finding, guest, ctx: ps_quote(_or(guest.mail, "<address>")),
    "other": lambda finding, guest, ctx: ps_quote(
        _or(next(iter(guest.other_mails), None), "<address from the partner>")
    ),
    "upn": lambda finding, guest, ctx: ps_quote(_or(guest.provisioning_upn, "<address>")),
    "ext": lambda finding, guest, ctx: ps_quote(
        _or(_ext_upn(guest, ctx), "<alias>_<domain>#EXT#@<initial domain>")
    ),
    "sp": lambda finding, guest, ctx: ps_quote(ctx.sp_id or "<service principal id>"),
}
"""Quoted values for suggestion templates, by field (placeholders where a value is not usable)."""

_GUEST_FIELDS = frozenset({"mail", "other", "upn", "ext"})


def _uses_guest(rule_id: str) -> bool:
    """False when a rule's plan never reads the guest row, so the row need not be converted."""
    planner = _PLANNERS.get(rule_id, _no_suggestion)
    if isinstance(planner, _Suggest):
        return bool(planner.fields & _GUEST_FIELDS)
    return planner not in (_no_suggestion, _external_member)


def _or(address: str | None, placeholder: str) -> str:
    """``address`` when it is a usable address, else the placeholder."""
    return address if is_address(address) else placeholder


def _mail_missing(finding: _Finding, guest: _Guest, ctx: _Ctx) -> _Plan:
    """mail-missing: suggest otherMails[0] as mail, with the mail-contact conflict check."""
    if not is_address(next(iter(guest.other_mails), None)):
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
