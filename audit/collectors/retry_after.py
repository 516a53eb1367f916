"""``Retry-After`` as seconds, shared by the Graph and the Atlassian HTTP clients.

The header is either a number of seconds or an HTTP date (RFC 9110 §10.2.3,
https://www.rfc-editor.org/rfc/rfc9110#field.retry-after); Graph sends seconds
(https://learn.microsoft.com/graph/throttling), Atlassian documents ``X-RateLimit-Reset`` beside it.
"""

from __future__ import annotations

from datetime import UTC, datetime
from email.utils import parsedate_to_datetime

__all__ = ["retry_after"]


def retry_after(value: str | None, now: datetime) -> float | None:
    """Seconds to wait that ``value`` asks for at ``now`` (negative for a date in the past);
    None when the header is absent or neither form."""
    if not value:
        return None
    try:
        return float(value)
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    when = when if when.tzinfo else when.replace(tzinfo=UTC)
    return (when - now).total_seconds()
