"""Would a first full provisioning cycle put the job into quarantine?

Source: "Application provisioning in quarantine status"
(https://learn.microsoft.com/entra/identity/app-provisioning/application-provisioning-quarantine-status):
"This logic is subject to change, but works roughly as described below: ... in general, 5,000
failures are the minimum to start evaluating whether to quarantine because of too many failures
... If more than 40% of provisioning events fail, or there are more than 40,000 failures, the
provisioning job will go into quarantine." Graph's ``synchronizationStatus.escrowsPruned`` adds that
during the initial synchronization the service may instead clear the errors, finish, and pause
(https://learn.microsoft.com/graph/api/resources/synchronization-synchronizationstatus).

A predicted ``blocked`` guest is a failed event, a ``ready`` or ``unmanaged`` one a successful one;
guests out of scope cause no event. Guests whose outcome is unknown and the in-scope users who are
not guests (their outcome is not predicted) may go either way: the forecast is given only when both
extremes agree.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import pandas as pd

__all__ = ["MIN_FAILURES", "QuarantineForecast", "forecast"]

SOURCE = (
    "https://learn.microsoft.com/entra/identity/app-provisioning/"
    "application-provisioning-quarantine-status"
)
MIN_FAILURES = 5_000
MAX_FAILURES = 40_000
MAX_SHARE = 0.40


@dataclass(frozen=True)
class QuarantineForecast:
    """The predicted events of a first full cycle and the verdict against the documented thresholds."""

    failures: int
    successes: int
    undecided: int
    would_quarantine: bool | None
    reason: str
    thresholds: dict[str, Any]
    source: str = SOURCE

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form (``findings.json`` ``quarantine_forecast``)."""
        return asdict(self)

    @property
    def sentence(self) -> str:
        """One line for the report."""
        verdict = {True: "would", False: "would not", None: "may or may not"}[self.would_quarantine]
        return (
            f"A first full cycle {verdict} put the job into quarantine: {self.failures:,} predicted "
            f"failures, {self.successes:,} successes, {self.undecided:,} not predicted ({self.reason})."
        )


def _judge(failures: int, events: int) -> tuple[bool, str]:
    if failures < MIN_FAILURES:
        return False, f"fewer than {MIN_FAILURES:,} failures: no evaluation starts"
    if failures > MAX_FAILURES:
        return True, f"more than {MAX_FAILURES:,} failures"
    if events and failures / events > MAX_SHARE:
        return True, f"more than {MAX_SHARE:.0%} of the events fail"
    return (
        False,
        f"at most {MAX_SHARE:.0%} of the events fail and at most {MAX_FAILURES:,} failures",
    )


def forecast(outcomes: pd.Series, other_in_scope: int = 0) -> QuarantineForecast:
    """The forecast from the guests' predicted outcomes and the number of in-scope other users."""
    counts = outcomes.value_counts()
    failures = int(counts.get("blocked", 0))
    successes = int(counts.get("ready", 0) + counts.get("unmanaged", 0))
    undecided = int(counts.get("unknown", 0)) + int(other_in_scope)
    events = failures + successes + undecided
    low, why_low = _judge(failures, events)
    high, why_high = _judge(failures + undecided, events)
    verdict = low if low == high else None
    reason = (
        why_low
        if verdict is not None
        else (
            f"it depends on the {undecided:,} events not predicted (at best: {why_low}; at worst: {why_high})"
        )
    )
    if verdict:
        reason += (
            "; during the initial cycle the service may instead prune the errors, finish the "
            "cycle and pause the job (synchronizationStatus.escrowsPruned)"
        )
    thresholds = {
        "min_failures": MIN_FAILURES,
        "max_failures": MAX_FAILURES,
        "max_failure_share": MAX_SHARE,
    }
    return QuarantineForecast(failures, successes, undecided, verdict, reason, thresholds)
