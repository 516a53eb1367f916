"""Atlassian Cloud: the Entra gallery app "Atlassian Cloud" provisioning into an Atlassian organization.

Sources:
- Microsoft, "Configure Atlassian Cloud for automatic user provisioning" (ms.date 03/25/2025):
  https://learn.microsoft.com/entra/identity/saas-apps/atlassian-cloud-provisioning-tutorial
  Gallery app "Atlassian Cloud"; default user attributes userName, active, name.familyName,
  name.givenName, emails[type eq "work"].value; "The email attribute is used to match Atlassian
  Cloud accounts with your Microsoft Entra accounts."; Connector Limitations: "Atlassian Cloud only
  supports provisioning updates for users with verified domains. Changes made to users from a
  non-verified domain aren't pushed to Atlassian Cloud." and "The value of the mail user attribute
  in Microsoft Entra ID is only populated if the user has a Microsoft Exchange Mailbox. If the user
  doesn't have one, it's recommended to map a different desired attribute to the emails attribute".
  The attribute table names target attributes only: userName ← [userPrincipalName] and
  emails ← [mail] are Entra's usual sources (the limitation above speaks of the mail attribute);
  the collected job schema, when present, is what the analysis reads.
- Atlassian, "Understand user provisioning":
  https://support.atlassian.com/provisioning-users/docs/understand-user-provisioning/
  ("go to Security > Identity providers"; up to 150,000 users per external directory, 35,000 per
  group).
- Atlassian, "Verify a domain to manage accounts":
  https://support.atlassian.com/user-management/docs/verify-a-domain-to-manage-accounts/
  (HTTPS, DNS TXT, or Google Workspace / Microsoft Entra ID methods; "you can't verify a public
  domain"; accounts on a verified domain become managed).
- Microsoft, "How provisioning works", B2B (guest) users:
  https://learn.microsoft.com/entra/identity/app-provisioning/how-provisioning-works
  (userPrincipalName is de-mangled to alias@theirdomain; originalUserPrincipalName keeps
  alias_theirdomain#EXT#@yourdomain: the what-if's e-mail).

Not documented (unknown here): the key's length, characters and case rules; the value format of
the DNS TXT record (its prefix is taken from your own ``--verification-token`` when given whole);
the console path of domain verification in Atlassian's words; a SCIM read rate limit; a
recommended mapping for guests (the what-if follows Microsoft's originalUserPrincipalName note).

Target-side evidence (read by ``audit.collectors.atlassian``: the organization's domains, its
managed and unmanaged accounts, the SCIM directory's users): Atlassian's Organizations REST API
and User provisioning (SCIM) REST API,
https://developer.atlassian.com/cloud/admin/organization/rest/intro/ and
https://developer.atlassian.com/cloud/admin/user-provisioning/rest/intro/.

"""

from __future__ import annotations

from audit.targets._profile import Evidence, KeyRules, Target

TUTORIAL = (
    "https://learn.microsoft.com/entra/identity/saas-apps/atlassian-cloud-provisioning-tutorial"
)
EMAIL = 'emails[type eq "work"].value'

TARGET = Target(
    name="atlassian",
    title="Atlassian Cloud",
    app_display_names=("Atlassian Cloud",),
    key_attribute="userName",
    email_attribute=EMAIL,
    default_mapping={"userName": "[userPrincipalName]", EMAIL: "[mail]"},
    recommended_mapping={"userName": "[userPrincipalName]", EMAIL: "[originalUserPrincipalName]"},
    recommended_precondition=(
        "the domains of the guests' #EXT# UPNs ({initial_domain}) are verified in Atlassian"
    ),
    vendor_txt_prefix=None,
    verifies_domains=True,
    unverified_meaning=(
        "Atlassian creates the account as an unmanaged (external) user: the organisation cannot manage "
        "it and later updates are not pushed"
    ),
    verify_hint=(
        "Atlassian Administration: verify the domain by DNS TXT record, by an HTML file over HTTPS, "
        "or through Microsoft Entra ID or Google Workspace (Atlassian: Verify a domain to manage "
        "accounts); provisioning itself is under Security > Identity providers"
    ),
    console="Atlassian Administration",
    sources=(
        TUTORIAL,
        "https://support.atlassian.com/provisioning-users/docs/understand-user-provisioning/",
        "https://support.atlassian.com/user-management/docs/verify-a-domain-to-manage-accounts/",
        "https://learn.microsoft.com/entra/identity/app-provisioning/how-provisioning-works",
        "https://developer.atlassian.com/cloud/admin/organization/rest/intro/",
        "https://developer.atlassian.com/cloud/admin/user-provisioning/rest/intro/",
    ),
    key_rules=KeyRules(
        case_insensitive=True,
        scope="the Atlassian organization's directory",
        source="RFC 7643 §4.1.1 (userName is case-insensitive and unique)",
    ),
    matching_attributes=(EMAIL,),
    guests_note=(
        "users on domains not verified in Atlassian are synced, but changes to them are not pushed "
        "(tutorial, Connector Limitations)"
    ),
    limitations=(
        "Atlassian Cloud only supports provisioning updates for users with verified domains. Changes "
        "made to users from a non-verified domain aren't pushed to Atlassian Cloud.",
        "Atlassian Cloud doesn't support group renames today.",
        "You can only sync up to 150,000 users per external directory; up to 35,000 users for each "
        "group (Atlassian).",
    ),
    not_documented=(
        "key length, characters and case",
        "DNS TXT value format (prefix)",
        "domain verification console path",
        "SCIM read rate limit",
        "recommended guest mapping",
    ),
    evidence=Evidence(
        domains="atlassian_domains",
        accounts=("atlassian_users", "atlassian_directory_users"),
        provisioned="atlassian_scim_users",
    ),
)
