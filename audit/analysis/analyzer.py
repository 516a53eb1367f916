"""``analyze``: snapshot + configuration → :class:`AuditResult` (frame, rules, findings, outcomes)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

import pandas as pd

from audit._text import text_isin
from audit._version import __version__
from audit.analysis import engine
from audit.analysis.contiguous import make_contiguous
from audit.analysis.engine import APP, TARGET, Context, Rule, RuleRun, worded
from audit.analysis.findings import findings_table, rules_table, status_table
from audit.analysis.frame import build_frame
from audit.analysis.frame_engine import EngineFacts
from audit.analysis.frame_target import EffectiveMapping, effective_mapping
from audit.analysis.outcomes import predict_outcomes
from audit.analysis.quarantine import forecast
from audit.analysis.reconcile import domain_comparison, reconcile
from audit.analysis.result import AuditResult
from audit.analysis.settings import setting_warnings, settings_view
from audit.analysis.summary import WhatIf, domains_table, whatif_summary
from audit.analysis.target_accounts import (
    empty_target_users,
    evidence_statuses,
    target_side,
    target_users_frame,
)
from audit.analysis.target_choice import target_for
from audit.analysis.waivers import apply_waivers
from audit.config import AuditConfig
from audit.models import Outcome, RuleState
from audit.rules import all_rules
from audit.snapshot import Snapshot, now_utc
from audit.targets import Target


def analyze(
    snapshot: Snapshot,
    config: AuditConfig | None = None,
    *,
    rules: Sequence[Rule] | None = None,
    now: datetime | None = None,
    release_tables: bool = False,
) -> AuditResult:
    """Run the rule catalogue (or ``rules``) over a snapshot and predict every guest's outcome.

    ``release_tables`` lets go of the snapshot's large tables as soon as the guests frame holds
    what the analysis needs of them (:meth:`Snapshot.release`; the caller keeps only the result).
    """
    config = config or AuditConfig()
    choice = target_for(snapshot, config)
    target = choice.target
    now = now or now_utc()
    frame, engine = build_frame(snapshot, config=config, target=target, release=release_tables)
    mapping = effective_mapping(snapshot, config, target, None)
    context = _context(snapshot, config, target, mapping, now, engine)
    side = target_side(snapshot, target)
    users = target_users_frame(side, frame, _own_domains(snapshot))
    if release_tables:  # the frames hold what the rules need of the large tables
        snapshot.release(set(snapshot.tables) - set(_AFTER_FRAME))
    make_contiguous(frame)  # after the release: the blocks it copies are let go of as it goes
    runs = _run(rules or all_rules(), frame, context, snapshot, users)
    flagged = _flagged(runs, frame)
    ran = [run.rule for run in runs if run.state is RuleState.RAN]
    outcomes = _outcomes(frame, ran, context, runs)
    frame["step_result"] = _result_steps(outcomes, runs)
    # the findings take over the rules' details: no second copy (~100 MB at scale)
    findings = findings_table(runs, frame, snapshot, users, release=True)
    findings = make_contiguous(apply_waivers(findings, frame, config.exceptions, now.date()))
    mapping_info = mapping.to_dict() | {"error": frame.attrs.get("mapping_error")}
    mapping_info |= {"engine": engine.to_dict()}
    others = (
        engine.others["in_scope"].astype("boolean").fillna(True) if len(engine.others) else None
    )
    return AuditResult(
        tool_version=__version__,
        tenant=dict(snapshot.tenant),
        target=target.name,
        app=_app(snapshot, target.app_display_name),
        generated_at=now,
        collected_at=snapshot.collected_at,
        sources=list(snapshot.sources.values()),
        guests=frame,
        statuses=status_table([r for r in runs if r.rule.level != TARGET], frame),
        findings=findings,
        rules=_with_in_scope(rules_table(runs, findings), runs, findings, outcomes),
        outcomes=outcomes,
        domains=domains_table(frame, snapshot.table("dns"), findings),
        whatif=_whatif(outcomes, target, snapshot, config, flagged, engine.upn_domains),
        mapping=mapping_info,
        target_selection=choice.to_dict() | {"note": choice.note},
        settings=settings_view(config, target, snapshot),
        warnings=setting_warnings(config, target, findings, frame, now.date()),
        target_users=users,
        reconciliation=reconcile(frame, outcomes, users),
        target_domains=domain_comparison(side, config),
        provisioning_scope=config.provisioning_scope,
        quarantine_forecast=forecast(
            outcomes["outcome"], int(others.sum()) if others is not None else 0
        ),
        engine_notes=list(engine.notes),
    )


def _whatif(
    outcomes: pd.DataFrame,
    target: Target,
    snapshot: Snapshot,
    config: AuditConfig,
    flagged: pd.DataFrame,
    upn_domains: tuple[str, ...] = (),
) -> WhatIf | None:
    """The what-if of the target's recommended guest mapping; None when it documents none."""
    if not target.recommended_mapping:
        return None
    return whatif_summary(
        outcomes, target, snapshot.tenant, config, _mail_broken(flagged), upn_domains
    )


def _run(
    rules: Sequence[Rule],
    frame: pd.DataFrame,
    context: Context,
    snapshot: Snapshot,
    target_users: pd.DataFrame | None,
) -> list[RuleRun]:
    """Run the rules that mean something for the target, in its words; skip the others.

    Target-level rules read the target users frame; the sources rules name by role
    (``target_provisioned``...) stand for the target's own evidence sources.
    """
    target = context.target
    sources = snapshot.sources | evidence_statuses(snapshot, target)
    chosen = [worded(r, target) for r in rules if r.applies_to(target)]
    users = target_users if target_users is not None else empty_target_users()
    runs = engine.run([r for r in chosen if r.level != TARGET], frame, context, sources)
    runs += engine.run([r for r in chosen if r.level == TARGET], users, context, sources)
    skipped = {
        r.id: RuleRun(worded(r, target), RuleState.SKIPPED, r.why_not(target) or "") for r in rules
    }
    done = {run.rule.id: run for run in runs}
    return [done.get(r.id) or skipped[r.id] for r in rules]


