"""The guests frame: one row per guest with every derived column computed once, vectorised.

Column contract: ``audit/COLUMNS.md``. Joins with DNS, scope, MailUsers and provisioning logs live in
``frame_join.py``; the simulation of the provisioning engine (scope, mapping, matching, the steps per
guest) in ``frame_engine.py``; whether predicted e-mail domains are verified in ``frame_target.py``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace

import orjson
import pandas as pd

from audit import addresses as addr
from audit.analysis.frame_engine import EngineFacts, simulate
from audit.analysis.frame_join import (
    add_dns,
    add_mailusers,
    add_provisioning,
    add_scope,
    domain_facts,
    scope_sets,
)
from audit.analysis.frame_population import RENAME
from audit.analysis.frame_target import add_targets, mapping_plan, normalised_key, plan_errors
from audit.analysis.target_accounts import add_target_accounts, organization_verified, target_side
from audit.analysis.target_choice import target_for
from audit.config import AuditConfig
from audit.guests import guest_mask, public_domains
from audit.snapshot import Snapshot
from audit.targets import Target

__all__ = ["build_frame", "guests_frame", "tenant_domains"]


def guests_frame(
    snapshot: Snapshot,
    *,
    config: AuditConfig | None = None,
    target: Target | None = None,
    mapping: dict[str, str] | None = None,
) -> pd.DataFrame:
    """Build the guests frame of ``snapshot`` for ``target`` (default: the config's target, or for
    ``auto`` the one the snapshot's app matches).

    ``mapping`` (target attribute → expression) overrides the mapping read from the snapshot's job
    schema or, without one, the target profile's default mapping.
    """
    return build_frame(snapshot, config=config, target=target, mapping=mapping)[0]


def build_frame(
    snapshot: Snapshot,
    *,
    config: AuditConfig | None = None,
    target: Target | None = None,
    mapping: dict[str, str] | None = None,
    release: bool = False,
) -> tuple[pd.DataFrame, EngineFacts]:
    """The guests frame and what the engine simulation found about the app as a whole.

    ``release``: let go of each large table (:meth:`Snapshot.release`) as soon as the frame holds
    what it needs of it, so at a million guests the users table and the frame are not both held
    while the engine's columns are added (the caller keeps only the result).
    """
    config = config or AuditConfig()
    if target is None:
        target = target_for(snapshot, config).target
    users = snapshot.table("users")
    if users is None:
        raise ValueError("the snapshot has no usable users table")
    domains = tenant_domains(snapshot)
    frame = _identity(users, domains)
    non_guests = users.loc[~guest_mask(users)] if release else None
    del users
    done = _releaser(snapshot, release)
    done("users")
    frame = _address_columns(frame, config)
    dns = snapshot.table("dns")
    facts = domain_facts(dns, config, target) if dns is not None else None
    frame = add_dns(frame, facts)
    sets = scope_sets(
        snapshot.table("app_role_assignments"),
        snapshot.table("group_members"),
        snapshot.table("groups"),
    )
    done("group_members")
    frame = add_scope(frame, None, None, sets=sets)
    frame = add_mailusers(frame, snapshot.table("mailusers"))
    done("mailusers")
    sp, job = _app_ids(snapshot)
    frame = add_provisioning(
        frame, snapshot.table("provisioning_logs"), service_principal=sp, job=job
    )
    done("provisioning_logs")
    plan = mapping_plan(snapshot, config, target, mapping)
    engine = simulate(frame, snapshot, config, target, plan, sets, non_guests)
    for prefix in ("target", "whatif_target"):  # the other users' keys as the target stores them
        engine.others[f"{prefix}_key_normalised"] = normalised_key(
            engine.others[f"{prefix}_key"], target
        )
    upn_domains = _upn_domains(frame)
    side = target_side(snapshot, target)
    frame = add_targets(
        frame, facts, config, target, set(upn_domains), organization=organization_verified(side)
    )
    public = _public(config)
    frame["target_email_public"] = frame["target_email_domain"].isin(public).astype(bool)
    frame["whatif_target_email_public"] = (
        frame["whatif_target_email_domain"].isin(public).astype(bool)
    )
    frame = add_target_accounts(frame, side)
    frame.attrs["mapping_error"] = "; ".join(plan_errors(plan)) or None
    return frame, _with_domains(engine, upn_domains)


def _releaser(snapshot: Snapshot, release: bool) -> Callable[[str], None]:
    """A function letting go of one table of the snapshot (nothing when not ``release``)."""

    def done(name: str) -> None:
        if release:
            snapshot.release([name])

    return done


def _with_domains(engine: EngineFacts, upn_domains: tuple[str, ...]) -> EngineFacts:
    return replace(engine, upn_domains=upn_domains)


def tenant_domains(snapshot: Snapshot) -> list[str]:
    """The tenant's initial domain and its verified domains (where a guest UPN may sit)."""
    initial = snapshot.tenant.get("initial_domain")
    found = [str(initial).lower()] if initial else []
    table = snapshot.table("domains")
    if table is not None and "isVerified" in table:
        verified = table["isVerified"].astype("boolean").fillna(False).astype(bool)
        found += [str(d).lower() for d in table.loc[verified, "id"].dropna()]
    return list(dict.fromkeys(found))


def _app_ids(snapshot: Snapshot) -> tuple[str | None, str | None]:
    """This app's service principal id and provisioning job id, when collected."""
    sp = snapshot.table("service_principal")
    sp_id = str(sp["id"].iloc[0]) if sp is not None and len(sp) else None
    jobs = snapshot.table("sync_jobs")
    job_id = None
    if jobs is not None and len(jobs):
        job = orjson.loads(str(jobs["json"].iloc[0]))
        job_id = str(job.get("id")) if isinstance(job, dict) and job.get("id") else None
    return sp_id, job_id


def _upn_domains(frame: pd.DataFrame) -> tuple[str, ...]:
    """Tenant domains the guests' ``#EXT#`` UPNs sit on, most used first."""
    ok = frame["original_upn_ok"].astype(bool)
    domains = addr.domain_of(frame.loc[ok, "original_upn"].astype("str"))
    return tuple(str(d) for d in domains.value_counts().index)


def _identity(users: pd.DataFrame, domains: list[str]) -> pd.DataFrame:
    frame = users.loc[guest_mask(users), list(RENAME)].rename(columns=RENAME)
    frame = frame.reset_index(drop=True)
    state = frame["external_user_state"].str.replace(" ", "", regex=False)
    frame["external_user_state"] = state
    member = frame["user_type"].str.lower().eq("member").fillna(False)
    frame["is_external_member"] = member.astype(bool)
    upn = frame["user_principal_name"]
    frame["original_upn"] = upn
    frame["original_upn_ok"] = addr.is_ext_upn(upn, domains)
    frame["provisioning_upn"] = addr.demangle_upn(upn)
    return frame


def _address_columns(frame: pd.DataFrame, config: AuditConfig) -> pd.DataFrame:
    frame["mail"] = frame["mail"].where(frame["mail"].str.strip() != "", None)
    frame["mail_domain"] = addr.domain_of(frame["mail"])
    frame["primary_smtp"] = addr.primary_smtp(frame["proxy_addresses"])
    frame["mail_domain_public"] = frame["mail_domain"].isin(_public(config)).astype(bool)
    return frame


def _public(config: AuditConfig) -> set[str]:
    return public_domains() | {d.lower() for d in config.public_domains}
