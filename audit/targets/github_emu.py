"""GitHub Enterprise Managed Users: the Entra gallery app "GitHub Enterprise Managed User".

Sources:
- Microsoft, "Configure GitHub Enterprise Managed User for automatic user provisioning":
  https://learn.microsoft.com/entra/identity/saas-apps/github-enterprise-managed-user-provisioning-tutorial
  Gallery app "GitHub Enterprise Managed User"; default user attributes externalId (the only one
  "Supported For Filtering", hence the matching attribute), userName, active, roles, displayName,
  name.*, emails[type eq "work"|"home"|"other"].value.
- GitHub, "Username considerations for external authentication":
  https://docs.github.com/en/enterprise-cloud@latest/admin/managing-iam/iam-configuration-reference/username-considerations-for-external-authentication
  "Usernames are formed by normalizing the SCIM userName attribute value sent from the IdP"; for
  Entra ID "IDP-USERNAME is formed by normalizing the characters preceding the @ character in the
  UPN (User Principal Name), which does not include the #EXT# for guest accounts" (bob@contoso.com,
  bob@fabrikam.com, bob_example#EXT#fabrikamcom@contoso.com ... "will result in the same username");
  GitHub "adds an underscore and your enterprise's shortcode" ("an alphanumeric string between three
  and eight characters"); "Usernames, including underscore and short code, must not exceed 39
  characters"; with data residency "the character limit for usernames is reduced from 39 characters
  to 30 characters"; "can only contain alphanumeric characters and dashes"; "GitHub will normalize
  any non-alphanumeric character ... into a dash"; "normalized usernames also can't start or end with
  a dash. They also can't contain two consecutive dashes."; "The letter casing in the value provided
  by the IdP is preserved"; "If multiple accounts are normalized into the same username, only the
  first user account is created"; conflicts fail with 409, usernames over 39 characters with 400.
- GitHub, "Conflicts can only occur between users within the same enterprise" (reusable
  emu-only-emails-within-the-enterprise-can-conflict, same page).
- GitHub, "About Enterprise Managed Users":
  https://docs.github.com/en/enterprise-cloud@latest/admin/managing-iam/understanding-iam-for-enterprises/about-enterprise-managed-users
  ("Your IdP provisions new user accounts on GitHub, with access to your enterprise"; "You control
  usernames, profile data, organization membership, and repository access from your IdP").
- GitHub, "Verifying or approving a domain for your enterprise":
  https://docs.github.com/en/enterprise-cloud@latest/admin/configuration/configuring-your-enterprise/verifying-or-approving-a-domain-for-your-enterprise
  (verified domains let the enterprise "restrict email notifications to verified domains").
- GitHub, "Enabling guest collaborators":
  https://docs.github.com/en/enterprise-cloud@latest/admin/managing-accounts-and-repositories/managing-users-in-your-enterprise/enabling-guest-collaborators
  (app role "Guest Collaborator", id 1ebc4a02-e56c-43a6-92a5-02ee09b90824).
- GitHub, SCIM rate limits (reusable emu-scim-rate-limit-details): "do not assign more than 1,000
  users per hour to the SCIM integration on your IdP".

Not documented (unknown here): whether usernames differing only in case collide; what GitHub calls
alphanumeric beyond ASCII; which ``_`` of a ``#EXT#`` prefix holding several separates the domain;
the source attributes of the gallery mapping besides the UPN; the TXT record name for enterprises;
a read rate limit; a recommended mapping for guests.
"""

from __future__ import annotations

import pandas as pd

from audit.targets._keys import (
    after_separator,
    ascii_only,
    before_at,
    ext_alias,
    non_empty,
    replace_outside,
)
from audit.targets._profile import KeyRules, Target, TargetCase

TUTORIAL = (
    "https://learn.microsoft.com/entra/identity/saas-apps/"
    "github-enterprise-managed-user-provisioning-tutorial"
)
USERNAMES = (
    "https://docs.github.com/en/enterprise-cloud@latest/admin/managing-iam/"
    "iam-configuration-reference/username-considerations-for-external-authentication"
)
EMAIL = 'emails[type eq "work"].value'


