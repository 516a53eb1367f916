"""``GuestSpec``: how one demo guest was built, and ``Builder``: the seeded factory that makes them.

A spec records the facts the generator chose (address, UPN, scope, sign-in age, MailUser quirks...)
and the rule ids the case is built to trip. The expected findings are derived from these facts,
never from running rules over the generated JSON, so the demo tenant is an independent oracle for
the rules.
"""

from __future__ import annotations

import random
import time
from dataclasses import dataclass, field
from typing import NamedTuple

from audit.demo.tenant_domains import INITIAL_DOMAIN, UNDELIVERABLE_KINDS, DomainInfo, DomainPlan
from audit.demo.tenant_words import FIRST_NAMES, LAST_NAMES

__all__ = ["DAY", "Builder", "GuestSpec", "Person", "ext_upn"]

DAY = 86_400
_V4_CLEAR = ~((0xF000 << 64) | (0xC000 << 48))  # version and variant bits of a UUID
_V4_SET = (0x4000 << 64) | (0x8000 << 48)
_HH_MM = tuple(f"{h:02d}:{m:02d}:" for h in range(24) for m in range(60))
_SS = tuple(f"{s:02d}Z" for s in range(60))
# Bulk guests' scope: (cumulative probability, scope).
_SCOPES = ((0.05, "direct"), (0.50, "group_a"), (0.85, "group_b"), (0.88, "both"), (1.0, "none"))


class Person(NamedTuple):
    """A random person: display names and their ASCII alias forms."""

    given: str
    surname: str
    g: str
    s: str
    alias: str


@dataclass(slots=True)
class GuestSpec:
    """The facts of one guest. ``flags`` are the case's own rule ids; see :meth:`expected`."""

    case: str
    given: str
    surname: str
    display: str
    alias: str
    domain: DomainInfo
    mail: str | None
    mail_domain: DomainInfo | None
    upn: str
    other_mails: list[str]
    proxies: list[str]
    created_days: float
    sign_in_days: float | None
    scope: str
    user_type: str = "Guest"
    state: str = "Accepted"
    enabled: bool = True
    licensed: bool = False
    mailuser: bool = True
    mu_primary: str | None = None
    mu_emails: list[str] | None = None
    mu_external: str | None = None
    prov: str | None = None
    target_side: str | None = None  # the guest's state in the target (audit.demo.tenant_atlassian)
    member_twin: bool = False  # an assigned employee account shares the guest's mail
    flags: set[str] = field(default_factory=set)

    def expected(self) -> set[str]:
        """Rule ids that must flag this guest: the case's own plus those of its domain and scope."""
        out = set(self.flags)
        d = self.mail_domain
        if self.mail is not None and d is not None:
            # A domain whose TXT cannot be read may carry our token: not evaluated, never flagged.
            if not d.verified and d.kind not in ("unanswered", "servfail"):
                out.add("domain-unverified")
            if d.kind == "public":
                out.add("public-mail-domain")
            if d.kind == "claimed":
                out.add("domain-claimed-elsewhere")
            if d.kind in UNDELIVERABLE_KINDS:
                out.add("mail-domain-undeliverable")
        if self.scope in ("none", "group_m365"):  # a Microsoft 365 group grants no scope
            out.add("not-in-scope")
        elif self.scope == "nested":
            out.add("nested-group-only")
        return out


