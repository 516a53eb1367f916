"""``remediation.ps1``: a reviewable PowerShell script that fixes what Entra and Exchange can fix.

It starts with the app-level fixes (the attribute-mapping change, step by step with the portal
path): one change there fixes more guests than any per-guest command. Then one section per rule
with open findings. Three rules are scripted (``exo-forwarding-broken``,
``primary-smtp-mismatch``, ``external-member``): per guest, ``Set-MailUser`` / ``Update-MgUser``
lines addressed by the immutable object id, each carrying ``-WhatIf:(-not $Apply)`` so the script is
a dry run unless started with ``-Apply``, inside a try/catch so one failure does not stop the rest.
Other rules with a per-guest fix list the exact command to consider, commented out (decisions for
a human). A guest gets lines of its own only where a command follows; the others are summarised
per section with counts (the most affected domains, the notes that apply) and where to find them
(findings.csv), so the script stays readable at 100,000 guests. Muted findings are listed as
skipped, never emitted as commands.

Everything from the tenant is hostile. Values in code are single-quoted PowerShell literals
(:func:`ps_quote`), where PowerShell also treats the Unicode quotes U+2018..U+201B as ``'``; all
other tenant text appears only in single-line ``#`` comments (:func:`ps_comment`), which no CR, LF,
NEL, U+2028/U+2029, vertical tab or form feed can end early. Executable lines are only emitted for
GUID object ids and conservative ASCII addresses. The file is UTF-8 with a BOM (Windows PowerShell
5.1 reads BOM-less files as ANSI) with CRLF line endings.
"""

from __future__ import annotations

import os
import textwrap
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from audit._values import column, iso_utc, py_values
from audit.analysis.result import AuditResult
from audit.plans import NO_GUEST, Ctx, Finding, Guest, Plan
from audit.powershell import (
    as_text,
    clean,
    ps_comment,
    ps_quote,
    short,
)
from audit.render._common import atomic_path, tenant_name
from audit.render._ps1_plans import has_plan, plan_of, section_note, template_plan, uses_guest
from audit.render._ps1_read import (
    SCRIPTED_RULES,
    Findings,
    read_context,
    read_findings,
    read_guests,
    rule_groups,
    rule_info,
    rule_infos,
    take,
)

__all__ = ["SCRIPTED_RULES", "ps_comment", "ps_quote", "write_remediation"]


_WHATIF = " -WhatIf:(-not $Apply) -ErrorAction Stop"
_RULER = "# " + "=" * 98


def write_remediation(result: AuditResult, path: str | os.PathLike[str]) -> Path:
    """Write ``remediation.ps1`` for ``result`` to ``path`` and return the path.

    The file is written atomically, UTF-8 with BOM and CRLF line endings.
    """
    lines = _script_lines(result)
    with atomic_path(path) as tmp, tmp.open("wb") as handle:
        handle.write(b"\xef\xbb\xbf")
        for start in range(0, len(lines), _LINES_PER_WRITE):  # not the whole text at once
            handle.write(("\r\n".join(lines[start : start + _LINES_PER_WRITE]) + "\r\n").encode())
    return Path(path)


_LINES_PER_WRITE = 50_000
"""Lines joined and encoded at a time: a million guests make a script of over 250 MB."""


@dataclass
class _Section:
    """One rule's lines and how many of its guest blocks are scripted or only commented."""

    lines: list[str]
    scripted: int
    commented: int


