"""``DemoTenant``: a synthetic tenant as raw Graph JSON, shared by the generator, emulator and DNS server.

Everything is stored exactly as Microsoft Graph v1.0 returns it (camelCase, ``@odata.type`` where Graph
sets one), so the emulator serves it verbatim and ``write_export`` writes a valid Graph JSON export folder.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from audit.demo.atlassian_org import AtlassianOrg

JSON = dict[str, Any]


@dataclass
class DnsZoneEntry:
    """What the loopback DNS server answers for one name.

    ``mx`` holds ``(preference, exchange)``; a null MX (RFC 7505) is ``[(0, ".")]``. ``nxdomain`` makes every
    query for the name answer NXDOMAIN; ``unanswered`` makes the server drop the query (a timeout);
    ``servfail`` answers SERVFAIL. Empty lists with ``nxdomain`` False give NOERROR with no answer.
    """

    txt: list[str] = field(default_factory=list)
    mx: list[tuple[int, str]] = field(default_factory=list)
    a: list[str] = field(default_factory=list)
    aaaa: list[str] = field(default_factory=list)
    nxdomain: bool = False
    unanswered: bool = False
    servfail: bool = False


@dataclass
class DemoTenant:
    """A whole synthetic tenant. ``expected`` maps a user id to the rule ids that must flag it."""

    organization: JSON
    domains: list[JSON]
    users: list[JSON]
    service_principals: list[JSON] = field(default_factory=list)
    app_role_assignments: dict[str, list[JSON]] = field(
        default_factory=dict
    )  # by service principal id
    groups: dict[str, JSON] = field(default_factory=dict)  # by group id
    group_members: dict[str, list[JSON]] = field(
        default_factory=dict
    )  # by group id, direct members
    sync_jobs: dict[str, list[JSON]] = field(default_factory=dict)  # by service principal id
    sync_schemas: dict[str, JSON] = field(default_factory=dict)  # by job id
    provisioning_logs: list[JSON] = field(default_factory=list)
    mailusers: list[dict[str, str]] = field(default_factory=list)  # Get-MailUser CSV rows
    dns: dict[str, DnsZoneEntry] = field(default_factory=dict)  # by lower-case A-label name
    verified_in_target: list[str] = field(
        default_factory=list
    )  # what the demo passes as --verified-domain
    verification_tokens: list[str] = field(default_factory=list)  # "our" vendor tokens
    expected: dict[str, set[str]] = field(
        default_factory=dict
    )  # user id -> rule ids that must flag
    atlassian: AtlassianOrg | None = None  # the target organization (audit.demo.tenant_atlassian)

    @property
    def initial_domain(self) -> str:
        """The tenant's ``*.onmicrosoft.com`` domain (``isInitial``)."""
        return next(str(d["id"]) for d in self.domains if d.get("isInitial"))
