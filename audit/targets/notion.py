"""Notion: the Entra gallery app "Notion" provisioning over Notion's SCIM API.

Sources:
- Microsoft, "Configure Notion for automatic user provisioning" (ms.date 03/25/2024):
  https://learn.microsoft.com/entra/identity/saas-apps/notion-provisioning-tutorial
  Gallery app "Notion"; tenant URL https://www.notion.so/scim/v2; default user attributes userName
  ("Supported for filtering", "Required by Notion"), name.formatted, active (no e-mail attribute).
- Notion, "Provision users & groups with SCIM":
  https://www.notion.com/help/provision-users-and-groups-with-scim
  ("At this time, you can't manage workspace guests using Notion's SCIM API."; "You must have
  verified ownership over an email domain if you want to use SCIM to modify a user's name or email
  address."; "Your workspace must be on an Enterprise Plan."; members can be found "by email or
  name").
- Notion, "Domain management": https://www.notion.com/help/domain-management
  (Settings → Identity & provisioning → Verified domains → Add domain, update the DNS record, Verify;
  "You must verify a domain within one week of adding the domain").
- RFC 7643 §4.1.1 (SCIM 2.0): userName is the unique, case-insensitive identifier
  (https://www.rfc-editor.org/rfc/rfc7643#section-4.1.1).

Not documented (unknown here): which attribute carries the e-mail address (the default mapping sends
none), so the domain rules cannot see it; userName constraints; the TXT value format; rate limits;
the source attributes of the default mapping; a recommended mapping for guests.
"""

from __future__ import annotations

from audit.targets._profile import KeyRules, Target

TUTORIAL = "https://learn.microsoft.com/entra/identity/saas-apps/notion-provisioning-tutorial"
SCIM = "https://www.notion.com/help/provision-users-and-groups-with-scim"

TARGET = Target(
    name="notion",
    title="Notion",
    app_display_names=("Notion",),
    key_attribute="userName",
    email_attribute="",
    verifies_domains=True,
    unverified_meaning=(
        "Notion's SCIM API cannot change the user's name or e-mail address later (Notion: \"You must "
        "have verified ownership over an email domain if you want to use SCIM to modify a user's name "
        'or email address")'
    ),
    verify_hint=(
        "Notion: Settings → Identity & provisioning → Verified domains → Add domain, update the DNS "
        "record as prompted, then Verify (within one week)"
    ),
    console="Notion workspace settings",
    sources=(
        TUTORIAL,
        SCIM,
        "https://www.notion.com/help/domain-management",
        "https://www.rfc-editor.org/rfc/rfc7643#section-4.1.1",
    ),
    key_rules=KeyRules(
        case_insensitive=True,
        scope="the Notion workspace",
        source="RFC 7643 §4.1.1 (userName is case-insensitive and unique)",
    ),
    matching_attributes=("userName",),
    filterable_attributes=("userName",),
    guest_role=False,
    guests_note=(
        "Notion's own workspace guests cannot be managed through SCIM; provisioned users are members"
    ),
    limitations=(
        "At this time, you can't manage workspace guests using Notion's SCIM API.",
        "SCIM can change a user's name or e-mail address only on a verified domain.",
        "Your workspace must be on an Enterprise Plan.",
    ),
    not_documented=(
        "attribute carrying the e-mail address",
        "userName constraints",
        "DNS TXT value format (prefix)",
        "rate limits",
        "source attributes of the default mapping",
        "recommended guest mapping",
    ),
)
