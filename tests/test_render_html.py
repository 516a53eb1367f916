"""report.html: self-contained, every hostile string escaped, data block cannot be broken out of."""

from __future__ import annotations

import base64
import hashlib
import json
import re
from dataclasses import replace
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest

from audit.analysis.result import AuditResult
from audit.render import write_html
from audit.render.html import embed_json
from tests.factories import HOSTILE, make_result


class _Page(HTMLParser):
    """Every start tag with its attributes, and the text of each <script> and <style>."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.raw: dict[int, str] = {}
        self.text: list[str] = []
        self._open: int | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))
        if tag in ("script", "style"):
            self._open = len(self.tags) - 1
            self.raw[self._open] = ""

    def handle_endtag(self, tag: str) -> None:
        if tag in ("script", "style"):
            self._open = None

    def handle_data(self, data: str) -> None:
        if self._open is not None:
            self.raw[self._open] += data
        else:
            self.text.append(data)

    def elements(self, tag: str) -> list[tuple[dict[str, str | None], str]]:
        return [(a, self.raw.get(i, "")) for i, (t, a) in enumerate(self.tags) if t == tag]


@pytest.fixture(scope="module")
def result() -> AuditResult:
    return make_result(80, seed=4)


@pytest.fixture(scope="module")
def html(result: AuditResult, tmp_path_factory: pytest.TempPathFactory) -> str:
    path = write_html(result, tmp_path_factory.mktemp("html") / "report.html")
    return path.read_text(encoding="utf-8")


@pytest.fixture(scope="module")
def page(html: str) -> _Page:
    parser = _Page()
    parser.feed(html)
    parser.close()
    return parser


def _data(page: _Page) -> dict[str, Any]:
    blocks = [raw for attrs, raw in page.elements("script") if attrs.get("id") == "data"]
    assert len(blocks) == 1
    return json.loads(blocks[0])


def test_only_our_two_scripts(page: _Page) -> None:
    scripts = page.elements("script")
    assert len(scripts) == 2
    assert scripts[0][0] == {"type": "application/json", "id": "data"}
    assert scripts[1][0] == {}


def test_no_injected_elements_or_handlers(page: _Page) -> None:
    for tag, attrs in page.tags:
        assert tag not in ("img", "iframe", "object", "embed", "b", "link"), tag
        assert not any(name.startswith("on") for name in attrs), (tag, attrs)
        for name in ("src", "href", "action"):
            value = attrs.get(name) or ""
            assert not re.match(r"\s*(https?:|//|javascript:)", value, re.I), (tag, attrs)


def test_hostile_text_is_shown_as_text(page: _Page) -> None:
    text = "".join(page.text)
    assert "Contoso <img src=x onerror=alert(3)>" in text
    assert "Atlassian Cloud </script>" in text
    assert "403 Forbidden <script>alert('err')</script>" in text


def test_script_payload_stays_inside_the_json_block(html: str, page: _Page) -> None:
    assert "</script><script>alert(2)</script>" not in html
    assert html.count("</script>") == 2
    block = next(raw for attrs, raw in page.elements("script") if attrs.get("id") == "data")
    assert "<" not in block
    assert ">" not in block
    assert "&" not in block
    assert "\\u003c/script\\u003e\\u003cscript\\u003ealert(2)" in block


def test_payload_round_trips_hostile_names(page: _Page, result: AuditResult) -> None:
    data = _data(page)
    guests = data["guests"]
    assert guests["name"][: len(HOSTILE)] == list(HOSTILE)
    assert guests["id"] == list(result.guests["object_id"])
    at = guests["at"]
    locals_ = [  # 0: the mail's #EXT# form, rebuilt as the page does
        f"{m}_{at[mc]}#EXT#" if u == 0 else u
        for u, m, mc in zip(guests["upn"], guests["mail"], guests["mail_at"], strict=True)
    ]
    upns = [u if c < 0 else f"{u}@{at[c]}" for u, c in zip(locals_, guests["upn_at"], strict=True)]
    assert 0 in guests["upn"]  # the factory's guests mostly have the usual #EXT# UPN
    assert upns == list(result.guests["user_principal_name"])
    mails = [
        m if c < 0 else f"{m}@{at[c]}"
        for m, c in zip(guests["mail"], guests["mail_at"], strict=True)
    ]
    assert mails == [None if m != m else m for m in result.guests["mail"].astype(object)]
    outcomes = [data["outcomes"][c] for c in guests["outcome"]]
    assert outcomes == list(result.outcomes["outcome"])
    rule_ids = [r["id"] for r in data["rules"]]
    flagged = result.findings[
        (result.findings["status"] == "flagged") & (result.findings["level"] == "guest")
    ]
    first = flagged.iloc[0]
    row = list(result.guests["object_id"]).index(first["object_id"])
    assert first["rule_id"] in [rule_ids[c] for c in guests["flagged"][row]]


def test_embed_json_escapes_everything_that_could_close_the_block() -> None:
    raw = embed_json({"x": "</script><!-- & \u2028\u2029 >"}).decode()
    assert raw == ('{"x":"\\u003c/script\\u003e\\u003c!-- \\u0026 \\u2028\\u2029 \\u003e"}')
    assert json.loads(raw) == {"x": "</script><!-- & \u2028\u2029 >"}


def test_self_contained_with_strict_csp(page: _Page, html: str) -> None:
    metas = [a for t, a in page.tags if t == "meta" and a.get("http-equiv")]
    csp = metas[0]["content"] or ""
    assert "default-src 'none'" in csp
    script = next(raw for attrs, raw in page.elements("script") if not attrs)
    style = page.elements("style")[0][1]
    for text in (script, style):
        digest = base64.b64encode(hashlib.sha256(text.encode()).digest()).decode()
        assert f"'sha256-{digest}'" in csp
    assert "unsafe-inline" not in csp
    assert "style=" not in re.sub(r"<script.*?</script>", "", html, flags=re.S)
    assert not re.search(r"(src|href)=\"https?:", html)
    assert "@import" not in style
    assert "url(" not in style


def test_summary_content(page: _Page, result: AuditResult) -> None:
    text = " ".join(page.text)
    assert "Incomplete audit" in text
    assert "AuditLog.Read.All" in text
    assert "prior-provisioning-failure" in text
    assert f"makes {result.whatif.newly_ready} more guests ready" in text  # type: ignore[union-attr]
    ids = {a.get("id") for _, a in page.tags}
    assert {"summary", "rules", "domains", "guests", "sources", "banner-failed"} <= ids
    assert any(t == "svg" and a.get("class") == "donut" for t, a in page.tags)


def test_no_failed_source_no_red_banner(result: AuditResult, tmp_path: Path) -> None:
    sources = [s for s in result.sources if s.state.value in ("ok", "not_requested")]
    html = write_html(replace(result, sources=sources, whatif=None), tmp_path / "r.html")
    text = html.read_text(encoding="utf-8")
    assert 'id="banner-failed"' not in text
    assert "No what-if evaluation" in text


def test_empty_result_renders(tmp_path: Path) -> None:
    path = write_html(make_result(0), tmp_path / "empty.html")
    parser = _Page()
    parser.feed(path.read_text(encoding="utf-8"))
    assert _data(parser)["guests"]["id"] == []


def test_times_read_as_minutes_in_utc_with_the_full_time_in_the_element(tmp_path: Path) -> None:
    from datetime import UTC, datetime

    stamp = datetime(2026, 11, 27, 3, 32, 51, 485987, tzinfo=UTC)
    result = replace(make_result(3), generated_at=stamp, collected_at=stamp)
    html = write_html(result, tmp_path / "r.html").read_text(encoding="utf-8")
    assert '<time datetime="2026-11-27T03:32:51.485987Z">2026-11-27 03:32 UTC</time>' in html
    assert "at 2026-11-27 03:32 UTC" in html
    assert ">2026-11-27T03:32:51.485987Z<" not in html
