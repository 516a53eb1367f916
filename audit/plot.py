"""Charts of analysis results for notebooks and reports: each function returns a matplotlib Figure.

Figures are built without pyplot, so nothing is shown, registered or leaked behind the caller's
back: a Figure that is a cell's last value is displayed by Jupyter (``%matplotlib inline``), and
``fig.savefig("outcomes.png")`` writes it anywhere. matplotlib is an optional dependency (the
``notebook`` extra) and is only imported when a chart is drawn, never by ``import audit``.

Tenant text (domain names, the tenant's name) is drawn with mathtext parsing off, so a ``$`` in
hostile input is shown as typed.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import TYPE_CHECKING

from audit.models import Outcome, Severity

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

    from audit.analysis.result import AuditResult

__all__ = [
    "OUTCOME_COLORS",
    "SEVERITY_COLORS",
    "plot_findings_by_rule",
    "plot_outcomes",
    "plot_top_domains",
    "plot_trend",
]

OUTCOME_COLORS = {
    Outcome.READY.value: "#2e7d32",
    Outcome.UNMANAGED.value: "#ef6c00",
    Outcome.BLOCKED.value: "#c62828",
    Outcome.OUT_OF_SCOPE.value: "#90a4ae",
    Outcome.UNKNOWN.value: "#cfd8dc",
}
SEVERITY_COLORS = {
    Severity.HIGH.value: "#c62828",
    Severity.MEDIUM.value: "#ef6c00",
    Severity.LOW.value: "#f9a825",
    Severity.INFO.value: "#90a4ae",
}
_SEVERITIES = tuple(s.value for s in sorted(Severity, key=lambda s: s.rank, reverse=True))


def _figure(width: float, height: float) -> Figure:
    """A new Figure, unmanaged by pyplot; a clear hint when matplotlib is not installed."""
    try:
        from matplotlib.figure import Figure
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise ImportError("charts need matplotlib: pip install 'b2b-preflight[notebook]'") from exc
    return Figure(figsize=(width, height), layout="constrained")


def _tenant_name(result: AuditResult) -> str:
    return str(result.tenant.get("name") or result.tenant.get("id") or "tenant")


def plot_outcomes(result: AuditResult) -> Figure:
    """Guests per predicted outcome, now and (when there is one) under the recommended mapping."""
    fig = _figure(7.0, 3.2)
    ax = fig.add_subplot()
    outcomes = list(OUTCOME_COLORS)
    now = result.outcome_counts()
    after = result.whatif.after if result.whatif else None
    height = 0.4 if after is not None else 0.7
    ys = list(range(len(outcomes)))
    colors = [OUTCOME_COLORS[o] for o in outcomes]
    current = [now.get(o, 0) for o in outcomes]
    bars = ax.barh([y - height / 2 for y in ys], current, height, color=colors, label="current")
    ax.bar_label(bars, padding=2, fontsize=8)
    if after is not None:
        whatif = [after.get(o, 0) for o in outcomes]
        bars = ax.barh(
            [y + height / 2 for y in ys],
            whatif,
            height,
            color=colors,
            alpha=0.45,
            hatch="//",
            label="recommended mapping",
        )
        ax.bar_label(bars, padding=2, fontsize=8)
        ax.legend(loc="lower right", fontsize=8)
    ax.set_yticks(ys, labels=outcomes)
    ax.invert_yaxis()
    ax.set_xlabel("guests")
    ax.set_title(f"Predicted outcomes: {_tenant_name(result)}", parse_math=False)
    ax.margins(x=0.12)
    return fig


def plot_findings_by_rule(result: AuditResult, top: int = 15) -> Figure:
    """Open (and muted) findings per rule, the ``top`` rules with most open findings, by severity."""
    rules = result.rules
    ranked = rules[(rules["flagged"] + rules["muted"]) > 0]
    ranked = ranked.sort_values(["flagged", "muted", "rule_id"], ascending=[False, False, True])
    ranked = ranked.head(top)
    fig = _figure(7.0, 0.9 + 0.3 * max(len(ranked), 1))
    ax = fig.add_subplot()
    if ranked.empty:
        _empty(ax, "no findings")
        return fig
    ys = list(range(len(ranked)))
    colors = [SEVERITY_COLORS.get(str(s), "#607d8b") for s in ranked["severity"]]
    bars = ax.barh(ys, ranked["flagged"].astype(int).tolist(), color=colors)
    ax.bar_label(bars, padding=2, fontsize=8)
    if int(ranked["muted"].sum()):
        ax.barh(
            ys,
            ranked["muted"].astype(int).tolist(),
            left=ranked["flagged"].astype(int).tolist(),
            color="none",
            edgecolor="#607d8b",
            hatch="..",
            label="muted by an exception",
        )
        ax.legend(loc="lower right", fontsize=8)
    ax.set_yticks(ys, labels=[str(r) for r in ranked["rule_id"]])
    ax.invert_yaxis()
    ax.set_xlabel("guests flagged, not muted (colour: severity)")
    ax.set_title("Findings by rule")
    ax.margins(x=0.12)
    return fig


def plot_top_domains(result: AuditResult, top: int = 10) -> Figure:
    """The ``top`` guest mail domains by affected guests: affected and clean guests, stacked."""
    domains = result.domains.sort_values(
        ["affected", "guests", "domain"], ascending=[False, False, True]
    ).head(top)
    fig = _figure(7.0, 0.9 + 0.3 * max(len(domains), 1))
    ax = fig.add_subplot()
    if domains.empty:
        _empty(ax, "no guest mail domains")
        return fig
    ys = list(range(len(domains)))
    affected = domains["affected"].astype(int).tolist()
    clean = (domains["guests"] - domains["affected"]).astype(int).tolist()
    ax.barh(ys, affected, color=SEVERITY_COLORS["high"], label="with open findings")
    ax.barh(ys, clean, left=affected, color=OUTCOME_COLORS["ready"], label="no open finding")
    ax.set_yticks(ys, labels=[str(d) for d in domains["domain"]], parse_math=False)
    ax.invert_yaxis()
    ax.set_xlabel("guests")
    ax.set_title("Guest mail domains with most affected guests")
    ax.legend(loc="lower right", fontsize=8)
    return fig


def plot_trend(results: Sequence[AuditResult]) -> Figure:
    """Outcome counts (stacked) and open findings by severity over a series of runs, oldest first."""
    runs = sorted(results, key=_when)
    fig = _figure(8.0, 5.5)
    top, bottom = fig.subplots(2, 1, sharex=True)
    if not runs:
        _empty(top, "no results")
        return fig
    xs = list(range(len(runs)))
    _stacked_outcomes(top, xs, [r.outcome_counts() for r in runs])
    _severity_lines(bottom, xs, [_open_by_severity(r) for r in runs])
    bottom.set_xticks(xs, labels=_run_labels([_when(r) for r in runs]))
    top.set_title("Predicted outcomes per run")
    bottom.set_title("Open findings per run")
    return fig


def _run_labels(moments: list[datetime]) -> list[str]:
    """Dates, with the time of day when two runs fall on the same day."""
    days = [m.strftime("%Y-%m-%d") for m in moments]
    if len(set(days)) == len(days):
        return days
    return [m.strftime("%Y-%m-%d %H:%M") for m in moments]


def _when(result: AuditResult) -> datetime:
    return result.collected_at or result.generated_at


def _stacked_outcomes(ax: Axes, xs: list[int], counts: list[dict[str, int]]) -> None:
    base = [0] * len(xs)
    for outcome, color in OUTCOME_COLORS.items():
        values = [c.get(outcome, 0) for c in counts]
        ax.bar(xs, values, 0.6, bottom=base, color=color, label=outcome)
        base = [b + v for b, v in zip(base, values, strict=True)]
    ax.set_ylabel("guests")
    ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize=8)


def _severity_lines(ax: Axes, xs: list[int], counts: list[dict[str, int]]) -> None:
    totals = [sum(c.values()) for c in counts]
    ax.plot(xs, totals, marker="o", color="#37474f", label="all")
    for severity in _SEVERITIES:
        values = [c.get(severity, 0) for c in counts]
        if any(values):
            color = SEVERITY_COLORS[severity]
            ax.plot(xs, values, marker="o", color=color, label=severity)
    ax.set_ylabel("open findings")
    ax.set_ylim(bottom=0)
    ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize=8)


def _open_by_severity(result: AuditResult) -> dict[str, int]:
    counts = result.open_findings()["severity"].astype("str").value_counts()
    return {s: int(counts.get(s, 0)) for s in _SEVERITIES}


def _empty(ax: Axes, text: str) -> None:
    ax.text(0.5, 0.5, text, ha="center", va="center", transform=ax.transAxes)
    ax.set_axis_off()
