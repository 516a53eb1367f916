"""target-email-conflict: the e-mail the target receives already belongs to another user there."""

from __future__ import annotations

import pandas as pd

from audit.analysis.engine import Context, DemoCase, Example, Rule
from audit.models import Outcome, Severity


def _check(frame: pd.DataFrame, ctx: Context) -> pd.Series:
    account = frame["target_account"].astype("str")
    decided = account.notna() & account.ne("unknown")
    return account.eq("conflict").astype("boolean").mask(~decided.fillna(False), pd.NA)


def _blocks(frame: pd.DataFrame, ctx: Context) -> pd.Series:
    """Only a conflict seen in the target blocks; a target side that was not read (or could not
    tell) leaves the outcome to the other rules, as it was without target-side evidence."""
    return frame["target_account"].astype("str").eq("conflict").fillna(False).astype("boolean")


def _detail(frame: pd.DataFrame, ctx: Context) -> pd.Series:
    holder = frame["target_conflict"].fillna("another user")
    return "target e-mail " + frame["target_email"].fillna("") + " already belongs to " + holder


RULE = Rule(
    id="target-email-conflict",
    title="Target e-mail already belongs to another user or account in the target",
    severity=Severity.HIGH,
    columns=("target_account", "target_email", "target_conflict"),
    outcome_columns=("target_account",),
    sources=("target_provisioned",),
    rationale=(
        "{target.title}'s provisioning directory already holds the e-mail this guest would send, on "
        "another directory user or on an account linked to one. An e-mail belongs to a single "
        'account; creating the guest fails with HTTP 409 "Resource [USER]: with email[...] already '
        'exists", or the update reaches the wrong person '
        "(https://confluence.atlassian.com/cloudkb/409-error-when-attempting-to-update-email-address-via-user-provisioning-1035734019.html)."
    ),
    remediation=(
        "Find the other user in {target.console} (its id is in the finding). If it is this guest's "
        "stale record (a re-invited guest, a changed address), unlink or delete that directory user "
        "first, then provision the guest; if it is someone else, give the guest another e-mail in "
        "the mapping ({target.email_attribute})."
    ),
    check=_check,
    detail=_detail,
    outcome=Outcome.BLOCKED,
    outcome_when=_blocks,
    applies=lambda target: target.evidence.provisioned is not None,
    plan_note=(
        "Fixed in the target's directory (unlink or delete the stale user), not in Entra; "
        "see the other user's id in each finding."
    ),
    demo=(
        DemoCase("target-email-taken", changes={"target_side": "conflict"}),
        DemoCase(
            "target-provisioned",
            changes={"target_side": "provisioned"},
            twin_of=frozenset({"target-email-conflict"}),
        ),
        DemoCase(
            "target-managed-account",
            changes={"target_side": "managed"},
            twin_of=frozenset({"target-email-conflict"}),
        ),
    ),
    examples=(
        Example(
            rows=[
                {
                    "target_account": "conflict",
                    "target_email": "a@p.com",
                    "target_conflict": "directory user 7",
                },
                {"target_account": "already_provisioned", "target_email": "b@p.com"},
                {"target_account": "links_managed", "target_email": "c@p.com"},
                {"target_account": "new", "target_email": "d@p.com"},
                {"target_account": "unknown", "target_email": None},
                {"target_account": None, "target_email": "e@p.com"},
            ],
            expect=[True, False, False, False, None, None],
            note="unknown target accounts are not evaluated",
        ),
    ),
)
