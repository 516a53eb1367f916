"""Summaries for reports: the per-domain table and the what-if of the recommended mapping."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pandas as pd

from audit._text import text_isin
from audit.config import AuditConfig
from audit.models import Outcome
from audit.targets import Target


@dataclass
class WhatIf:
    """The same guests re-evaluated under the target's recommended mapping."""

    description: str
    precondition: str
    precondition_met: bool | None
    before: dict[str, int]
    after: dict[str, int]
    newly_ready: int
    needs_mail_fix: int = 0


_DOMAIN_FIELDS = ["object_id", "mail_domain", "target_email_domain", "target_domain_verified"]
_DOMAIN_FIELDS += ["domain_claimed_elsewhere", "mail_domain_public", "mail_state"]


def domains_table(
    frame: pd.DataFrame, dns: pd.DataFrame | None, findings: pd.DataFrame
) -> pd.DataFrame:
    """One row per guest mail domain: guests, affected guests, verification and DNS facts."""
    open_ids = findings.loc[findings["status"] == "flagged", "object_id"]
    work = frame[_DOMAIN_FIELDS].assign(_affected=text_isin(frame["object_id"], open_ids))
    grouped = work.groupby("mail_domain", dropna=True)
    table = grouped.agg(
        guests=("object_id", "size"),
        affected=("_affected", "sum"),
        verified_in_target=("target_domain_verified", "first"),
        claimed_elsewhere=("domain_claimed_elsewhere", "first"),
        public_provider=("mail_domain_public", "first"),
        mail_state=("mail_state", "first"),
    ).reset_index(names="domain")
    same = work["target_email_domain"] == work["mail_domain"]
    verified = work[same.fillna(False)].groupby("mail_domain")["target_domain_verified"].first()
    table["verified_in_target"] = table["domain"].map(verified).astype("boolean")
    if dns is not None:
        facts = dns.drop_duplicates("domain").set_index("domain")
        table["mx"] = table["domain"].map(facts["mx"].map(lambda v: ", ".join(v or [])))
        table["txt_state"] = table["domain"].map(facts["txt_state"])
    else:
        table["mx"], table["txt_state"] = pd.NA, pd.NA
    return table.sort_values(["affected", "guests"], ascending=False, ignore_index=True)


def whatif_summary(
    outcomes: pd.DataFrame,
    target: Target,
    tenant: dict[str, Any],
    config: AuditConfig,
    mail_broken: pd.Series | None = None,
    upn_domains: tuple[str, ...] = (),
) -> WhatIf:
    """Counts before and after switching to the recommended mapping, with its precondition.

    The precondition names the domains the guests' ``#EXT#`` UPNs really sit on (``upn_domains``,
    most used first; the initial domain when none is known): those are the domains the
    recommended e-mail is on ("alias_theirdomain#EXT#@yourdomain", how provisioning works).
    """
    domains = [d.lower() for d in upn_domains] or [str(tenant.get("initial_domain") or "")]
    domains = [d for d in domains if d]
    initial = " and ".join(domains) if domains else "the initial domain"
    listed = {d.lower().rstrip(".") for d in config.verified_domains}
    met = bool(domains) and set(domains) <= listed if target.verifies_domains else True
    before = _counts(outcomes["outcome"])
    after = _counts(outcomes["whatif_outcome"])
    ready = Outcome.READY.value
    newly_mask = (outcomes["whatif_outcome"] == ready) & (outcomes["outcome"] != ready)
    newly = int(newly_mask.sum())
    broken = mail_broken if mail_broken is not None else pd.Series(False, index=outcomes.index)
    rec = target.recommended_mapping[target.email_attribute]
    return WhatIf(
        description=f"Map {target.email_attribute} from {rec}",
        precondition=target.recommended_precondition.format(initial_domain=initial),
        precondition_met=met,
        before=before,
        after=after,
        newly_ready=newly,
        needs_mail_fix=int((newly_mask & broken.reindex(outcomes.index, fill_value=False)).sum()),
    )


def _counts(values: pd.Series) -> dict[str, int]:
    counts = values.value_counts()
    return {o.value: int(counts.get(o.value, 0)) for o in Outcome}


def whatif_sentence(whatif: WhatIf | None) -> str:
    """The what-if headline, e.g. "Switching the e-mail mapping … makes 24 more guests ready, …"."""
    if whatif is None:
        return "No what-if evaluation: the target has no recommended guest mapping."
    met = {True: "met", False: "not met yet", None: "not verified"}[whatif.precondition_met]
    plural = "guest" if whatif.newly_ready == 1 else "guests"
    return (
        f"Switching the e-mail mapping ({whatif.description}) makes {whatif.newly_ready:,} more "
        f"{plural} ready, provided {whatif.precondition} (precondition {met})." + _mail_fix(whatif)
    )


def _mail_fix(whatif: WhatIf) -> str:
    """The what-if's caveat: guests whose mail forwarding needs an Exchange fix first."""
    if not whatif.needs_mail_fix:
        return ""
    return (
        f" {whatif.needs_mail_fix:,} of them also need an Exchange Online fix before mail to the "
        "initial-domain address reaches them (exo-forwarding-broken, exo-not-mail-enabled)."
    )