class Builder:
    """Seeded source of names, unique aliases, ids and base guests (one per tenant, not shared)."""

    def __init__(self, rng: random.Random, plan: DomainPlan) -> None:
        self.rng = rng
        self.plan = plan
        self._used: set[str] = set()
        self._next: dict[str, int] = {}
        self._days: dict[int, str] = {}

    def guid(self) -> str:
        """A seeded version-4 GUID: ``str(uuid.UUID(int=bits, version=4))``, twice as fast."""
        h = f"{(self.rng.getrandbits(128) & _V4_CLEAR) | _V4_SET:032x}"
        return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"

    def ts(self, epoch: float) -> str:
        """Graph's UTC timestamp form, ``2024-05-01T12:34:56Z`` (day prefixes cached)."""
        day, second = divmod(int(epoch), DAY)
        prefix = self._days.get(day)
        if prefix is None:
            prefix = self._days[day] = time.strftime("%Y-%m-%dT", time.gmtime(day * DAY))
        minute, second = divmod(second, 60)
        return prefix + _HH_MM[minute] + _SS[second]

    def pick(self, kind: str) -> DomainInfo:
        """A random domain of ``kind``."""
        return self.rng.choice(self.plan.by_kind[kind])

    def person(self) -> Person:
        """A random person and a typical alias: first.last, flast, firstl, first-last..."""
        rng = self.rng
        given, g = rng.choice(FIRST_NAMES)
        surname, s = rng.choice(LAST_NAMES)
        r = rng.random()
        alias = (
            f"{g}.{s}"
            if r < 0.55
            else f"{g[0]}{s}"
            if r < 0.75
            else f"{g}{s[0]}"
            if r < 0.85
            else f"{g}-{s}"
            if r < 0.95
            else f"{g}_{s}"
        )
        if rng.random() < 0.15:
            alias = alias.title()
        return Person(given, surname, g, s, alias)

    def unique(self, alias: str, domain: str) -> str:
        """``alias``, or ``alias`` plus a number, so alias@domain is unused (case-insensitive)."""
        key = f"{alias}@{domain}".lower()
        if key not in self._used:
            self._used.add(key)
            return alias
        n = self._next.get(key, 2)
        while f"{alias}{n}@{domain}".lower() in self._used:
            n += 1
        self._next[key] = n + 1
        self._used.add(f"{alias}{n}@{domain}".lower())
        return f"{alias}{n}"

    def free(self, address: str) -> bool:
        """Whether no guest has ``address`` yet (case-insensitive; domain as A-label)."""
        return address.lower() not in self._used

    def reserve(self, address: str) -> None:
        """Mark an address as taken so no later guest gets it by chance."""
        self._used.add(address.lower())

    def base(
        self,
        case: str,
        domain: DomainInfo,
        *,
        person: Person | None = None,
        alias: str | None = None,
        scope: str = "group_a",
    ) -> GuestSpec:
        """A clean, accepted, signed-in, mail-enabled guest invited as alias@domain."""
        rng = self.rng
        p = person if person is not None else self.person()
        alias = self.unique(alias if alias is not None else p.alias, domain.ascii)
        mail = f"{alias}@{domain.name}"
        return GuestSpec(
            case=case,
            given=p.given,
            surname=p.surname,
            display=f"{p.given} {p.surname}",
            alias=alias,
            domain=domain,
            mail=mail,
            mail_domain=domain,
            upn=ext_upn(alias, domain.name),
            other_mails=[mail],
            proxies=["SMTP:" + mail],
            created_days=rng.uniform(35.0, 1100.0),
            sign_in_days=rng.uniform(0.05, 30.0),
            scope=scope,
        )

    def bulk(self, domain: DomainInfo | None = None) -> GuestSpec:
        """An ordinary guest: random partner or consumer domain, random scope, maybe a log entry."""
        rng = self.rng
        spec = self.base("bulk", domain or self.bulk_domain(), scope=self.bulk_scope())
        if spec.scope != "none" and rng.random() < 0.05:
            spec.prov = "success"
        return spec

    def bulk_domain(self) -> DomainInfo:
        """Weighted: mostly unverified partners, some verified, consumer and claimed domains."""
        r = self.rng.random()
        kind = (
            "partner"
            if r < 0.65
            else "verified"
            if r < 0.80
            else "public"
            if r < 0.92
            else "claimed"
        )
        return self.pick(kind)

    def bulk_scope(self) -> str:
        """Weighted scope: most guests through an assigned group, a few direct, some unassigned."""
        r = self.rng.random()
        return next(scope for cut, scope in _SCOPES if r < cut)


def ext_upn(alias: str, domain: str) -> str:
    """The UPN Entra gives a guest invited as alias@domain."""
    return f"{alias}_{domain}#EXT#@{INITIAL_DOMAIN}"
