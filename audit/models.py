"""The small value types that cross module boundaries: severities, statuses and outcomes."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from enum import StrEnum
from typing import Any

from audit.errors import scrub


class Severity(StrEnum):
    """How bad a finding is; ordered ``info < low < medium < high``."""

    INFO = "info"
    LOW = "low"
    MEDIUM = "medium"
    HIGH = "high"

    @property
    def rank(self) -> int:
        """Position in the order ``info < low < medium < high``."""
        return _SEVERITY_ORDER.index(self)


_SEVERITY_ORDER = (Severity.INFO, Severity.LOW, Severity.MEDIUM, Severity.HIGH)


class SourceState(StrEnum):
    """What happened to one input source."""

    OK = "ok"
    PARTIAL = "partial"
    FAILED = "failed"
    NOT_REQUESTED = "not_requested"


class RuleState(StrEnum):
    """Whether a rule ran or was skipped because a source it needs is missing."""

    RAN = "ran"
    SKIPPED = "skipped"


class CheckStatus(StrEnum):
    """The status of one (rule, object) pair."""

    FLAGGED = "flagged"
    PASSED = "passed"
    NOT_EVALUATED = "not_evaluated"
    MUTED = "muted"


class Outcome(StrEnum):
    """The predicted result of provisioning one guest into the target."""

    READY = "ready"
    UNMANAGED = "unmanaged"
    BLOCKED = "blocked"
    OUT_OF_SCOPE = "out_of_scope"
    UNKNOWN = "unknown"


@dataclass(frozen=True)
class SourceStatus:
    """The result of collecting one source; a failed source is never reported as empty."""

    name: str
    state: SourceState
    rows: int = 0
    error: str | None = None
    missing_permission: str | None = None
    detail: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.error:  # it often quotes a server or a library: no secret may ride along
            object.__setattr__(self, "error", scrub(self.error))

    @property
    def usable(self) -> bool:
        """True when rules may rely on this source (``ok`` or ``partial``)."""
        return self.state in (SourceState.OK, SourceState.PARTIAL)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict (enum values as strings)."""
        data = asdict(self)
        data["state"] = self.state.value
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> SourceStatus:
        """Inverse of :meth:`to_dict`."""
        return cls(
            name=str(data["name"]),
            state=SourceState(data["state"]),
            rows=int(data.get("rows", 0)),
            error=data.get("error"),
            missing_permission=data.get("missing_permission"),
            detail=dict(data.get("detail") or {}),
        )
