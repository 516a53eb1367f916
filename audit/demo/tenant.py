"""``generate_tenant``: a deterministic synthetic Entra tenant with every catalogued pathology.

The tenant is raw Microsoft Graph v1.0 JSON (see :mod:`audit.demo.model`), so the Graph emulator
serves it verbatim and :func:`write_export` writes it as a Graph JSON export folder. Same arguments,
same tenant: every id, name and time comes from ``random.Random(seed)`` and ``now``.

Contents: organization "Contoso Demo" (initial domain ``contosodemo.onmicrosoft.com``, default
``contoso-demo.com``); ``domains`` external mail domains (partners built from word lists, consumer
providers, the IDN ``bücher-partner.de`` and six DNS pathologies, each with a DNS zone entry keyed
by A-label); ``guests`` guests and external members (about 30 % purpose-built cases below, in
``max(1, guests // 250)`` copies, the rest ordinary guests on random partner or consumer domains,
12 % of them unassigned); a few internal members (never audited); the "Atlassian Cloud" service
principal, its assignments (a few users directly, two security groups, one nested group under the
first), one provisioning job with the gallery default mapping (``emails`` <- ``[mail]``, so the
app-level rule ``mapping-sends-external-address`` fires), provisioning logs and Get-MailUser rows;
and an Atlassian organization with its SCIM directory (:mod:`audit.demo.tenant_atlassian`).

``verified_in_target`` holds our two domains and the partner domains that publish our
``atlassian-domain-verification`` token (the IDN one as its A-label). ``expected[user id]`` is the
set of per-guest rule ids that must flag the guest, derived from how it was built. Conventions
behind it:

- Every rule applies to every guest whatever its scope, except ``duplicate-target-key`` (in-scope
  guests only: ``direct``, ``group``; ``nested_only`` is not in scope) and the scope rules
  themselves.
- Rules that compare against ``mail`` (``domain-unverified``, ``upn-mail-mismatch``,
  ``primary-smtp-mismatch``, the domain rules, ``exo-forwarding-broken``) do not flag a guest
  without ``mail``: ``mail-missing`` does. Missing values never count as duplicates.
- ``exo-forwarding-broken`` needs a MailUser row, looks for the ``#EXT#`` UPN among
  ``EmailAddresses`` whatever the prefix case (``SMTP:``/``smtp:``), and wants
  ``ExternalEmailAddress`` exactly ``SMTP:<mail>``.
- ``address-invalid`` is email-validator without ``strict`` and with SMTPUTF8 allowed (length is
  ``address-too-long``'s, non-ASCII ``address-non-ascii``'s). ``upn-invalid`` is characters outside
  ``A-Z a-z 0-9 ' . - _ ! # ^ ~`` or more than 113 characters (the 64-before-``@`` limit is not
  used: every ``#EXT#`` UPN of a 65-character alias breaks it).
- ``address-too-long`` may or may not count the recommended mapping's ``#EXT#`` address: no case
  depends on it (ordinary guests stay within 64 characters before ``@``; long cases are long in
  ``mail`` too).
- ``stale-guest``: last interactive sign-in more than 90 days before ``now``, or an accepted guest
  with no ``signInActivity`` at all; pending guests are ``pending-acceptance``'s, not stale.
- Unknown DNS (timeouts, SERVFAIL) leaves the DNS rules *not evaluated*, never in the set.

Cases (``case`` label as returned by :func:`generate_labelled`; V = a partner domain verified in the
target; "+dom"/"+scope" = findings its domain or scope add):

==========================  =====================================================================
case                        guest -> expected findings
==========================  =====================================================================
unverified-partner          on an unverified partner -> domain-unverified
public-mail                 on gmail.com etc. -> public-mail-domain, domain-unverified
upn-custom-domain           UPN ``alias@contoso-demo.com`` -> original-upn-missing,
                            upn-mail-mismatch
mail-missing-contact        mail null, otherMails holds it, no proxy, no MailUser -> mail-missing,
                            exo-not-mail-enabled
mail-missing-bare           same with otherMails empty -> mail-missing, exo-not-mail-enabled
invalid-double-dot          ``first..last@V`` -> address-invalid
invalid-space               ``first last@V`` (UPN has the space) -> address-invalid, upn-invalid
invalid-other-mail          otherMails has ``alias(at)V`` -> address-invalid
invalid-primary-smtp        primary ``SMTP:alias.@V`` -> address-invalid, primary-smtp-mismatch
too-long-local              65-character local part -> address-too-long (+upn-invalid if UPN > 113)
too-long-upn                66+ characters, UPN > 113 -> address-too-long, upn-invalid
non-ascii-local             ``jürgen.müller@V`` -> address-non-ascii, upn-invalid
idn-u-label                 ``alias@bücher-partner.de`` -> address-non-ascii, upn-invalid
nxdomain                    on fabrikamm.com (NXDOMAIN) -> mail-domain-undeliverable +dom
null-mx                     on litware-archive.com (MX 0 .) -> mail-domain-undeliverable +dom
no-mail-host                on proseware-parked.net (no MX, no A) -> mail-domain-undeliverable +dom
pending                     PendingAcceptance, never signed in -> pending-acceptance
disabled                    accountEnabled false -> account-disabled
changed-alias               mail changed to a new alias -> upn-mail-mismatch
changed-domain              invited at an old partner, mail now on V -> upn-mail-mismatch
duplicate-mail              pair, mails differ only in case, both in scope -> duplicate-target-key
                            (the second, invited under another alias, also upn-mail-mismatch)
nested-only                 only in the nested group -> nested-group-only
unassigned                  not assigned -> not-in-scope
proxy-missing               no proxyAddresses -> primary-smtp-mismatch
proxy-upn-primary           primary ``SMTP:<#EXT# UPN>`` -> primary-smtp-mismatch
proxy-old-primary           primary on an old address -> primary-smtp-mismatch
no-mailuser                 no Get-MailUser row -> exo-not-mail-enabled
mu-missing-upn-address      EmailAddresses lacks the #EXT# UPN -> exo-forwarding-broken
mu-external-stale           ExternalEmailAddress an old address -> exo-forwarding-broken
mu-external-upn             ExternalEmailAddress the #EXT# UPN (a loop) -> exo-forwarding-broken
claimed-domain              domain has another org's vendor TXT -> domain-claimed-elsewhere +dom
prov-failed                 success, then a 409 failure (latest) -> prior-provisioning-failure
prov-skipped                latest entry skipped -> prior-provisioning-failure
upn-plus                    ``alias+jira@V`` -> upn-invalid
upn-ampersand               ``r&d@V`` -> upn-invalid
licensed                    assignedLicenses not empty -> guest-licensed
external-member             userType Member, invited, no MailUser -> external-member,
                            exo-not-mail-enabled
stale-sign-in               last sign-in 120-400 days ago -> stale-guest
stale-never                 accepted long ago, no signInActivity -> stale-guest
target-email-taken          a stale SCIM user in the target holds its mail -> target-email-conflict
clean-verified              twin: plain guest on V -> (none)
a-record-fallback           twin: no MX but A/AAAA (fourthcoffee.biz) -> domain-unverified
dns-unanswered              twin: DNS times out (lamna-healthcare.eu) -> domain-unverified
dns-servfail                twin: SERVFAIL (woodgrove-legacy.com) -> domain-unverified
underscore-alias            twin: ``first_last@V`` (last ``_`` de-mangles) -> (none)
other-mails-empty           twin: mail set, otherMails empty -> (none)
unusual-valid-address       twin: ``first.o'brien@V`` -> (none)
long-but-valid              twin: #EXT# local part exactly 64 characters -> (none)
idn-a-label                 twin: ``alias@xn--bcher-partner-wob.de`` -> (none)
recently-accepted           twin: invited 2-3 days ago, accepted, signed in -> (none)
upn-case-differs            twin: UPN ``First.Last_V#EXT#``, mail lower-case -> (none)
duplicate-twin              twin: same-mail pair whose second is unassigned -> (none)
duplicate-twin-unassigned   its second: -> not-in-scope, upn-mail-mismatch
duplicate-twin-disabled     twin: same-mail pair whose second is disabled -> (second:
                            account-disabled, upn-mail-mismatch)
duplicate-twin-filtered     twin: same-mail pair whose second the scoping filter leaves out
                            -> (second: scoping-filter, upn-mail-mismatch)
duplicate-of-member         an assigned employee account has the guest's mail ->
                            duplicate-target-key
filtered-out                display name ``TEST-...``: the job's scoping filter
                            (``displayName NOT REGEX MATCH ^TEST-.*$``) leaves it out ->
                            scoping-filter
filter-passes               twin: ``TEST-`` inside the display name -> (none)
unsecured-group-only        only in an assigned Microsoft 365 group (not security-enabled) ->
                            not-in-scope
ext-upn-custom-domain       twin: ``alias_V#EXT#@contoso-demo.com`` (a verified tenant domain)
                            -> (none)
alias-trailing-underscore   twin: ``first.last_@V`` (UPN ``first.last__V#EXT#@...``) -> (none)
nested-and-group            twin: in the nested group and in an assigned group -> (none)
direct-assignment           twin: assigned directly -> (none)
proxy-with-secondary        twin: ``SMTP:<mail>`` plus a secondary -> (none)
mu-extra-addresses          twin: MailUser with an extra X500 address -> (none)
other-vendor-txt            twin: partner with google-site-verification etc. -> domain-unverified
prov-recovered              twin: failure, then success (latest) -> (none)
prov-success                twin: success only -> (none)
recent-sign-in              twin: last sign-in 40-60 days ago -> (none)
target-provisioned          twin: already provisioned into the target -> (none)
target-managed-account      twin: a managed target account has its mail -> (none)
hostile-name                nine otherwise clean guests named ``<script>``, ``=HYPERLINK(...)``,
                            ``+cmd|...``, ``@SUM(1)``, ``$(Remove-Item C:\\)``, backticks, RTL
                            override, emoji... -> (none)
bulk                        ordinary guests -> domain rules of their domain, not-in-scope if
                            unassigned
==========================  =====================================================================
"""

