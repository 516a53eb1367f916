"""The purpose-built guests of the demo tenant: one case per pathology, and clean twins.

Each :class:`Case` builds one guest (a pair, or nine for the hostile names) and says which rule ids they must trip (``rules``) and
which they are near misses for (``twin_of``: similar guests that must *not* trip those rules). Cases
live on domains verified in the target unless the domain is the point, so their expected findings
stay focused. Findings a case implies through its domain or scope (``domain-unverified``,
``not-in-scope``...) are added by :meth:`GuestSpec.expected`; the ones listed here are the case's
own.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from audit.demo.tenant_patterns import (
    alias_case,
    apostrophe_alias,
    changed_alias,
    changed_domain,
    ext_upn_wrong_domain,
    hostile,
    idn,
    invalid_other_mail,
    invalid_primary,
    long_address,
    long_but_valid,
    mail_missing,
    mailuser_extra,
    mailuser_quirk,
    non_ascii_person,
    on,
    pending,
    proxy,
    recently_accepted,
    same_mail_pair,
    stale,
    team_alias,
    upn_case_differs,
    upn_custom_domain,
    verified,
    with_changes,
)
from audit.demo.tenant_spec import Builder, GuestSpec

__all__ = ["CASES", "Case", "build_cases"]


@dataclass(frozen=True)
class Case:
    """A named guest pattern: the rules its guests must trip and those it is a clean twin for."""

    name: str
    rules: frozenset[str]
    twin_of: frozenset[str]
    build: Callable[[Builder], list[GuestSpec]]


def _one(
    name: str,
    make: Callable[[Builder, str], GuestSpec],
    rules: set[str] | None = None,
    twin_of: set[str] | None = None,
    flags: set[str] | None = None,
) -> Case:
    """A single-guest case; ``flags``, when given, replace the guest's own rule ids."""

    def build(b: Builder) -> list[GuestSpec]:
        spec = make(b, name)
        if flags is not None:
            spec.flags = set(flags)
        return [spec]

    return Case(name, frozenset(rules or ()), frozenset(twin_of or ()), build)