def normalise(keys: pd.Series) -> pd.Series:
    """GitHub's IDP-USERNAME from the SCIM userName: a ``#EXT#`` value's invited alias, the part
    before ``@``, the part after ``\\``, then every non-alphanumeric character as ``-`` (casing
    kept). Non-ASCII values and ``#EXT#`` prefixes with several ``_`` are NA: undocumented."""
    text = ext_alias(ascii_only(keys))
    text = after_separator(before_at(text), "\\")
    return non_empty(replace_outside(text, "A-Za-z0-9", "-"))


TARGET = Target(
    name="github-emu",
    title="GitHub Enterprise Managed Users",
    app_display_names=("GitHub Enterprise Managed User",),
    key_attribute="userName",
    email_attribute=EMAIL,
    default_mapping={"userName": "[userPrincipalName]"},
    verifies_domains=False,
    unverified_meaning=(
        "GitHub creates every provisioned account as a managed user account of the enterprise; a "
        "verified domain only lets the enterprise restrict e-mail notifications to it"
    ),
    verify_hint=(
        "GitHub: your enterprise's Settings → Verified & approved domains → Add a domain (needed only "
        "to restrict e-mail notifications)"
    ),
    console="GitHub enterprise settings",
    sources=(
        TUTORIAL,
        USERNAMES,
        "https://docs.github.com/en/enterprise-cloud@latest/admin/managing-iam/"
        "understanding-iam-for-enterprises/about-enterprise-managed-users",
        "https://docs.github.com/en/enterprise-cloud@latest/admin/configuration/"
        "configuring-your-enterprise/verifying-or-approving-a-domain-for-your-enterprise",
        "https://docs.github.com/en/enterprise-cloud@latest/admin/managing-accounts-and-repositories/"
        "managing-users-in-your-enterprise/enabling-guest-collaborators",
    ),
    key_rules=KeyRules(
        max_length=39,
        strict_max_length=30,
        suffix_length=(4, 9),
        pattern=r"(?!-)(?!.*--)[A-Za-z0-9-]+(?<!-)",
        pattern_text="not starting or ending with a dash, no two dashes in a row",
        normalise=normalise,
        normalisation=(
            "the username is the userName before '@' (for a #EXT# UPN the invited alias) with every "
            "non-alphanumeric character as '-', plus '_' and the enterprise's shortcode"
        ),
        case_insensitive=None,
        scope="the enterprise (accounts outside it may share identifiers)",
        source=USERNAMES,
    ),
    matching_attributes=("externalId",),
    filterable_attributes=("externalId",),
    guest_role=True,
    guests_note=(
        "the Guest Collaborator app role (id 1ebc4a02-e56c-43a6-92a5-02ee09b90824) provisions "
        "guest collaborators, who cannot see internal repositories outside their organizations"
    ),
    rate_limit="assign at most 1,000 users per hour (1,000 per group per hour); reads not documented",
    limitations=(
        "If multiple accounts are normalized into the same username, only the first user account "
        "is created (409 for the others).",
        "A username longer than 39 characters including underscore and short code fails with 400 "
        "(30 characters with data residency).",
    ),
    not_documented=(
        "case rule of usernames",
        "non-ASCII characters in usernames",
        "#EXT# prefixes with several '_'",
        "source attributes of the default mapping besides the UPN",
        "enterprise DNS TXT record name",
        "read rate limit",
        "recommended guest mapping",
    ),
    demo_cases=(
        TargetCase(
            "github-same-alias-two-domains",
            ("kim.okafor", "kim.okafor"),
            frozenset({"duplicate-target-key"}),
            source=f"{USERNAMES}: bob@contoso.com and bob@fabrikam.com give the same username",
        ),
        TargetCase(
            "github-username-too-long",
            ("mona.lisa.the.octocat.from.github.united.states",),
            frozenset({"target-key-invalid"}),
            source=f"{USERNAMES}: exceeds the 39-character limit",
        ),
        TargetCase(
            "github-double-dash",
            ("the!!octocat",),
            frozenset({"target-key-invalid"}),
            source=f"{USERNAMES}: The!!Octocat is not created (two consecutive dashes)",
        ),
        TargetCase(
            "github-username-fits",
            ("the.octocat.fits",),
            twin=True,
            source=f"{USERNAMES}: The.Octocat is created successfully",
        ),
    ),
)