from __future__ import annotations

import gc
import random
from datetime import UTC, datetime
from typing import Any

from audit.analysis.engine import APP
from audit.demo.model import DemoTenant
from audit.demo.tenant_app import (
    AppIds,
    app_ids,
    assignment,
    group_json,
    group_ref,
    service_principal,
    user_ref,
)
from audit.demo.tenant_atlassian import TargetSides
from audit.demo.tenant_cases import CASES, build_cases, build_target_cases, guest_rule_ids
from audit.demo.tenant_domains import (
    DEFAULT_DOMAIN,
    INITIAL_DOMAIN,
    VENDOR_PREFIX,
    DomainPlan,
    plan_domains,
)
from audit.demo.tenant_export import write_export
from audit.demo.tenant_logs import provisioning_entries
from audit.demo.tenant_org import domains_json, organization_json
from audit.demo.tenant_spec import DAY, Builder, GuestSpec
from audit.demo.tenant_sync import sync_job, sync_schema
from audit.demo.tenant_users import internal_member, mailuser_row, user_json
from audit.rules import all_rules
from audit.targets import DEFAULT_TARGET, Target, get_target

__all__ = [
    "APP_RULE_IDS",
    "CASES",
    "GUEST_RULE_IDS",
    "generate_labelled",
    "generate_tenant",
    "write_export",
]

