"""report.html answers "why" and "what to do" (Debian chromium via Playwright): each guest's
finding details and the fix of the rule that decides its outcome, KPI cards and rule names that
filter the guest table, worst guests first, headline counts of guests, the app-level finding
first, and a layout without sideways scrolling from 360 to 2560 px and in print.

Runs on a demo tenant (it has every pathology, the app-level mapping finding included).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import lxml.html  # type: ignore[import-untyped]
import pytest

from audit.analysis.result import AuditResult
from audit.demo.tenant import generate_tenant
from audit.render import write_html
from audit.render._html_summary import _donut_label
from tests._demo_results import demo_result
from tests.test_render_browser import chromium_session

WIDTHS = (360, 768, 1440, 2560)


@pytest.fixture(scope="module")
def report(tmp_path_factory: pytest.TempPathFactory) -> tuple[AuditResult, Path]:
    folder = tmp_path_factory.mktemp("ux")
    result = demo_result(generate_tenant(300, 30, seed=4), folder / "export")
    return result, write_html(result, folder / "report.html")


@pytest.fixture(scope="module")
def browser(report: tuple[AuditResult, Path]) -> Iterator[Any]:
    """Chromium; after ``report``, which runs an event loop that Playwright's would block."""
    yield from chromium_session()


def _open(browser: Any, path: Path, width: int = 1360) -> Any:
    tab = browser.new_page(viewport={"width": width, "height": 900})
    errors: list[str] = []
    tab.on("pageerror", lambda e: errors.append(str(e)))
    tab.goto(path.as_uri())
    tab.wait_for_selector("html[data-ready=true]")
    tab.errors = errors
    return tab


def _count(tab: Any) -> int:
    return int(tab.get_attribute("#guest-count", "data-count"))


def _open_findings(result: AuditResult) -> Any:
    f = result.findings
    return f[(f["status"] == "flagged") & (f["level"] == "guest")]


@pytest.mark.browser
def test_kpi_cards_filter_the_guest_table(browser: Any, report: tuple[AuditResult, Path]) -> None:
    result, path = report
    tab = _open(browser, path)
    counts = result.outcome_counts()
    for outcome in ("blocked", "unmanaged", "out_of_scope"):
        tab.click(f"#kpi-{outcome}")
        tab.wait_for_selector(f'#guest-count[data-count="{counts[outcome]}"]', state="attached")
        badges = tab.locator("#guest-table tbody tr[data-row] td:nth-child(4) .badge")
        assert {b.lower().replace(" ", "_") for b in badges.all_text_contents()} == {outcome}
    tab.click("#kpi-all")
    tab.wait_for_selector(f'#guest-count[data-count="{len(result.guests)}"]', state="attached")
    assert tab.errors == []
    tab.close()


@pytest.mark.browser
def test_rule_names_filter_the_guest_table(browser: Any, report: tuple[AuditResult, Path]) -> None:
    result, path = report
    tab = _open(browser, path)
    findings = result.findings[result.findings["level"] == "guest"]
    for rule_id in ("public-mail-domain", "address-invalid"):
        expected = findings.loc[findings["rule_id"] == rule_id, "object_id"].nunique()
        assert expected
        tab.click(f'#rule-counts a[data-rule="{rule_id}"]')
        tab.wait_for_selector(f'#guest-count[data-count="{expected}"]', state="attached")
        tab.click(f'#rule-{rule_id} a[data-rule="{rule_id}"]')  # the rule's card too
        tab.wait_for_selector(f'#guest-count[data-count="{expected}"]', state="attached")
    assert tab.errors == []
    tab.close()


@pytest.mark.browser
def test_each_blocked_guest_shows_why_and_the_fix(
    browser: Any, report: tuple[AuditResult, Path]
) -> None:
    result, path = report
    tab = _open(browser, path)
    tab.click("#kpi-blocked")
    blocked = result.outcome_counts()["blocked"]
    assert 0 < blocked <= 50
    tab.wait_for_selector(f'#guest-count[data-count="{blocked}"]', state="attached")
    rows = tab.locator("#guest-table tbody tr[data-row]")
    outcomes = result.outcomes.set_index("object_id")
    rules = result.rules.set_index("rule_id")
    details = _open_findings(result).groupby("object_id")["detail"].apply(list)
    for k in range(blocked):
        row = tab.locator("#guest-table tbody tr[data-row]").nth(k)
        row.locator(".toggle").click()
        detail = tab.locator("#guest-table tr.detail")
        text = detail.text_content()
        object_id = detail.locator("dd").nth(1).text_content()
        for line in details.get(object_id, []):
            if line:
                assert line in text, (object_id, line)
        for reason in outcomes.loc[object_id, "reasons"]:
            assert rules.loc[reason, "remediation"] in text
        assert "Why blocked" in text
        row.locator(".toggle").click()  # close it again
    assert rows.count() == blocked
    assert tab.errors == []
    tab.close()


