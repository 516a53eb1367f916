"""stale-guest: no sign-in for longer than the configured number of days."""

from __future__ import annotations

from datetime import timedelta

import pandas as pd

from audit.analysis.engine import Context, DemoCase, Example, Rule
from audit.models import Severity
from audit.plans import suggest
from audit.rules._common import tri


def _check(frame: pd.DataFrame, ctx: Context) -> pd.Series:
    cutoff = pd.Timestamp(ctx.now - timedelta(days=ctx.stale_days))
    last = frame["last_sign_in"]
    created = frame["created"]
    old_sign_in = (last < cutoff).fillna(False).astype(bool)
    never_and_old = (last.isna() & (created < cutoff)).fillna(False).astype(bool)
    flagged: pd.Series = tri(old_sign_in | never_and_old, last.notna() | created.notna())
    return flagged


def _detail(frame: pd.DataFrame, ctx: Context) -> pd.Series:
    last = frame["last_sign_in"].dt.strftime("%Y-%m-%d")
    text: pd.Series = ("last sign-in " + last).fillna("never signed in")
    return text + f" (threshold {ctx.stale_days} days)"


_OLD = pd.Timestamp("2020-01-01", tz="UTC")
_NEW = pd.Timestamp("2099-01-01", tz="UTC")

RULE = Rule(
    id="stale-guest",
    title="No sign-in for longer than the threshold",
    severity=Severity.LOW,
    columns=("last_sign_in", "created"),
    sources=("sign_in_activity",),
    rationale=(
        "Guests who have not signed in for months are candidates for removal before a rollout: "
        "provisioning them creates target accounts nobody uses. Needs signInActivity (Entra ID P1 and "
        "AuditLog.Read.All); never-signed-in guests count from their creation date."
    ),
    remediation=(
        "Review with an access review, then remove: Remove-MgUser -UserId <id> (or exclude from scope)."
    ),
    check=_check,
    detail=_detail,
    plan=suggest(
        "Remove-MgUser -UserId {id}", note="Confirm with an access review before removing."
    ),
    demo=(
        DemoCase("stale-sign-in", "stale:sign-in"),
        DemoCase("stale-never", "stale:never"),
        DemoCase("recent-sign-in", "stale:recent", twin_of=frozenset({"stale-guest"})),
    ),
    examples=(
        Example(
            rows=[
                {"last_sign_in": _OLD, "created": _OLD},
                {"last_sign_in": _NEW, "created": _OLD},
                {"last_sign_in": None, "created": _OLD},
                {"last_sign_in": None, "created": None},
            ],
            expect=[True, False, True, None],
        ),
    ),
)
