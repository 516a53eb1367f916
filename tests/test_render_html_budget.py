"""report.html under its row and byte budgets: past them the page embeds the guests with the
most severe open findings, says how many of how many, and every summary figure still counts
everyone. Small caps keep these fast; the real budgets are checked by bench/bench_pipeline.py."""

from __future__ import annotations

import json
import re
from dataclasses import replace
from pathlib import Path
from typing import Any

import lxml.html  # type: ignore[import-untyped]
import numpy as np
import pandas as pd
import pytest

from audit.analysis.result import AuditResult
from audit.render import write_html
from audit.render._common import SEVERITIES
from audit.render._html_select import OUTCOME_ORDER
from audit.render.html import DATA_BYTES, GUEST_ROWS, embedded_data
from tests.factories import make_result

N = 300


@pytest.fixture(scope="module")
def result() -> AuditResult:
    return make_result(N, seed=5)


def _write(
    result: AuditResult, path: Path, *, max_rows: int = GUEST_ROWS, max_bytes: int = DATA_BYTES
) -> tuple[Any, dict[str, Any], bytes]:
    """The parsed page, its data block as JSON, and the block's raw bytes."""
    write_html(result, path, max_rows=max_rows, max_bytes=max_bytes)
    raw = path.read_bytes()
    found = re.search(rb'<script type="application/json" id="data">(.*?)</script>', raw, re.S)
    assert found is not None
    return lxml.html.fromstring(raw.decode("utf-8")), json.loads(found.group(1)), found.group(1)


def _id(name: str) -> str:
    return f'//*[@id="{name}"]'


def _text(page: Any, xpath: str) -> str:
    nodes = page.xpath(xpath)
    assert nodes, xpath
    return " ".join(" ".join(n.text_content().split()) for n in nodes)


def _number(text: str) -> int:
    return int(text.replace(",", ""))


def _open(result: AuditResult) -> pd.DataFrame:
    f = result.findings
    return f[(f["status"] == "flagged") & (f["level"] == "guest")]


def _expected_order(result: AuditResult) -> list[str]:
    """Guest ids with open findings: worst outcome (blocked, unmanaged, unknown, out of scope,
    ready), worst severity, most findings, table order (the spec)."""
    rank = {s: i for i, s in enumerate(SEVERITIES)}
    per = _open(result).assign(rank=lambda d: d["severity"].map(rank))
    agg = per.groupby("object_id")["rank"].agg(["min", "size"])
    guests = result.guests[["object_id"]].reset_index(drop=True)
    guests["pos"] = range(len(guests))
    outcome_rank = {o: i for i, o in enumerate(OUTCOME_ORDER)}
    outcomes = result.outcomes.drop_duplicates("object_id").set_index("object_id")["outcome"]
    guests["worst"] = guests["object_id"].map(outcomes).map(outcome_rank).fillna(9)
    guests = guests.join(agg, on="object_id").dropna(subset=["min"])
    guests = guests.sort_values(
        ["worst", "min", "size", "pos"], ascending=[True, True, False, True]
    )
    return list(guests["object_id"])


def _summary_matches(page: Any, result: AuditResult) -> None:
    """Every summary figure counts all guests, whatever the table embeds."""
    assert _number(_text(page, _id("kpi-all") + '/div[@class="v"]')) == len(result.guests)
    for outcome, count in result.outcome_counts().items():
        assert _number(_text(page, _id(f"kpi-{outcome}") + '/div[@class="v"]')) == count
    sev = _text(page, _id("severity-guests"))
    flagged = _open(result)
    for severity in SEVERITIES:
        guests = flagged.loc[flagged["severity"] == severity, "object_id"].nunique()
        assert f"{severity} {guests:,}" in sev  # guests, not findings
    for rule_id, flagged_count in zip(
        result.rules["rule_id"], result.rules["flagged"], strict=True
    ):
        counts = page.xpath(_id(f"rule-{rule_id}") + '//div[@class="counts"]//strong')
        if counts:
            assert _number(counts[0].text_content()) == int(flagged_count)


