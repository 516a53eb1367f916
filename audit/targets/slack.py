"""Slack: the Entra gallery app "Slack" provisioning over Slack's SCIM API.

Sources:
- Microsoft, "Configure Slack for automatic user provisioning" (ms.date 04/16/2026):
  https://learn.microsoft.com/entra/identity/saas-apps/slack-provisioning-tutorial
  Gallery app "Slack" ("The gallery application has been customized to work with Slack's SCIM v1
  server"; custom/BYOA apps are not supported; Business+ plan, Enterprise Grid follows Slack's own
  instructions). Default user attributes include userName, externalId, displayName,
  emails[type eq "work"].value (no source attributes are given). Troubleshooting: "Slack's userName
  attribute has to be under 21 characters and have a unique value."; "Slack only allows matching
  with the attributes userName and email."; a displayName with '@' fails (AttributeValidationFailed).
- Slack, SCIM API reference: https://docs.slack.dev/reference/scim-api
  userName: "Required Max of 21 characters. Support periods ., underscores _, and hyphens -. All
  other special characters are converted to underscores."; "You may provide an email address in the
  userName field, but it will be automatically converted to a Slack-appropriate username."; errors
  username_taken ("usernames must be unique and must also be unique from channel names"),
  username_too_long ("max length is 21 characters"), email_taken; multi-channel guests through
  urn:scim:schemas:extension:slack:guest:1.0, "only available to Enterprise plan customers".
- Slack, SCIM API rate limits: https://docs.slack.dev/reference/scim-api/rate-limits
  ("the limits below apply to all SCIM apps in an org"; reads GET 1,000 per minute, burst 1,000;
  GET /Users/<id> 300 per minute).
- Slack, "Claim and verify email domains": https://slack.com/help/articles/5513043606547
  (claimed domains govern which Slack Connect invitations members may accept; Tools & settings →
  Workspace settings → Email Domains → Add Domain; DNS TXT on @, or _slack-challenge for a wildcard).

Not documented (unknown here): the gallery app's source attributes and default matching attribute;
how Slack converts an e-mail address sent as userName (so such keys are not evaluated); whether
usernames differing only in case collide; what an unclaimed e-mail domain means for SCIM
provisioning; the TXT value format; a recommended mapping for guests.
"""

from __future__ import annotations

import pandas as pd

from audit.targets._keys import ascii_only, replace_outside
from audit.targets._profile import KeyRules, Target, TargetCase

TUTORIAL = "https://learn.microsoft.com/entra/identity/saas-apps/slack-provisioning-tutorial"
SCIM = "https://docs.slack.dev/reference/scim-api"
EMAIL = 'emails[type eq "work"].value'


def normalise(keys: pd.Series) -> pd.Series:
    """Slack's stored username: characters other than letters, digits, ``.``, ``_`` and ``-``
    become ``_`` (Slack SCIM reference). An e-mail address (Slack converts it in a way it does
    not document) and non-ASCII text (is "é" a special character?) are NA: unknown."""
    text = ascii_only(keys)
    text = text.where(~text.str.contains("@", regex=False).fillna(False).astype(bool), pd.NA)
    return replace_outside(text, "A-Za-z0-9._-", "_")


TARGET = Target(
    name="slack",
    title="Slack",
    app_display_names=("Slack",),
    key_attribute="userName",
    email_attribute=EMAIL,
    verifies_domains=None,
    unverified_meaning=(
        "Slack documents no effect of an unclaimed e-mail domain on SCIM provisioning (claimed "
        "domains decide which Slack Connect invitations members may accept)"
    ),
    verify_hint=(
        "Slack: click your workspace name in the sidebar → Tools & settings → Workspace settings → "
        "Email Domains → Add Domain, then publish the DNS TXT record Slack shows (Host @, or "
        "_slack-challenge for a wildcard domain)"
    ),
    console="Slack workspace settings",
    sources=(
        TUTORIAL,
        SCIM,
        "https://docs.slack.dev/reference/scim-api/rate-limits",
        "https://slack.com/help/articles/5513043606547",
    ),
    key_rules=KeyRules(
        max_length=21,
        strict_max_length=20,
        normalise=normalise,
        normalisation=(
            "characters other than letters, digits, '.', '_' and '-' become '_' (an e-mail address "
            "is converted as Slack does not document)"
        ),
        case_insensitive=None,
        scope="the Slack organization, and apart from every channel name",
        source=(
            f"{SCIM} (max 21 characters; other special characters converted to underscores); "
            f"{TUTORIAL} (under 21 characters)"
        ),
    ),
    filterable_attributes=("userName", EMAIL),
    guest_role=True,
    guests_note=(
        "multi-channel guests through the urn:scim:schemas:extension:slack:guest:1.0 attribute, on "
        "the Enterprise plan only; the gallery app's documented attributes include no such attribute"
    ),
    rate_limit="org-wide reads 1,000 per minute (burst 1,000); GET /Users/<id> 300 per minute",
    limitations=(
        "Slack's userName attribute has to be under 21 characters and have a unique value.",
        "Slack only allows matching with the attributes userName and email.",
        "A displayName containing '@' is skipped with AttributeValidationFailed.",
        "Integrating with Slack with a custom / BYOA application isn't supported.",
    ),
    not_documented=(
        "source attributes of the default mapping",
        "default matching attribute",
        "conversion of an e-mail address sent as userName",
        "case rule of usernames",
        "effect of an unclaimed e-mail domain on SCIM provisioning",
        "DNS TXT value format (prefix)",
        "rate limit of the user list",
        "recommended guest mapping",
    ),
    demo_mapping={"userName": 'Item(Split([userPrincipalName], "@"), 1)'},
    demo_cases=(
        TargetCase(
            "slack-username-too-long",
            ("konstantina.papadopoulou",),
            frozenset({"target-key-invalid"}),
            source=f"{SCIM}: username_too_long (max length is 21 characters)",
        ),
        TargetCase(
            "slack-username-converted-collision",
            ("siobhan'neill", "siobhan_neill"),
            frozenset({"duplicate-target-key"}),
            source=f"{SCIM}: special characters converted to underscores; username_taken",
        ),
        TargetCase(
            "slack-username-fits",
            ("quinn.fitsslack",),
            twin=True,
            source=f"{SCIM}: max 21 characters",
        ),
    ),
)
