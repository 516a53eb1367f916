"""Zoom: the Entra gallery app "Zoom" provisioning over Zoom's SCIM API.

Sources:
- Microsoft, "Configure Zoom for automatic user provisioning" (ms.date 03/25/2024):
  https://learn.microsoft.com/entra/identity/saas-apps/zoom-provisioning-tutorial
  Gallery app "Zoom"; default user attributes userName ("Supported for filtering", "Required by
  Zoom"), active, name.givenName, name.familyName, emails[type eq "work"], the enterprise
  department, userType; "Zoom only allows a maximum of 9,999 basic users today."
- Zoom, SCIM API: https://developers.zoom.us/docs/api/rest/scim-api/
  (prerequisites: "Zoom Owner or Admin privileges", "Business or Education account with approved
  Vanity URL", "Single Sign-On enabled").
- Zoom, "Getting started with associated domains" (KB0066259):
  https://support.zoom.com/hc/en/article?id=zm_kb&sysparm_article=KB0066259
  ("Associated domains uses your organization's email address domain ... to add or auto-create
  users whose email addresses match that domain"; Account Management > Account Profile > Associated
  Domains > + Add Other Domains; TXT record, HTML file, meta tag or manual approval).

Not documented (unknown here): userName length, characters and case; what an e-mail domain that is
not associated with the account means for SCIM provisioning (a third-party connector's notes are
not Zoom's documentation); guests or external users; the TXT value format; the SCIM rate limit
figures; the source attributes of the default mapping; a recommended mapping for guests.
"""

from __future__ import annotations

from audit.targets._profile import KeyRules, Target

TUTORIAL = "https://learn.microsoft.com/entra/identity/saas-apps/zoom-provisioning-tutorial"

TARGET = Target(
    name="zoom",
    title="Zoom",
    app_display_names=("Zoom",),
    key_attribute="userName",
    email_attribute='emails[type eq "work"]',
    verifies_domains=None,
    unverified_meaning=(
        "Zoom documents no effect of an e-mail domain that is not associated with the account on "
        "SCIM provisioning"
    ),
    verify_hint=(
        "Zoom web portal: Account Management > Account Profile > Associated Domains > + Add Other "
        "Domains (TXT record, HTML file, meta tag or manual approval)"
    ),
    console="Zoom web portal",
    sources=(
        TUTORIAL,
        "https://developers.zoom.us/docs/api/rest/scim-api/",
        "https://support.zoom.com/hc/en/article?id=zm_kb&sysparm_article=KB0066259",
    ),
    key_rules=KeyRules(case_insensitive=None, scope=None, source="not documented"),
    matching_attributes=("userName",),
    filterable_attributes=("userName",),
    limitations=("Zoom only allows a maximum of 9,999 basic users today.",),
    not_documented=(
        "userName length, characters and case",
        "effect of an unassociated e-mail domain on SCIM provisioning",
        "guests or external users",
        "DNS TXT value format (prefix)",
        "SCIM rate limit figures",
        "source attributes of the default mapping",
        "recommended guest mapping",
    ),
)
