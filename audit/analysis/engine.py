"""The rule engine: rule declarations, metadata checks, and per-(rule, object) statuses.

A rule is a vectorised check over the guests frame returning a nullable boolean Series: ``True`` flags
the guest, ``False`` passes it, ``NA`` means its data is unknown (``not_evaluated``). A rule whose source
was not collected is ``skipped`` as a whole, with the reason; it never passes or fails anyone.

A rule is one file (``audit/rules/<id>.py``) holding everything about it: metadata, check, detail,
examples, the outcome it decides (``outcome``/``outcome_when``), its fix plan for remediation.ps1
(``plan``), and the demo guests it needs (``demo``). Its texts may name the target through
``{target.title}`` and the other :class:`~audit.targets.Target` fields (:func:`worded`).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any

import pandas as pd

from audit.analysis.columns import FRAME_COLUMNS, TARGET_USER_FRAME_COLUMNS, conform
from audit.models import Outcome, RuleState, Severity, SourceStatus
from audit.plans import Planner
from audit.targets import Target, get_target, words

_ID_RE = re.compile(r"^[a-z][a-z0-9]*(?:-[a-z0-9]+)*$")
GUEST = "guest"
APP = "app"
TARGET = "target"
"""Level of rules about users of the target's provisioning directory: they read the target users
frame (``TARGET_USER_COLUMNS``), and their findings' ``object_id`` is the directory user's id."""


@dataclass(frozen=True)
class Context:
    """What a rule may know besides its columns: configuration and the clock, never I/O.

    ``provisioning_scope`` is the job's scope (``assigned`` or ``all``); ``user_mapping`` the state
    of the User object mapping (``enabled``, ``disabled``, ``no-add``); ``other_users`` the users
    who are not guests, with their predicted target values (``in_scope``, ``target_key``,
    ``target_email``, ``match_value`` and the ``whatif_*`` ones): they take part in collisions.
    """

    now: datetime
    initial_domain: str | None = None
    stale_days: int = 90
    target: Target = field(default_factory=lambda: get_target("atlassian"))
    email_expression: str = ""
    key_expression: str = ""
    app_id: str | None = None
    app_name: str | None = None
    matching_attributes: tuple[str, ...] | None = None
    email_mapped: bool | None = None  # False: no mapping feeds the target's e-mail attribute
    provisioning_scope: str = "assigned"
    user_mapping: str = "enabled"
    other_users: pd.DataFrame | None = field(default=None, compare=False, hash=False)


@dataclass(frozen=True)
class Example:
    """Rows a rule must judge as ``expect`` says (True flagged, False passed, None not evaluated),
    for the target profile named ``target`` (default: the context's) and with ``settings``
    replacing other :class:`Context` fields."""

    rows: Sequence[Mapping[str, Any]]
    expect: Sequence[bool | None]
    note: str = ""
    target: str | None = None
    settings: Mapping[str, Any] = field(default_factory=dict)

    def context(self, base: Context) -> Context:
        """``base`` with this example's target and settings."""
        ctx = replace(base, target=get_target(self.target)) if self.target else base
        return replace(ctx, **dict(self.settings)) if self.settings else ctx


Check = Callable[[pd.DataFrame, Context], pd.Series]
Detail = Callable[[pd.DataFrame, Context], pd.Series]


@dataclass(frozen=True)
class DemoCase:
    """A guest the demo tenant builds for a rule, so the demo shows it and its oracle checks it.

    The guest starts from ``pattern`` (a builder the demo names: ``verified`` is a clean guest on a
    verified domain, ``on:<kind>`` a guest on a domain of that kind, ...) and gets ``changes``
    (fields of the demo's guest spec, e.g. ``{"licensed": True}``). ``trips`` are the rules the
    case is about and must flag (default: this rule; none for a twin); ``flags``, when given,
    replace every rule id the guest itself trips besides those its domain and scope imply.
    ``twin_of`` makes the guest a near miss that must *not* trip those rules.
    """

    name: str
    pattern: str = "verified"
    changes: Mapping[str, Any] = field(default_factory=dict)
    trips: frozenset[str] | None = None
    flags: frozenset[str] | None = None
    twin_of: frozenset[str] = frozenset()


@dataclass(frozen=True)
class Rule:
    """One rule of the catalogue with the metadata that documents it.

    ``outcome`` is the prediction a guest gets when this rule decides it (``blocked``,
    ``unmanaged``, ``out_of_scope``); ``outcome_when`` says for which guests (a check over
    ``outcome_columns``; default: the rule's own check), written over the ``target_*`` columns so
    the what-if of the recommended mapping reuses it on the ``whatif_*`` values. ``plan`` is the
    per-finding fix for remediation.ps1 (:mod:`audit.plans`); ``plan_note`` one note for the
    section when there is nothing to do per guest. ``applies`` says whether the rule means
    anything for a target (default: always): True, False ("does not apply"), or a sentence saying
    why not (e.g. the target does not document a fact the rule needs: "not evaluated: ...").
    """

    id: str
    title: str
    severity: Severity
    columns: tuple[str, ...]
    rationale: str
    remediation: str
    check: Check
    examples: tuple[Example, ...]
    sources: tuple[str, ...] = ()
    detail: Detail | None = None
    level: str = GUEST
    outcome: Outcome | None = None
    outcome_when: Check | None = None
    outcome_columns: tuple[str, ...] = ()
    plan: Planner | None = None
    plan_note: str = ""
    demo: tuple[DemoCase, ...] = ()
    applies: Callable[[Target], bool | str] | None = None

    def decides_on(self) -> tuple[str, ...]:
        """The columns ``outcome_when`` reads."""
        return self.outcome_columns or self.columns

    def applies_to(self, target: Target) -> bool:
        """Whether the rule means anything for ``target``."""
        return self.why_not(target) is None

    def why_not(self, target: Target) -> str | None:
        """Why the rule does not run for ``target`` (None when it does)."""
        found = True if self.applies is None else self.applies(target)
        if found is True:
            return None
        return found or f"does not apply to {target.title}"


def worded(rule: Rule, target: Target) -> Rule:
    """The rule with its title, rationale and remediation in ``target``'s words."""
    return replace(
        rule,
        title=words(rule.title, target),
        rationale=words(rule.rationale, target),
        remediation=words(rule.remediation, target),
        plan_note=words(rule.plan_note, target),
    )


def validate(rule: Rule, known_columns: set[str] = FRAME_COLUMNS) -> None:
    """Raise ValueError when a rule's metadata is incomplete or inconsistent."""
    problems = []
    if not _ID_RE.match(rule.id):
        problems.append("id must be kebab-case")
    if not rule.title or len(rule.title) > 120:
        problems.append("title must be 1-120 characters")
    if not rule.rationale or not rule.remediation:
        problems.append("rationale and remediation are required")
    if rule.level == TARGET and known_columns is FRAME_COLUMNS:
        known_columns = TARGET_USER_FRAME_COLUMNS
    if unknown := (set(rule.columns) | set(rule.outcome_columns)) - known_columns:
        problems.append(f"unknown columns {sorted(unknown)}")
    if rule.level == TARGET and rule.outcome is not None:
        problems.append("a target-level rule decides no guest's outcome")
    if rule.outcome_when is not None and rule.outcome is None:
        problems.append("outcome_when needs an outcome")
    for text in (rule.title, rule.rationale, rule.remediation, rule.plan_note):
        try:
            words(text, get_target("generic-scim"))
        except ValueError as exc:
            problems.append(str(exc))
    expects = [e for ex in rule.examples for e in ex.expect]
    if True not in expects or False not in expects:
        problems.append("needs examples that flag and examples that pass")
    if any(len(ex.rows) != len(ex.expect) for ex in rule.examples):
        problems.append("each example needs one expectation per row")
    if problems:
        raise ValueError(f"rule {rule.id}: " + "; ".join(problems))


def example_frame(rule: Rule, example: Example) -> pd.DataFrame:
    """A frame holding exactly the rule's columns for an example's rows (absent values are NA)."""
    rows = [{c: row.get(c) for c in rule.columns} for row in example.rows]
    return conform(pd.DataFrame(rows, columns=list(rule.columns), dtype=object))


def evaluate(rule: Rule, frame: pd.DataFrame, context: Context) -> pd.Series:
    """Run one rule over the columns it declares; the result is a nullable boolean Series."""
    view = frame.loc[:, list(rule.columns)]
    result = rule.check(view, context)
    if not isinstance(result, pd.Series) or len(result) != len(frame):
        raise TypeError(f"rule {rule.id} must return a Series aligned to the frame")
    return result.astype("boolean").set_axis(frame.index)


def missing_sources(rule: Rule, sources: Mapping[str, SourceStatus]) -> list[SourceStatus | str]:
    """The sources a rule needs that are not usable (a name when never requested)."""
    out: list[SourceStatus | str] = []
    for name in rule.sources:
        status = sources.get(name)
        if status is None:
            out.append(name)
        elif not status.usable:
            out.append(status)
    return out


def skip_reason(missing: Sequence[SourceStatus | str]) -> str:
    """A sentence saying why a rule was skipped, naming missing permissions."""
    parts = []
    for item in missing:
        if isinstance(item, str):
            parts.append(f"source {item} was not collected")
        elif item.missing_permission:
            parts.append(f"source {item.name} failed: missing permission {item.missing_permission}")
        else:
            parts.append(f"source {item.name} is {item.state.value}: {item.error or 'no data'}")
    return "; ".join(parts)


@dataclass
class RuleRun:
    """The outcome of running one rule: its state and, when it ran, the per-row mask."""

    rule: Rule
    state: RuleState
    reason: str = ""
    mask: pd.Series | None = None
    details: pd.Series | None = None


def run(
    rules: Sequence[Rule],
    frame: pd.DataFrame,
    context: Context,
    sources: Mapping[str, SourceStatus],
) -> list[RuleRun]:
    """Run every rule that has its sources; skip the others with the reason."""
    runs = []
    for rule in rules:
        missing = missing_sources(rule, sources)
        if missing:
            runs.append(RuleRun(rule, RuleState.SKIPPED, skip_reason(missing)))
            continue
        mask = evaluate(rule, frame, context)
        runs.append(
            RuleRun(rule, RuleState.RAN, mask=mask, details=_details(rule, frame, mask, context))
        )
    return runs


def _details(rule: Rule, frame: pd.DataFrame, mask: pd.Series, context: Context) -> pd.Series:
    flagged = mask.fillna(False).astype(bool)
    if rule.detail is None or not flagged.any():
        return pd.Series("", index=frame.index[flagged], dtype="str")
    sub = frame.loc[flagged, list(rule.columns)]
    return rule.detail(sub, context).astype("str").fillna("")
