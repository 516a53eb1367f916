"""The provisioning engine, simulated for every user at once: who is in scope, what is sent, how each
user is matched, and what the service would do.

Sources (Microsoft Learn, app-provisioning): how-provisioning-works (assignment, "Sync all",
security-enabled groups, nested groups, disabled users), define-conditional-rules-for-provisioning-
user-accounts (scoping filters: :mod:`audit.mapping.scope`), customize-application-attributes
(matching precedence, default values), provision-on-demand (the steps shown per user), and
functions-for-customizing-application-data (:mod:`audit.mapping.partial`).

The population is the guests plus the users who are not guests (employees, contractors) that the
snapshot holds: they are provisioned too, so they take part in collisions. Their predictions go to
:attr:`EngineFacts.others`; the guests' to the guests frame (``audit/COLUMNS.md``). Everything is
column-wise: expressions and filters are evaluated once per distinct value (see the mapping
package), texts once per distinct combination of their parts.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from audit.analysis.frame_join import ScopeSets
from audit.analysis.frame_population import population
from audit.analysis.frame_steps import action_steps, attribute_steps, match_steps, scope_steps
from audit.config import AuditConfig
from audit.mapping import AttributeMapping, Constant, to_text
from audit.mapping.partial import Prediction, evaluate_partial
from audit.mapping.scope import ScopeFilter, evaluate_scope
from audit.snapshot import Snapshot
from audit.targets import Target

__all__ = ["EngineFacts", "MappingPlan", "simulate"]

ALL = "all"
"""``--provisioning-scope all``: the job's "Sync all users and groups" (default: assigned only)."""


@dataclass(frozen=True)
class MappingPlan:
    """The user mapping the simulation uses and where it came from (schema, override, profile)."""

    source: str
    state: str  # enabled | disabled | no-add
    name: str
    mappings: tuple[AttributeMapping, ...]
    key: str
    email: str
    matching: tuple[str, ...]  # target attributes, highest precedence first
    scope: ScopeFilter = field(default_factory=ScopeFilter)

    def expression_of(self, attribute: str) -> str:
        """The expression (with its default value) that feeds ``attribute``; "" when none does."""
        for mapping in self.mappings:
            if _norm(mapping.target) == _norm(attribute):
                return with_default(mapping)
        return ""

    @property
    def key_expression(self) -> str:
        """The expression of the target's key attribute."""
        return self.expression_of(self.key)

    @property
    def email_expression(self) -> str:
        """The expression of the target's e-mail attribute."""
        return self.expression_of(self.email)


@dataclass(frozen=True)
class EngineFacts:
    """What the simulation found about the app as a whole, and the non-guest users' predictions."""

    provisioning_scope: str
    plan: MappingPlan
    others: pd.DataFrame
    unevaluable: tuple[str, ...]
    notes: tuple[str, ...] = ()
    upn_domains: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, object]:
        """JSON-ready summary for reports."""
        plan = self.plan
        return {
            "provisioning_scope": self.provisioning_scope,
            "user_mapping": {
                "source": plan.source,
                "state": plan.state,
                "name": plan.name,
                "matching": list(plan.matching),
                "scoping_filter": not plan.scope.empty,
            },
            "other_users": len(self.others),
            "upn_domains": list(self.upn_domains),
            "unevaluable": list(self.unevaluable),
            "notes": list(self.notes),
        }


_OTHER_COLUMNS = (
    "object_id",
    "in_scope",
    "target_key",
    "target_email",
    "match_value",
    "whatif_target_key",
    "whatif_target_email",
    "whatif_match_value",
)


