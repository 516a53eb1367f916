"""Vendor domain-verification TXT tokens (``atlassian-domain-verification=<token>``)."""

from __future__ import annotations

from collections.abc import Iterable


def normalise_token(value: str, prefix: str) -> str:
    """The bare token from either the token itself or the whole TXT value (prefix case-insensitive)."""
    text = value.strip().strip('"').strip()
    if prefix and text.lower().startswith(prefix.lower()):
        text = text[len(prefix) :]
    return text.strip()


def vendor_tokens(records: Iterable[str] | None, prefix: str | None) -> list[str]:
    """The tokens of every TXT record that starts with the vendor's prefix."""
    if not prefix or records is None:
        return []
    low = prefix.lower()
    return [normalise_token(r, prefix) for r in records if str(r).strip().lower().startswith(low)]
