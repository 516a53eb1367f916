"""ServiceNow: the Entra gallery app "ServiceNow" (ServiceNow's table API, not SCIM).

Sources:
- Microsoft, "Configure ServiceNow for automatic user provisioning" (ms.date 03/25/2024):
  https://learn.microsoft.com/entra/identity/saas-apps/servicenow-provisioning-tutorial
  Gallery app "ServiceNow"; requests go to https://{your-instance-name}.service-now.com/{table-name}
  with an admin user name and password; "Self-hosted ServiceNow instances aren't supported.";
  referenced attributes such as Department and Location "must already exist in a reference table
  in ServiceNow" (InvalidLookupReference); EntryJoiningPropertyValueIsMissing: the matching
  attribute "must be present on the user or group you're trying to provision".
- Microsoft, "Customize user provisioning attribute-mappings":
  https://learn.microsoft.com/entra/identity/app-provisioning/customize-application-attributes
  ("Applications such as ServiceNow and Salesforce aren't integrated with Microsoft Entra ID using
  SCIM").

Nearly nothing a guest's readiness depends on is documented: the key and e-mail attributes and
their constraints, the matching attribute, what ServiceNow does with e-mail domains, guests, a DNS
TXT record, rate limits and a recommended mapping are all unknown here, so the rules that need them
are not evaluated for ServiceNow.
"""

from __future__ import annotations

from audit.targets._profile import KeyRules, Target

TUTORIAL = "https://learn.microsoft.com/entra/identity/saas-apps/servicenow-provisioning-tutorial"

TARGET = Target(
    name="servicenow",
    title="ServiceNow",
    app_display_names=("ServiceNow",),
    key_attribute="",
    email_attribute="",
    verifies_domains=None,
    unverified_meaning="ServiceNow documents nothing about e-mail domains of provisioned users",
    verify_hint="not documented by ServiceNow",
    console="ServiceNow instance",
    sources=(
        TUTORIAL,
        "https://learn.microsoft.com/entra/identity/app-provisioning/customize-application-attributes",
    ),
    key_rules=KeyRules(case_insensitive=None, scope=None, source="not documented"),
    limitations=(
        "Self-hosted ServiceNow instances aren't supported.",
        "Referenced values (Department, Location) must already exist in a ServiceNow reference "
        "table (InvalidLookupReference).",
        "The matching attribute must be present on every user (EntryJoiningPropertyValueIsMissing).",
    ),
    not_documented=(
        "key attribute and its constraints",
        "e-mail attribute",
        "matching attribute",
        "e-mail domains",
        "guests",
        "DNS TXT record",
        "rate limits",
        "default and recommended mappings",
    ),
)
