"""report.html in a real browser (Debian chromium via Playwright): no errors, no alerts, the
guest table searches, filters, sorts and pages, and hostile names render as plain text.

Needs ``/usr/bin/chromium`` (``apt-get install -y chromium``); never ``playwright install``.
Skipped when chromium or playwright is missing, except in CI (``CI=true``), where that fails.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from audit.analysis.result import AuditResult
from audit.models import Outcome
from audit.render import write_html
from tests.factories import HOSTILE, make_result

pytestmark = pytest.mark.browser

CHROMIUM = Path("/usr/bin/chromium")
ARGS = [
    "--no-sandbox",
    "--headless",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
ARTIFACTS = Path(__file__).resolve().parents[1] / "ci-artifacts"
N_GUESTS = 200


def _missing() -> str | None:
    """Why the browser cannot run here, or None."""
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return "playwright is not installed (pip install -e '.[dev]')"
    if not CHROMIUM.exists():
        return f"{CHROMIUM} is missing (apt-get install -y chromium)"
    return None


@dataclass
class Events:
    """What the page did that it must not do."""

    errors: list[str] = field(default_factory=list)
    dialogs: list[str] = field(default_factory=list)
    requests: list[str] = field(default_factory=list)


def chromium_session() -> Iterator[Any]:
    """Debian Chromium through Playwright for a fixture to yield from; skips (fails in CI) when
    chromium or playwright is missing."""
    reason = _missing()
    if reason:
        if os.environ.get("CI") == "true":
            pytest.fail(f"browser test cannot run in CI: {reason}")
        pytest.skip(reason)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as driver:
        chromium = driver.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
        yield chromium
        chromium.close()


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    yield from chromium_session()


@pytest.fixture(scope="module")
def report(tmp_path_factory: pytest.TempPathFactory) -> tuple[AuditResult, Path]:
    result = make_result(N_GUESTS, seed=5)
    return result, write_html(result, tmp_path_factory.mktemp("browser") / "report.html")


@pytest.fixture
def page(browser: Any, report: tuple[AuditResult, Path]) -> Iterator[tuple[Any, Events]]:
    events = Events()
    tab = browser.new_page(viewport={"width": 1360, "height": 1000})
    tab.on("console", lambda m: events.errors.append(m.text) if m.type == "error" else None)
    tab.on("pageerror", lambda e: events.errors.append(str(e)))
    tab.on("dialog", lambda d: (events.dialogs.append(d.message), d.dismiss()))
    tab.on("request", lambda r: events.requests.append(r.url))
    tab.goto(report[1].as_uri())
    tab.wait_for_selector("html[data-ready=true]")
    yield tab, events
    tab.close()


def _count(tab: Any) -> int:
    return int(tab.get_attribute("#guest-count", "data-count"))


def _wait_count(tab: Any, n: int) -> None:
    tab.wait_for_selector(f'#guest-count[data-count="{n}"]', state="attached", timeout=10_000)


def _names(tab: Any) -> list[list[str]]:
    return tab.locator("#guest-table tbody tr[data-row]").evaluate_all(
        "rows => rows.map(r => [r.getAttribute('data-row'), r.querySelector('.name').textContent])"
    )


def test_loads_cleanly(page: tuple[Any, Events], report: tuple[AuditResult, Path]) -> None:
    tab, events = page
    assert _count(tab) == N_GUESTS
    assert tab.text_content("#guest-count").startswith("Showing 1–50 of 200 guests")
    assert tab.locator("#guest-table tbody tr[data-row]").count() == 50
    assert tab.evaluate("document.scripts.length") == 2
    assert tab.evaluate("document.querySelectorAll('[onerror], img, iframe').length") == 0
    assert tab.is_visible("#banner-failed")
    assert events.errors == []
    assert events.dialogs == []
    assert [u for u in events.requests if not u.startswith("file://")] == []


def test_search(page: tuple[Any, Events], report: tuple[AuditResult, Path]) -> None:
    tab, events = page
    guests = report[0].guests
    hay = (
        guests["display_name"].fillna("")
        + "\n"
        + guests["user_principal_name"].fillna("")
        + "\n"
        + guests["mail"].fillna("")
    ).str.lower()
    expected = int(hay.str.contains("okafor", regex=False).sum())
    assert 0 < expected < N_GUESTS
    tab.locator("#guest-q").press_sequentially("Okafor")
    _wait_count(tab, expected)
    assert "filtered from 200" in tab.text_content("#guest-count")
    tab.fill("#guest-q", "no-such-guest-anywhere")
    _wait_count(tab, 0)
    assert tab.text_content("#guest-table tbody tr.empty") == "No guests match these filters."
    assert tab.is_disabled("#guest-next")
    tab.click("#guest-clear")
    _wait_count(tab, N_GUESTS)
    assert events.errors == []
    assert events.dialogs == []


def test_filter_by_outcome_rule_and_severity(
    page: tuple[Any, Events], report: tuple[AuditResult, Path]
) -> None:
    tab, events = page
    result = report[0]
    counts = result.outcome_counts()
    blocked = list(Outcome).index(Outcome.BLOCKED)
    tab.select_option("#guest-outcome", str(blocked))
    _wait_count(tab, counts["blocked"])
    labels = tab.locator(
        "#guest-table tbody tr[data-row] td:nth-child(4) .badge"
    ).all_text_contents()
    assert set(labels) == {"Blocked"}
    tab.select_option("#guest-outcome", "")
    tab.select_option("#guest-rule", label="pending-acceptance")
    pending = result.findings[result.findings["rule_id"] == "pending-acceptance"]
    _wait_count(tab, pending["object_id"].nunique())
    tab.select_option("#guest-rule", "")
    tab.select_option("#guest-sev", "info")
    info = result.findings[
        (result.findings["severity"] == "info") & (result.findings["status"] == "flagged")
    ]
    _wait_count(tab, info["object_id"].nunique())
    assert events.errors == []


def test_sort(page: tuple[Any, Events]) -> None:
    tab, events = page
    header = "#guest-table th[data-key=name]"
    tab.click(f"{header} button")
    tab.wait_for_selector(f'{header}[aria-sort="ascending"]')
    ascending = [n for _, n in _names(tab)]
    in_order = tab.evaluate(
        """names => { const c = new Intl.Collator(undefined, {sensitivity: "base", numeric: true});
           return names.every((n, i) => i === 0 || c.compare(names[i - 1], n) <= 0); }""",
        ascending,
    )
    assert in_order
    tab.click(f"{header} button")
    tab.wait_for_selector(f'{header}[aria-sort="descending"]')
    assert [n for _, n in _names(tab)] != ascending
    assert events.errors == []


def test_paging(page: tuple[Any, Events]) -> None:
    tab, _ = page
    tab.click("#guest-next")
    tab.wait_for_selector('#guest-page[data-page="2"]')
    assert tab.text_content("#guest-count").startswith("Showing 51–100 of 200")
    tab.click("#guest-last")
    tab.wait_for_selector('#guest-page[data-page="4"]')
    assert tab.is_disabled("#guest-next")
    assert tab.is_disabled("#guest-last")
    tab.click("#guest-first")
    tab.wait_for_selector('#guest-page[data-page="1"]')


def test_hostile_names_render_as_text(
    page: tuple[Any, Events], report: tuple[AuditResult, Path]
) -> None:
    tab, events = page
    expected = list(report[0].guests["display_name"])
    seen: dict[int, str] = {}
    for number in range(1, N_GUESTS // 50 + 1):
        tab.wait_for_selector(f'#guest-page[data-page="{number}"]')
        seen.update({int(i): name for i, name in _names(tab)})
        if number < N_GUESTS // 50:
            tab.click("#guest-next")
    assert len(seen) == N_GUESTS
    assert [seen[i] for i in range(len(HOSTILE))] == list(HOSTILE)
    assert all(seen[i] == expected[i] for i in range(N_GUESTS))
    tab.click("#guest-first")
    tab.fill("#guest-q", "alert(2)")
    _wait_count(tab, 1)
    tab.click("#guest-table tbody tr[data-row] .toggle")
    detail = tab.locator("#guest-table tr.detail dd").first.text_content()
    assert detail == "</script><script>alert(2)</script>"
    assert events.dialogs == []
    assert events.errors == []
    assert tab.evaluate("document.scripts.length") == 2


def test_dark_mode_and_artifacts(browser: Any, report: tuple[AuditResult, Path]) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    for scheme, name in (("light", "report.png"), ("dark", "report-dark.png")):
        tab = browser.new_page(viewport={"width": 1360, "height": 1400}, color_scheme=scheme)
        tab.goto(report[1].as_uri())
        tab.wait_for_selector("html[data-ready=true]")
        background = tab.evaluate("getComputedStyle(document.body).backgroundColor")
        assert (background == "rgb(15, 20, 25)") == (scheme == "dark"), background
        tab.screenshot(path=str(ARTIFACTS / name))
        if scheme == "light":
            tab.emulate_media(media="print")
            tab.pdf(path=str(ARTIFACTS / "report.pdf"), format="A4")
        tab.close()
    assert (ARTIFACTS / "report.png").stat().st_size > 10_000
    assert (ARTIFACTS / "report.pdf").read_bytes().startswith(b"%PDF")
