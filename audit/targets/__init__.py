"""Target profiles: what a SaaS target receives from Entra provisioning and what makes it work.

A profile names the target attributes holding the key and the e-mail, the default attribute mapping of
the Entra gallery app, the recommended mapping for B2B guests, and the vendor's DNS verification prefix.
"""

from __future__ import annotations

from dataclasses import dataclass

from audit.errors import ConfigError


@dataclass(frozen=True)
class Target:
    """One SaaS target profile."""

    name: str
    title: str
    app_display_name: str
    key_attribute: str
    email_attribute: str
    default_mapping: dict[str, str]
    recommended_mapping: dict[str, str]
    recommended_precondition: str
    vendor_txt_prefix: str | None
    verifies_domains: bool
    unverified_meaning: str


ATLASSIAN = Target(
    name="atlassian",
    title="Atlassian Cloud",
    app_display_name="Atlassian Cloud",
    key_attribute="userName",
    email_attribute='emails[type eq "work"].value',
    # Defaults of the Entra gallery app (Microsoft's Atlassian Cloud provisioning tutorial).
    default_mapping={"userName": "[userPrincipalName]", 'emails[type eq "work"].value': "[mail]"},
    recommended_mapping={
        "userName": "[userPrincipalName]",
        'emails[type eq "work"].value': "[originalUserPrincipalName]",
    },
    recommended_precondition="the tenant's initial domain {initial_domain} is verified in Atlassian",
    vendor_txt_prefix="atlassian-domain-verification=",
    verifies_domains=True,
    unverified_meaning=(
        "Atlassian creates the account as an unmanaged (external) user: the organisation cannot manage "
        "it and later updates are not pushed"
    ),
)

GENERIC_SCIM = Target(
    name="generic-scim",
    title="Generic SCIM 2.0 application",
    app_display_name="SCIM app",
    key_attribute="userName",
    email_attribute='emails[type eq "work"].value',
    default_mapping={"userName": "[userPrincipalName]", 'emails[type eq "work"].value': "[mail]"},
    recommended_mapping={
        "userName": "[userPrincipalName]",
        'emails[type eq "work"].value': "[originalUserPrincipalName]",
    },
    recommended_precondition="the target accepts addresses on {initial_domain}",
    vendor_txt_prefix=None,
    verifies_domains=False,
    unverified_meaning="the target does not verify domains",
)

TARGETS = {t.name: t for t in (ATLASSIAN, GENERIC_SCIM)}


def get_target(name: str) -> Target:
    """The profile called ``name``; ConfigError lists the known ones otherwise."""
    try:
        return TARGETS[name]
    except KeyError:
        known = ", ".join(sorted(TARGETS))
        raise ConfigError(f"unknown target {name!r} (known: {known})") from None
