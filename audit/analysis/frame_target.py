"""The user mapping in force, and whether the predicted e-mail domains are verified in the target.

The mapping comes from (in order) an explicit override, the collected job schema, or the target
profile's default; :mod:`audit.analysis.frame_engine` evaluates it. The what-if columns use the
profile's recommended guest mapping (without one, they repeat the current values).
``target_key_normalised`` is the key as the target stores it, after the target's documented
normalisation (``KeyRules.normalise``; NA where the target does not document what it does with a
value), so keys that collide in the target compare equal.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import orjson
import pandas as pd

from audit import addresses as addr
from audit._text import map_text
from audit.analysis.frame_engine import MappingPlan
from audit.config import AuditConfig
from audit.mapping import AttributeMapping
from audit.mapping.schema import UserMapping, user_mapping
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
    plan = mapping_plan(snapshot, config, target, override)
    error = "; ".join(plan_errors(plan)) or None
    matching = plan.matching if plan.source == "schema" else target.matching_attributes
    return EffectiveMapping(
        plan.key_expression, plan.email_expression, plan.source, error, matching
    )


def mapping_plan(
    snapshot: Snapshot, config: AuditConfig, target: Target, override: dict[str, str] | None
) -> MappingPlan:
    """The user mapping to simulate: an explicit override (on top of the profile's default), else
    the collected job schema's User object mapping, else the target profile's default mapping."""
    explicit = dict(config.mapping) | dict(override or {})
    if explicit:
        return _simple_plan(target.default_mapping | explicit, target, "override")
    user = schema_user_mapping(snapshot)
    if user is not None:
        return _schema_plan(user, target)
    return _simple_plan(target.default_mapping, target, "profile")


def schema_user_mapping(snapshot: Snapshot) -> UserMapping | None:
    """The User object mapping of the collected job schema (None without a schema)."""
    table = snapshot.table("sync_schema")
    if table is None or table.empty:
        return None
    return user_mapping(orjson.loads(str(table["json"].iloc[0])))


def _simple_plan(mapping: dict[str, str], target: Target, source: str) -> MappingPlan:
    """A plan of just the key and e-mail; matching on the profile's documented matching
    attribute, else the key (as in the gallery apps' default mappings: userName matches)."""
    key, email = target.key_attribute or "", target.email_attribute or ""
    matching = target.matching_attributes or ((key,) if key else ())
    wanted = {_norm(key), _norm(email)} - {""}
    found = {_norm(k): (k, v) for k, v in mapping.items()}
    mappings = tuple(
        AttributeMapping(
            name, expression, "Expression", None, 1 if _norm(name) == _norm(matching[0]) else 0
        )
        if matching
        else AttributeMapping(name, expression, "Expression", None, 0)
        for name, expression in found.values()
        if _norm(name) in wanted
    )
    return MappingPlan(
        source=source,
        state="enabled",
        name=f"{source} mapping",
        mappings=mappings,
        key=key,
        email=email,
        matching=tuple(matching),
    )


def _schema_plan(user: UserMapping, target: Target) -> MappingPlan:
    state = "disabled" if not user.enabled else "enabled" if user.creates else "no-add"
    return MappingPlan(
        source="schema",
        state=state,
        name=user.name,
        mappings=user.mappings,
        key=target.key_attribute or "",
        email=target.email_attribute or "",
        matching=tuple(m.target for m in user.matching()),
        scope=user.scope,
    )


def plan_errors(plan: MappingPlan) -> list[str]:
    """Why the key or e-mail mapping is missing from the plan (nothing maps the attribute)."""
    targets = {_norm(m.target) for m in plan.mappings}
    return [
        f"no mapping sends {name}"
        for name in (plan.key, plan.email)
        if name and _norm(name) not in targets
    ]


def _norm(attribute: str) -> str:
    """Target attribute names compared without case or spacing differences."""
    return " ".join(attribute.lower().split())


def add_targets(
    frame: pd.DataFrame,
    facts: pd.DataFrame | None,
    config: AuditConfig,
    target: Target,
    upn_domains: set[str],
    *,
    organization: set[str] | None = None,
) -> pd.DataFrame:
    """Domains of the predicted e-mails and whether they are verified in the target.

    The what-if assumes its precondition: the tenant domains the guests' ``#EXT#`` UPNs sit on
    (``upn_domains``) are verified in the target. ``organization``: the domains the target
    organization has verified, when it was read; they then decide ``target_domain_verified``
    instead of the configured ones (:func:`verified`).
    """
    frame["target_key_normalised"] = normalised_key(frame["target_key"], target)
    frame["target_email_domain"] = addr.domain_of(frame["target_email"])
    frame["target_domain_verified"] = verified(
        frame["target_email_domain"], facts, config, target, organization=organization
    )
    frame["whatif_target_key_normalised"] = normalised_key(frame["whatif_target_key"], target)
    if not target.recommended_mapping:  # no what-if: the current values
        frame["whatif_target_email_domain"] = frame["target_email_domain"]
        frame["whatif_domain_verified"] = frame["target_domain_verified"]
        return frame
    frame["whatif_target_email_domain"] = addr.domain_of(frame["whatif_target_email"])
    whatif = verified(
        frame["whatif_target_email_domain"], facts, config, target, organization=organization
    )
    on_upn = frame["whatif_target_email_domain"].isin(upn_domains).fillna(False)
    frame["whatif_domain_verified"] = whatif.mask(on_upn.astype(bool), True)
    return frame


def normalised_key(keys: pd.Series, target: Target) -> pd.Series:
    """The keys as ``target`` stores them (its documented normalisation; the keys themselves when
    it documents none), NA where unknown."""
    normalise = target.key_rules.normalise
    text = keys.astype("str")
    if normalise is None:
        return text
    return normalise(text).astype("str").where(text.notna(), pd.NA)


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
