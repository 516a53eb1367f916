"""Salesforce: the Entra gallery app "Salesforce" (Salesforce's user provisioning API v40, not SCIM).

Sources:
- Microsoft, "Configure Salesforce for automatic user provisioning" (ms.date 05/20/2025):
  https://learn.microsoft.com/entra/identity/saas-apps/salesforce-provisioning-tutorial
  Gallery app "Salesforce"; "By default, a user's userPrincipalName in Microsoft Entra ID becomes
  their 'Username' in Salesforce.com."; SalesforceDuplicateUserName: "values for the 'Username'
  attribute must be unique across all Salesforce.com tenants"; SalesforceRequiredFieldMissing
  ("Ensure that attributes such as email and alias are populated"); "Salesforce requires that email
  updates be approved manually before being changed"; the default mapping maps appRoleAssignments
  to ProfileName with SingleAppRoleAssignment ("Ensure that the users don't have multiple app role
  assignments"); "The "Default Access" role doesn't work for provisioning".
- Microsoft, "Customize user provisioning attribute-mappings":
  https://learn.microsoft.com/entra/identity/app-provisioning/customize-application-attributes
  ("the Username attribute of a managed object in Salesforce is populated with the
  userPrincipalName value"; "Applications such as ServiceNow and Salesforce aren't integrated with
  Microsoft Entra ID using SCIM").
- Salesforce, Object Reference, User:
  https://developer.salesforce.com/docs/atlas.en-us.object_reference.meta/object_reference/sforce_api_objects_user.htm
  Username: "The value for this field must be in the form of an email address, using all lowercase
  characters. It must also be unique across all organizations."; field length 80 (Username, Email).
- Salesforce, AllowedEmailDomain:
  https://developer.salesforce.com/docs/atlas.en-us.object_reference.meta/object_reference/sforce_api_objects_allowedemaildomain.htm
  ("You can define an allowlist to restrict the email domains allowed in a user's Email field").

Salesforce has no verified e-mail domains for users, so the domain rules do not apply; an org's
Allowed Email Domains list (which this tool cannot read) may still reject an address. Not
documented (unknown here): the gallery mapping's matching attribute and the source of Email; which
attributes the connector can filter on; guests or external users; rate limits; a recommended
mapping for guests.
"""

from __future__ import annotations

from audit.targets._profile import KeyRules, Target, TargetCase

TUTORIAL = "https://learn.microsoft.com/entra/identity/saas-apps/salesforce-provisioning-tutorial"
USER = (
    "https://developer.salesforce.com/docs/atlas.en-us.object_reference.meta/object_reference/"
    "sforce_api_objects_user.htm"
)

TARGET = Target(
    name="salesforce",
    title="Salesforce",
    app_display_names=("Salesforce",),
    key_attribute="Username",
    email_attribute="Email",
    default_mapping={"Username": "[userPrincipalName]"},
    verifies_domains=False,
    unverified_meaning=(
        "Salesforce has no verified e-mail domains for users (an org may restrict the Email field to "
        "its Allowed Email Domains, which this tool cannot read)"
    ),
    verify_hint=(
        "Salesforce: check the org's Allowed Email Domains list (the AllowedEmailDomain object), if "
        "the org uses one"
    ),
    console="Salesforce Setup",
    sources=(
        TUTORIAL,
        "https://learn.microsoft.com/entra/identity/app-provisioning/customize-application-attributes",
        USER,
        "https://developer.salesforce.com/docs/atlas.en-us.object_reference.meta/object_reference/"
        "sforce_api_objects_allowedemaildomain.htm",
    ),
    key_rules=KeyRules(
        max_length=80,
        pattern=r"(?=[^A-Z]*$)[^@\s]+@[^@\s]+\.[^@\s]+",
        pattern_text="an e-mail address in lower case",
        case_insensitive=None,
        scope="every Salesforce organization, not only yours (this tool sees only your tenant)",
        source=f"{USER} (Username: e-mail form, lower case, unique across all organizations, 80)",
    ),
    limitations=(
        "Username values must be unique across all Salesforce.com tenants "
        "(SalesforceDuplicateUserName).",
        "Salesforce requires that email updates be approved manually before being changed.",
        "Users with more than one app role assignment, or the Default Access role, are not "
        "provisioned.",
        "An org's Allowed Email Domains list, when used, restricts the Email field.",
    ),
    not_documented=(
        "matching attribute of the default mapping",
        "source attribute of Email",
        "attributes the connector can filter on",
        "guests or external users",
        "rate limits",
        "recommended guest mapping",
    ),
    demo_cases=(
        TargetCase(
            "salesforce-username-upper-case",
            ("Robin.Nakamura",),
            frozenset({"target-key-invalid"}),
            source=f"{USER}: an email address, using all lowercase characters",
        ),
        TargetCase(
            "salesforce-username-too-long",
            ("robin.nakamura.from.the.partner.company.procurement.and.contracts.team.emea.north",),
            frozenset({"target-key-invalid"}),
            source=f"{USER}: Username length 80",
        ),
        TargetCase(
            "salesforce-username-fits",
            ("robin.nakamura.sf",),
            twin=True,
            source=f"{USER}: Username",
        ),
    ),
)