_AFTER_FRAME = ("domains", "dns", "service_principal", "sync_jobs", "sync_schema")
"""The (small) tables the analysis reads after the guests and target-side frames are built."""


def _context(
    snapshot: Snapshot,
    config: AuditConfig,
    target: Target,
    mapping: EffectiveMapping,
    now: datetime,
    engine: EngineFacts,
) -> Context:
    app = _app(snapshot, "")
    return Context(
        provisioning_scope=engine.provisioning_scope,
        user_mapping=engine.plan.state,
        other_users=engine.others,
        now=now,
        initial_domain=snapshot.tenant.get("initial_domain"),
        stale_days=config.stale_days,
        target=target,
        email_expression=mapping.email,
        key_expression=mapping.key,
        app_id=app.get("id"),
        app_name=app.get("displayName"),
        matching_attributes=mapping.matching,
        email_mapped=bool(mapping.email),
    )


def _flagged(runs: Sequence[RuleRun], frame: pd.DataFrame) -> pd.DataFrame:
    """One bool column per rule that ran: True where it flagged the guest."""
    columns = {
        run.rule.id: run.mask.fillna(False).astype(bool)
        for run in runs
        if run.state is RuleState.RAN and run.mask is not None
    }
    return pd.DataFrame(columns, index=frame.index)


def _own_domains(snapshot: Snapshot) -> list[str]:
    """The tenant's own domains (its users' domains; members are not collected)."""
    domains = snapshot.table("domains")
    own = (
        list(domains["id"].dropna().astype(str)) if domains is not None and "id" in domains else []
    )
    initial = snapshot.tenant.get("initial_domain")
    return [*own, *([str(initial)] if initial else [])]


def _outcomes(
    frame: pd.DataFrame, ran: Sequence[Rule], context: Context, runs: Sequence[RuleRun]
) -> pd.DataFrame:
    masks = {  # the checks already run on the guests frame (not the target-side ones)
        run.rule.id: run.mask
        for run in runs
        if run.mask is not None and run.mask.index.equals(frame.index)
    }
    now = predict_outcomes(frame, ran, prefix="target", context=context, masks=masks)
    whatif = predict_outcomes(frame, ran, prefix="whatif", context=context)
    return pd.DataFrame(
        {
            "object_id": frame["object_id"],
            "outcome": now["outcome"],
            "reasons": now["reasons"],
            "whatif_outcome": whatif["outcome"],
            "whatif_reasons": whatif["reasons"],
            "target_account": frame["target_account"],
        }
    )


def _result_steps(outcomes: pd.DataFrame, runs: Sequence[RuleRun]) -> pd.Series:
    """Step 5's result per guest: the predicted outcome and the rules that decided it (written
    once per distinct combination)."""
    titles = {run.rule.id: run.rule.title for run in runs}
    keys = outcomes["outcome"].astype(str) + "|" + outcomes["reasons"].map(",".join)
    codes, uniques = pd.factorize(keys)

    def text(key: str) -> str:
        outcome, _, reasons = key.partition("|")
        why = [f"{r} ({titles.get(r, r)})" for r in reasons.split(",") if r]
        return outcome.replace("_", " ") + (": " + "; ".join(why) if why else "")

    table = pd.array([text(k) for k in uniques] or [""], dtype="str")
    return pd.Series(table.take(codes), index=outcomes.index, dtype="str")


def _app(snapshot: Snapshot, default_name: str) -> dict[str, str | None]:
    sp = snapshot.table("service_principal")
    if sp is None or sp.empty:
        return {"id": None, "appId": None, "displayName": default_name or None}
    row = sp.iloc[0]
    return {"id": row["id"], "appId": row["appId"], "displayName": row["displayName"]}


def _with_in_scope(
    rules: pd.DataFrame, runs: Sequence[RuleRun], findings: pd.DataFrame, outcomes: pd.DataFrame
) -> pd.DataFrame:
    """``flagged_in_scope``: of the guests a rule flags (open findings), those the provisioning
    job would process (their outcome is not ``out_of_scope``); an app-level rule counts the
    in-scope guests it affects."""
    in_scope = (outcomes["outcome"] != Outcome.OUT_OF_SCOPE.value).fillna(False).to_numpy(bool)
    out_ids = outcomes.loc[~in_scope, "object_id"]
    # masks and the one column counted, not a copy of the findings (a million rows at scale)
    open_ = (findings["status"] == "flagged") & (findings["level"] != APP)
    open_ &= ~text_isin(findings["object_id"], out_ids)
    counts = findings["rule_id"][open_.fillna(False).to_numpy(bool)].value_counts()
    app_counts = {
        run.rule.id: int((run.mask.fillna(False).to_numpy(bool) & in_scope).sum())
        for run in runs
        if run.rule.level == APP and run.mask is not None
    }
    rules = rules.copy()
    values = [app_counts.get(r, int(counts.get(r, 0))) for r in rules["rule_id"]]
    rules["flagged_in_scope"] = pd.Series(values, index=rules.index, dtype="int64")
    return rules


def _mail_broken(flagged: pd.DataFrame) -> pd.Series:
    """Guests whose initial-domain address would not forward mail (Exchange needs a fix)."""
    broken = pd.Series(False, index=flagged.index)
    for rule_id in ("exo-forwarding-broken", "exo-not-mail-enabled"):
        if rule_id in flagged:
            broken |= flagged[rule_id]
    return broken