JSON = dict[str, Any]
APP_RULE_IDS = frozenset(r.id for r in all_rules() if r.level == APP)
GUEST_RULE_IDS = guest_rule_ids()
_COPY_EVERY = 250  # one copy of every case per this many guests


def generate_tenant(
    guests: int = 500,
    domains: int = 60,
    *,
    seed: int = 0,
    now: datetime | None = None,
    target: str = DEFAULT_TARGET,
) -> DemoTenant:
    """A synthetic tenant of about ``guests`` guests over ``domains`` external mail domains.

    ``now`` anchors every timestamp (default: the start of the current UTC day, so two calls on the
    same day agree); pass the time the audit will run with so sign-in ages mean what the cases say.
    At least one copy of every case is built (about 70 guests) and at least 17 domains.

    ``target`` names the profile whose gallery app the tenant provisions into (default Atlassian
    Cloud): its service principal's display name, its job schema (:mod:`audit.demo.tenant_sync`)
    and, besides the catalogue's cases, the target's own cases (``Target.demo_cases``). For another
    target than the default, ``expected`` holds only the guests of the target's own cases (the
    oracle of every other guest is written for the default target).
    """
    return generate_labelled(guests, domains, seed=seed, now=now, target=target)[0]


def generate_labelled(
    guests: int = 500,
    domains: int = 60,
    *,
    seed: int = 0,
    now: datetime | None = None,
    target: str = DEFAULT_TARGET,
) -> tuple[DemoTenant, dict[str, str]]:
    """:func:`generate_tenant` plus each guest's case label (user id -> case name, or ``bulk``).

    The cyclic garbage collector is paused while the objects are built: it would otherwise rescan
    the growing heap again and again (a third of the time at 200,000 guests) and find no cycles.
    """
    collecting = gc.isenabled()
    gc.disable()
    try:
        return _generate(guests, domains, seed, _epoch(now), get_target(target))
    finally:
        if collecting:
            gc.enable()


