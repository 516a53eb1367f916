"""A demo Atlassian organization and its SCIM directory, and the pages its APIs answer with.

The objects are stored as Atlassian's APIs return them (the admin API's ``data[]`` items, SCIM
``User`` resources), so the emulator (:mod:`audit.demo.atlassian_emulator`) serves them verbatim
and :func:`export_pages` writes the same pages into a demo export's ``atlassian/`` folder. Paging
follows the documented forms: the admin API's ``links.next`` (a full URL on the v1 listings, a bare
cursor on the v2 one, https://jira.atlassian.com/browse/AX-241) and SCIM's ``startIndex``/``count``
ListResponse (RFC 7644 §3.4.2, at most 100 users a page).
"""

from __future__ import annotations

import base64
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

__all__ = [
    "ORG_PAGE",
    "SCIM_PAGE",
    "AtlassianOrg",
    "decode_cursor",
    "export_pages",
    "org_page",
    "scim_page",
]

JSON = dict[str, Any]
ORG_PAGE = 50  # the admin API returns 50 users a page (https://jira.atlassian.com/browse/AX-249)
SCIM_PAGE = 100
LIST_RESPONSE = "urn:ietf:params:scim:api:messages:2.0:ListResponse"


@dataclass
class AtlassianOrg:
    """An organization (domains, managed accounts, directory accounts) and one SCIM directory.

    ``directory_users`` holds every account of the organization's directories with its
    ``claimStatus``; the v2 listing filters it. The keys are dummies the emulator checks.
    """

    org_id: str
    directory_id: str
    api_key: str
    scim_key: str
    domains: list[JSON] = field(default_factory=list)
    managed: list[JSON] = field(default_factory=list)
    directory_users: list[JSON] = field(default_factory=list)
    scim_users: list[JSON] = field(default_factory=list)

    def unmanaged(self) -> list[JSON]:
        """The directory accounts the organization does not manage (``claimStatus=unmanaged``)."""
        return [u for u in self.directory_users if u.get("claimStatus") == "unmanaged"]


def encode_cursor(offset: int, tag: str = "") -> str:
    """An opaque cursor for the item at ``offset`` of a listing filtered as ``tag`` says."""
    return base64.urlsafe_b64encode(f"offset:{offset}:{tag}".encode()).decode().rstrip("=")


def decode_cursor(cursor: str | None) -> tuple[int, str] | None:
    """(offset, tag) of a cursor made by :func:`encode_cursor`; (0, "") for none, None when invalid."""
    if not cursor:
        return 0, ""
    try:
        text = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
    except (ValueError, UnicodeDecodeError):
        return None
    kind, _, rest = text.partition(":")
    number, _, tag = rest.partition(":")
    return (int(number), tag) if kind == "offset" and number.isdigit() else None


def org_page(
    items: list[JSON],
    offset: int,
    size: int,
    *,
    link: Callable[[str], str],
    total: bool = False,
    tag: str = "",
) -> JSON:
    """One admin API page: ``data``, ``links`` (``next`` made by ``link`` from a cursor)."""
    chunk = items[offset : offset + size]
    links: JSON = {"self": link(encode_cursor(offset, tag))}
    if offset:
        links["prev"] = link(encode_cursor(max(0, offset - size), tag))
    if offset + size < len(items):
        links["next"] = link(encode_cursor(offset + size, tag))
    page: JSON = {"data": chunk, "links": links}
    if total:
        page["meta"] = {"total": len(items)}
    return page


def scim_page(users: list[JSON], start_index: int, count: int) -> JSON:
    """One SCIM ListResponse page (1-based ``start_index``, at most :data:`SCIM_PAGE` users)."""
    start = max(start_index, 1)
    chunk = users[start - 1 : start - 1 + max(0, min(count, SCIM_PAGE))]
    return {
        "schemas": [LIST_RESPONSE],
        "totalResults": len(users),
        "startIndex": start,
        "itemsPerPage": len(chunk),
        "Resources": chunk,
    }


_REAL = "https://api.atlassian.com"


def export_pages(org: AtlassianOrg, *, page_size: int = ORG_PAGE) -> dict[str, list[JSON]]:
    """Every page of every listing, as the real API would answer them (for a demo export)."""
    base = f"{_REAL}/admin/v1/orgs/{org.org_id}"

    def pages(items: list[JSON], link: Callable[[str], str], total: bool = False) -> list[JSON]:
        offsets = range(0, max(len(items), 1), page_size)
        return [org_page(items, o, page_size, link=link, total=total) for o in offsets]

    scim = [scim_page(org.scim_users, s, SCIM_PAGE) for s in range(1, len(org.scim_users) + 1, SCIM_PAGE)]  # fmt: skip
    return {
        "atlassian_domains": pages(org.domains, lambda c: f"{base}/domains?cursor={c}"),
        "atlassian_users": pages(org.managed, lambda c: f"{base}/users?cursor={c}", total=True),
        "atlassian_directory_users": [
            org_page(org.unmanaged(), o, page_size, link=lambda c: c, tag="unmanaged")
            for o in range(0, max(len(org.unmanaged()), 1), page_size)
        ],
        "atlassian_scim_users": scim or [scim_page([], 1, SCIM_PAGE)],
    }
