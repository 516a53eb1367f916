"""Atlassian Cloud: the Entra gallery app "Atlassian Cloud" provisioning into an Atlassian organization.

Sources:
- Microsoft, "Configure Atlassian Cloud for automatic user provisioning":
  https://learn.microsoft.com/entra/identity/saas-apps/atlassian-cloud-provisioning-tutorial
  (default mappings userName and emails[type eq "work"].value; "The email attribute is used to
  match"; "Atlassian Cloud only supports provisioning updates for users with verified domains").
- Atlassian, "Verify a domain to manage accounts":
  https://support.atlassian.com/user-management/docs/verify-a-domain-to-manage-accounts/
  (HTTPS, DNS TXT, or Google Workspace / Microsoft Entra ID methods; public domains cannot be
  verified; accounts on a verified domain become managed).
- Microsoft, "How provisioning works", B2B (guest) users:
  https://learn.microsoft.com/entra/identity/app-provisioning/how-provisioning-works
  (originalUserPrincipalName = alias_theirdomain#EXT#@yourdomain, the recommended guest e-mail).
"""

from __future__ import annotations

from audit.targets._profile import KeyRules, Target

TARGET = Target(
    name="atlassian",
    title="Atlassian Cloud",
    app_display_names=("Atlassian Cloud",),
    key_attribute="userName",
    email_attribute='emails[type eq "work"].value',
    default_mapping={"userName": "[userPrincipalName]", 'emails[type eq "work"].value': "[mail]"},
    recommended_mapping={
        "userName": "[userPrincipalName]",
        'emails[type eq "work"].value': "[originalUserPrincipalName]",
    },
    recommended_precondition="the tenant's initial domain {initial_domain} is verified in Atlassian",
    # Seen in public DNS data; Atlassian's pages name the DNS TXT method without the value format.
    vendor_txt_prefix="atlassian-domain-verification=",
    verifies_domains=True,
    unverified_meaning=(
        "Atlassian creates the account as an unmanaged (external) user: the organisation cannot manage "
        "it and later updates are not pushed"
    ),
    verify_hint=(
        "Atlassian Administration → Security → Domains → Verify domain (DNS TXT or HTTPS method; an "
        "Entra-connected organization can verify domains through Microsoft Entra ID)"
    ),
    console="Atlassian Administration",
    sources=(
        "https://learn.microsoft.com/entra/identity/saas-apps/atlassian-cloud-provisioning-tutorial",
        "https://support.atlassian.com/user-management/docs/verify-a-domain-to-manage-accounts/",
    ),
    key_rules=KeyRules(case_insensitive=True, scope="organization", source="RFC 7643 §4.1.1"),
)
