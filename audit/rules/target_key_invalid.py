"""target-key-invalid: the key the target would store breaks its documented length, character or
domain rules.

The key is checked as the target stores it (``target_key_normalised``: e.g. GitHub's username from
the part before ``@``, Slack's with special characters as ``_``), against the profile's documented
constraints (``KeyRules``, each with its source in the profile): length (with a suffix the target
appends, and the tightest and loosest documented limits: between them the guest is not
evaluated), a pattern the whole key must match, domains the target never accepts, and a domain
that must be verified in the target. A target that documents none of these does not run the rule
("not evaluated" with the reason); a key whose stored form is not documented is not evaluated.
"""

from __future__ import annotations

import pandas as pd

from audit.analysis.engine import Context, Example, Rule
from audit.models import Outcome, Severity
from audit.plans import suggest
from audit.rules._common import known, tri
from audit.targets import Target


def _problems(frame: pd.DataFrame, ctx: Context) -> tuple[pd.DataFrame, pd.Series]:
    """One boolean column per broken constraint, and the rows that cannot be judged."""
    rules = ctx.target.key_rules
    stored = frame["target_key_normalised"].astype("str")
    judged = known(stored)
    found: dict[str, pd.Series] = {}
    unsure = pd.Series(False, index=frame.index)
    limits = rules.limits()
    if limits is not None:
        longest_possible, surely_fine = limits
        length = stored.str.len()
        found[f"over {longest_possible} characters"] = length.gt(longest_possible).fillna(False)
        unsure |= (
            length.gt(surely_fine).fillna(False) & ~found[f"over {longest_possible} characters"]
        )
    if rules.pattern is not None:
        matches = stored.str.fullmatch(rules.pattern).fillna(True).astype(bool)
        found[f"not {rules.pattern_text or 'of the documented form'}"] = ~matches
    if rules.rejected_domains:
        domain = stored.str.rpartition("@")[2].str.lower()
        bad = pd.Series(False, index=frame.index)
        for name in rules.rejected_domains:
            bad |= (domain.eq(name) | domain.str.endswith("." + name)).fillna(False)
        found["on a domain " + ctx.target.title + " never accepts"] = bad
    if rules.on_verified_domain:
        verified = frame["target_domain_verified"].astype("boolean")
        found["on a domain not verified in " + ctx.target.title] = verified.eq(False).fillna(False)
        unsure |= verified.isna()
    hits = pd.DataFrame({k: v.astype(bool) & judged for k, v in found.items()}, index=frame.index)
    return hits, unsure | ~judged


def _check(frame: pd.DataFrame, ctx: Context) -> pd.Series:
    hits, unsure = _problems(frame, ctx)
    flagged = hits.any(axis=1)
    return tri(flagged, flagged | ~unsure)


def _detail(frame: pd.DataFrame, ctx: Context) -> pd.Series:
    hits, _ = _problems(frame, ctx)
    names = list(hits.columns)
    values = hits.to_numpy()
    why = ["; ".join(n for n, hit in zip(names, row, strict=True) if hit) for row in values]
    title, attribute = ctx.target.title, ctx.target.key_attribute
    return (
        f"{title} {attribute} "
        + frame["target_key_normalised"].astype("str").fillna("")
        + " ("
        + pd.Series(why, index=frame.index, dtype="str")
        + ")"
    )


def _applies(target: Target) -> bool | str:
    if not target.key_attribute:
        return f"not evaluated: {target.title} documents no key attribute"
    if not target.key_rules.documented:
        return f"not evaluated: {target.title} documents no length, character or domain rule for its key"
    return True


RULE = Rule(
    id="target-key-invalid",
    title="The key breaks the target's documented length, character or domain rules",
    severity=Severity.HIGH,
    columns=("target_key", "target_key_normalised", "target_domain_verified"),
    rationale=(
        "{target.title} stores {target.key_attribute} under its documented rules: "
        "{target.key_constraints}. A key that breaks them is rejected, so the guest is not created."
    ),
    remediation=(
        "Change the guest's value (e.g. its UPN) or the {target.key_attribute} mapping in Entra → "
        "Enterprise applications → <app> → Provisioning → Mappings → Provision users, with an "
        "expression that keeps every key within {target.title}'s rules and unique."
    ),
    check=_check,
    detail=_detail,
    applies=_applies,
    outcome=Outcome.BLOCKED,
    plan=suggest(
        "Get-MgUser -UserId {id} -Property Id,DisplayName,Mail,UserPrincipalName",
        note="Fix the value the key is mapped from, or the key's mapping (see the remediation).",
    ),
    demo=(),
    examples=(
        Example(
            rows=[
                {"target_key": k, "target_key_normalised": k.split("@")[0].replace(".", "-")}
                for k in (
                    "jo@p.com",
                    "mona.lisa.the.octocat.from.github.united.states@example.com",
                    "abcdefghij.klmnopqrstu.vwxyz@p.com",
                    "the--octocat@p.com",
                )
            ],
            expect=[False, True, None, True],
            note="GitHub: 39 with a 3-8 character shortcode (30 with data residency); no '--'",
            target="github-emu",
        ),
        Example(
            rows=[
                {"target_key": "jo@p.com", "target_key_normalised": "jo@p.com"},
                {"target_key": "Jo@p.com", "target_key_normalised": "Jo@p.com"},
                {"target_key": None, "target_key_normalised": None},
            ],
            expect=[False, True, None],
            note="Salesforce: lower case",
            target="salesforce",
        ),
    ),
)