def simulate(
    frame: pd.DataFrame,
    snapshot: Snapshot,
    config: AuditConfig,
    target: Target,
    plan: MappingPlan,
    sets: ScopeSets | None = None,
    users: pd.DataFrame | None = None,
) -> EngineFacts:
    """Add the engine's columns to the guests ``frame`` (in place) and return the app-level facts.

    ``sets`` are the assignment sets (:func:`~audit.analysis.frame_join.scope_sets`); ``users``
    the non-guest rows of the snapshot's users table when the caller let go of the table."""
    scope_kind = config.provisioning_scope
    pop, columns = population(frame, snapshot, plan, sets, users)
    size = len(frame)
    verdict = evaluate_scope(
        plan.scope,
        pop,
        attribute_columns=columns,
        alternatives={"userPrincipalName": "original_upn"},
    )
    pop["filter_in_scope"] = verdict.in_scope
    pop["in_scope"] = _in_scope(pop, scope_kind)
    predictions = _predict(plan, pop, columns)
    _targets(pop, plan, predictions, _recommended(target, plan, predictions, pop, columns))
    unknown = _engine_unknown(pop, predictions, verdict.unknown_reason)
    frame["is_soft_deleted"] = pop["is_soft_deleted"].iloc[:size].to_numpy()
    frame["filter_in_scope"] = pop["filter_in_scope"].iloc[:size].to_numpy()
    frame["in_scope"] = pd.array(pop["in_scope"].iloc[:size].to_numpy(), dtype="boolean")
    for name in _GUEST_TARGET_COLUMNS:
        frame[name] = pop[name].iloc[:size].set_axis(frame.index)
    frame["engine_unknown"] = unknown.iloc[:size].set_axis(frame.index)
    frame["step_scope"] = scope_steps(pop.iloc[:size], verdict.explanation.iloc[:size], scope_kind)
    frame["step_match"] = match_steps(pop.iloc[:size], plan, predictions)
    frame["step_action"] = action_steps(frame, plan)
    frame["step_attributes"] = attribute_steps(plan, predictions, size, frame.index)
    frame["step_result"] = pd.Series(pd.NA, index=frame.index, dtype="str")
    others = pop.iloc[size:].loc[:, list(_OTHER_COLUMNS)].reset_index(drop=True)
    parts = _parts(predictions, verdict.unknown_reason)
    notes = _notes(scope_kind, others, snapshot, plan)
    return EngineFacts(scope_kind, plan, others, parts, notes)


_GUEST_TARGET_COLUMNS = (
    "target_key",
    "target_key_known",
    "target_email",
    "target_email_known",
    "match_attribute",
    "match_value",
    "whatif_target_key",
    "whatif_target_key_known",
    "whatif_target_email",
    "whatif_target_email_known",
    "whatif_match_value",
)


def _recommended(
    target: Target,
    plan: MappingPlan,
    predictions: dict[str, Prediction],
    pop: pd.DataFrame,
    columns: dict[str, str],
) -> dict[str, Prediction]:
    """The key and e-mail under the target's recommended guest mapping; what it does not name
    (or, without one, everything) stays as the current mapping sends it."""
    by_name = {_norm(k): v for k, v in predictions.items()}
    nothing = _evaluate("", pop, {})
    out: dict[str, Prediction] = {}
    for kind, attribute in (("key", plan.key), ("email", plan.email)):
        expression = target.recommended_mapping.get(attribute, "") if attribute else ""
        current = by_name.get(_norm(attribute), nothing)
        out[kind] = _evaluate(expression, pop, columns) if expression else current
    return out


def _in_scope(pop: pd.DataFrame, scope_kind: str) -> pd.Series:
    """The engine processes the user: job scope, scoping filter, and an enabled account.

    "Provisioning a user that is disabled in Microsoft Entra ID isn't supported" (how provisioning
    works, known limitations). With "Sync only assigned users and groups" only users assigned
    directly or as direct members of an assigned security group count; an unknown assignment (not
    collected) is taken as assigned, as the rules always have.
    """
    if scope_kind == ALL:
        assigned = pd.Series(True, index=pop.index, dtype="boolean")
    else:
        scope = pop["scope"].astype("str")
        assigned = (scope.isna() | scope.isin(["direct", "group"])).astype("boolean")
    enabled = pop["account_enabled"].astype("boolean").fillna(True)
    return assigned & enabled & pop["filter_in_scope"].astype("boolean")


def _predict(
    plan: MappingPlan, pop: pd.DataFrame, columns: dict[str, str]
) -> dict[str, Prediction]:
    """Every mapped target attribute's prediction (once per distinct expression)."""
    by_expression: dict[str, Prediction] = {}
    out: dict[str, Prediction] = {}
    for mapping in plan.mappings:
        expression = with_default(mapping)
        if expression not in by_expression:
            by_expression[expression] = _evaluate(expression, pop, columns)
        out[mapping.target] = by_expression[expression]
    return out


def _evaluate(expression: str, pop: pd.DataFrame, columns: dict[str, str]) -> Prediction:
    if not expression.strip():
        empty = pd.Series(pd.NA, index=pop.index, dtype="string")
        return Prediction(empty, np.zeros(len(pop), np.int32), ())
    return evaluate_partial(expression, pop, attribute_columns=columns)


