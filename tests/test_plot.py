"""``audit.plot``: Figures drawn from results, no pyplot state, hostile text drawn literally."""

from __future__ import annotations

import dataclasses
import io
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import matplotlib
import numpy as np
import pytest
from matplotlib.figure import Figure

from audit import plot
from audit.analysis.result import AuditResult
from audit.demo.evolve import evolve_tenant
from audit.demo.tenant import generate_tenant
from tests._demo_results import demo_result

matplotlib.use("Agg")  # before anything imports pyplot: no display needed
NOW = datetime(2025, 6, 1, tzinfo=UTC)


@pytest.fixture(scope="module")
def history(tmp_path_factory: pytest.TempPathFactory) -> list[AuditResult]:
    base = generate_tenant(150, 25, seed=2, now=NOW)
    folder = tmp_path_factory.mktemp("plot")
    return [
        demo_result(evolve_tenant(base, month, seed=2), folder / f"m{month}") for month in range(3)
    ]


@pytest.fixture
def result(history: list[AuditResult]) -> AuditResult:
    return history[0]


def _png(fig: Figure) -> bytes:
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=40)
    return buffer.getvalue()


def _bar_widths(fig: Figure, container: int = 0) -> list[int]:
    ax = fig.axes[0]
    return [round(bar.get_width()) for bar in ax.containers[container]]


def test_outcomes_show_current_and_whatif_counts(result: AuditResult) -> None:
    fig = plot.plot_outcomes(result)
    assert isinstance(fig, Figure)
    counts = result.outcome_counts()
    assert _bar_widths(fig, 0) == [counts[o] for o in plot.OUTCOME_COLORS]
    assert result.whatif is not None
    assert _bar_widths(fig, 1) == [result.whatif.after[o] for o in plot.OUTCOME_COLORS]
    assert _png(fig).startswith(b"\x89PNG")


def test_outcomes_without_whatif_have_one_series(result: AuditResult) -> None:
    fig = plot.plot_outcomes(dataclasses.replace(result, whatif=None))
    assert len(fig.axes[0].containers) == 1


def test_findings_by_rule_ranks_rules_by_open_findings(result: AuditResult) -> None:
    fig = plot.plot_findings_by_rule(result, top=4)
    labels = [t.get_text() for t in fig.axes[0].get_yticklabels()]
    ranked = result.rules[result.rules["flagged"] > 0].sort_values("flagged", ascending=False)
    assert len(labels) == 4
    assert labels[0] == ranked["rule_id"].iloc[0]
    widths = _bar_widths(fig)
    assert widths == sorted(widths, reverse=True)
    assert widths[0] == int(ranked["flagged"].iloc[0])


def test_top_domains_stacks_affected_and_clean_guests(result: AuditResult) -> None:
    fig = plot.plot_top_domains(result, top=3)
    labels = [t.get_text() for t in fig.axes[0].get_yticklabels()]
    top = result.domains.head(3)
    assert labels == top["domain"].tolist()
    affected, clean = _bar_widths(fig, 0), _bar_widths(fig, 1)
    assert [a + c for a, c in zip(affected, clean, strict=True)] == top["guests"].tolist()


def test_trend_orders_runs_by_date_and_counts_every_guest(history: list[AuditResult]) -> None:
    fig = plot.plot_trend(list(reversed(history)))
    top, bottom = fig.axes[:2]
    labels = [t.get_text() for t in bottom.get_xticklabels()]
    assert labels == ["2025-06-01", "2025-07-01", "2025-07-31"]
    stacked = [0.0] * 3
    for container in top.containers:
        for i, bar in enumerate(container):
            stacked[i] += bar.get_height()
    assert [round(s) for s in stacked] == [len(r.guests) for r in history]
    total = np.asarray(bottom.get_lines()[0].get_ydata()).tolist()
    assert total == [len(r.open_findings()) for r in history]
    _png(fig)


def test_empty_inputs_draw_a_note(result: AuditResult) -> None:
    assert "no results" in [t.get_text() for t in plot.plot_trend([]).axes[0].texts]
    empty = dataclasses.replace(result, domains=result.domains.head(0))
    note = plot.plot_top_domains(empty).axes[0].texts
    assert [t.get_text() for t in note] == ["no guest mail domains"]


def test_hostile_tenant_text_is_drawn_literally(result: AuditResult) -> None:
    """A ``$`` in a tenant or domain name must not be parsed as mathtext (which would fail)."""
    evil = "$\\frac{$ <script>alert(1)</script>"
    domains = result.domains.copy()
    domains.loc[0, "domain"] = evil
    hostile = dataclasses.replace(result, tenant={"name": evil}, domains=domains)
    for fig in (plot.plot_outcomes(hostile), plot.plot_top_domains(hostile, top=3)):
        _png(fig)
    title = plot.plot_outcomes(hostile).axes[0].get_title()
    assert title.endswith(evil)


def test_figures_are_not_registered_with_pyplot(result: AuditResult) -> None:
    import matplotlib.pyplot as plt

    before = plt.get_fignums()
    plot.plot_outcomes(result)
    plot.plot_findings_by_rule(result)
    assert plt.get_fignums() == before


def test_matplotlib_is_imported_only_when_drawing(tmp_path: Path) -> None:
    code = "import sys, audit, audit.plot; print('matplotlib' in sys.modules)"
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=tmp_path
    )
    assert done.stdout.strip() == "False"
