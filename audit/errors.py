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
"""

from __future__ import annotations


class AuditError(Exception):
    """Base of every error b2b-preflight raises on purpose."""

    exit_code = 2


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