def _cases() -> tuple[Case, ...]:
    """The catalogue, pathologies first, then their twins."""
    v = verified
    return (
        _one("unverified-partner", on("partner"), {"domain-unverified"}),
        _one("public-mail", on("public"), {"public-mail-domain", "domain-unverified"}),
        _one("upn-custom-domain", upn_custom_domain, {"original-upn-missing"}),
        _one("ext-upn-wrong-domain", ext_upn_wrong_domain, {"original-upn-missing"}),
        _one("mail-missing-contact", mail_missing(True), {"mail-missing"}),
        _one("mail-missing-bare", mail_missing(False), {"mail-missing"}),
        _one(
            "invalid-double-dot",
            alias_case(lambda b, p: f"{p.g}..{p.s}", {"address-invalid"}),
            {"address-invalid"},
        ),
        _one(
            "invalid-space",
            alias_case(lambda b, p: f"{p.g} {p.s}", {"address-invalid", "upn-invalid"}),
            {"address-invalid"},
        ),
        _one("invalid-other-mail", invalid_other_mail, {"address-invalid"}),
        _one("invalid-primary-smtp", invalid_primary, {"address-invalid"}),
        _one("too-long-local", long_address("local"), {"address-too-long"}),
        _one("too-long-upn", long_address("upn"), {"address-too-long", "upn-invalid"}),
        _one(
            "non-ascii-local",
            alias_case(
                lambda b, p: p.alias, {"address-non-ascii", "upn-invalid"}, non_ascii_person
            ),
            {"address-non-ascii"},
        ),
        _one("idn-u-label", idn("u"), {"address-non-ascii"}),
        _one("nxdomain", on("nxdomain"), {"mail-domain-undeliverable"}),
        _one("null-mx", on("null_mx"), {"mail-domain-undeliverable"}),
        _one("no-mail-host", on("no_mail"), {"mail-domain-undeliverable"}),
        _one("pending", pending, {"pending-acceptance"}),
        _one(
            "disabled",
            with_changes(v, enabled=False),
            {"account-disabled"},
            flags={"account-disabled"},
        ),
        _one("changed-alias", changed_alias, {"upn-mail-mismatch"}),
        _one("changed-domain", changed_domain, {"upn-mail-mismatch"}),
        Case(
            "duplicate-mail",
            frozenset({"duplicate-target-key"}),
            frozenset(),
            same_mail_pair("group_b"),
        ),
        _one("nested-only", with_changes(v, scope="nested"), {"nested-group-only"}),
        _one("unassigned", with_changes(v, scope="none"), {"not-in-scope"}),
        _one("proxy-missing", proxy("missing"), {"primary-smtp-mismatch"}),
        _one("proxy-upn-primary", proxy("upn"), {"primary-smtp-mismatch"}),
        _one("proxy-old-primary", proxy("old"), {"primary-smtp-mismatch"}),
        _one(
            "no-mailuser",
            with_changes(v, mailuser=False),
            {"exo-not-mail-enabled"},
            flags={"exo-not-mail-enabled"},
        ),
        _one(
            "mu-missing-upn-address",
            mailuser_quirk(mu_emails=["SMTP:{mail}"]),
            {"exo-forwarding-broken"},
            flags={"exo-forwarding-broken"},
        ),
        _one(
            "mu-external-stale",
            mailuser_quirk(mu_external="SMTP:{old}"),
            {"exo-forwarding-broken"},
            flags={"exo-forwarding-broken"},
        ),
        _one(
            "mu-external-upn",
            mailuser_quirk(mu_external="SMTP:{upn}"),
            {"exo-forwarding-broken"},
            flags={"exo-forwarding-broken"},
        ),
        _one("claimed-domain", on("claimed"), {"domain-claimed-elsewhere"}),
        _one(
            "prov-failed",
            with_changes(v, prov="success_then_failure"),
            {"prior-provisioning-failure"},
            flags={"prior-provisioning-failure"},
        ),
        _one(
            "prov-skipped",
            with_changes(v, prov="skipped"),
            {"prior-provisioning-failure"},
            flags={"prior-provisioning-failure"},
        ),
        _one(
            "upn-plus",
            alias_case(lambda b, p: p.alias + "+jira", {"upn-invalid"}),
            {"upn-invalid"},
        ),
        _one("upn-ampersand", alias_case(team_alias, {"upn-invalid"}), {"upn-invalid"}),
        _one(
            "licensed", with_changes(v, licensed=True), {"guest-licensed"}, flags={"guest-licensed"}
        ),
        _one(
            "external-member",
            with_changes(v, user_type="Member", mailuser=False, scope="direct"),
            {"external-member"},
            flags={"external-member", "exo-not-mail-enabled"},
        ),
        _one("stale-sign-in", stale(True), {"stale-guest"}),
        _one("stale-never", stale(False), {"stale-guest"}),
        # clean twins: similar guests that must not trip the rules in twin_of
        _one(
            "clean-verified",
            v,
            set(),
            {
                "domain-unverified",
                "public-mail-domain",
                "account-disabled",
                "guest-licensed",
                "external-member",
            },
        ),
        _one(
            "a-record-fallback", on("a_only"), {"domain-unverified"}, {"mail-domain-undeliverable"}
        ),
        _one(
            "dns-unanswered",
            on("unanswered"),
            set(),
            {"mail-domain-undeliverable", "domain-claimed-elsewhere", "domain-unverified"},
        ),
        _one(
            "dns-servfail",
            on("servfail"),
            set(),
            {"mail-domain-undeliverable", "domain-claimed-elsewhere", "domain-unverified"},
        ),
        _one(
            "underscore-alias",
            alias_case(lambda b, p: f"{p.g}_{p.s}", set()),
            set(),
            {"original-upn-missing", "upn-mail-mismatch", "upn-invalid"},
        ),
        _one("other-mails-empty", with_changes(v, other_mails=[]), set(), {"mail-missing"}),
        _one(
            "unusual-valid-address",
            alias_case(apostrophe_alias, set()),
            set(),
            {"address-invalid", "upn-invalid", "address-non-ascii"},
        ),
        _one("long-but-valid", long_but_valid, set(), {"address-too-long", "upn-invalid"}),
        _one("idn-a-label", idn("a"), set(), {"address-non-ascii", "domain-unverified"}),
        _one("recently-accepted", recently_accepted, set(), {"pending-acceptance", "stale-guest"}),
        _one("upn-case-differs", upn_case_differs, set(), {"upn-mail-mismatch"}),
        Case(
            "duplicate-twin",
            frozenset(),
            frozenset({"duplicate-target-key"}),
            same_mail_pair("none"),
        ),
        _one(
            "nested-and-group", with_changes(v, scope="nested_and_a"), set(), {"nested-group-only"}
        ),
        _one("direct-assignment", with_changes(v, scope="direct"), set(), {"not-in-scope"}),
        _one("proxy-with-secondary", proxy("fine"), set(), {"primary-smtp-mismatch"}),
        _one(
            "mu-extra-addresses",
            mailuser_extra,
            set(),
            {"exo-forwarding-broken", "exo-not-mail-enabled"},
        ),
        _one(
            "other-vendor-txt", on("partner"), {"domain-unverified"}, {"domain-claimed-elsewhere"}
        ),
        _one(
            "prov-recovered",
            with_changes(v, prov="failure_then_success"),
            set(),
            {"prior-provisioning-failure"},
        ),
        _one(
            "prov-success", with_changes(v, prov="success"), set(), {"prior-provisioning-failure"}
        ),
        _one("recent-sign-in", stale(None), set(), {"stale-guest"}),
        Case("hostile-name", frozenset(), frozenset(), hostile),
    )


CASES: tuple[Case, ...] = _cases()


def build_cases(b: Builder, copies: int) -> list[GuestSpec]:
    """``copies`` instances of every case, each on freshly drawn names and domains."""
    return [spec for _ in range(copies) for case in CASES for spec in case.build(b)]
