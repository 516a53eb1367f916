"""Miro: the Entra gallery app "Miro" provisioning over Miro's SCIM API.

Sources:
- Microsoft, "Configure Miro for automatic user provisioning" (ms.date 03/25/2024):
  https://learn.microsoft.com/entra/identity/saas-apps/miro-provisioning-tutorial
  Gallery app "Miro"; tenant URL https://miro.com/api/v1/scim; the mapping is shown only as a
  screenshot; "Miro's SCIM endpoint does not allow Create and Delete operations on groups. It only
  supports group Update operation."
- Miro, "Rate limits": https://developers.miro.com/reference/rate-limits
  ("Rate limits for SCIM API use the same levels as REST API but with a lifetime of 30 seconds";
  GET api/v1/scim/Users 200, GET api/v1/scim/Groups 5).
- Miro, domain control: https://help.miro.com/hc/en-us/articles/360034831793
  (TXT value "miro-verification=[INSERT CODE]", host blank or @; "A domain can only be owned by one
  Enterprise account at a time"; Security & compliance > Managed domains).
- RFC 7643 §4.1.1 (SCIM 2.0): userName is the unique, case-insensitive identifier
  (https://www.rfc-editor.org/rfc/rfc7643#section-4.1.1).

Not documented (unknown here): the default mapping (screenshot only), so the e-mail and matching
attributes; userName constraints; what a domain Miro does not manage for you means for provisioning;
guests; a recommended mapping for guests.
"""

from __future__ import annotations

from audit.targets._profile import KeyRules, Target

TUTORIAL = "https://learn.microsoft.com/entra/identity/saas-apps/miro-provisioning-tutorial"

TARGET = Target(
    name="miro",
    title="Miro",
    app_display_names=("Miro",),
    key_attribute="userName",
    email_attribute="",
    vendor_txt_prefix="miro-verification=",
    verifies_domains=None,
    unverified_meaning=(
        "Miro documents managed domains (one Enterprise account per domain), not their effect on "
        "SCIM provisioning"
    ),
    verify_hint=(
        "Miro: Security & compliance > Managed domains, publish the TXT record "
        "miro-verification=<code> (host blank or @; one record per domain and subdomain), then answer "
        "Miro's e-mail"
    ),
    console="Miro company settings",
    sources=(
        TUTORIAL,
        "https://developers.miro.com/reference/rate-limits",
        "https://help.miro.com/hc/en-us/articles/360034831793",
        "https://www.rfc-editor.org/rfc/rfc7643#section-4.1.1",
    ),
    key_rules=KeyRules(
        case_insensitive=True,
        scope="the Miro Enterprise account",
        source="RFC 7643 §4.1.1 (userName is case-insensitive and unique)",
    ),
    rate_limit="GET api/v1/scim/Users 200 per 30 seconds; GET api/v1/scim/Groups 5 per 30 seconds",
    limitations=(
        "Miro's SCIM endpoint does not allow Create and Delete operations on groups (tutorial).",
        "A domain can only be owned by one Enterprise account at a time.",
    ),
    not_documented=(
        "default mapping (screenshot only): e-mail and matching attributes",
        "userName constraints",
        "effect of an unmanaged domain on SCIM provisioning",
        "guests",
        "recommended guest mapping",
    ),
)
