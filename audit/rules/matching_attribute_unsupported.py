"""matching-attribute-unsupported: (app) the job matches users on an attribute the target's API
cannot filter on.

The provisioning service finds a user's existing account in the target by querying the matching
attribute ("Microsoft Entra ID ... queried with their username and externalId"; "Any attributes
that are considered for user uniqueness must be usable as part of a filtered query":
https://learn.microsoft.com/entra/identity/app-provisioning/use-scim-to-provision-users-and-groups).
"For applications in the gallery, we ensure that the default attribute mapping is for an attribute
that the target application's API does support filtering on"
(https://learn.microsoft.com/entra/identity/app-provisioning/customize-application-attributes), and
each provisioning tutorial marks the attributes "Supported for filtering" (the profile's
``filterable_attributes``). A changed matching attribute outside that list is reported here; where a
target does not document them, the rule is not evaluated.
"""

from __future__ import annotations

import pandas as pd

from audit.analysis.engine import APP, Context, Example, Rule
from audit.models import Severity
from audit.targets import Target


def _norm(attribute: str) -> str:
    return " ".join(attribute.lower().split())


def unsupported(ctx: Context) -> list[str] | None:
    """The matching attributes the target cannot filter on; None when that is unknown."""
    filterable = ctx.target.filterable_attributes
    if filterable is None or not ctx.matching_attributes:
        return None
    allowed = {_norm(a) for a in filterable}
    return [m for m in ctx.matching_attributes if _norm(m) not in allowed]


def _check(frame: pd.DataFrame, ctx: Context) -> pd.Series:
    found = unsupported(ctx)
    value = pd.NA if found is None else bool(found)
    return pd.Series(value, index=frame.index, dtype="boolean")


def _detail(frame: pd.DataFrame, ctx: Context) -> pd.Series:
    found = ", ".join(unsupported(ctx) or [])
    allowed = ", ".join(ctx.target.filterable_attributes or ())
    text = f"matching on {found}; {ctx.target.title} supports filtering on {allowed} only"
    return pd.Series(text, index=frame.index, dtype="str")


def _applies(target: Target) -> bool | str:
    if target.filterable_attributes is None:
        return f"not evaluated: {target.title} documents no attributes it can filter on"
    return True


RULE = Rule(
    id="matching-attribute-unsupported",
    title="Users are matched on an attribute the target cannot filter on",
    severity=Severity.MEDIUM,
    level=APP,
    columns=("target_key",),
    sources=("sync_schema",),
    rationale=(
        "The provisioning service looks up each user's existing account in {target.title} by its "
        "matching attribute, a filtered query; Microsoft's tutorial lists the attributes "
        "{target.title} supports filtering on, and the gallery default matches on one of them."
    ),
    remediation=(
        "In Entra → Enterprise applications → <app> → Provisioning → Mappings → Provision users, "
        "set the matching precedence back to an attribute {target.title} supports filtering on "
        "(the tutorial's 'Supported for filtering' column), then provision one guest on demand."
    ),
    check=_check,
    detail=_detail,
    applies=_applies,
    plan_note="Fixed in the app's mapping, not per guest (see the remediation above).",
    examples=(
        Example(
            rows=[{"target_key": "a"}],
            expect=[True],
            note="GitHub EMU filters on externalId only (tutorial: Supported For Filtering)",
            target="github-emu",
            settings={"matching_attributes": ("userName",)},
        ),
        Example(
            rows=[{"target_key": "a"}],
            expect=[False],
            target="github-emu",
            settings={"matching_attributes": ("externalId",)},
        ),
        Example(
            rows=[{"target_key": "a"}],
            expect=[None],
            note="without a collected matching attribute the rule cannot tell",
            target="github-emu",
        ),
    ),
)
