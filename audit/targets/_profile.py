"""The shape of a target profile, and how rule texts take a target's words.

Every fact of a profile comes from the target's documentation (Microsoft's provisioning tutorial for
the gallery app, the vendor's own pages), cited in the profile module. A fact the documentation does
not give is ``None`` (or empty) and listed in ``not_documented``: the rules that need it are then not
evaluated for that target, never guessed.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field, fields

import pandas as pd

__all__ = ["Evidence", "KeyRules", "Target", "TargetCase", "words"]

Normalise = Callable[[pd.Series], pd.Series]


@dataclass(frozen=True)
class KeyRules:
    """The documented constraints of the target's key attribute (None: not documented, unknown).

    The checks apply to the key as the target stores it: ``normalise`` turns the values Entra sends
    into that form (NA where the documentation does not say what the target does with a value), so
    keys that collide after it are duplicates. ``max_length`` is the longest stored key the target
    accepts; ``strict_max_length`` a tighter limit that applies in another documented configuration
    (or that another source states); ``suffix_length`` the (shortest, longest) suffix the target
    appends before the limit applies. A key is too long when it breaks even the loosest limit with
    the shortest suffix, fine when it keeps the tightest with the longest, unknown in between.
    ``pattern`` is a regular expression the whole stored key must match (``pattern_text`` says it
    in words); ``rejected_domains`` are domains (with their subdomains) the target never accepts in
    the key; ``on_verified_domain`` says the key must be an address on a domain verified in the
    target (only for targets whose key is also their e-mail attribute). ``case_insensitive`` is
    None when the documentation does not say whether keys differing only in case collide;
    ``scope`` says where the key must be unique.
    """

    max_length: int | None = None
    strict_max_length: int | None = None
    suffix_length: tuple[int, int] = (0, 0)
    pattern: str | None = None
    pattern_text: str = ""
    rejected_domains: tuple[str, ...] = ()
    on_verified_domain: bool = False
    case_insensitive: bool | None = True
    scope: str | None = None
    normalise: Normalise | None = None
    normalisation: str = ""
    source: str = ""

    @property
    def documented(self) -> bool:
        """Whether the target documents any constraint ``target-key-invalid`` can check."""
        return bool(
            self.max_length is not None
            or self.pattern is not None
            or self.rejected_domains
            or self.on_verified_domain
        )

    def limits(self) -> tuple[int, int] | None:
        """(longest key that may pass, longest key that surely passes), suffix included; None
        when no length is documented."""
        if self.max_length is None:
            return None
        strict = self.strict_max_length if self.strict_max_length is not None else self.max_length
        shortest, longest = self.suffix_length
        return self.max_length - shortest, min(strict, self.max_length) - longest


@dataclass(frozen=True)
class TargetCase:
    """A demo guest for one documented constraint of the target (``b2b-preflight demo --target``).

    One guest per alias, each invited from its own partner domain as ``alias@domain`` (a domain of
    the demo's ``domain`` kind: ``verified`` in the target, or ``partner``, not verified); the
    guests must trip ``trips`` (none for a ``twin``, a near miss that must pass). ``source`` is the
    page that documents the constraint.
    """

    name: str
    aliases: tuple[str, ...]
    trips: frozenset[str] = frozenset()
    twin: bool = False
    source: str = ""
    domain: str = "verified"


@dataclass(frozen=True)
class Evidence:
    """The sources a target's own collector reads on the target side, by what they hold.

    Names are source (and snapshot table) names, whose tables have the columns of
    :mod:`audit.target_tables`: ``domains`` the organization's domains and their verification,
    ``accounts`` account listings the organization can see, ``provisioned`` the users of the
    provisioning (SCIM) directory. None or empty: the target has no such source. Rules name
    these roles (``target_domains``, ``target_accounts``, ``target_provisioned``), never a vendor.
    """

    domains: str | None = None
    accounts: tuple[str, ...] = ()
    provisioned: str | None = None

    def aliases(self) -> dict[str, str]:
        """Rule-facing source names → this target's source names (the first account source)."""
        pairs = {
            "target_domains": self.domains,
            "target_accounts": self.accounts[0] if self.accounts else None,
            "target_provisioned": self.provisioned,
        }
        return {alias: name for alias, name in pairs.items() if name}


@dataclass(frozen=True)
class Target:
    """One SaaS target profile; every fact carries the page it comes from in ``sources``.

    ``verifies_domains`` is None when the vendor documents nothing about what an e-mail domain not
    verified there means for provisioning (rules that need it are then not evaluated for this
    target). ``key_attribute`` / ``email_attribute`` are ``""`` when the documentation names none.
    ``matching_attributes`` are the gallery app's documented matching attributes and
    ``filterable_attributes`` the attributes the target's API supports filtering on (Microsoft's
    tutorials: "Supported for filtering"); None when not documented. ``guest_role`` says whether
    SCIM can provision users in the target's own guest or external role (``guests_note`` says how).
    ``demo_cases`` and ``demo_mapping`` are for ``b2b-preflight demo --target``: guests for the
    documented constraints, and the job-schema mapping the demo uses where it differs from the
    demo's usual ``[userPrincipalName]`` key and ``[mail]`` e-mail (demo data, not a documented
    fact).
    """

    name: str
    title: str
    app_display_names: tuple[str, ...]
    key_attribute: str
    email_attribute: str
    verifies_domains: bool | None
    unverified_meaning: str
    verify_hint: str
    console: str
    default_mapping: dict[str, str] = field(default_factory=dict)
    recommended_mapping: dict[str, str] = field(default_factory=dict)
    recommended_precondition: str = ""
    vendor_txt_prefix: str | None = None
    sources: tuple[str, ...] = ()
    application_template_ids: tuple[str, ...] = ()
    key_rules: KeyRules = field(default_factory=KeyRules)
    matching_attributes: tuple[str, ...] | None = None
    filterable_attributes: tuple[str, ...] | None = None
    guest_role: bool | None = None
    guests_note: str = "not documented"
    rate_limit: str | None = None
    limitations: tuple[str, ...] = ()
    not_documented: tuple[str, ...] = ()
    demo_cases: tuple[TargetCase, ...] = ()
    demo_mapping: dict[str, str] = field(default_factory=dict)
    evidence: Evidence = field(default_factory=Evidence)

    def __post_init__(self) -> None:
        if self.key_rules.on_verified_domain and self.key_attribute != self.email_attribute:
            raise ValueError(f"target {self.name}: on_verified_domain needs key = e-mail attribute")

    @property
    def app_display_name(self) -> str:
        """The gallery app's usual display name (the first of ``app_display_names``)."""
        return self.app_display_names[0]

    @property
    def recommended_email(self) -> str:
        """The recommended guest mapping's expression for the e-mail attribute."""
        return (
            self.recommended_mapping.get(self.email_attribute, "") if self.email_attribute else ""
        )

    @property
    def vendor_txt(self) -> str:
        """The vendor's DNS verification record in words (its prefix when documented)."""
        if self.vendor_txt_prefix:
            return f"{self.vendor_txt_prefix}…"
        return "record, whose prefix is taken from your own --verification-token"

    @property
    def key_scope(self) -> str:
        """Where the key must be unique, in words."""
        return self.key_rules.scope or "a scope the vendor does not document"

    @property
    def key_constraints(self) -> str:
        """The documented key constraints in words (for rule texts and ``b2b-preflight targets``)."""
        rules = self.key_rules
        parts = []
        if rules.normalisation:
            parts.append(rules.normalisation)
        if rules.max_length is not None:
            strict = rules.strict_max_length
            limit = f"at most {rules.max_length} characters"
            if strict is not None and strict != rules.max_length:
                limit += f" ({strict} in another documented case)"
            if rules.suffix_length != (0, 0):
                low, high = rules.suffix_length
                limit += f" including a {low}-{high} character suffix"
            parts.append(limit)
        if rules.pattern_text:
            parts.append(rules.pattern_text)
        if rules.rejected_domains:
            parts.append("never on " + ", ".join(rules.rejected_domains))
        if rules.on_verified_domain:
            parts.append("on a domain verified in the target")
        return "; ".join(parts) or "none documented"


_FIELD = re.compile(r"\{target\.([a-z_]+)\}")
_PROPERTIES = {
    "app_display_name",
    "recommended_email",
    "vendor_txt",
    "key_scope",
    "key_constraints",
}
_TEXT_FIELDS = frozenset(f.name for f in fields(Target)) | _PROPERTIES


def words(text: str, target: Target) -> str:
    """``text`` with each ``{target.<field>}`` replaced by the target's value (other braces kept).

    Rule titles, rationales and remediations are written once for every target; this is how they
    name the target's product, console and verification steps.
    """

    def value(match: re.Match[str]) -> str:
        name = match.group(1)
        if name not in _TEXT_FIELDS:
            raise ValueError(f"unknown target field {{target.{name}}} in a rule text")
        return str(getattr(target, name))

    return _FIELD.sub(value, text)