def with_default(mapping: AttributeMapping) -> str:
    """The mapping as one expression: "Default value if null ... is only provisioned when a user is
    created" (customize-application-attributes); the prediction is of a first cycle's create."""
    if not mapping.default_value:
        return mapping.expression
    default = to_text(Constant(mapping.default_value))
    return f"Coalesce({mapping.expression}, {default})" if mapping.expression else default


def _single(prediction: Prediction) -> pd.Series:
    """One value per row: a multi-valued result sends its first value (none for an empty list)."""
    values = prediction.values
    if values.dtype == object:
        values = values.map(lambda v: v[0] if isinstance(v, list) and v else v)
        values = values.map(lambda v: None if isinstance(v, list) else v)
    return values.astype("str").mask(~pd.Series(prediction.known, index=values.index))


def _targets(
    pop: pd.DataFrame,
    plan: MappingPlan,
    predictions: dict[str, Prediction],
    recommended: dict[str, Prediction],
) -> None:
    """``target_*``, ``match_*`` and ``whatif_*`` columns of the whole population."""
    by_name = {_norm(k): v for k, v in predictions.items()}
    nothing = _evaluate("", pop, {})
    key, email = by_name.get(_norm(plan.key), nothing), by_name.get(_norm(plan.email), nothing)
    pop["target_key"], pop["target_key_known"] = _single(key), key.known
    pop["target_email"], pop["target_email_known"] = _single(email), email.known
    first = plan.matching[0] if plan.matching else None
    match = by_name.get(_norm(first), nothing) if first else nothing
    pop["match_attribute"] = pd.Series(first, index=pop.index, dtype="str")
    pop["match_value"] = _single(match)
    rec_key, rec_email = recommended["key"], recommended["email"]
    pop["whatif_target_key"], pop["whatif_target_key_known"] = _single(rec_key), rec_key.known
    pop["whatif_target_email"] = _single(rec_email)
    pop["whatif_target_email_known"] = rec_email.known
    swap = {_norm(plan.key): "whatif_target_key", _norm(plan.email): "whatif_target_email"}
    pop["whatif_match_value"] = (
        pop[swap[_norm(first)]] if first and _norm(first) in swap else pop["match_value"]
    )


def _norm(attribute: str | None) -> str:
    """Target attribute names compared without case or spacing differences."""
    return " ".join((attribute or "").lower().split())


def _engine_unknown(
    pop: pd.DataFrame, predictions: dict[str, Prediction], scope_reason: pd.Series
) -> pd.Series:
    """Per row, what of the mapping or scoping filter could not be evaluated (NA: nothing)."""
    texts = ("scoping filter: " + scope_reason.astype("str")).astype("str")
    for target, prediction in predictions.items():
        if prediction.known.all():
            continue
        reason = (f"{target}: " + prediction.reason_texts()).astype("str").set_axis(texts.index)
        texts = texts.where(reason.isna(), (texts + "; " + reason).fillna(reason))
    return texts.astype("str")


def _parts(predictions: dict[str, Prediction], scope_reason: pd.Series) -> tuple[str, ...]:
    """Every distinct part that could not be evaluated for some user, with its attribute."""
    found: list[str] = []
    for target, prediction in predictions.items():
        hit = np.unique(prediction.unknown[prediction.unknown > 0])
        found += [f"{target}: {prediction.reasons[i - 1]}" for i in hit]
    found += [f"scoping filter: {r}" for r in scope_reason.dropna().unique()]
    return tuple(dict.fromkeys(found))


def _notes(
    scope_kind: str, others: pd.DataFrame, snapshot: Snapshot, plan: MappingPlan
) -> tuple[str, ...]:
    """Caveats of the simulation the report states beside its figures."""
    notes = []
    if plan.scope.input_groups or plan.scope.category_groups:
        notes.append(
            "The User mapping's scope has inputFilterGroups or categoryFilterGroups (experimental in "
            "Graph): users they leave out are not provisioned, and a user that stops passing "
            "inputFilterGroups is not deprovisioned (Graph filter resource); only 'groups' is the "
            "scoping filter the portal edits."
        )
    if scope_kind == ALL:
        notes.append(
            "Sync all users and groups: every enabled user is in scope; collisions are checked "
            f"against the {len(others):,} users who are not guests that the snapshot holds."
        )
    if snapshot.table("groups") is None and snapshot.table("app_role_assignments") is not None:
        notes.append(
            "Whether the assigned groups are security-enabled was not collected: they are taken "
            "to grant scope (only security-enabled groups do)."
        )
    return tuple(notes)