@pytest.mark.browser
def test_default_order_is_worst_outcome_first(
    browser: Any, report: tuple[AuditResult, Path]
) -> None:
    result, path = report
    tab = _open(browser, path)
    order = ["blocked", "unmanaged", "unknown", "out_of_scope", "ready"]
    seen = []
    for _ in range(len(result.guests) // 50 + 1):
        badges = tab.locator("#guest-table tbody tr[data-row] td:nth-child(4) .badge")
        seen += [b.lower().replace(" ", "_") for b in badges.all_text_contents()]
        if tab.is_disabled("#guest-next"):
            break
        tab.click("#guest-next")
    ranks = [order.index(s) for s in seen]
    assert ranks == sorted(ranks)
    assert len(seen) == len(result.guests)
    tab.close()


@pytest.mark.browser
@pytest.mark.parametrize("width", WIDTHS)
def test_no_sideways_scrolling(browser: Any, report: tuple[AuditResult, Path], width: int) -> None:
    tab = _open(browser, report[1], width)
    tab.click("#kpi-blocked")
    tab.locator("#guest-table tbody tr[data-row] .toggle").first.click()
    overflow = "document.documentElement.scrollWidth - document.documentElement.clientWidth"
    assert tab.evaluate(overflow) <= 1
    clipped = tab.evaluate(
        """() => [...document.querySelectorAll('.card, .kpi, .banner, section')]
             .filter(e => e.getBoundingClientRect().right > document.documentElement.clientWidth + 1)
             .map(e => e.className)"""
    )
    assert clipped == []
    tab.close()


@pytest.mark.browser
def test_print_layout_fits_the_page(browser: Any, report: tuple[AuditResult, Path]) -> None:
    tab = _open(browser, report[1], 794)  # A4 at 96 dpi
    tab.emulate_media(media="print")
    assert tab.evaluate("document.documentElement.scrollWidth - window.innerWidth") <= 1
    assert tab.is_hidden("#guest-q")
    assert tab.pdf(format="A4").startswith(b"%PDF")
    tab.close()


@pytest.mark.browser
@pytest.mark.parametrize("guests", [7, 500, 123_456, 1_000_000, 12_345_678])
def test_donut_label_fits_its_hole(
    browser: Any, report: tuple[AuditResult, Path], guests: int
) -> None:
    label = _donut_label(guests)
    tab = _open(browser, report[1])
    width = tab.evaluate(
        """([text, size]) => { const t = document.getElementById('donut-total');
             t.textContent = text; t.setAttribute('font-size', size); return t.getBBox().width; }""",
        [label["text"], label["size"]],
    )
    hole = 2 * (15.91549 - 2.5)  # the ring's radius minus half its stroke, in viewBox units
    assert 0 < width <= hole - 2
    tab.close()


def test_headline_counts_are_guests_and_the_app_finding_comes_first(
    report: tuple[AuditResult, Path],
) -> None:
    result, path = report
    page = lxml.html.fromstring(path.read_text(encoding="utf-8"))
    summary = page.get_element_by_id("summary")
    first = summary.xpath("./*[2]")[0]  # right after the heading
    assert first.get("id") == "app-finding-mapping-sends-external-address"
    rules = result.rules.set_index("rule_id")
    affected = int(rules.loc["mapping-sends-external-address", "flagged"])
    in_scope = int(rules.loc["mapping-sends-external-address", "flagged_in_scope"])
    text = " ".join(first.text_content().split())
    assert f"affects {affected:,} of {len(result.guests):,} guests ({in_scope:,} in scope)" in text
    table = page.get_element_by_id("rule-counts")
    listed = [a.get("data-rule") for a in table.xpath(".//a[@data-rule]")]
    assert "mapping-sends-external-address" not in listed  # not a row among per-guest counts
    for row in table.xpath("./tbody/tr"):
        rule_id = row.xpath(".//a/@data-rule")[0]
        cells = [" ".join(c.text_content().split()) for c in row.xpath("./td")]
        assert int(cells[2].replace(",", "")) == int(rules.loc[rule_id, "flagged"])
        assert int(cells[3].replace(",", "")) == int(rules.loc[rule_id, "flagged_in_scope"])
    severity = " ".join(page.get_element_by_id("severity-guests").text_content().split())
    open_ = _open_findings(result)
    for sev in ("high", "medium", "low", "info"):
        guests = open_.loc[open_["severity"] == sev, "object_id"].nunique()
        assert f"{sev} {guests:,}" in severity


def test_settings_in_the_header(report: tuple[AuditResult, Path]) -> None:
    result, path = report
    page = lxml.html.fromstring(path.read_text(encoding="utf-8"))
    domains = page.get_element_by_id("verified-domains").text_content()
    assert all(d in domains for d in result.settings["verified_domains"].split(", "))
    assert page.xpath('//*[@id="settings-warnings"]') == []  # tokens given, nothing to warn
