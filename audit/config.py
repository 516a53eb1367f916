"""Audit configuration: target, verified domains, tokens, thresholds and exceptions.

Read from a TOML file (``--config``) and overridden by CLI flags. Example::

    target = "atlassian"           # or "auto" (the default): picked from the collected app
    verified_domains = ["contoso.com", "contoso.onmicrosoft.com"]
    verification_tokens = ["google-site-verification=abc123"]   # targets with a documented record
    stale_days = 90
    fail_on = "high"
    atlassian_org = "<organization id>"        # read the target side (key: ATLASSIAN_API_KEY)
    atlassian_directory = "<SCIM directory id>" # and its SCIM directory (key: ATLASSIAN_SCIM_KEY)
    provisioning_scope = "assigned"   # or "all": the job's "Sync all users and groups"

    [[exceptions]]
    match = "partner.com"          # a guest object id, a UPN, or a mail domain
    rule = "domain-unverified"     # a rule id or "*"
    reason = "Partner verifies in its own Atlassian org"
    owner = "it-identity@contoso.com"
    expires = 2027-03-31

Values are checked as they are read: a URL, an address, a path or a space where a domain belongs,
or a string where a list belongs, is a :class:`~audit.errors.ConfigError` whose one line shows
what to type instead (:mod:`audit._inputs`). A snapshot records the settings it was analysed
with (:meth:`AuditConfig.to_dict`); ``analyze`` and ``report`` start from them
(:meth:`AuditConfig.from_dict`), so the same snapshot gives the same result.
"""

from __future__ import annotations

import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field, fields, replace
from datetime import date
from enum import Enum
from pathlib import Path
from typing import Any

from audit._inputs import domain_list, token_list
from audit.analysis.waivers import Waiver
from audit.errors import ConfigError
from audit.models import Severity

PROVISIONING_SCOPES = ("assigned", "all")
"""The provisioning job's scope: "Sync only assigned users and groups" (the gallery default) or
"Sync all users and groups". Graph does not return it, so the audit is told (``--provisioning-scope``).
"""

AuditException = Waiver
"""The former name of :class:`~audit.analysis.waivers.Waiver` (kept for existing scripts)."""


