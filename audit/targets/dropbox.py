"""Dropbox: the Entra gallery app "Dropbox for Business" provisioning over Dropbox's SCIM 2.0 API.

Sources:
- Microsoft, "Configure Dropbox for Business for automatic user provisioning" (ms.date 03/25/2024):
  https://learn.microsoft.com/entra/identity/saas-apps/dropboxforbusiness-provisioning-tutorial
  Gallery app "Dropbox for Business" ("the new SCIM 2.0 Dropbox integration which supports
  Groups"); the mapping is shown only as a screenshot; "Users with the Default Access role are
  excluded from provisioning."; "Dropbox does not support suspending invited users. If an invited
  user is suspended, that user will be deleted."
- Microsoft, "How provisioning works", B2B (guest) users:
  https://learn.microsoft.com/entra/identity/app-provisioning/how-provisioning-works
  ("For apps that support automatic setup, such as Dropbox, separate invitations are created from
  the apps. Users must be sure to accept each invitation.").
- Dropbox, "Domain verification and invite enforcement":
  https://help.dropbox.com/account-access/domain-verification-invite-enforcement
  ("Click Admin Console in the left sidebar. Click Settings. Under Members, click Domains. Click
  Add domain."; meta tag, HTML file or TXT record; Advanced, Business Plus and Enterprise plans).
- RFC 7643 §4.1.1 (SCIM 2.0): userName is the unique, case-insensitive identifier
  (https://www.rfc-editor.org/rfc/rfc7643#section-4.1.1).

Not documented (unknown here): the default mapping (screenshot only), so the e-mail attribute and
the matching attribute; userName length and characters; what a domain not verified in Dropbox
means for provisioning; the TXT value format; rate limits; a recommended mapping for guests.
"""

from __future__ import annotations

from audit.targets._profile import KeyRules, Target

TUTORIAL = (
    "https://learn.microsoft.com/entra/identity/saas-apps/dropboxforbusiness-provisioning-tutorial"
)

TARGET = Target(
    name="dropbox",
    title="Dropbox",
    app_display_names=("Dropbox for Business",),
    key_attribute="userName",
    email_attribute="",
    verifies_domains=None,
    unverified_meaning=(
        "Dropbox documents domain verification for invite enforcement, not its effect on provisioning"
    ),
    verify_hint=(
        "Dropbox: Admin Console → Settings → Members: Domains → Add domain (meta tag, HTML file or "
        "TXT record)"
    ),
    console="Dropbox Admin Console",
    sources=(
        TUTORIAL,
        "https://learn.microsoft.com/entra/identity/app-provisioning/how-provisioning-works",
        "https://help.dropbox.com/account-access/domain-verification-invite-enforcement",
        "https://www.rfc-editor.org/rfc/rfc7643#section-4.1.1",
    ),
    key_rules=KeyRules(
        case_insensitive=True,
        scope="the Dropbox team",
        source="RFC 7643 §4.1.1 (userName is case-insensitive and unique)",
    ),
    guests_note=(
        "Dropbox sends each provisioned user its own invitation, which the user must accept; "
        "suspending an invited user deletes it"
    ),
    limitations=(
        "Dropbox does not support suspending invited users. If an invited user is suspended, that "
        "user will be deleted.",
        "Users with the Default Access role are excluded from provisioning.",
        "Separate invitations are created from the app; users must accept each invitation.",
    ),
    not_documented=(
        "default mapping (screenshot only): e-mail and matching attributes",
        "userName length and characters",
        "effect of an unverified domain on provisioning",
        "DNS TXT value format (prefix)",
        "rate limits",
        "recommended guest mapping",
    ),
)
