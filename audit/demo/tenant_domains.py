"""The demo tenant's domains: partners, consumer providers, DNS pathologies, and their DNS zone.

Every external domain has a *kind* that decides what its DNS answers look like and which domain
rules a guest on it must trip. Partner names are built from Microsoft's fictitious company names on
ordinary top-level domains; the pathological domains have fixed, recognisable names.
"""

from __future__ import annotations

import random
import string
from dataclasses import dataclass, field

from audit.demo.model import DnsZoneEntry
from audit.demo.tenant_words import (
    COMMON_TLDS,
    COMPANY_SUFFIXES,
    COMPANY_WORDS,
    MORE_TLDS,
    PUBLIC_DOMAINS,
)

__all__ = [
    "DEFAULT_DOMAIN",
    "INITIAL_DOMAIN",
    "SPECIAL_DOMAINS",
    "UNDELIVERABLE_KINDS",
    "DomainInfo",
    "DomainPlan",
    "plan_domains",
]

INITIAL_DOMAIN = "contosodemo.onmicrosoft.com"
DEFAULT_DOMAIN = "contoso-demo.com"
VENDOR_PREFIX = "atlassian-domain-verification="

# kind -> the one domain of that kind (fixed names so demo output is recognisable).
SPECIAL_DOMAINS: dict[str, str] = {
    "idn": "bücher-partner.de",
    "nxdomain": "fabrikamm.com",
    "null_mx": "litware-archive.com",
    "no_mail": "proseware-parked.net",
    "a_only": "fourthcoffee.biz",
    "unanswered": "lamna-healthcare.eu",
    "servfail": "woodgrove-legacy.com",
}
UNDELIVERABLE_KINDS = frozenset({"nxdomain", "null_mx", "no_mail"})
_MAX_PARTNER_LEN = 30  # keeps every normal guest's #EXT# local part within 64 characters
_SPF_M365 = "v=spf1 include:spf.protection.outlook.com -all"
_TOKEN_CHARS = string.ascii_letters + string.digits + "-_"


@dataclass(slots=True)
class DomainInfo:
    """One external mail domain: the form used in addresses, its A-label, kind and verification."""

    name: str
    ascii: str
    kind: str
    verified: bool = False
    issuer: str = "ExternalAzureAD"


@dataclass
class DomainPlan:
    """All external domains by kind, the DNS zone, and the tenant's own vendor token."""

    by_kind: dict[str, list[DomainInfo]]
    zone: dict[str, DnsZoneEntry]
    our_token: str
    bulk: list[DomainInfo] = field(default_factory=list)

    def one(self, kind: str) -> DomainInfo:
        """The first domain of ``kind`` (the single one for idn and the DNS pathologies)."""
        return self.by_kind[kind][0]

    @property
    def verified_names(self) -> list[str]:
        """A-labels of the partner domains verified in the target."""
        return [d.ascii for d in self.by_kind["verified"] + self.by_kind["idn"]]