def _script_lines(result: AuditResult) -> list[str]:
    """The script as lines (no line endings); see the module docstring for the layout."""
    table = read_findings(result.findings)
    rows = range(len(table.rule_id))
    open_ = [i for i in rows if not table.muted_by[i] and table.level[i] != "app"]
    ctx = read_context(result)
    groups = list(rule_groups(result.rules, table.rule_id, open_))
    ids = {
        i for rule_id, group in groups if uses_guest(rule_id) for i in take(table.object_id, group)
    }
    guests = read_guests(result.guests, ids)
    infos = rule_infos(result.rules)
    target = result.target
    sections = [
        _section(infos, rule_id, table, group, guests, ctx, target) for rule_id, group in groups
    ]
    muted = table.records(i for i in rows if table.muted_by[i])
    apps = table.records(i for i in rows if table.level[i] == "app" and not table.muted_by[i])
    lines = _header(result, ctx) + _preamble(sum(s.scripted for s in sections))
    lines += _app_sections(infos, apps, ctx)
    for section in sections:
        lines += section.lines
    lines += _muted_block(muted) + _skipped_rules(result.rules)
    return lines + _summary(sum(s.commented for s in sections), len(muted))


# -- reading the result ---------------------------------------------------------------------------


# -- script text ----------------------------------------------------------------------------------


def _header(result: AuditResult, ctx: Ctx) -> list[str]:
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
    "# Review every command before running. Each one changes one guest: Update-MgUser addresses it by",
    "# its immutable object id, Set-MailUser by its #EXT# UPN. Sections for other rules list commands",
    "# to consider; they are commented out on purpose (decisions for a human). Muted findings are",
    "# listed at the end and not touched.",
    "#",
    "# How to run (Windows PowerShell 5.1 or PowerShell 7):",
    "#   .\\remediation.ps1           dry run (default): nothing changes, -WhatIf shows each change",
    "#   .\\remediation.ps1 -Apply    make the changes",
    "# A downloaded file may need: Unblock-File .\\remediation.ps1",
    "# Needs ExchangeOnlineManagement 3.x (an Exchange administrator) and Microsoft.Graph.Users",
    "# (User.ReadWrite.All). Set-MailUser -Identity takes the guest's #EXT# UPN (an e-mail-address",
    "# identity, as in Microsoft's known-issues example), not the Entra object id.",
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
    table: Findings,
    rows: list[int],
    guests: dict[str, Guest],
    ctx: Ctx,
    target: str,
) -> _Section:
    """One rule's section: its heading, then a block per guest (the findings at ``rows``)."""
    info = rule_info(infos, rule_id)
    kind = "scripted below" if rule_id in SCRIPTED_RULES else "decisions for a human: commented out"
    if not has_plan(rule_id):
        kind = "nothing to run per guest"
    elif template_plan(rule_id, ctx) is not None:
        kind = "decisions for a human: one command to consider for each"
    lines = _heading(f"{rule_id} ({info['severity'] or '?'}): {info['title']}", info["remediation"])
    lines.append(ps_comment(f"{len(rows):,} open finding(s); {kind}."))
    if note := section_note(rule_id, target):
        lines.append(ps_comment(note))
    if not has_plan(rule_id):  # nothing per guest (most findings): counts, and where to look
        return _Section(lines + _summarised(rule_id, table, rows, {}), 0, len(rows))
    if (template := template_plan(rule_id, ctx)) is not None:  # the same command for each guest
        lines += [ps_comment(note) for note in template.notes]
        lines.append(ps_comment("For each guest (its object id is in findings.csv), consider:"))
        lines += [ps_comment(f"  {s}", limit=None) for s in template.suggestions]
        return _Section(lines + _summarised(rule_id, table, rows, {}), 0, len(rows))
    scripted = 0
    quiet: dict[str, int] = {}  # guests with only notes: counted per note, no lines of their own
    for finding in table.records(rows):
        plan = plan_of(rule_id, finding, guests.get(finding.object_id, NO_GUEST), ctx)
        if plan.commands or plan.suggestions:
            lines += _block(rule_id, finding, plan)
            scripted += bool(plan.commands)
        else:
            for note in plan.notes or ["nothing to change per guest"]:
                quiet[note] = quiet.get(note, 0) + 1
    if quiet:
        lines += _summarised(rule_id, table, rows, quiet)
    return _Section(lines, scripted, len(rows) - scripted)


_TOP_DOMAINS = 10


