"""Predicted target values: what the provisioning service will send as key and e-mail, per guest.

The mapping comes from (in order) an explicit override, the collected job schema, or the target
profile's default. The what-if columns use the profile's recommended guest mapping (without one,
they repeat the current values). ``target_key_normalised`` is the key as the target stores it,
after the target's documented normalisation (``KeyRules.normalise``; NA where the target does not
document what it does with a value), so keys that collide in the target compare equal.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import orjson
import pandas as pd

from audit import addresses as addr
from audit._text import map_text
from audit.config import AuditConfig
from audit.errors import ExpressionError
from audit.mapping import AttributeMapping
from audit.snapshot import Snapshot
from audit.targets import Target


@dataclass(frozen=True)
class EffectiveMapping:
    """The expressions used for the key and e-mail, where they came from, and any problem."""

    key: str
    email: str
    source: str
    error: str | None = None
    matching: tuple[str, ...] | None = None

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form for reports."""
        return {"key": self.key, "email": self.email, "source": self.source, "error": self.error}


def effective_mapping(
    snapshot: Snapshot, config: AuditConfig, target: Target, override: dict[str, str] | None
) -> EffectiveMapping:
    """The key and e-mail expressions in force, with their origin."""
    explicit = dict(config.mapping) | dict(override or {})
    if explicit:
        merged = target.default_mapping | explicit
        return _pick(merged, target, "override", target.matching_attributes)
    schema = schema_mapping(snapshot)
    if schema is not None:
        return _pick(schema, target, "schema", schema_matching(snapshot))
    return _pick(target.default_mapping, target, "profile", target.matching_attributes)


def _pick(
    mapping: dict[str, str], target: Target, source: str, matching: tuple[str, ...] | None
) -> EffectiveMapping:
    found = {_norm(k): v for k, v in mapping.items()}
    key = found.get(_norm(target.key_attribute), "") if target.key_attribute else ""
    email = found.get(_norm(target.email_attribute), "") if target.email_attribute else ""
    return EffectiveMapping(key, email, source, matching=matching)


def schema_mapping(snapshot: Snapshot) -> dict[str, str] | None:
    """Target attribute → expression of the User object mapping in the collected job schema."""
    table = snapshot.table("sync_schema")
    if table is None or table.empty:
        return None
    from audit.mapping import mappings_from_schema

    schema = orjson.loads(str(table["json"].iloc[0]))
    return {_norm(m.target): _with_default(m) for m in mappings_from_schema(schema)}


def schema_matching(snapshot: Snapshot) -> tuple[str, ...] | None:
    """The User mapping's matching attributes in the collected job schema, by precedence
    (``matchingPriority``, lowest first); None without a schema."""
    table = snapshot.table("sync_schema")
    if table is None or table.empty:
        return None
    from audit.mapping import mappings_from_schema

    schema = orjson.loads(str(table["json"].iloc[0]))
    found = [m for m in mappings_from_schema(schema) if m.matching_priority > 0]
    return tuple(m.target for m in sorted(found, key=lambda m: m.matching_priority))


def _with_default(mapping: AttributeMapping) -> str:
    """The mapping as one expression: a default value applies when the source yields null."""
    from audit.mapping import Constant, to_text

    if not mapping.default_value:
        return mapping.expression
    default = to_text(Constant(mapping.default_value))
    return f"Coalesce({mapping.expression}, {default})" if mapping.expression else default


def _norm(attribute: str) -> str:
    """Target attribute names compared without case or spacing differences."""
    return " ".join(attribute.lower().split())


def add_targets(
    frame: pd.DataFrame,
    facts: pd.DataFrame | None,
    mapping: EffectiveMapping,
    config: AuditConfig,
    target: Target,
    initial_domain: str | None,
    *,
    organization: set[str] | None = None,
) -> pd.DataFrame:
    """``target_*`` columns (current mapping) and ``whatif_*`` columns (recommended mapping).

    ``organization``: the domains the target organization has verified, when it was read; they
    then decide ``target_domain_verified`` instead of the configured ones (:func:`verified`).
    """
    frame["target_key"], key_error = _evaluate(mapping.key, frame)
    frame["target_key_normalised"] = normalised_key(frame["target_key"], target)
    frame["target_email"], email_error = _evaluate(mapping.email, frame)
    frame["target_email_domain"] = addr.domain_of(frame["target_email"])
    frame["target_domain_verified"] = verified(
        frame["target_email_domain"], facts, config, target, organization=organization
    )
    _add_whatif(frame, facts, config, target, initial_domain, organization)
    frame.attrs["mapping_error"] = key_error or email_error
    return frame


