"""The compact HTML summary a result shows as a Jupyter cell's value (``AuditResult._repr_html_``).

Outcomes, what-if, failed sources and top rules; every value that comes from the tenant is escaped:
display names and domains are hostile input.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from html import escape
from typing import TYPE_CHECKING, Any

from audit.analysis.summary import whatif_sentence

if TYPE_CHECKING:
    from audit.analysis.result import AuditResult

__all__ = ["result_html"]

_TOP_RULES = 5
_PROBLEM_STATES = ("failed", "partial")


def result_html(result: AuditResult) -> str:
    """The compact HTML summary of an analysis shown by ``AuditResult._repr_html_``."""
    parts = [
        _headline(result),
        _outcome_table(result),
        _p(_whatif_text(result)),
        _sources(result),
        _top_rules(result),
        _footer(result),
    ]
    return '<div class="b2b-preflight-result">' + "".join(parts) + "</div>"


def _e(value: object) -> str:
    return escape(str(value), quote=True)


def _p(text: str, style: str = "") -> str:
    attr = f' style="{style}"' if style else ""
    return f"<p{attr}>{text}</p>" if text else ""


def _headline(result: AuditResult) -> str:
    tenant = result.tenant
    name = tenant.get("name") or tenant.get("id") or "unknown tenant"
    domain = tenant.get("initial_domain")
    where = f"<b>{_e(name)}</b>" + (f" ({_e(domain)})" if domain else "")
    app = result.app.get("displayName") or "app not collected"
    when = _stamp(result.collected_at or result.generated_at)
    return _p(
        f"<b>AuditResult</b>: {where} &rarr; target <b>{_e(result.target)}</b> "
        f"(app {_e(app)}), {len(result.guests):,} guests, collected {_e(when)}"
    )


def _stamp(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%d %H:%M %Z").strip()


def _outcome_table(result: AuditResult) -> str:
    counts = result.outcome_counts()
    after = result.whatif.after if result.whatif else None
    head = "<tr><th>outcome</th><th>guests</th>"
    head += "<th>with recommended mapping</th></tr>" if after is not None else "</tr>"
    rows = "".join(
        f"<tr><td>{_e(outcome)}</td><td>{n:,}</td>"
        + (f"<td>{after.get(outcome, 0):,}</td></tr>" if after is not None else "</tr>")
        for outcome, n in counts.items()
    )
    return f"<table>{head}{rows}</table>"


def _whatif_text(result: AuditResult) -> str:
    return _e(whatif_sentence(result.whatif))


def _sources(result: AuditResult) -> str:
    """Failed and partial sources, in red: they must not be missed."""
    bad = [s for s in result.sources if s.state.value in _PROBLEM_STATES]
    if not bad:
        return ""
    items = "; ".join(
        f"{_e(s.name)} {_e(s.state.value)}"
        + (f": {_e(s.missing_permission or s.error)}" if s.missing_permission or s.error else "")
        for s in bad
    )
    return _p(f"<b>Sources not fully collected:</b> {items}", "color:#b00020")


def _top_rules(result: AuditResult) -> str:
    rules = result.rules
    if rules.empty:
        return ""
    ranked = rules[rules["flagged"] > 0].sort_values(
        ["flagged", "rule_id"], ascending=[False, True]
    )
    top = ranked.head(_TOP_RULES)
    columns = (top[c].tolist() for c in ("rule_id", "severity", "flagged", "muted"))
    rows = "".join(
        f"<tr><td>{_e(rule)}</td><td>{_e(severity)}</td><td>{int(n):,}</td><td>{int(m):,}</td></tr>"
        for rule, severity, n, m in zip(*columns, strict=True)
    )
    skipped = rules[rules["state"] == "skipped"]
    note = _skipped(zip(skipped["rule_id"], skipped["reason"], strict=True))
    if not rows:
        return note
    head = "<tr><th>top rules</th><th>severity</th><th>open</th><th>muted</th></tr>"
    return f"<table>{head}{rows}</table>{note}"


def _skipped(pairs: Iterable[tuple[Any, Any]]) -> str:
    text = "; ".join(f"{_e(rule)} ({_e(reason)})" for rule, reason in pairs)
    return _p(f"<b>Skipped rules:</b> {text}") if text else ""


def _footer(result: AuditResult) -> str:
    open_count = len(result.open_findings())
    muted = len(result.findings) - open_count
    return _p(
        f"{open_count:,} open findings, {muted:,} muted. Tables: <code>.findings</code>, "
        "<code>.outcomes</code>, <code>.guests</code>, <code>.domains</code>, <code>.rules</code>."
    )