def test_defaults_hold_the_issue_budgets() -> None:
    assert GUEST_ROWS >= 100_000  # 100,000 guests keep the full table
    assert DATA_BYTES <= 22 * 2**20  # leaves room for the summary under 25 MB


def test_under_the_budget_every_guest_is_embedded(result: AuditResult, tmp_path: Path) -> None:
    page, data, _ = _write(result, tmp_path / "r.html", max_rows=N)
    assert data["guests"]["id"] == list(result.guests["object_id"])
    assert not page.xpath(_id("guest-subset"))
    assert not page.xpath(_id("subset-note"))
    section = page.xpath(_id("guests"))[0]
    assert section.get("data-embedded") == section.get("data-total") == str(N)
    _summary_matches(page, result)


def test_over_the_row_budget_the_worst_guests_are_embedded(
    result: AuditResult, tmp_path: Path
) -> None:
    cap = 40
    page, data, _ = _write(result, tmp_path / "r.html", max_rows=cap)
    embedded = data["guests"]["id"]
    order = _expected_order(result)
    assert 0 < cap < len(order) < N
    assert set(embedded) == set(order[:cap])
    table_order = [i for i in result.guests["object_id"] if i in set(embedded)]
    assert embedded == table_order  # rows stay in table order; the page sorts them
    # the embedded guests carry all their findings, open and muted
    rules = [r["id"] for r in data["rules"]]
    shown = {
        (gid, rules[c])
        for gid, codes in zip(embedded, data["guests"]["flagged"], strict=True)
        for c in codes
    }
    opened = _open(result)
    opened = opened[opened["object_id"].isin(embedded)]
    assert shown == set(zip(opened["object_id"], opened["rule_id"], strict=True))
    # the page says so, with the numbers, and points to the complete files
    notice = _text(page, _id("guest-subset"))
    assert f"This page lists {cap} of {N} guests" in notice
    assert f"The other {N - cap} guests are left out of this page" in notice
    assert f"({len(order)} guests have open findings)" in notice
    for name in ("report.xlsx", "guests.csv", "findings.csv"):
        assert name in notice
    assert f"lists {cap} of {N} guests" in _text(page, _id("subset-note"))
    section = page.xpath(_id("guests"))[0]
    assert (section.get("data-embedded"), section.get("data-total")) == (str(cap), str(N))
    assert len(data["domains"]["domain"]) == len(result.domains)  # domains all fit
    _summary_matches(page, result)


def test_when_every_open_guest_fits_the_notice_says_so(result: AuditResult, tmp_path: Path) -> None:
    n_open = len(_expected_order(result))
    page, data, _ = _write(result, tmp_path / "r.html", max_rows=n_open)
    assert len(data["guests"]["id"]) == n_open
    notice = _text(page, _id("guest-subset"))
    assert f"only the {n_open} guests with open findings" in notice
    assert f"The other {N - n_open} guests" in notice


def test_over_the_byte_budget_the_data_block_fits(result: AuditResult, tmp_path: Path) -> None:
    _, _, full = _write(result, tmp_path / "full.html", max_rows=N)
    budget = len(full) // 3
    page, data, raw = _write(result, tmp_path / "r.html", max_rows=N, max_bytes=budget)
    assert len(raw) <= budget
    kept = len(data["guests"]["id"])
    assert 0 < kept < len(_expected_order(result))
    assert set(data["guests"]["id"]) == set(_expected_order(result)[:kept])
    assert f"This page lists {kept} of {N} guests" in _text(page, _id("guest-subset"))
    _summary_matches(page, result)


def test_embedded_data_reports_what_it_holds(result: AuditResult) -> None:
    data, embedded = embedded_data(result, max_rows=10, max_bytes=10**9)
    assert (embedded.guests, embedded.guests_total) == (10, N)
    assert not embedded.complete
    assert len(json.loads(data)["guests"]["id"]) == 10
    _, everything = embedded_data(result, max_rows=N, max_bytes=10**9)
    assert everything.complete