def _add_whatif(
    frame: pd.DataFrame,
    facts: pd.DataFrame | None,
    config: AuditConfig,
    target: Target,
    initial_domain: str | None,
    organization: set[str] | None,
) -> None:
    """The ``whatif_*`` columns: the recommended mapping's values, or without one the current."""
    rec = target.recommended_mapping
    if not rec:
        for name in ("key", "key_normalised", "email", "email_domain"):
            frame[f"whatif_target_{name}"] = frame[f"target_{name}"]
        frame["whatif_domain_verified"] = frame["target_domain_verified"]
        return
    frame["whatif_target_key"], _ = _evaluate(rec.get(target.key_attribute, ""), frame)
    frame["whatif_target_key_normalised"] = normalised_key(frame["whatif_target_key"], target)
    frame["whatif_target_email"], _ = _evaluate(rec.get(target.email_attribute, ""), frame)
    frame["whatif_target_email_domain"] = addr.domain_of(frame["whatif_target_email"])
    # The what-if assumes its precondition: the initial domain is verified in the target.
    whatif = verified(
        frame["whatif_target_email_domain"], facts, config, target, organization=organization
    )
    on_initial = frame["whatif_target_email_domain"].eq(initial_domain or "").fillna(False)
    frame["whatif_domain_verified"] = whatif.mask(on_initial.astype(bool), True)


def normalised_key(keys: pd.Series, target: Target) -> pd.Series:
    """The keys as ``target`` stores them (its documented normalisation; the keys themselves when
    it documents none), NA where unknown."""
    normalise = target.key_rules.normalise
    text = keys.astype("str")
    if normalise is None:
        return text
    return normalise(text).astype("str").where(text.notna(), pd.NA)


def _evaluate(expression: str, frame: pd.DataFrame) -> tuple[pd.Series, str | None]:
    """Evaluate an expression; an unsupported one gives NA (unknown), with the error, never a guess."""
    from audit.mapping import evaluate

    if not expression.strip():
        return pd.Series(pd.NA, index=frame.index, dtype="str"), None
    try:
        values = evaluate(expression, frame)
    except ExpressionError as exc:
        return pd.Series(pd.NA, index=frame.index, dtype="str"), str(exc)
    if values.dtype == object:  # multi-valued: the first value flows (none for an empty list)
        values = values.map(lambda v: v[0] if isinstance(v, list) and v else v)
        values = values.map(lambda v: None if isinstance(v, list) else v)
    return values.astype("str"), None


def verified(
    domains: pd.Series,
    facts: pd.DataFrame | None,
    config: AuditConfig,
    target: Target,
    *,
    organization: set[str] | None = None,
) -> pd.Series:
    """Is each domain verified in the target: listed, or publishing the vendor TXT with our token.

    Unlisted domains whose TXT could not be read are NA (unknown) when tokens were given. When the
    target organization's own list was read (``organization``), it decides alone: the configured
    domains and tokens are then only compared with it (:mod:`audit.analysis.reconcile`).
    """
    if target.verifies_domains is None:  # not documented for this target: unknown
        return pd.Series(pd.NA, index=domains.index, dtype="boolean")
    if not target.verifies_domains:
        return pd.Series(True, index=domains.index, dtype="boolean")
    if organization is not None:
        return domains.isin(organization).astype("boolean").mask(domains.isna(), pd.NA)
    listed_names = {addr.a_label(d.strip().lower().rstrip(".")) for d in config.verified_domains}
    listed = domains.isin(listed_names - {None})
    result = listed.astype("boolean")
    if not config.verification_tokens:
        return result.mask(domains.isna(), pd.NA)
    by_txt = (
        map_text(domains, facts.set_index("domain")["verified_by_txt"])
        if facts is not None
        else None
    )
    if by_txt is None:
        by_txt = pd.Series(pd.NA, index=domains.index, dtype="boolean")
    result = listed.astype("boolean") | by_txt.astype("boolean")
    return result.mask(domains.isna(), pd.NA)
