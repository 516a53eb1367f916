"""target-unlinked-account: a user of the target's directory whose Entra guest is gone or moved on.

A rule of level ``target``: it reads the target users frame (one row per user of the target's
provisioning directory) and its findings name that user: ``object_id`` is the directory user's id,
``user_principal_name`` its ``userName``, ``mail`` its e-mail (see ``audit/COLUMNS.md``).
"""

from __future__ import annotations

import pandas as pd

from audit.analysis.engine import TARGET, Context, Example, Rule
from audit.models import Severity


def _check(frame: pd.DataFrame, ctx: Context) -> pd.Series:
    guest = frame["tu_guest_id"].astype("str")
    mine = frame["tu_email"].astype("str").str.lower()
    theirs = frame["tu_guest_email"].astype("str").str.lower()
    gone = guest.isna()
    changed = (guest.notna() & mine.notna() & theirs.notna() & mine.ne(theirs)).fillna(False)
    unsure = guest.notna() & (mine.isna() | theirs.isna())
    flagged = (gone | changed).astype("boolean").mask(unsure.fillna(False), pd.NA)
    external = frame["tu_external"].astype("boolean").fillna(False).astype(bool)
    return flagged.mask(~external, pd.NA)


def _detail(frame: pd.DataFrame, ctx: Context) -> pd.Series:
    guest = frame["tu_guest_id"].astype("str")
    gone = pd.Series(
        "no Entra guest matches its externalId or userName (deleted, or re-invited as a new user)",
        index=frame.index,
        dtype="str",
    )
    changed = "its Entra guest " + guest + " now sends " + frame["tu_guest_email"].fillna("")
    return gone.mask(guest.notna(), changed)


RULE = Rule(
    id="target-unlinked-account",
    title="Directory user in the target whose Entra guest no longer exists or changed e-mail",
    severity=Severity.MEDIUM,
    level=TARGET,
    columns=("tu_external", "tu_guest_id", "tu_email", "tu_guest_email"),
    sources=("target_provisioned",),
    rationale=(
        "{target.title}'s provisioning directory holds a guest's user that no audited Entra guest "
        "matches any more (the guest was deleted or re-invited as a new object), or whose guest now "
        "sends another e-mail. The stale user keeps the e-mail (the next provisioning of a guest "
        'with it fails with "already exists"), and an e-mail change pushed to an account the '
        "organization does not manage unlinks it "
        "(https://support.atlassian.com/atlassian-cloud/kb/email-address-change-via-user-provisioning-is-not-reflected-on-atlassian/). "
        "Users on the tenant's own domains are members, which are not collected: not evaluated."
    ),
    remediation=(
        "In {target.console}, review the directory user named by the finding: unlink or delete it "
        "if its guest is gone, or fix the e-mail so the guest and its account agree "
        "(https://developer.atlassian.com/cloud/admin/user-provisioning/email-change/)."
    ),
    check=_check,
    detail=_detail,
    applies=lambda target: target.evidence.provisioned is not None,
    plan_note="Fixed in the target's directory, not in Entra: review each directory user listed.",
    examples=(
        Example(
            rows=[
                {"tu_external": True, "tu_guest_id": None, "tu_email": "old@p.com"},
                {
                    "tu_external": True,
                    "tu_guest_id": "g1",
                    "tu_email": "old@p.com",
                    "tu_guest_email": "new@p.com",
                },
                {
                    "tu_external": True,
                    "tu_guest_id": "g2",
                    "tu_email": "A@p.com",
                    "tu_guest_email": "a@p.com",
                },
                {"tu_external": False, "tu_guest_id": None, "tu_email": "emp@contoso.com"},
                {
                    "tu_external": True,
                    "tu_guest_id": "g3",
                    "tu_email": "b@p.com",
                    "tu_guest_email": None,
                },
            ],
            expect=[True, True, False, None, None],
            note="members' users are not evaluated; a guest without a target e-mail is unknown",
        ),
    ),
)
