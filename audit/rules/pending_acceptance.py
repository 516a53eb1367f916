"""pending-acceptance: the invitation was never redeemed."""

from __future__ import annotations

import pandas as pd

from audit.analysis.engine import Context, DemoCase, Example, Rule
from audit.models import Severity
from audit.plans import suggest


def _check(frame: pd.DataFrame, ctx: Context) -> pd.Series:
    state = frame["external_user_state"].astype("str").str.lower()
    flagged: pd.Series = state.eq("pendingacceptance").fillna(False).astype("boolean")
    return flagged


def _detail(frame: pd.DataFrame, ctx: Context) -> pd.Series:
    since = frame["external_user_state_changed"].dt.strftime("%Y-%m-%d").fillna("an unknown date")
    text: pd.Series = "invitation pending since " + since
    return text


RULE = Rule(
    id="pending-acceptance",
    title="Invitation never redeemed",
    severity=Severity.MEDIUM,
    columns=("external_user_state", "external_user_state_changed"),
    rationale=(
        "A guest who never redeemed the invitation is still provisioned, but cannot sign in to the target "
        "through SSO; the account sits unused and may be a stale or mistyped invitation."
    ),
    remediation=(
        "Resend the invitation (Entra → Users → <guest> → Resend invitation, or New-MgInvitation with "
        "-InvitedUserEmailAddress and -SendInvitationMessage), or remove the guest from the app's scope."
    ),
    check=_check,
    detail=_detail,
    plan=suggest(
        "New-MgInvitation -InvitedUserEmailAddress {mail} -InviteRedirectUrl "
        "'https://myapplications.microsoft.com' -SendInvitationMessage",
        note="Resend the invitation (module Microsoft.Graph.Identity.SignIns) or remove the guest "
        "from the app's scope.",
    ),
    demo=(
        DemoCase("pending", "pending"),
        DemoCase(
            "recently-accepted",
            "recently_accepted",
            twin_of=frozenset({"pending-acceptance", "stale-guest"}),
        ),
    ),
    examples=(
        Example(
            rows=[
                {"external_user_state": "PendingAcceptance", "external_user_state_changed": None},
                {"external_user_state": "Accepted", "external_user_state_changed": None},
                {"external_user_state": None, "external_user_state_changed": None},
            ],
            expect=[True, False, False],
        ),
    ),
)
