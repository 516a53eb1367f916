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


def txt_prefix(documented: str | None, tokens: Iterable[str]) -> str | None:
    """The vendor TXT prefix to look for: the documented one, else the one the user's own tokens
    show when given as whole TXT values (``name=token``, all with the same ``name=``), else None.

    A vendor that documents the DNS TXT method without the value's format still shows the record
    to copy in its console; the user's copy of it is data, not a guess.
    """
    if documented:
        return documented
    found = {t.strip().strip('"').partition("=")[0] for t in tokens if "=" in t}
    found.discard("")
    return f"{found.pop()}=" if len(found) == 1 else None