def _summarised(rule_id: str, table: Findings, rows: list[int], notes: dict[str, int]) -> list[str]:
    """The guests of a section that get no lines of their own: how many, why (the notes of
    their plans, counted), their most frequent mail domains, and where they are listed."""
    count = sum(notes.values()) if notes else len(rows)
    what = "with nothing to run here" if notes or not has_plan(rule_id) else "to decide on"
    lines = ["", ps_comment(f"{count:,} guest(s) {what}{':' if notes else '.'}")]
    for note, n in sorted(notes.items(), key=lambda item: -item[1]):
        lines.append(ps_comment(f"  {n:,} x {note}", limit=300))
    if not notes:
        lines += _top_domains([table.domain[i] for i in rows])
    lines.append(
        ps_comment(
            f"All {len(rows):,} are listed in findings.csv (rule_id {rule_id}) and in report.html "
            "(Guests, filtered by this rule), each with its detail."
        )
    )
    return lines


def _top_domains(domains: list[str]) -> list[str]:
    """The most frequent mail domains of a section's guests, with counts (none: no line)."""
    counts: dict[str, int] = {}
    for domain in domains:
        if domain:
            counts[domain] = counts.get(domain, 0) + 1
    if not counts:
        return []
    top = sorted(counts.items(), key=lambda item: (-item[1], item[0]))[:_TOP_DOMAINS]
    shown = "; ".join(f"{short(d, 80)} {n:,}" for d, n in top)
    more = f" (and {len(counts) - len(top):,} more domains)" if len(counts) > len(top) else ""
    return [ps_comment(f"By mail domain: {shown}{more}", limit=None)]


def _heading(title: str, remediation: str) -> list[str]:
    """A section heading: ruler, title and the rule's remediation text, wrapped."""
    lines = ["", _RULER, ps_comment(title, limit=200)]
    wrapped = textwrap.wrap(clean(short(remediation, 1500)), 96, break_on_hyphens=False)
    for i, part in enumerate(wrapped):
        lines.append(ps_comment(("Remediation: " if i == 0 else "  ") + part))
    return [*lines, _RULER]


def _block(rule_id: str, finding: Finding, plan: Plan) -> list[str]:
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


def _who(finding: Finding) -> str:
    """Name, UPN and object id of a finding's guest, each shortened."""
    name, upn, object_id = finding.display_name, finding.upn, finding.object_id
    return f"Guest: {short(name)} | UPN: {short(upn)} | id: {short(object_id, 60)}"


def _catch(rule_id: str, finding: Finding) -> list[str]:
    """Count success, or count and report the failure and go on with the next guest."""
    where = f"{ps_quote(rule_id)}, {ps_quote(finding.object_id)}"
    return [
        "    $succeeded++",
        "} catch {",
        "    $failed++",
        f"    Write-Warning ('{{0}} for {{1}} failed: {{2}}' -f {where}, $_.Exception.Message)",
        "}",
    ]


def _app_sections(infos: dict[str, dict[str, str]], findings: list[Finding], ctx: Ctx) -> list[str]:
    """Open app-level findings, first in the script: portal steps, never scripted."""
    if not findings:
        return []
    lines = [
        "",
        ps_comment("START HERE: the app-level fix below changes what the target receives for"),
        ps_comment("every guest at once; the per-guest sections after it fix what it cannot."),
    ]
    for finding in findings:
        info = rule_info(infos, finding.rule_id)
        lines += _heading(f"{finding.rule_id} (app level): {info['title']}", info["remediation"])
        app = f"App: {short(ctx.app_name)} (service principal {short(finding.object_id, 60)})"
        lines += [ps_comment(app), ps_comment(f"Reason: {finding.detail}")]
        steps = plan_of(finding.rule_id, finding, NO_GUEST, ctx).notes
        lines += [ps_comment(step, limit=None) for step in steps] or [
            ps_comment("Not scripted: follow the remediation above.")
        ]
    return lines


def _muted_block(muted: list[Finding]) -> list[str]:
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
