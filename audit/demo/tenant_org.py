"""The tenant's own objects: ``GET /organization`` and ``GET /domains`` (Graph v1.0 shapes).

Only the tenant's domains appear here; partners' domains never show up in ``/domains``.
"""

from __future__ import annotations

from typing import Any

from audit.demo.tenant_app import AppIds
from audit.demo.tenant_domains import DEFAULT_DOMAIN, INITIAL_DOMAIN
from audit.demo.tenant_spec import DAY
from audit.demo.tenant_users import ts

__all__ = ["domains_json", "organization_json"]

JSON = dict[str, Any]


def organization_json(ids: AppIds, now: int) -> JSON:
    """``GET /organization``'s single object."""
    return {
        "id": ids.tenant,
        "deletedDateTime": None,
        "businessPhones": ["+1 425 555 0100"],
        "city": "Redmond",
        "country": None,
        "countryLetterCode": "US",
        "createdDateTime": ts(now - 2000 * DAY),
        "defaultUsageLocation": None,
        "displayName": "Contoso Demo",
        "marketingNotificationEmails": [],
        "onPremisesLastSyncDateTime": None,
        "onPremisesSyncEnabled": None,
        "postalCode": "98052",
        "preferredLanguage": "en",
        "privacyProfile": None,
        "securityComplianceNotificationMails": [],
        "securityComplianceNotificationPhones": [],
        "state": "WA",
        "street": "One Microsoft Way",
        "technicalNotificationMails": [f"admin@{DEFAULT_DOMAIN}"],
        "tenantType": "AAD",
        "assignedPlans": [],
        "provisionedPlans": [],
        "verifiedDomains": [
            _verified_domain(INITIAL_DOMAIN, initial=True),
            _verified_domain(DEFAULT_DOMAIN, initial=False),
        ],
    }


def _verified_domain(name: str, *, initial: bool) -> JSON:
    return {
        "capabilities": "Email, OfficeCommunicationsOnline",
        "isDefault": not initial,
        "isInitial": initial,
        "name": name,
        "type": "Managed",
    }


def domains_json() -> list[JSON]:
    """``GET /domains``: the initial domain and the custom default domain, both verified."""
    return [_domain(INITIAL_DOMAIN, initial=True), _domain(DEFAULT_DOMAIN, initial=False)]


def _domain(name: str, *, initial: bool) -> JSON:
    return {
        "authenticationType": "Managed",
        "availabilityStatus": None,
        "id": name,
        "isAdminManaged": True,
        "isDefault": not initial,
        "isInitial": initial,
        "isRoot": True,
        "isVerified": True,
        "manufacturer": None,
        "model": None,
        "passwordNotificationWindowInDays": 14,
        "passwordValidityPeriodInDays": 2147483647,
        "supportedServices": ["Email", "OfficeCommunicationsOnline"],
        "state": None,
    }
