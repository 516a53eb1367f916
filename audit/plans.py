"""Fix plans: what ``remediation.ps1`` runs, suggests and notes for one finding.

Each rule declares its plan next to its check (``Rule.plan``): a function of the finding, the guest's
values and the tenant's, returning a :class:`Plan`. Most are human decisions — :func:`suggest`
builds those from commented command templates — and a few are scripted. Tenant values reach a
command only through :func:`~audit.powershell.ps_quote`, and a command only for a GUID object id
(:func:`guard`). The PowerShell writer (:mod:`audit.render.remediation`) calls the hooks; it knows
no rule by name.
"""

from __future__ import annotations

import string
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import NamedTuple

from audit.powershell import is_address, is_guid, ps_quote

__all__ = [
    "NO_GUEST",
    "Ctx",
    "Finding",
    "Guest",
    "Plan",
    "Planner",
    "Suggest",
    "guard",
    "is_scripted",
    "mail_user_identity",
    "quoted_or",
    "reads_guest",
    "scripted",
    "suggest",
]


class Finding(NamedTuple):
    """One finding, as text."""

    rule_id: str
    object_id: str
    upn: str
    display_name: str
    detail: str
    level: str
    muted_by: str


class Guest(NamedTuple):
    """The guests-frame values a plan may read for one guest (None when unknown)."""

    mail: str | None = None
    original_upn: str | None = None
    provisioning_upn: str | None = None
    other_mails: tuple[str, ...] = ()
    mu_present: bool | None = None
    mu_external_email: str | None = None
    mu_email_addresses: tuple[str, ...] = ()


NO_GUEST = Guest()


@dataclass(frozen=True)
class Ctx:
    """Tenant-wide values the plans use."""

    initial_domain: str | None
    sp_id: str | None
    app_name: str
    email_attribute: str = "the e-mail attribute"
    recommended_email: str = "[originalUserPrincipalName]"


@dataclass
class Plan:
    """What one finding's block holds: executable commands and commented notes/suggestions."""

    commands: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    suggestions: list[str] = field(default_factory=list)


Planner = Callable[[Finding, Guest, Ctx], Plan]
"""A rule's fix plan for one finding."""


def scripted(planner: Planner) -> Planner:
    """Mark a planner whose plans carry commands the script runs (not only suggestions)."""
    planner.scripted = True  # type: ignore[attr-defined]
    return planner


def is_scripted(planner: Planner | None) -> bool:
    """True for a planner marked with :func:`scripted`."""
    return bool(getattr(planner, "scripted", False))


def guard(finding: Finding, plan: Plan) -> Plan:
    """Drop every command of a finding whose object id is not a GUID (the id is not trusted)."""
    if not plan.commands or is_guid(finding.object_id):
        return plan
    note = "The object id is not a GUID: nothing is scripted for this finding."
    return Plan(notes=[note, *plan.notes], suggestions=plan.suggestions)


@dataclass(frozen=True)
class Suggest:
    """A planner for a human decision: ``note`` plus commented command templates.

    Templates use ``{id}``, ``{mail}``, ``{other}``, ``{upn}``, ``{ext}`` and ``{sp}``, each
    replaced by a quoted value or a quoted placeholder when the value is not usable (only the
    fields a template uses are computed).
    """

    templates: tuple[str, ...]
    note: str
    fields: frozenset[str]
    """The template fields used, e.g. ``{"id", "sp"}``."""

    def __call__(self, finding: Finding, guest: Guest, ctx: Ctx) -> Plan:
        """The plan for one finding: the note and the filled-in templates."""
        values = {name: _VALUES[name](finding, guest, ctx) for name in self.fields}
        lines = [t.format_map(values) for t in self.templates]
        return Plan(notes=[self.note] if self.note else [], suggestions=lines)


def suggest(*templates: str, note: str = "") -> Suggest:
    """A :class:`Suggest` planner (see there)."""
    parse = string.Formatter().parse
    fields = frozenset(name for t in templates for _, name, _, _ in parse(t) if name)
    return Suggest(templates, note, fields)


def _ext_upn(guest: Guest, ctx: Ctx) -> str | None:
    """The #EXT# UPN Entra would give the guest's mail, when mail and initial domain are usable."""
    if is_address(guest.mail) and ctx.initial_domain:
        return guest.mail.replace("@", "_") + "#EXT#@" + ctx.initial_domain
    return None


def mail_user_identity(guest: Guest) -> str | None:
    """How ``Set-MailUser -Identity`` names the guest's mail user: its ``#EXT#`` UPN, quoted.

    -Identity takes a name, alias, distinguished name, canonical DN, e-mail address or GUID
    (https://learn.microsoft.com/powershell/module/exchange/set-mailuser), not the Entra object
    id; Microsoft's own example names a guest by its #EXT# UPN: ``Set-MailUser
    guestuser1_contoso.com#EXT#@fabrikam.onmicrosoft.com -HiddenFromAddressListsEnabled:$false``
    (https://learn.microsoft.com/entra/identity/app-provisioning/known-issues?pivots=cross-tenant-synchronization).
    None when the guest has no usable UPN.
    """
    upn = guest.original_upn
    if not upn or "@" not in upn or any(c.isspace() or ord(c) < 32 for c in upn):
        return None
    return ps_quote(upn)


def quoted_or(address: str | None, placeholder: str) -> str:
    """``address`` quoted when it is a usable address, else the quoted placeholder."""
    return ps_quote(address if is_address(address) else placeholder)


_VALUES: dict[str, Callable[[Finding, Guest, Ctx], str]] = {
    "id": lambda finding, guest, ctx: ps_quote(finding.object_id),
    "mail": lambda finding, guest, ctx: quoted_or(guest.mail, "<address>"),
    "other": lambda finding, guest, ctx: quoted_or(
        next(iter(guest.other_mails), None), "<address from the partner>"
    ),
    "upn": lambda finding, guest, ctx: quoted_or(guest.provisioning_upn, "<address>"),
    "ext": lambda finding, guest, ctx: quoted_or(
        _ext_upn(guest, ctx), "<alias>_<domain>#EXT#@<initial domain>"
    ),
    "sp": lambda finding, guest, ctx: ps_quote(ctx.sp_id or "<service principal id>"),
}
"""Quoted values for suggestion templates, by field (placeholders where a value is not usable)."""

_GUEST_FIELDS = frozenset({"mail", "other", "upn", "ext"})


def reads_guest(planner: Planner | None) -> bool:
    """False when a plan never reads the guest row (the writer then skips converting it).

    A :class:`Suggest` says exactly which fields it uses; any other planner may read the guest
    unless it sets ``reads_guest = False`` on itself.
    """
    if planner is None:
        return False
    if isinstance(planner, Suggest):
        return bool(planner.fields & _GUEST_FIELDS)
    return bool(getattr(planner, "reads_guest", True))
