"""Guest patterns for the demo tenant's cases: small builders that bend one fact of a clean guest.

Each pattern takes the seeded :class:`Builder` and a case name and returns the guest (or, for pairs,
the guests) with the rule ids the bent fact must trip in ``flags``. The catalogue that names them, and
says which rules each one trips or is a clean twin for, is :mod:`audit.demo.tenant_cases`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace

from audit.demo.tenant_domains import DEFAULT_DOMAIN, DomainInfo
from audit.demo.tenant_spec import Builder, GuestSpec, Person, ext_upn
from audit.demo.tenant_words import FIRST_NAMES, HOSTILE_NAMES, LAST_NAMES

__all__ = [
    "PATTERNS",
    "alias_case",
    "apostrophe_alias",
    "changed_alias",
    "changed_domain",
    "ext_upn_wrong_domain",
    "filter_near_miss",
    "filtered",
    "hostile",
    "idn",
    "invalid_other_mail",
    "invalid_primary",
    "long_address",
    "long_but_valid",
    "mail_missing",
    "mailuser_extra",
    "mailuser_quirk",
    "member_twin",
    "non_ascii_person",
    "on",
    "pending",
    "proxy",
    "recently_accepted",
    "same_mail_pair",
    "stale",
    "team_alias",
    "upn_case_differs",
    "upn_custom_domain",
    "verified",
    "with_changes",
]

_UPN_MAX = 113
Make = Callable[[Builder, str], GuestSpec]


def _v(b: Builder) -> DomainInfo:
    return b.pick("verified")


def on(kind: str) -> Make:
    """A plain guest on a domain of ``kind`` (the pathology is the domain)."""

    def make(b: Builder, case: str) -> GuestSpec:
        domain = b.plan.one(kind) if len(b.plan.by_kind[kind]) == 1 else b.pick(kind)
        return b.base(case, domain)

    return make


def with_changes(make: Make, **changes: object) -> Make:
    """``make`` followed by plain field changes."""

    def build(b: Builder, case: str) -> GuestSpec:
        return replace(make(b, case), **changes)  # type: ignore[arg-type]

    return build


def verified(b: Builder, case: str) -> GuestSpec:
    return b.base(case, _v(b))


def upn_custom_domain(b: Builder, case: str) -> GuestSpec:
    s = verified(b, case)
    s.upn = f"{b.unique(s.alias, DEFAULT_DOMAIN)}@{DEFAULT_DOMAIN}"
    s.flags = {"original-upn-missing", "upn-mail-mismatch"}
    return s


def ext_upn_wrong_domain(b: Builder, case: str) -> GuestSpec:
    """An #EXT# UPN on the tenant's verified custom domain: still the guest's
    originalUserPrincipalName ("alias_theirdomain#EXT#@yourdomain")."""
    s = verified(b, case)
    s.upn = f"{s.alias}_{s.domain.name}#EXT#@{DEFAULT_DOMAIN}"
    return s


def mail_missing(keep_other: bool) -> Make:
    """Not mail-enabled (e.g. a mail contact held the address): no mail, no proxy, no MailUser."""

    def make(b: Builder, case: str) -> GuestSpec:
        s = verified(b, case)
        s.mail, s.mail_domain, s.proxies, s.mailuser = None, None, [], False
        s.other_mails = s.other_mails if keep_other else []
        s.flags = {"mail-missing", "exo-not-mail-enabled", "primary-smtp-mismatch"}
        return s

    return make


def alias_case(
    alias: Callable[[Builder, Person], str],
    flags: set[str],
    person: Callable[[Builder], Person] | None = None,
) -> Make:
    """A guest invited with an unusual alias (made from its person's names) on a verified domain."""

    def make(b: Builder, case: str) -> GuestSpec:
        p = person(b) if person is not None else b.person()
        s = b.base(case, _v(b), person=p, alias=alias(b, p))
        s.flags = set(flags)
        return s

    return make


def invalid_other_mail(b: Builder, case: str) -> GuestSpec:
    s = verified(b, case)
    s.other_mails = [*s.other_mails, f"{s.alias}(at){s.domain.name}"]
    s.flags = {"address-invalid"}
    return s


def invalid_primary(b: Builder, case: str) -> GuestSpec:
    s = verified(b, case)
    assert s.mail is not None
    bad = f"{s.alias}.@{s.domain.name}"
    b.reserve(bad)
    s.proxies = ["SMTP:" + bad, "smtp:" + s.mail]
    s.flags = {"address-invalid", "primary-smtp-mismatch"}
    return s


def _long_alias(b: Builder, length: int) -> str:
    """A dotted alias of exactly ``length`` characters, unlikely to repeat."""
    words: list[str] = []
    while len(".".join(words)) < length:
        words.append(b.rng.choice(FIRST_NAMES if len(words) % 2 == 0 else LAST_NAMES)[1])
    alias = ".".join(words)[:length]
    return alias[:-1] + "x" if alias.endswith(".") else alias


def long_address(kind: str) -> Make:
    """Too long: 65-char local part (UPN within 113), or a UPN past 113 (local part 66+)."""

    def make(b: Builder, case: str) -> GuestSpec:
        ranked = sorted(b.plan.by_kind["verified"], key=lambda d: (len(d.name), d.name))
        domain = ranked[0] if kind == "local" else ranked[-1]
        fixed = len(ext_upn("", domain.name))
        length = 65 if kind == "local" else max(66, _UPN_MAX + 1 - fixed)
        s = b.base(case, domain, alias=_long_alias(b, length))
        # Entra allows at most 64 characters before the @ of a UPN (and 113 in all).
        local = s.upn.rpartition("@")[0]
        too_long = len(s.upn) > _UPN_MAX or len(local) > 64
        s.flags = {"address-too-long"} | ({"upn-invalid"} if too_long else set())
        return s

    return make


def long_but_valid(b: Builder, case: str) -> GuestSpec:
    """The #EXT# local part is exactly 64 characters: long, but within every limit."""
    domain = min(b.plan.by_kind["verified"], key=lambda d: (len(d.name), d.name))
    length = 64 - len(f"_{domain.name}#EXT#")
    alias = _long_alias(b, length)
    while not b.free(f"{alias}@{domain.ascii}"):
        alias = _long_alias(b, length)
    return b.base(case, domain, alias=alias)


def non_ascii_person(b: Builder) -> Person:
    """A person whose names both have letters outside ASCII (and no spaces or apostrophes)."""
    given = b.rng.choice([g for g, _ in FIRST_NAMES if not g.isascii() and g.isalpha()])
    surname = b.rng.choice([s for s, _ in LAST_NAMES if not s.isascii() and s.isalpha()])
    return Person(given, surname, given.lower(), surname.lower(), f"{given}.{surname}".lower())


def idn(form: str) -> Make:
    """A guest on the IDN partner domain, written as its U-label or its A-label."""

    def make(b: Builder, case: str) -> GuestSpec:
        idn = b.plan.one("idn")
        domain = idn if form == "u" else replace(idn, name=idn.ascii)
        s = b.base(case, domain)
        s.flags = {"address-non-ascii", "upn-invalid"} if form == "u" else set()
        return s

    return make


def pending(b: Builder, case: str) -> GuestSpec:
    s = verified(b, case)
    s.state, s.sign_in_days = "PendingAcceptance", None
    s.created_days = b.rng.uniform(3.0, 60.0)  # recent: not stale as well
    s.flags = {"pending-acceptance"}
    return s


def changed_alias(b: Builder, case: str) -> GuestSpec:
    """Invited as one alias, mail later changed to another on the same domain."""
    s = verified(b, case)
    new = b.unique(f"{b.person().g}.{s.alias.split('.')[-1]}", s.domain.name)
    return _remail(s, f"{new}@{s.domain.name}", s.domain)


def changed_domain(b: Builder, case: str) -> GuestSpec:
    """Invited at an old employer's domain, mail later moved to a verified partner."""
    s = b.base(case, b.pick("partner"))
    v = _v(b)
    return _remail(s, f"{b.unique(s.alias, v.name)}@{v.name}", v)


def _remail(s: GuestSpec, mail: str, domain: DomainInfo) -> GuestSpec:
    s.mail, s.mail_domain, s.other_mails, s.proxies = mail, domain, [mail], ["SMTP:" + mail]
    s.flags = {"upn-mail-mismatch"}
    return s


def _case_variant(address: str) -> str:
    """The same address with the case of its first letter flipped."""
    return address[0].swapcase() + address[1:]


def same_mail_pair(kind: str) -> Callable[[Builder, str], list[GuestSpec]]:
    """Two accounts whose mail differs only in case; the second was invited under another alias.

    ``kind`` says where the second one is: ``group_b`` (in scope: both collide), ``none``
    (unassigned), ``disabled`` (account disabled: not provisioned) or ``filtered`` (left out by
    the scoping filter); in the last three nobody collides.
    """

    def build(b: Builder, case: str) -> list[GuestSpec]:
        first = b.base(case, _v(b))
        assert first.mail is not None
        p = b.person()
        second_scope = "none" if kind == "none" else "group_b"
        second_case = "duplicate-twin-unassigned" if kind == "none" else case
        second = b.base(
            second_case, first.domain, person=p, alias=f"{p.g[0]}{p.s}", scope=second_scope
        )
        second.given, second.surname, second.display = first.given, first.surname, first.display
        _remail(second, _case_variant(first.mail), first.domain)
        if kind == "group_b":
            first.flags = {"duplicate-target-key"}
            second.flags.add("duplicate-target-key")
        elif kind == "disabled":
            second.enabled = False
            second.flags.add("account-disabled")
        elif kind == "filtered":
            second.display = TEST_PREFIX + second.display
            second.flags.add("scoping-filter")
        return [first, second]

    return build


TEST_PREFIX = "TEST-"
"""Display names the demo job's scoping filter leaves out (``displayName NOT REGEX MATCH ^TEST-.*$``)."""


def filtered(b: Builder, case: str) -> GuestSpec:
    """A test account: the scoping filter leaves it out."""
    s = verified(b, case)
    s.display = TEST_PREFIX + s.display
    s.flags = {"scoping-filter"}
    return s


def filter_near_miss(b: Builder, case: str) -> GuestSpec:
    """The filter's word in the middle of the display name: the anchored pattern lets it in."""
    s = verified(b, case)
    s.display = f"{s.display} ({TEST_PREFIX}lab)"
    return s


def member_twin(b: Builder, case: str) -> GuestSpec:
    """A guest whose address an assigned employee account also has (e.g. a contractor's member
    account): both are provisioned and send the same e-mail."""
    s = verified(b, case)
    s.member_twin = True
    s.flags = {"duplicate-target-key"}
    return s


def mailuser_quirk(**changes: object) -> Make:
    """A guest whose Get-MailUser row is changed by ``changes`` (values may use {mail}/{upn})."""

    def make(b: Builder, case: str) -> GuestSpec:
        s = verified(b, case)
        old = f"{b.unique(b.person().alias, s.domain.name)}@{s.domain.name}"
        fmt = {"mail": s.mail, "upn": s.upn, "old": old}
        for key, value in changes.items():
            if isinstance(value, str):
                value = value.format(**fmt)
            elif isinstance(value, list):
                value = [v.format(**fmt) for v in value]
            setattr(s, key, value)
        return s

    return make


def _x500(b: Builder) -> str:
    group = "Exchange Administrative Group (FYDIBOHF23SPDLT)"
    return f"X500:/o=ExchangeLabs/ou={group}/cn=Recipients/cn={b.rng.getrandbits(128):032x}"


def mailuser_extra(b: Builder, case: str) -> GuestSpec:
    s = verified(b, case)
    s.mu_emails = ["SMTP:" + str(s.mail), "smtp:" + s.upn, _x500(b)]
    return s


def proxy(kind: str) -> Make:
    """Primary SMTP missing, set to the #EXT# UPN, left on an old address, or (twin) fine."""

    def make(b: Builder, case: str) -> GuestSpec:
        s = verified(b, case)
        mail = str(s.mail)
        other = f"{b.unique(b.person().alias, s.domain.name)}@{s.domain.name}"
        s.flags = {"primary-smtp-mismatch"}
        if kind == "missing":
            s.proxies, s.mu_primary = [], mail
        elif kind == "upn":
            s.proxies = ["SMTP:" + s.upn, "smtp:" + mail]
        elif kind == "old":
            s.proxies = ["SMTP:" + other, "smtp:" + mail]
        else:
            s.proxies, s.flags = ["SMTP:" + mail, "smtp:" + other], set()
        return s

    return make


def team_alias(b: Builder, p: Person) -> str:
    return b.rng.choice(("r&d", "sales&marketing", "m&a.team", "p&l.reporting"))


def hostile(b: Builder) -> list[GuestSpec]:
    """Otherwise clean guests whose display names attack HTML, spreadsheets, shells, bidi text."""
    specs = []
    for name in HOSTILE_NAMES:
        s = verified(b, "hostile-name")
        s.display, s.prov = name, "success"  # the name also reaches the provisioning log
        specs.append(s)
    return specs


def apostrophe_alias(b: Builder, p: Person) -> str:
    return p.g + "." + b.rng.choice(("o'brien", "d'arcy", "n'diaye", "o'neil"))


def stale(signed_in: bool | None) -> Make:
    """Last sign-in 120-400 days ago, never (accepted long ago), or (twin) 40-60 days ago."""

    def make(b: Builder, case: str) -> GuestSpec:
        s = verified(b, case)
        rng = b.rng
        if signed_in is None:
            s.sign_in_days = rng.uniform(40.0, 60.0)
            return s
        s.sign_in_days = rng.uniform(120.0, 400.0) if signed_in else None
        s.created_days = rng.uniform(420.0, 900.0)
        s.flags = {"stale-guest"}
        return s

    return make


def recently_accepted(b: Builder, case: str) -> GuestSpec:
    s = verified(b, case)
    s.created_days, s.sign_in_days = b.rng.uniform(2.0, 3.0), b.rng.uniform(0.05, 1.0)
    return s


def upn_case_differs(b: Builder, case: str) -> GuestSpec:
    """UPN keeps the invited capitalisation, mail is lower-case: equal case-insensitively."""
    p = b.person()
    s = b.base(case, _v(b), person=p, alias=p.alias.lower())
    s.upn = ext_upn(s.alias.title(), s.domain.name)
    return s


Build = Callable[[Builder, str], list[GuestSpec]]


def _single(make: Make) -> Build:
    return lambda b, case: [make(b, case)]


def _alias(
    alias: Callable[[Builder, Person], str],
    flags: set[str],
    person: Callable[[Builder], Person] | None = None,
) -> Build:
    return _single(alias_case(alias, flags, person))


def _patterns() -> dict[str, Build]:
    """Every named pattern a rule's demo case may start from (``DemoCase.pattern``)."""
    named: dict[str, Build] = {
        "verified": _single(verified),
        "upn_custom_domain": _single(upn_custom_domain),
        "ext_upn_wrong_domain": _single(ext_upn_wrong_domain),
        "mail_missing:contact": _single(mail_missing(True)),
        "mail_missing:bare": _single(mail_missing(False)),
        "alias:double-dot": _alias(lambda b, p: f"{p.g}..{p.s}", {"address-invalid"}),
        "alias:space": _alias(lambda b, p: f"{p.g} {p.s}", {"address-invalid", "upn-invalid"}),
        "alias:non-ascii": _alias(
            lambda b, p: p.alias, {"address-non-ascii", "upn-invalid"}, non_ascii_person
        ),
        "alias:plus": _alias(lambda b, p: p.alias + "+jira", {"upn-invalid"}),
        "alias:team": _alias(team_alias, {"upn-invalid"}),
        "alias:underscore": _alias(lambda b, p: f"{p.g}_{p.s}", set()),
        "alias:apostrophe": _alias(apostrophe_alias, set()),
        "invalid_other_mail": _single(invalid_other_mail),
        "invalid_primary": _single(invalid_primary),
        "long:local": _single(long_address("local")),
        "long:upn": _single(long_address("upn")),
        "long_but_valid": _single(long_but_valid),
        "idn:u": _single(idn("u")),
        "idn:a": _single(idn("a")),
        "pending": _single(pending),
        "recently_accepted": _single(recently_accepted),
        "changed_alias": _single(changed_alias),
        "changed_domain": _single(changed_domain),
        "upn_case_differs": _single(upn_case_differs),
        "pair:group_b": same_mail_pair("group_b"),
        "pair:none": same_mail_pair("none"),
        "pair:disabled": same_mail_pair("disabled"),
        "pair:filtered": same_mail_pair("filtered"),
        "filtered": _single(filtered),
        "filter_near_miss": _single(filter_near_miss),
        "member_twin": _single(member_twin),
        "alias:trailing-underscore": _alias(lambda b, p: f"{p.g}.{p.s}_", set()),
        "mailuser:missing-upn-address": _single(mailuser_quirk(mu_emails=["SMTP:{mail}"])),
        "mailuser:external-stale": _single(mailuser_quirk(mu_external="SMTP:{old}")),
        "mailuser:external-upn": _single(mailuser_quirk(mu_external="SMTP:{upn}")),
        "mailuser_extra": _single(mailuser_extra),
        "stale:sign-in": _single(stale(True)),
        "stale:never": _single(stale(False)),
        "stale:recent": _single(stale(None)),
        "hostile": lambda b, case: hostile(b),
    }
    for kind in ("partner", "public", "nxdomain", "null_mx", "no_mail", "claimed", "a_only"):
        named[f"on:{kind}"] = _single(on(kind))
    for kind in ("unanswered", "servfail"):
        named[f"on:{kind}"] = _single(on(kind))
    for kind in ("missing", "upn", "old", "fine"):
        named[f"proxy:{kind}"] = _single(proxy(kind))
    return named


PATTERNS: dict[str, Build] = _patterns()
"""Named guest builders: ``DemoCase.pattern`` picks one, ``DemoCase.changes`` adjusts its guest."""
