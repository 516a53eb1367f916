"""Helpers for exploring in Jupyter: the HTML summary of a result, and the demo tenant in-process.

``AuditResult._repr_html_`` calls :func:`result_html`, so a result shown as a cell's value renders
as a compact summary (outcomes, what-if, failed sources, top rules). Every value that comes from
the tenant is escaped: display names and domains are hostile input.

:func:`collect_demo` runs the real collectors against the demo tenant served on loopback, with
``await`` (notebooks already run an event loop)::

    from audit.demo.tenant import generate_tenant
    from audit.notebook import collect_demo, demo_config

    tenant = generate_tenant(300, 40, seed=7)
    snapshot = await collect_demo(tenant, folder="work")
    result = audit.analyze(snapshot, demo_config(tenant))
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from datetime import datetime
from html import escape
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from audit.config import AuditConfig
    from audit.demo.model import DemoTenant
    from audit.result import AuditResult
    from audit.snapshot import Snapshot

__all__ = ["collect_demo", "demo_config", "result_html"]

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
    from audit.render._common import whatif_sentence

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


def demo_config(tenant: DemoTenant, **overrides: Any) -> AuditConfig:
    """The configuration the demo uses: the tenant's verified domains and tokens (plus overrides)."""
    from audit.config import AuditConfig

    values: dict[str, Any] = {
        "verified_domains": tuple(tenant.verified_in_target),
        "verification_tokens": tuple(tenant.verification_tokens),
    }
    return AuditConfig(**(values | overrides))


async def collect_demo(
    tenant: DemoTenant,
    *,
    folder: str | os.PathLike[str],
    now: datetime | None = None,
    config: AuditConfig | None = None,
    latency: float = 0.0,
) -> Snapshot:
    """Serve ``tenant`` on loopback (Graph emulator and DNS) and collect it with the real collectors.

    ``folder`` receives the tenant's Get-MailUser CSV. ``now`` defaults to the tenant's own clock
    (:func:`audit.demo.evolve.tenant_clock`), so evolved tenants are collected "months later".
    """
    from audit.demo.evolve import tenant_clock
    from audit.demo.run import serve, write_mailusers_csv
    from audit.pipeline import CollectOptions, collect

    out = Path(folder)
    out.mkdir(parents=True, exist_ok=True)
    mailusers = write_mailusers_csv(tenant, out / "mailusers.csv")
    with serve(tenant, latency=latency) as (graph_url, nameserver):
        options = CollectOptions(
            graph_url=graph_url,
            auth="none",
            include_sign_in=True,
            nameservers=(nameserver,),
            dns_timeout=1.0,
            mailusers=str(mailusers),
        )
        return await collect(options, config=config, now=now or tenant_clock(tenant))