def plan_domains(rng: random.Random, domains: int) -> DomainPlan:
    """Build ``domains`` external domains (at least 17) and their DNS zone, deterministically."""
    n_public = min(len(PUBLIC_DOMAINS), max(3, domains // 5))
    n_partner = max(domains - n_public - len(SPECIAL_DOMAINS), 7)
    n_verified = max(2, n_partner * 15 // 100)
    n_claimed = max(2, n_partner // 10)
    names = _partner_names(rng, n_partner)
    by_kind: dict[str, list[DomainInfo]] = {
        "verified": [_info(n, "verified", True) for n in names[:n_verified]],
        "claimed": [_info(n, "claimed") for n in names[n_verified : n_verified + n_claimed]],
        "partner": [_info(n, "partner") for n in names[n_verified + n_claimed :]],
        "public": [_info(d, "public", issuer=i) for d, _, i in PUBLIC_DOMAINS[:n_public]],
    }
    for kind, name in SPECIAL_DOMAINS.items():
        by_kind[kind] = [_info(name, kind, kind == "idn", issuer="mail")]
    our_token = _token(rng, 44)
    zone = _zone(rng, by_kind, our_token)
    bulk = [d for k in ("verified", "claimed", "partner", "public") for d in by_kind[k]]
    return DomainPlan(by_kind=by_kind, zone=zone, our_token=our_token, bulk=bulk)


def _info(
    name: str, kind: str, verified: bool = False, issuer: str = "ExternalAzureAD"
) -> DomainInfo:
    return DomainInfo(
        name=name,
        ascii=_a_label(name),
        kind=kind,
        verified=verified,
        issuer=issuer,
    )


def _partner_names(rng: random.Random, count: int) -> list[str]:
    """``count`` distinct partner domain names; plain ``company.tld`` names come first."""
    reserved = set(SPECIAL_DOMAINS.values())
    simple = [f"{w}.{t}" for w in COMPANY_WORDS for t in COMMON_TLDS]
    more = [f"{w}.{t}" for w in COMPANY_WORDS for t in MORE_TLDS]
    more += [
        f"{w}-{s}.{t}"
        for w in COMPANY_WORDS
        for s in COMPANY_SUFFIXES
        for t in COMMON_TLDS + MORE_TLDS
    ]
    rng.shuffle(simple)
    rng.shuffle(more)
    names = [n for n in simple + more if len(n) <= _MAX_PARTNER_LEN and n not in reserved]
    number = 2
    while len(names) < count:  # beyond the word lists: numbered variants, still ordinary names
        names += [f"{w}{number}.{t}" for w in COMPANY_WORDS for t in COMMON_TLDS]
        number += 1
    return names[:count]


def _token(rng: random.Random, length: int) -> str:
    return "".join(rng.choice(_TOKEN_CHARS) for _ in range(length))


def _zone(
    rng: random.Random, by_kind: dict[str, list[DomainInfo]], our_token: str
) -> dict[str, DnsZoneEntry]:
    """DNS answers per lower-case A-label, for our two domains and every external domain."""
    zone = {
        INITIAL_DOMAIN: DnsZoneEntry(txt=[_SPF_M365], mx=[(0, _m365_mx(INITIAL_DOMAIN))]),
        DEFAULT_DOMAIN: DnsZoneEntry(
            txt=[f"MS=ms{rng.randrange(10**7, 10**8)}", _SPF_M365, VENDOR_PREFIX + our_token],
            mx=[(0, _m365_mx(DEFAULT_DOMAIN))],
            a=[_ipv4(rng)],
        ),
    }
    for kind, infos in by_kind.items():
        for info in infos:
            zone[info.ascii] = _entry(rng, info, kind, our_token)
    return zone


def _entry(rng: random.Random, info: DomainInfo, kind: str, our_token: str) -> DnsZoneEntry:
    """The DNS behaviour of one external domain, by kind."""
    if kind == "public":
        hosts = next(h for d, h, _ in PUBLIC_DOMAINS if d == info.name)
        return DnsZoneEntry(
            txt=["v=spf1 redirect=_spf." + info.name],
            mx=[(5 + 5 * i, h) for i, h in enumerate(hosts)],
        )
    special = _special_entry(rng, kind)
    if special is not None:
        return special
    txt = [_SPF_M365 if rng.random() < 0.6 else "v=spf1 mx -all"]
    if kind in ("verified", "idn"):
        txt.append(VENDOR_PREFIX + our_token)
    elif kind == "claimed":
        txt.append(VENDOR_PREFIX + _token(rng, 44))
    txt += _other_vendor_txt(rng, required=kind == "partner")
    return DnsZoneEntry(txt=txt, mx=[(0, _m365_mx(info.ascii))], a=[_ipv4(rng)])


def _special_entry(rng: random.Random, kind: str) -> DnsZoneEntry | None:
    """DNS pathologies; None for kinds that answer normally."""
    if kind == "nxdomain":
        return DnsZoneEntry(nxdomain=True)
    if kind == "null_mx":  # RFC 7505: a web site, but no mail, ever
        return DnsZoneEntry(txt=["v=spf1 -all"], mx=[(0, ".")], a=[_ipv4(rng)])
    if kind == "no_mail":  # parked: exists, no MX, no address to fall back to
        return DnsZoneEntry(txt=["v=spf1 -all"])
    if kind == "a_only":  # no MX, but RFC 5321 fallback to the A/AAAA host delivers
        return DnsZoneEntry(a=[_ipv4(rng)], aaaa=[_ipv6(rng)])
    if kind == "unanswered":
        return DnsZoneEntry(unanswered=True)
    if kind == "servfail":
        return DnsZoneEntry(servfail=True)
    return None


def _other_vendor_txt(rng: random.Random, *, required: bool) -> list[str]:
    """Other vendors' verification records; ``required`` guarantees at least one."""
    txt = []
    if rng.random() < 0.5 or required:
        txt.append("google-site-verification=" + _token(rng, 43))
    if rng.random() < 0.4:
        txt.append(f"MS=ms{rng.randrange(10**7, 10**8)}")
    if rng.random() < 0.2:
        txt.append("docusign=" + _token(rng, 36))
    return txt


def _m365_mx(domain: str) -> str:
    return domain.replace(".", "-") + ".mail.protection.outlook.com"


def _ipv4(rng: random.Random) -> str:
    """A globally routable address (documentation ranges fail "globally routable" checks)."""
    return (
        f"{rng.choice((20, 40, 52, 104, 151, 185))}.{rng.randrange(1, 255)}."
        f"{rng.randrange(0, 256)}.{rng.randrange(1, 255)}"
    )


def _ipv6(rng: random.Random) -> str:
    return f"2603:10a6:{rng.randrange(0x10000):x}::{rng.randrange(1, 0x10000):x}"


def _a_label(name: str) -> str:
    """IDNA 2008 (UTS 46) A-label, as the DNS collector and the frame compute it."""
    from audit.addresses import a_label

    label = a_label(name)
    if label is None:
        raise ValueError(f"demo domain {name!r} is not a valid host name")
    return label