def _generate(
    guests: int, domains: int, seed: int, epoch: int, target: Target
) -> tuple[DemoTenant, dict[str, str]]:
    """Plan domains, build the cases and the bulk guests in a shuffled order, then assemble."""
    rng = random.Random(seed)
    ids = app_ids(rng, target.name, target.app_display_name)
    plan = plan_domains(rng, domains)
    b = Builder(rng, plan)
    specs = build_cases(b, max(1, guests // _COPY_EVERY))
    own = frozenset(c.name for c in target.demo_cases) if target.name != DEFAULT_TARGET else None
    if own is not None:  # once: copies of an alias would collide with each other
        specs += build_target_cases(b, target)
    extra = max(0, guests - len(specs))
    specs += [b.bulk(d) for d in plan.bulk[:extra]]  # every domain used at least once
    specs += [b.bulk() for _ in range(extra - len(plan.bulk[:extra]))]
    rng.shuffle(specs)
    # The Atlassian organization exists for the Atlassian Cloud app only.
    atlassian = target.name == DEFAULT_TARGET
    sides = TargetSides(random.Random(f"{seed}:atlassian"), plan) if atlassian else None
    members = 5 + guests // 2000
    tenant, labels = _assemble(
        b, ids, plan, specs, epoch, members=members, oracle_for=own, sides=sides
    )
    if sides is not None:
        tenant.atlassian = sides.organization(tenant, random.Random(f"{seed}:atlassian-ids"))
    return tenant, labels


def _epoch(now: datetime | None) -> int:
    """``now`` as whole epoch seconds (naive means UTC); default: today's midnight UTC."""
    if now is None:
        today = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
        return int(today.timestamp())
    return int((now if now.tzinfo else now.replace(tzinfo=UTC)).timestamp())


class _Scope:
    """Collects assignments and group members as guests are built."""

    def __init__(self, b: Builder, ids: AppIds, now: int) -> None:
        self.b, self.ids, self.now = b, ids, now
        self.direct: list[JSON] = []
        self.members: dict[str, list[JSON]] = {
            ids.group_a: [],
            ids.group_b: [],
            ids.group_nested: [],
            ids.group_m365: [],
        }
        self._groups = {
            "group_a": (ids.group_a,),
            "group_b": (ids.group_b,),
            "group_m365": (ids.group_m365,),
            "both": (ids.group_a, ids.group_b),
            "nested": (ids.group_nested,),
            "nested_and_a": (ids.group_nested, ids.group_a),
        }

    def add(self, user: JSON, scope: str) -> None:
        """Place ``user`` where ``scope`` says (``none`` places it nowhere)."""
        ids = self.ids
        if scope == "direct":
            created = self.now - self.b.rng.uniform(1.0, 300.0) * DAY
            self.direct.append(assignment(self.b, ids, user, "User", created))
            return
        targets = self._groups.get(scope, ())
        if targets:
            ref = user_ref(user)
            for group in targets:
                self.members[group].append(ref)


def _assemble(
    b: Builder,
    ids: AppIds,
    plan: DomainPlan,
    specs: list[GuestSpec],
    now: int,
    members: int,
    oracle_for: frozenset[str] | None = None,
    sides: TargetSides | None = None,
) -> tuple[DemoTenant, dict[str, str]]:
    """Turn specs into the Graph objects of the tenant; ``oracle_for`` limits ``expected`` to
    the guests of those cases (None: every guest)."""
    scope = _Scope(b, ids, now)
    users = [internal_member(b, now) for _ in range(members)]
    for i, member in enumerate(users):
        scope.add(member, "direct" if i % 2 else "group_a")
    expected: dict[str, set[str]] = {}
    labels: dict[str, str] = {}
    mailusers: list[dict[str, str]] = []
    logs: list[JSON] = []
    in_scope = 0
    specs.reverse()
    while specs:  # popping lets each spec go as soon as its objects exist
        spec = specs.pop()
        user = user_json(spec, b, now)
        users.append(user)
        uid = user["id"]
        if oracle_for is None:
            expected[uid] = spec.expected()
        elif spec.case in oracle_for:
            expected[uid] = set(spec.flags)
        labels[uid] = spec.case
        row = mailuser_row(spec, uid)
        if row is not None:
            mailusers.append(row)
        scope.add(user, spec.scope)
        if spec.member_twin:
            users.append(_member_twin(b, user, scope, now))
        in_scope += spec.scope not in ("none", "nested", "group_m365")
        if spec.prov is not None:
            logs += provisioning_entries(spec.prov, user, b, ids, now)
        if sides is not None:
            sides.note(spec, user)
    logs.sort(key=lambda e: str(e["activityDateTime"]), reverse=True)
    tenant = DemoTenant(
        organization=organization_json(ids, now),
        domains=domains_json(),
        users=users,
        provisioning_logs=logs,
        mailusers=mailusers,
        dns=plan.zone,
        verified_in_target=[INITIAL_DOMAIN, DEFAULT_DOMAIN, *plan.verified_names],
        verification_tokens=[VENDOR_PREFIX + plan.our_token],
        expected=expected,
    )
    _add_app(tenant, b, ids, scope, now, in_scope=in_scope)
    return tenant, labels


def _member_twin(b: Builder, guest: JSON, scope: _Scope, now: int) -> JSON:
    """An employee account, assigned directly, whose mail is the guest's (a contractor's member
    account beside their guest account): provisioned too, it collides with the guest."""
    member = internal_member(b, now)
    member["mail"] = guest["mail"]
    member["proxyAddresses"] = ["SMTP:" + str(guest["mail"]), *member["proxyAddresses"][1:]]
    scope.add(member, "direct")
    return member


def _add_app(
    tenant: DemoTenant, b: Builder, ids: AppIds, scope: _Scope, now: int, in_scope: int
) -> None:
    """The service principal, its assignments, groups, job and schema."""
    word = ids.name.split()[0]
    groups = {
        ids.group_a: group_json(
            b, ids.group_a, f"SG-{word}-Partners", f"Partner guests for {ids.name}", now
        ),
        ids.group_b: group_json(
            b, ids.group_b, f"SG-{word}-Contractors", f"Contractors for {ids.name}", now
        ),
        ids.group_nested: group_json(
            b,
            ids.group_nested,
            "SG-Project-Phoenix",
            f"Project team (nested in SG-{word}-Partners)",
            now,
        ),
        ids.group_m365: group_json(
            b,
            ids.group_m365,
            "Partner Collaboration",
            "Microsoft 365 group, assigned to the app by mistake (grants no scope)",
            now,
            unified=True,
        ),
    }
    scope.members[ids.group_a].append(group_ref(groups[ids.group_nested]))
    created = now - 400 * DAY
    tenant.service_principals = [service_principal(ids, created)]
    tenant.app_role_assignments = {
        ids.sp: scope.direct
        + [
            assignment(b, ids, groups[g], "Group", created)
            for g in (ids.group_a, ids.group_b, ids.group_m365)
        ]
    }
    tenant.groups = groups
    tenant.group_members = scope.members
    tenant.sync_jobs = {ids.sp: [sync_job(ids, now, in_scope)]}
    tenant.sync_schemas = {ids.job: sync_schema(ids)}
