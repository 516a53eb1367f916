"""A generic SCIM 2.0 application (Entra's non-gallery "SCIM" app).

Sources:
- Microsoft, "Tutorial: Develop and plan provisioning for a SCIM endpoint" (ms.date 03/04/2025):
  https://learn.microsoft.com/entra/identity/app-provisioning/use-scim-to-provision-users-and-groups
  (example mapping userPrincipalName → userName, mail → emails[type eq "work"].value; "By default,
  users are retrieved with their id and queried with their username and externalId"; "Any
  attributes that are considered for user uniqueness must be usable as part of a filtered query").
- Microsoft Graph, applicationTemplate resource: the non-gallery ("Custom") application template id
  8adf8e6e-67b2-4cf2-a259-e3dc5476c621
  (https://learn.microsoft.com/graph/api/resources/applicationtemplate).
- RFC 7643 §4.1.1: userName is unique and case-insensitive
  (https://www.rfc-editor.org/rfc/rfc7643#section-4.1.1).
SCIM 2.0 itself knows no verified e-mail domains (RFC 7643/7644), so domain verification does not
apply; a target that verifies domains needs its own profile. Key limits, guests, TXT records and rate
limits are each application's own: not documented here.
"""

from __future__ import annotations

from audit.targets._profile import KeyRules, Target

EMAIL = 'emails[type eq "work"].value'

TARGET = Target(
    name="generic-scim",
    title="Generic SCIM 2.0 application",
    app_display_names=("SCIM app",),
    application_template_ids=("8adf8e6e-67b2-4cf2-a259-e3dc5476c621",),
    key_attribute="userName",
    email_attribute=EMAIL,
    default_mapping={"userName": "[userPrincipalName]", EMAIL: "[mail]"},
    recommended_mapping={"userName": "[userPrincipalName]", EMAIL: "[originalUserPrincipalName]"},
    recommended_precondition="the target accepts addresses on {initial_domain}",
    vendor_txt_prefix=None,
    verifies_domains=False,
    unverified_meaning="the target does not verify domains",
    verify_hint="the application's own documentation (a generic SCIM target verifies no domains)",
    console="the application's administration console",
    sources=(
        "https://learn.microsoft.com/entra/identity/app-provisioning/use-scim-to-provision-users-and-groups",
        "https://learn.microsoft.com/graph/api/resources/applicationtemplate",
        "https://www.rfc-editor.org/rfc/rfc7643#section-4.1.1",
    ),
    key_rules=KeyRules(
        case_insensitive=True,
        scope="the application",
        source="RFC 7643 §4.1.1 (userName is case-insensitive and unique)",
    ),
    not_documented=(
        "key length and characters (per application)",
        "matching attribute and the attributes the application can filter on (per application)",
        "guests",
        "DNS TXT prefix",
        "rate limits",
    ),
)