@dataclass(frozen=True)
class AuditConfig:
    """Everything that shapes an analysis besides the snapshot.

    ``no_verified_domains`` says on purpose that the target has no verified domain yet; without
    it (and without ``verified_domains`` or the target's own list of domains), a run stops with
    an error instead of reporting every guest as unmanaged.
    """

    target: str = "auto"
    verified_domains: tuple[str, ...] = ()
    verification_tokens: tuple[str, ...] = ()
    stale_days: int = 90
    fail_on: Severity | None = None
    exceptions: tuple[Waiver, ...] = ()
    public_domains: tuple[str, ...] = ()
    mapping: dict[str, str] = field(default_factory=dict)
    no_verified_domains: bool = False
    atlassian_org: str | None = None
    atlassian_directory: str | None = None
    provisioning_scope: str = "assigned"

    def __post_init__(self) -> None:
        _scope(self.provisioning_scope)

    def with_overrides(self, **values: Any) -> AuditConfig:
        """A copy with the given non-empty values replaced (CLI flags win over the file).

        Verified domains and ``no_verified_domains`` replace each other: a layer that names
        domains clears an earlier "none", and the other way round; one layer giving both is an
        error.
        """
        given = {k: v for k, v in values.items() if v not in (None, (), [])}
        domains, none = given.get("verified_domains"), given.get("no_verified_domains")
        if domains and none:
            raise ConfigError(
                "--no-verified-domains contradicts --verified-domain "
                f"{','.join(domains)}: give one of them"
            )
        if domains:
            given.setdefault("no_verified_domains", False)
        if none:
            given["verified_domains"] = ()
        return replace(self, **given)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form, recorded in the snapshot manifest: every setting, so that
        :meth:`from_dict` gives the same configuration back (no secrets here: verification
        tokens are published in DNS)."""
        return {f.name: _plain(getattr(self, f.name)) for f in fields(self)}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> AuditConfig:
        """The configuration :meth:`to_dict` recorded; unknown keys (``app``) and the counts
        older snapshots kept instead of lists are ignored."""
        values: dict[str, Any] = {}
        for f in fields(cls):
            if f.name in data and data[f.name] is not None:
                values[f.name] = _typed(f.name, data[f.name], getattr(cls(), f.name))
        try:
            return cls(**values)
        except (TypeError, ValueError) as exc:
            raise ConfigError(f"recorded settings: {exc}") from None


def _plain(value: Any) -> Any:
    """A setting as JSON-ready data."""
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, Waiver):
        return {
            "match": value.match,
            "rule": value.rule,
            "reason": value.reason,
            "owner": value.owner,
            "expires": value.expires.isoformat() if value.expires else None,
        }
    if isinstance(value, tuple | list):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    return value


def _typed(name: str, value: Any, default: Any) -> Any:
    """A recorded setting back in the type of its default (counts of older snapshots: skipped)."""
    if name == "exceptions":
        return tuple(_exception(e) for e in value) if isinstance(value, list) else ()
    if isinstance(default, tuple):
        return tuple(str(v) for v in value) if isinstance(value, list) else ()
    if name == "fail_on":
        return Severity(value)
    if isinstance(default, Enum):
        return type(default)(value)
    if isinstance(default, dict):
        return {str(k): str(v) for k, v in dict(value).items()}
    return value


def load_config(path: str | Path | None) -> AuditConfig:
    """Read a TOML config file; ``None`` gives the defaults."""
    return AuditConfig().with_overrides(**file_settings(path))


def file_settings(path: str | Path | None) -> dict[str, Any]:
    """The settings a TOML config file gives, checked and typed (empty for ``None``)."""
    if path is None:
        return {}
    file = Path(path)
    try:
        data = tomllib.loads(file.read_text(encoding="utf-8-sig"))
    except FileNotFoundError:
        raise ConfigError(f"{file}: config file not found") from None
    except IsADirectoryError:
        raise ConfigError(f"{file}: is a folder, not a config file") from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{file}: not valid TOML ({exc})") from None
    return _from_toml(data, file)


_KEYS = frozenset(
    {
        "target",
        "verified_domains",
        "no_verified_domains",
        "verification_tokens",
        "stale_days",
        "fail_on",
        "exceptions",
        "public_domains",
        "mapping",
        "atlassian_org",
        "atlassian_directory",
        "provisioning_scope",
    }
)


def _from_toml(data: dict[str, Any], file: Path) -> dict[str, Any]:
    """The file's settings (only the keys it has), each checked."""
    unknown = set(data) - _KEYS
    if unknown:
        raise ConfigError(
            f"{file}: unknown keys {sorted(unknown)} (known: {', '.join(sorted(_KEYS))})"
        )
    out: dict[str, Any] = {}
    try:
        if "target" in data:
            out["target"] = str(data["target"])
        for key in ("verified_domains", "public_domains"):
            if key in data:
                out[key] = domain_list(_listed(data, key), key)
        if "verification_tokens" in data:
            values = _listed(data, "verification_tokens")
            out["verification_tokens"] = token_list(values, "verification_tokens")
        if "no_verified_domains" in data:
            out["no_verified_domains"] = _flag(data["no_verified_domains"], "no_verified_domains")
        if "stale_days" in data:
            out["stale_days"] = int(data["stale_days"])
        if data.get("fail_on"):
            out["fail_on"] = Severity(data["fail_on"])
        if "exceptions" in data:
            out["exceptions"] = tuple(_exception(e) for e in data["exceptions"])
        if "mapping" in data:
            out["mapping"] = {str(k): str(v) for k, v in dict(data["mapping"]).items()}
        for key in ("atlassian_org", "atlassian_directory"):
            if _optional_text(data.get(key)) is not None:
                out[key] = _optional_text(data[key])
        if "provisioning_scope" in data:
            out["provisioning_scope"] = _scope(data["provisioning_scope"])
    except ConfigError as exc:
        raise ConfigError(f"{file}: {exc}") from None
    except (TypeError, ValueError, KeyError) as exc:
        raise ConfigError(f"{file}: {exc}") from None
    return out


def _listed(data: dict[str, Any], key: str) -> list[str]:
    """A list of strings; a lone string is an error showing the list form to write instead."""
    value = data[key]
    if isinstance(value, str):
        items = [v.strip() for v in value.replace(";", ",").split(",") if v.strip()]
        quoted = ", ".join(f'"{v}"' for v in items) or '"..."'
        raise ConfigError(f"{key} must be a list; write {key} = [{quoted}]")
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ConfigError(f'{key} must be a list of strings, e.g. {key} = ["..."]')
    return value


def _scope(value: Any) -> str:
    """A provisioning scope, checked: ``assigned`` or ``all``."""
    if value not in PROVISIONING_SCOPES:
        raise ConfigError(
            f"provisioning_scope must be one of {', '.join(PROVISIONING_SCOPES)}, not {value!r}"
        )
    return str(value)


def _flag(value: Any, key: str) -> bool:
    if not isinstance(value, bool):
        raise ConfigError(f"{key} must be true or false, not {value!r}")
    return value


def _optional_text(value: Any) -> str | None:
    return str(value) if value not in (None, "") else None


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
