"""Close the loop with the target: prediction against what provisioning did, typed domains against
the organization's.

**Reconciliation.** For every guest the provisioning directory already holds
(``target_user_id``), the predicted outcome is compared with the directory user's actual state:
the account it is linked to (managed, unmanaged, unlinked), ``active``, and the e-mail the target
holds. What each outcome predicts for a user the directory holds:

- ``ready``: linked to a managed account, active, holding the e-mail the guest sends;
- ``unmanaged``: active, holding that e-mail, not linked to a managed account;
- ``out_of_scope``: not active: "By default, the Microsoft Entra provisioning engine soft deletes
  or disables users that go out of scope" (unless ``SkipOutOfScopeDeletions`` is set;
  https://learn.microsoft.com/entra/identity/app-provisioning/skip-out-of-scope-deletions);
- ``blocked`` and ``unknown``: nothing to compare (provisioning fails for the guest, or the
  prediction itself is open); counted as not compared.

Agreement per outcome tells an admin how far to trust the prediction for the guests not yet
provisioned; every mismatch is listed with what differs.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import pandas as pd

from audit import addresses as addr
from audit.analysis.target_accounts import TargetSide, organization_verified
from audit.config import AuditConfig
from audit.models import Outcome

__all__ = ["RECONCILIATION_COLUMNS", "domain_comparison", "reconcile", "reconciliation_summary"]

RECONCILIATION_COLUMNS = (
    "object_id",
    "user_principal_name",
    "display_name",
    "target_user_id",
    "predicted",
    "actual_account",
    "actual_active",
    "target_email",
    "actual_email",
    "agrees",
    "mismatch",
)
"""One row per guest the directory holds (``agrees`` NA: not compared)."""

_COMPARED = (Outcome.READY.value, Outcome.UNMANAGED.value, Outcome.OUT_OF_SCOPE.value)


def reconcile(
    guests: pd.DataFrame, outcomes: pd.DataFrame, target_users: pd.DataFrame | None
) -> pd.DataFrame | None:
    """The reconciliation table; None when the provisioning directory was not read."""
    if target_users is None:
        return None
    columns = ["object_id", "user_principal_name", "display_name", "target_user_id", "target_email"]
    held = guests.loc[guests["target_user_id"].notna(), columns]
    users = target_users.drop_duplicates("tu_id")
    both = held.merge(users, how="inner", left_on="target_user_id", right_on="tu_id", sort=False)
    predicted = outcomes.drop_duplicates("object_id").set_index("object_id")["outcome"]
    both["predicted"] = both["object_id"].map(predicted)
    rows = [_row({str(k): v for k, v in row.items()}) for row in both.to_dict("records")]
    table = pd.DataFrame(rows, columns=list(RECONCILIATION_COLUMNS))
    for column in RECONCILIATION_COLUMNS:
        boolean = column in ("agrees", "actual_active")
        table[column] = table[column].astype("boolean" if boolean else "str")
    return table


def _row(row: dict[str, Any]) -> dict[str, Any]:
    actual_email = _text(row["tu_email"])
    active = None if pd.isna(row["tu_active"]) else bool(row["tu_active"])
    state = str(row["tu_account_state"])
    outcome = _text(row["predicted"]) or Outcome.UNKNOWN.value
    sent = _text(row["target_email"])
    problems = _differences(outcome, state, active, sent, actual_email)
    compared = outcome in _COMPARED and problems is not None
    return {
        "object_id": row["object_id"],
        "user_principal_name": row["user_principal_name"],
        "display_name": row["display_name"],
        "target_user_id": row["target_user_id"],
        "predicted": outcome,
        "actual_account": state,
        "actual_active": active,
        "target_email": sent,
        "actual_email": actual_email,
        "agrees": (not problems) if compared else None,
        "mismatch": "; ".join(problems or []) if compared else "",
    }


def _differences(
    outcome: str, state: str, active: bool | None, sent: str | None, held: str | None
) -> list[str] | None:
    """What differs from the prediction; None when it cannot be told (state unknown)."""
    if outcome == Outcome.OUT_OF_SCOPE.value:
        return None if active is None else (["active although out of scope"] if active else [])
    if active is None or state == "unknown" or sent is None or held is None:
        return None
    problems = [] if active else ["not active"]
    if sent.lower() != held.lower():
        problems.append(f"the target holds {held}, the guest sends {sent}")
    if outcome == Outcome.READY.value and state != "managed":
        problems.append(f"predicted managed, the account is {state}")
    if outcome == Outcome.UNMANAGED.value and state == "managed":
        problems.append("predicted unmanaged, the account is managed")
    return problems


def reconciliation_summary(table: pd.DataFrame | None) -> dict[str, Any] | None:
    """Counts: held, compared, agree, disagree, not compared, and the same per predicted outcome."""
    if table is None:
        return None

    def counts(part: pd.DataFrame) -> dict[str, int]:
        agrees = part["agrees"]
        return {
            "held": len(part),
            "agree": int((agrees == True).sum()),  # noqa: E712 (nullable boolean)
            "disagree": int((agrees == False).sum()),  # noqa: E712
            "not_compared": int(agrees.isna().sum()),
        }

    by_outcome = {o.value: counts(table[table["predicted"] == o.value]) for o in Outcome}
    return counts(table) | {"by_outcome": by_outcome}


def domain_comparison(side: TargetSide, config: AuditConfig) -> dict[str, Any] | None:
    """The organization's domains against those typed in the configuration (None: not read).

    ``typed_not_verified`` lists typed domains the organization has not verified (with its status,
    or ``not in the organization``); ``verified_not_typed`` the verified ones nobody typed (only
    when domains were typed). The organization's list is what the analysis uses.
    """
    verified = organization_verified(side)
    if verified is None or side.domains is None:
        return None
    statuses = dict(zip(side.domains["domain"], side.domains["status"], strict=True))
    typed = _a_labels(config.verified_domains)
    rows = [
        {
            "domain": d,
            "name": n,
            "status": s,
            "claim_type": c,
            "verified": bool(v),
            "typed": d in typed,
        }
        for d, n, s, c, v in zip(
            side.domains["domain"],
            side.domains["name"],
            side.domains["status"],
            side.domains["claim_type"],
            side.domains["verified"],
            strict=True,
        )
    ]
    missing = [{"domain": d, "status": _text(statuses.get(d)) or "not in the organization"}
               for d in sorted(typed - verified)]  # fmt: skip
    return {
        "verified": sorted(verified),
        "domains": rows,
        "typed": sorted(typed),
        "typed_not_verified": missing,
        "verified_not_typed": sorted(verified - typed) if typed else [],
    }


def _a_labels(domains: Iterable[str]) -> set[str]:
    labels = {addr.a_label(d.strip().lower().rstrip(".")) for d in domains}
    return {d for d in labels if d}


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) else None
