"""Vendor domain-verification TXT tokens (``atlassian-domain-verification=<token>``).

Kept apart from the DNS collector so the frame can use it without importing dnspython.
"""

from __future__ import annotations

from collections.abc import Iterable


def normalise_token(value: str, prefix: str) -> str:
    """A user-supplied token, given bare (``abc123``) or as the whole TXT value, quotes allowed."""
    token = value.strip().strip('"').strip()
    if prefix and token.lower().startswith(prefix.lower()):
        token = token[len(prefix) :].strip()
    return token


def verification_tokens(txt_records: Iterable[str] | None, prefix: str | None) -> list[str]:
    """The tokens a domain publishes for one vendor, e.g. after ``atlassian-domain-verification=``.

    The prefix matches case-insensitively (DNS tooling varies); tokens keep their case, are trimmed,
    deduplicated in order, and empty ones are dropped.
    """
    if not prefix or txt_records is None:
        return []
    wanted = prefix.lower()
    tokens: dict[str, None] = {}
    for record in txt_records:
        value = str(record).strip()
        if value.lower().startswith(wanted):
            token = value[len(prefix) :].strip()
            if token:
                tokens[token] = None
    return list(tokens)
