"""Google Workspace: the Entra gallery app "G Suite" (Google Cloud / G Suite Connector by Microsoft).

Sources:
- Microsoft, "Configure G Suite for automatic user provisioning" (ms.date 07/19/2024):
  https://learn.microsoft.com/entra/identity/saas-apps/g-suite-provisioning-tutorial
  Gallery app "G Suite" ("Google Cloud / G Suite Connector by Microsoft"); "GSuite Provisioning
  currently only supports the use of primaryEmail as the matching attribute."; default user
  attributes primaryEmail, emails.[type eq "work"].address, ...; "For every user that you intend to
  provision to G Suite, their user name in Microsoft Entra ID must be tied to a custom domain. For
  example, user names that look like bob@contoso.onmicrosoft.com are not accepted by G Suite." (so
  the user name is what G Suite receives as primaryEmail); "Once you add and verify your desired
  custom domains with Microsoft Entra ID, you must verify them again with G Suite" (Account ->
  Domains -> Manage Domains -> Add a domain); existing consumer accounts with the same address
  "may cause some issue which could be resolved by using the Google Transfer Tool".
- Google, Admin SDK Directory API, users: "The primaryEmail must be unique and cannot be an alias of
  another user." (https://developers.google.com/admin-sdk/directory/reference/rest/v1/users).
- Google, "Verifying your domain" (Cloud Identity):
  https://cloud.google.com/identity/docs/verify-domain
  ("Go to Account > Domains > Manage domains", "copy the Value, including
  "google-site-verification="").
- Google, "Azure AD B2B user provisioning and single sign-on":
  https://cloud.google.com/architecture/identity/azure-ad-b2b-user-provisioning-and-sso
  ("Because onmicrosoft.com is a Microsoft-owned DNS domain, you cannot add tenant.onmicrosoft.com
  as a secondary domain to your Cloud Identity or Google Workspace account").

Not documented (unknown here): primaryEmail length and character rules; whether addresses differing
only in case collide; Google's concrete mapping for guests; rate limits.
"""

from __future__ import annotations

from audit.targets._profile import KeyRules, Target, TargetCase

TUTORIAL = "https://learn.microsoft.com/entra/identity/saas-apps/g-suite-provisioning-tutorial"
B2B = "https://cloud.google.com/architecture/identity/azure-ad-b2b-user-provisioning-and-sso"
KEY = "primaryEmail"

TARGET = Target(
    name="google-workspace",
    title="Google Workspace",
    app_display_names=(
        "G Suite",
        "Google Cloud / G Suite Connector by Microsoft",
        "Google Cloud/Google Workspace Connector by Microsoft",
    ),
    key_attribute=KEY,
    email_attribute=KEY,
    default_mapping={KEY: "[userPrincipalName]"},
    vendor_txt_prefix="google-site-verification=",
    verifies_domains=True,
    unverified_meaning=(
        "Google does not accept the user: every user name must be on a custom domain added and "
        "verified in the Google account"
    ),
    verify_hint=(
        "Google Admin console: Account > Domains > Manage domains > Add a domain, then publish the "
        "TXT record google-site-verification=… and verify it"
    ),
    console="Google Admin console",
    sources=(
        TUTORIAL,
        "https://developers.google.com/admin-sdk/directory/reference/rest/v1/users",
        "https://cloud.google.com/identity/docs/verify-domain",
        B2B,
    ),
    key_rules=KeyRules(
        rejected_domains=("onmicrosoft.com",),
        on_verified_domain=True,
        case_insensitive=None,
        scope="the Google account (and not an alias of another user)",
        source=f"{TUTORIAL} (user names must be tied to a custom domain verified in G Suite); {B2B}",
    ),
    matching_attributes=(KEY,),
    filterable_attributes=(KEY,),
    guests_note=(
        "Google documents a B2B pattern, but a guest's #EXT# UPN on tenant.onmicrosoft.com cannot be "
        "used: that domain cannot be added to a Google account"
    ),
    limitations=(
        "GSuite Provisioning currently only supports the use of primaryEmail as the matching "
        "attribute.",
        "User names on *.onmicrosoft.com are not accepted by G Suite.",
        "An existing consumer Google account with the same address conflicts (Google Transfer Tool).",
        "Removing a user from the sync scope disables them in GSuite but won't result in deletion.",
    ),
    not_documented=(
        "primaryEmail length and character rules",
        "case rule of primaryEmail",
        "Google's mapping for guests",
        "rate limits",
    ),
    demo_cases=(
        TargetCase(
            "google-domain-not-verified",
            ("lena.novak.g",),
            frozenset({"target-key-invalid"}),
            source=f"{TUTORIAL}: user names must be tied to a custom domain verified with G Suite",
            domain="partner",
        ),
        TargetCase(
            "google-domain-verified",
            ("lena.novak.v",),
            twin=True,
            source=f"{TUTORIAL}: a custom domain verified with G Suite",
        ),
    ),
)
