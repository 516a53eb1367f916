"""Per-rule plans of ``remediation.ps1``: what each finding's block runs, suggests and notes.

Three rules are scripted (``exo-forwarding-broken``, ``primary-smtp-mismatch``,
``external-member``); every other rule's plan is commented suggestions (:class:`_Suggest`) or
nothing per guest. Tenant values reach a command only through
:func:`~audit.render._ps1_text.ps_quote`, and only for a GUID object id (:func:`_guard`).
"""

from __future__ import annotations

import string
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import NamedTuple

from audit.render._ps1_text import is_address, is_guid, ps_quote

__all__ = [
    "NO_GUEST",
    "SECTION_NOTES",
    "Ctx",
    "Finding",
    "Guest",
    "Plan",
    "has_plan",
    "plan_of",
    "uses_guest",
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
    """The guests-frame values the script needs for one guest (None when unknown)."""

    mail: str | None = None
    original_upn: str | None = None
    provisioning_upn: str | None = None
    other_mails: tuple[str, ...] = ()
    mu_present: bool | None = None
    mu_external_email: str | None = None
    mu_email_addresses: tuple[str, ...] = ()


@dataclass(frozen=True)
class Ctx:
    """Tenant-wide values the suggestions use."""

    initial_domain: str | None
    sp_id: str | None
    app_name: str


@dataclass
class Plan:
    """What one guest's block holds: executable commands and commented notes/suggestions."""

    commands: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    suggestions: list[str] = field(default_factory=list)


_Planner = Callable[[Finding, Guest, Ctx], Plan]

NO_GUEST = Guest()


def has_plan(rule_id: str) -> bool:
    """False for a rule with nothing to do per guest (its section's remediation applies)."""
    return _PLANNERS.get(rule_id, _no_suggestion) is not _no_suggestion


def plan_of(rule_id: str, finding: Finding, guest: Guest, ctx: Ctx) -> Plan:
    """The plan of one finding; its commands are dropped when the object id is not a GUID."""
    planner = _PLANNERS.get(rule_id, _no_suggestion)
    return _guard(finding, planner(finding, guest, ctx))


def _forwarding(finding: Finding, guest: Guest, ctx: Ctx) -> Plan:
    """exo-forwarding-broken: add the #EXT# alias and point ExternalEmailAddress at mail."""
    plan = Plan()
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


def _forward_target(plan: Plan, ident: str, guest: Guest) -> None:
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


def _primary_smtp(finding: Finding, guest: Guest, ctx: Ctx) -> Plan:
    """primary-smtp-mismatch: make mail the primary SMTP address."""
    plan = Plan()
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


def _external_member(finding: Finding, guest: Guest, ctx: Ctx) -> Plan:
    """external-member: flip userType back to Guest."""
    plan = Plan()
    plan.commands.append(f"Update-MgUser -UserId {ps_quote(finding.object_id)} -UserType 'Guest'")
    return plan


def _guard(finding: Finding, plan: Plan) -> Plan:
    """Drop every command of a finding whose object id is not a GUID (the id is not trusted)."""
    if not plan.commands or is_guid(finding.object_id):
        return plan
    note = "The object id is not a GUID: nothing is scripted for this finding."
    return Plan(notes=[note, *plan.notes], suggestions=plan.suggestions)


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

    def __call__(self, finding: Finding, guest: Guest, ctx: Ctx) -> Plan:
        """The plan for one finding: the note and the filled-in templates."""
        values = {name: _VALUES[name](finding, guest, ctx) for name in self.fields}
        lines = [t.format_map(values) for t in self.templates]
        return Plan(notes=[self.note] if self.note else [], suggestions=lines)


def _suggest(*templates: str, note: str = "") -> _Suggest:
    """A :class:`_Suggest` planner (see there)."""
    parse = string.Formatter().parse
    fields = frozenset(name for t in templates for _, name, _, _ in parse(t) if name)
    return _Suggest(templates, note, fields)


def _ext_upn(guest: Guest, ctx: Ctx) -> str | None:
    """The #EXT# UPN Entra would give the guest's mail, when mail and initial domain are usable."""
    if is_address(guest.mail) and ctx.initial_domain:
        return guest.mail.replace("@", "_") + "#EXT#@" + ctx.initial_domain
    return None


_VALUES: dict[str, Callable[[Finding, Guest, Ctx], str]] = {
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


def uses_guest(rule_id: str) -> bool:
    """False when a rule's plan never reads the guest row, so the row need not be converted."""
    planner = _PLANNERS.get(rule_id, _no_suggestion)
    if isinstance(planner, _Suggest):
        return bool(planner.fields & _GUEST_FIELDS)
    return planner not in (_no_suggestion, _external_member)


def _or(address: str | None, placeholder: str) -> str:
    """``address`` when it is a usable address, else the placeholder."""
    return address if is_address(address) else placeholder


def _mail_missing(finding: Finding, guest: Guest, ctx: Ctx) -> Plan:
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


def _no_suggestion(finding: Finding, guest: Guest, ctx: Ctx) -> Plan:
    """Rules fixed elsewhere (target, mapping, portal): the section's remediation applies."""
    return Plan()


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

SECTION_NOTES = {
    "prior-provisioning-failure": "Provisioning logs: filter on each guest below, fix the cause, "
    "then 'Provision on demand'.",
    "domain-unverified": _TARGET_SIDE,
    "public-mail-domain": _TARGET_SIDE,
    "domain-claimed-elsewhere": _TARGET_SIDE,
}
"""Rules with nothing to do per guest: one note for the section, one line per guest."""
