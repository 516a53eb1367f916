"""Typed errors of b2b-preflight.

Every error the tool raises on purpose derives from :class:`AuditError`, so the CLI can turn it into a
clear message and an exit code instead of a traceback::

    AuditError                      base; exit code 2 unless a subclass says otherwise
    ├── ConfigError                 bad flags or config file (exit 2)
    ├── InputError                  a malformed input file; names the file and line (exit 2)
    ├── ExpressionError             an attribute-mapping expression that cannot be parsed (exit 2)
    ├── SnapshotError               a snapshot folder that is missing, incomplete or corrupt (exit 2)
    └── CollectionError             a required source could not be collected (exit 3)
        └── SourceError             one source failed; carries the HTTP status and missing permission

Messages often quote what a server, a library or a file said, and a careless server echoes the
request it got, headers and all. Every message is passed through :func:`scrub` when the error is
made, so secrets, tokens and identity headers never reach a terminal, a log or a report.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable

MASK = "[secret]"
"""What a scrubbed secret is replaced with."""

_SENSITIVE = (
    r"authorization|proxy-authorization|x-identity-header|identity[_-]header|msi[_-]secret|secret"
    r"|client[_-]?secret|client[_-]?assertion|assertion|password|passwd|pwd|passphrase"
    r"|(?:access|refresh|id|bearer|session)[_-]?token|token|api[_-]?key|x-api-key|apikey"
    r"|subscription[_-]?key|ocp-apim-subscription-key|cookie|set-cookie|sig|signature"
    r"|(?:device|user|auth|authorization)[_-]code"
)
_PAIR = re.compile(
    rf"""(?ix)
    (?P<name>["']?\b(?:{_SENSITIVE})\b["']?)   # a sensitive name, maybe quoted
    (?P<sep>\s*[:=]\s*)                        # name: value, name=value, "name": "value"
    (?P<value>(?:(?:bearer|basic|negotiate|ntlm|pop)\s+)?(?:\[secret\]|"[^"]*"?|'[^']*'?|[^\s,;&'"}}\])]+))
    """
)
_SCHEME = re.compile(r"(?i)\b(bearer|basic|negotiate|ntlm)\s+[A-Za-z0-9._~+/=-]{8,}")
_JWT = re.compile(r"eyJ[\w-]{4,}\.[\w-]{4,}\.[\w-]*")
_PEM = re.compile(
    r"-----BEGIN [A-Z ]*PRIVATE KEY-----.*?(?:-----END [A-Z ]*PRIVATE KEY-----|$)", re.S
)
_SECRET_VARIABLE = re.compile(r"(?i)(secret|password|passphrase|token|api_?key|identity_header)")
_NOT_SECRET_VARIABLE = re.compile(r"(?i)(_file|_path|_endpoint|_url)$")


def scrub(text: str, secrets: Iterable[str] = ()) -> str:
    """``text`` with secrets masked: values of sensitive names (``Authorization: Bearer ...``,
    ``X-IDENTITY-HEADER: ...``, ``client_secret=...``, ``"password": "..."``), anything shaped
    like a JWT or a PEM private key, the values of secret environment variables
    (``AZURE_CLIENT_SECRET``, ``IDENTITY_HEADER``, ``MSI_SECRET``, ``ATLASSIAN_API_KEY``...) and
    ``secrets`` wherever they occur."""
    for secret in sorted({*secrets, *_environment_secrets()}, key=len, reverse=True):
        if len(secret) >= 6:
            text = text.replace(secret, MASK)
    text = _PEM.sub(MASK, text)
    text = _JWT.sub(MASK, text)
    text = _SCHEME.sub(lambda m: f"{m.group(1)} {MASK}", text)
    return _PAIR.sub(lambda m: m.group("name") + m.group("sep") + MASK, text)


def _environment_secrets() -> list[str]:
    """Values of environment variables whose names say they hold a secret (read when scrubbing:
    nothing is kept)."""
    return [
        value
        for name, value in os.environ.items()
        if _SECRET_VARIABLE.search(name) and not _NOT_SECRET_VARIABLE.search(name) and value
    ]


class AuditError(Exception):
    """Base of every error b2b-preflight raises on purpose; its message is scrubbed (see
    :func:`scrub`)."""

    exit_code = 2

    def __init__(self, *args: object) -> None:
        super().__init__(*(scrub(a) if isinstance(a, str) else a for a in args))


class ConfigError(AuditError):
    """Flags or configuration that cannot be used."""


class InputError(AuditError):
    """A malformed input file, reported with its path and, where known, its line."""

    def __init__(self, path: object, message: str, *, line: int | None = None) -> None:
        self.path = str(path)
        self.line = line
        where = f"{self.path}:{line}" if line is not None else self.path
        super().__init__(f"{where}: {message}")


class ExpressionError(AuditError):
    """An attribute-mapping expression that cannot be parsed or uses unknown functions."""

    def __init__(self, message: str, *, expression: str = "", position: int | None = None) -> None:
        self.expression = expression
        self.position = position
        super().__init__(message)


class SnapshotError(AuditError):
    """A snapshot folder that is missing, incomplete or corrupt."""


class CollectionError(AuditError):
    """A source the audit cannot do without could not be collected."""

    exit_code = 3


class SourceError(CollectionError):
    """One source failed: the HTTP status and, for 401/403, the permission that is missing."""

    def __init__(
        self,
        source: str,
        message: str,
        *,
        status: int | None = None,
        missing_permission: str | None = None,
    ) -> None:
        self.source = source
        self.status = status
        self.missing_permission = missing_permission
        super().__init__(f"{source}: {message}")
