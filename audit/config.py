"""Audit configuration: target, verified domains, tokens, thresholds and exceptions.

Read from a TOML file (``--config``) and overridden by CLI flags. Example::

    target = "atlassian"           # or "auto" (the default): picked from the collected app
    verified_domains = ["contoso.com", "contoso.onmicrosoft.com"]
    verification_tokens = ["atlassian-domain-verification=abc123"]
    stale_days = 90
    fail_on = "high"

    [[exceptions]]
    match = "partner.com"          # a guest object id, a UPN, or a mail domain
    rule = "domain-unverified"     # a rule id or "*"
    reason = "Partner verifies in its own Atlassian org"
    owner = "it-identity@contoso.com"
    expires = 2027-03-31
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field, replace
from datetime import date
from pathlib import Path
from typing import Any

from audit.analysis.waivers import Waiver
from audit.errors import ConfigError
from audit.models import Severity

AuditException = Waiver
"""The former name of :class:`~audit.analysis.waivers.Waiver` (kept for existing scripts)."""


@dataclass(frozen=True)
class AuditConfig:
    """Everything that shapes an analysis besides the snapshot."""

    target: str = "auto"
    verified_domains: tuple[str, ...] = ()
    verification_tokens: tuple[str, ...] = ()
    stale_days: int = 90
    fail_on: Severity | None = None
    exceptions: tuple[Waiver, ...] = ()
    public_domains: tuple[str, ...] = ()
    mapping: dict[str, str] = field(default_factory=dict)

    def with_overrides(self, **values: Any) -> AuditConfig:
        """A copy with the given non-empty values replaced (CLI flags win over the file)."""
        given = {k: v for k, v in values.items() if v not in (None, (), [])}
        return replace(self, **given)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form, stored in the snapshot manifest and reports (no secrets here)."""
        return {
            "target": self.target,
            "verified_domains": list(self.verified_domains),
            "verification_tokens": len(self.verification_tokens),
            "stale_days": self.stale_days,
            "fail_on": self.fail_on.value if self.fail_on else None,
            "exceptions": len(self.exceptions),
        }


def load_config(path: str | Path | None) -> AuditConfig:
    """Read a TOML config file; ``None`` gives the defaults."""
    if path is None:
        return AuditConfig()
    file = Path(path)
    try:
        data = tomllib.loads(file.read_text(encoding="utf-8-sig"))
    except FileNotFoundError:
        raise ConfigError(f"{file}: config file not found") from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{file}: not valid TOML ({exc})") from None
    return _from_dict(data, file)


def _from_dict(data: dict[str, Any], file: Path) -> AuditConfig:
    known = {"target", "verified_domains", "verification_tokens", "stale_days", "fail_on"}
    unknown = set(data) - known - {"exceptions", "public_domains", "mapping"}
    if unknown:
        raise ConfigError(f"{file}: unknown keys {sorted(unknown)}")
    try:
        return AuditConfig(
            target=str(data.get("target", "auto")),
            verified_domains=tuple(str(d) for d in data.get("verified_domains", [])),
            verification_tokens=tuple(str(t) for t in data.get("verification_tokens", [])),
            stale_days=int(data.get("stale_days", 90)),
            fail_on=Severity(data["fail_on"]) if data.get("fail_on") else None,
            exceptions=tuple(_exception(e) for e in data.get("exceptions", [])),
            public_domains=tuple(str(d) for d in data.get("public_domains", [])),
            mapping={str(k): str(v) for k, v in dict(data.get("mapping", {})).items()},
        )
    except (TypeError, ValueError, KeyError) as exc:
        raise ConfigError(f"{file}: {exc}") from None


def _exception(entry: Any) -> Waiver:
    if not isinstance(entry, dict) or not entry.get("match"):
        raise ValueError("each [[exceptions]] entry needs a 'match'")
    expires = entry.get("expires")
    if isinstance(expires, str):
        expires = date.fromisoformat(expires)
    if expires is not None and not isinstance(expires, date):
        raise ValueError(f"exception expiry {expires!r} is not a date")
    return Waiver(
        match=str(entry["match"]),
        rule=str(entry.get("rule", "*")),
        reason=str(entry.get("reason", "")),
        owner=str(entry.get("owner", "")),
        expires=expires,
    )
