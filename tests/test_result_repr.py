"""``AuditResult._repr_html_`` (``audit.notebook.result_html``): compact, complete and escaped."""

from __future__ import annotations

import dataclasses
import re
from datetime import UTC, datetime

import pytest

from audit.analysis.result import AuditResult
from audit.demo.tenant import generate_tenant
from audit.models import SourceState, SourceStatus
from tests._demo_results import demo_result

NOW = datetime(2025, 6, 1, tzinfo=UTC)
EVIL = '<script>alert("x")</script>&<b>'


@pytest.fixture(scope="module")
def result(tmp_path_factory: pytest.TempPathFactory) -> AuditResult:
    tenant = generate_tenant(120, 20, seed=4, now=NOW)
    return demo_result(tenant, tmp_path_factory.mktemp("repr"))


def _text(html: str) -> str:
    return re.sub(r"<[^>]+>", " ", html)


def test_summary_names_tenant_target_and_guest_count(result: AuditResult) -> None:
    html = result._repr_html_()
    assert html.startswith('<div class="b2b-preflight-result">')
    assert "Contoso Demo" in html
    assert "contosodemo.onmicrosoft.com" in html
    assert f"{len(result.guests):,} guests" in html
    assert "2025-06-01" in html


def test_summary_has_every_outcome_count_and_the_whatif(result: AuditResult) -> None:
    html = result._repr_html_()
    for outcome, count in result.outcome_counts().items():
        assert f"<tr><td>{outcome}</td><td>{count:,}</td>" in html
    assert result.whatif is not None
    assert f"makes {result.whatif.newly_ready:,} more" in html
    assert "with recommended mapping" in html


def test_summary_lists_the_top_rules(result: AuditResult) -> None:
    html = result._repr_html_()
    top = result.rules.sort_values("flagged", ascending=False).iloc[0]
    assert f"<tr><td>{top['rule_id']}</td><td>{top['severity']}</td><td>{top['flagged']:,}" in html
    assert html.count("</tr>") <= 1 + 5 + 1 + 5  # two headers, five outcomes, five rules


def test_failed_sources_are_shown(result: AuditResult) -> None:
    failed = SourceStatus(
        "provisioning_logs",
        SourceState.FAILED,
        error="403 Forbidden",
        missing_permission="AuditLog.Read.All",
    )
    html = dataclasses.replace(result, sources=[*result.sources, failed])._repr_html_()
    assert "provisioning_logs failed: AuditLog.Read.All" in html


def test_tenant_values_are_escaped(result: AuditResult) -> None:
    failed = SourceStatus("users", SourceState.FAILED, error=EVIL)
    hostile = dataclasses.replace(
        result,
        tenant={"name": EVIL, "initial_domain": EVIL},
        app={"displayName": EVIL},
        target=EVIL,
        sources=[failed],
    )
    html = hostile._repr_html_()
    assert "<script>" not in html
    assert "<b>&lt;script&gt;" in html
    assert "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;&amp;&lt;b&gt;" in html
    assert len(re.findall("<b>", html)) == len(re.findall("</b>", html))


def test_summary_without_whatif_or_findings(result: AuditResult) -> None:
    bare = dataclasses.replace(result, whatif=None, findings=result.findings.head(0))
    html = bare._repr_html_()
    assert "No what-if evaluation" in html
    assert "0 open findings" in _text(html)