def test_domains_past_the_budget_keep_the_most_affected(
    result: AuditResult, tmp_path: Path
) -> None:
    cap = 5
    assert len(result.domains) > cap
    page, data, _ = _write(result, tmp_path / "r.html", max_rows=cap)
    top = result.domains.sort_values(["affected", "guests"], ascending=False, kind="stable")
    assert set(data["domains"]["domain"]) == set(top["domain"].head(cap))
    assert f"{cap} domains with the most affected guests, of {len(result.domains)}" in _text(
        page, _id("domain-subset")
    )


def test_missing_and_repeated_ids_do_not_break_the_selection(
    result: AuditResult, tmp_path: Path
) -> None:
    guests = result.guests.copy()
    ids = guests["object_id"].astype(object).to_numpy().copy()
    ids[0] = None
    ids[2] = ids[1]
    guests["object_id"] = ids
    odd = replace(result, guests=guests)
    _, data, _ = _write(odd, tmp_path / "r.html", max_rows=20)
    assert len(data["guests"]["id"]) == 20
    assert None not in data["guests"]["id"]


def test_nothing_open_and_over_budget_embeds_no_guest_but_says_so(
    result: AuditResult, tmp_path: Path
) -> None:
    quiet = replace(result, findings=result.findings.iloc[0:0])
    page, data, _ = _write(quiet, tmp_path / "r.html", max_rows=10)
    assert data["guests"]["id"] == []
    assert f"This page lists 0 of {N} guests" in _text(page, _id("guest-subset"))


def test_negative_budgets_are_refused(result: AuditResult, tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="max_rows"):
        write_html(result, tmp_path / "r.html", max_rows=-1)
    assert not (tmp_path / "r.html").exists()


def test_selection_scales_linearly() -> None:
    """3,000 guests, cap 1,000: the vectorised selection agrees with the plain pandas spec."""
    big = make_result(3000, seed=9, hostile=False)
    data, embedded = embedded_data(big, max_rows=1000, max_bytes=10**9)
    ids = json.loads(data)["guests"]["id"]
    assert set(ids) == set(_expected_order(big)[:1000])
    assert embedded.guests == 1000
    assert np.all(np.diff([list(big.guests["object_id"]).index(i) for i in ids]) > 0)


@pytest.mark.browser
def test_subset_page_in_a_browser(result: AuditResult, tmp_path: Path) -> None:
    """The capped page loads cleanly, states the cut in the table's count, and filters work."""
    import os

    from tests.test_render_browser import ARGS, CHROMIUM, _missing

    reason = _missing()
    if reason:
        if os.environ.get("CI") == "true":
            pytest.fail(f"browser test cannot run in CI: {reason}")
        pytest.skip(reason)
    from playwright.sync_api import sync_playwright

    cap = 60
    path = write_html(result, tmp_path / "r.html", max_rows=cap)
    errors: list[str] = []
    with sync_playwright() as driver:
        browser = driver.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
        try:
            tab = browser.new_page(viewport={"width": 1360, "height": 1000})
            tab.on("pageerror", lambda e: errors.append(str(e)))
            tab.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
            tab.goto(path.as_uri())
            tab.wait_for_selector("html[data-ready=true]")
            assert tab.is_visible("#guest-subset")
            count = tab.text_content("#guest-count") or ""
            assert count.startswith(f"Showing 1–50 of {cap} guests")
            assert f"this page holds {cap} of {N} guests" in count
            assert tab.locator("#guest-table tbody tr[data-row]").count() == 50
            tab.fill("#guest-q", "no-such-guest-anywhere")
            tab.wait_for_selector('#guest-count[data-count="0"]', state="attached")
            assert f"({cap} in total) · this page holds" in (tab.text_content("#guest-count") or "")
            tab.click("#guest-clear")
            tab.wait_for_selector(f'#guest-count[data-count="{cap}"]', state="attached")
        finally:
            browser.close()
    assert errors == []
