"""``report.html``: one self-contained page for the steering meeting (no CDN, opens offline).

The summary (sources, outcomes, what-if, findings by rule, top domains) is rendered server-side
by jinja2 with autoescaping. Guests and domains travel as one columnar JSON payload inside
``<script type="application/json">``, where ``<``, ``>``, ``&`` and U+2028/U+2029 are written as
``\\u003c``-style escapes so no tenant string can close the element; the page script renders
table cells with ``textContent`` only. Strings that repeat (rule ids, domains, outcomes) are
dictionary-encoded, and a target e-mail equal to ``mail`` is sent as ``0``, which keeps 100,000
guests far below 25 MB. Larger tenants keep the page under its budget: past ``max_rows`` guests
(or ``max_bytes`` of data) the page embeds only the guests with open findings, most severe
first, says so where the table is, and points to report.xlsx and the CSVs for the rest; the
summary, rules and domain counts always cover every guest. A Content-Security-Policy with the
hashes of the one inline script and style blocks every other script, handler and network
request, as a second line of defence.
"""

from __future__ import annotations

import base64
import hashlib
import os
import secrets
from collections.abc import Callable
from dataclasses import asdict, dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import jinja2
import numpy as np
import pandas as pd
from markupsafe import Markup

from audit._values import column, iso_utc, py_values
from audit.analysis.result import AuditResult
from audit.analysis.summary import whatif_sentence
from audit.render._common import (
    OUTCOMES,
    SEVERITIES,
    app_name,
    atomic_path,
    diff_counts,
    diff_since,
    findings_by_severity,
    guest_view,
    problem_sources,
    skipped_rules,
    target_label,
    tenant_name,
)
from audit.render._html_select import (
    GuestIndex,
    domain_selection,
    guest_subset,
    open_guests_by_severity,
)
from audit.render.json_out import RULE_FIELDS, dumps
from audit.render.json_out import records as json_records

__all__ = ["DATA_BYTES", "GUEST_ROWS", "Embedded", "embed_json", "embedded_data", "write_html"]

TEMPLATES = Path(__file__).parent / "templates"
"""Folder of the page template and its inline CSS and script."""

_ESCAPES = (
    (b"<", b"\\u003c"),
    (b">", b"\\u003e"),
    (b"&", b"\\u0026"),
    ("\u2028".encode(), b"\\u2028"),
    ("\u2029".encode(), b"\\u2029"),
)
GUEST_ROWS = 100_000
"""Guests (and domains) embedded whole up to this many rows; past it, only guests with open
findings, most severe first. 100,000 rows load in about 1.5 s and sort in under 0.5 s in
Chromium on two cores."""

DATA_BYTES = 20 * 2**20
"""Budget of the embedded JSON: the page stays under 25 MB with the summary around it."""

_OUTCOME_LABELS = {
    "ready": "Ready",
    "unmanaged": "Unmanaged",
    "blocked": "Blocked",
    "out_of_scope": "Out of scope",
    "unknown": "Unknown",
}


@dataclass(frozen=True)
class Embedded:
    """Which rows the page's tables hold, against how many the result has."""

    guests: int
    guests_total: int
    open_guests: int  # guests with at least one open finding, in the whole result
    domains: int
    domains_total: int

    @property
    def complete(self) -> bool:
        """True when the page holds every guest and every domain."""
        return self.guests == self.guests_total and self.domains == self.domains_total

    def to_dict(self) -> dict[str, Any]:
        """The figures for the template and the page script."""
        return asdict(self) | {"complete": self.complete}


def write_html(
    result: AuditResult,
    path: str | os.PathLike[str],
    *,
    templates: Path = TEMPLATES,
    max_rows: int = GUEST_ROWS,
    max_bytes: int = DATA_BYTES,
) -> Path:
    """Write ``report.html`` for ``result`` to ``path`` and return the path.

    Every guest is embedded when there are at most ``max_rows`` and their data fits in
    ``max_bytes``; otherwise the guests with open findings, most severe first, as many as fit
    both. The page states how many rows it holds; the summary always counts every guest.
    """
    if max_rows < 0 or max_bytes < 0:
        raise ValueError("max_rows and max_bytes must not be negative")
    data, embedded = embedded_data(result, max_rows=max_rows, max_bytes=max_bytes)
    # The payload (up to tens of MB) is spliced in as bytes instead of going through jinja; the
    # marker is random, so no tenant string can imitate it, and it is the last one in the page.
    marker = f"b2b-preflight-data-{secrets.token_hex(16)}"
    head, found, tail = _page(result, templates, marker, embedded).rpartition(marker)
    if not found:
        raise RuntimeError("report template lost the data marker")
    with atomic_path(path) as tmp, tmp.open("wb") as handle:
        handle.write(head.encode("utf-8", "replace"))
        handle.write(data)
        handle.write(tail.encode("utf-8", "replace"))
    return Path(path)


def embedded_data(
    result: AuditResult, *, max_rows: int = GUEST_ROWS, max_bytes: int = DATA_BYTES
) -> tuple[bytes, Embedded]:
    """The escaped JSON data block within both budgets, and what it holds."""
    guests = len(result.guests)
    domain_rows = domain_selection(result.domains, max_rows)
    index = GuestIndex.of(result)
    priority = open_guests_by_severity(result, index)

    def encode(rows: np.ndarray | None) -> bytes:
        subset = None if rows is None else guest_subset(result, index, rows)
        return embed_json(payload(result, guests=subset, domain_rows=domain_rows))

    rows = None if guests <= max_rows else priority[:max_rows]
    data = encode(rows)
    if len(data) > max_bytes:  # cut to the worst guests that fit (everyone does not)
        rows, data = _fit(priority[:max_rows] if rows is None else rows, encode, max_bytes)
    domains_total = len(result.domains)
    embedded = Embedded(
        guests=guests if rows is None else len(rows),
        guests_total=guests,
        open_guests=len(priority),
        domains=domains_total if domain_rows is None else len(domain_rows),
        domains_total=domains_total,
    )
    return data, embedded


def _fit(
    rows: np.ndarray, encode: Callable[[np.ndarray], bytes], max_bytes: int
) -> tuple[np.ndarray, bytes]:
    """The longest prefix of ``rows`` (found in a few encodings) whose data fits ``max_bytes``.

    Rows cost about the same each: cut to the estimate, a little under, until it fits.
    """
    data = encode(rows)
    fixed = len(encode(rows[:0]))  # what the page carries without a guest: rules, domains
    while len(data) > max_bytes and len(rows):
        per_row = max(len(data) - fixed, 1) / len(rows)
        keep = min(len(rows) - 1, int((max_bytes - fixed) / per_row * 0.98))
        rows = rows[: max(keep, 0)]
        data = encode(rows)
    return rows, data


def _page(result: AuditResult, templates: Path, marker: str, embedded: Embedded) -> str:
    """The page with ``marker`` where the data goes (autoescaped, undefined names fail)."""
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(templates),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    css = (templates / "_report.css").read_text(encoding="utf-8")
    script = (templates / "_report.js").read_text(encoding="utf-8")
    return env.get_template("report.html.j2").render(
        **context(result),
        css=Markup(css),  # our own files, inserted verbatim so the CSP hashes match
        script=Markup(script),
        csp=Markup(_csp(css, script)),
        data=marker,
        embedded=embedded.to_dict(),
    )


def embed_json(document: Any) -> bytes:
    """JSON bytes safe inside ``<script type="application/json">``: no ``</script>``, no ``<!--``.

    ``<``, ``>`` and ``&`` become ``\\u003c``-style escapes (still the same JSON strings), and so do
    U+2028/U+2029, which older JavaScript parsers treat as line ends.
    """
    data = dumps(document)
    for raw, escaped in _ESCAPES:
        data = data.replace(raw, escaped)
    return data


def _csp(css: str, script: str) -> str:
    """A Content-Security-Policy allowing only our inline style and script, nothing remote."""
    return (
        "default-src 'none'; "
        f"style-src {_sha256(css)}; script-src {_sha256(script)}; "
        "img-src data:; base-uri 'none'; form-action 'none'"
    )


def _sha256(text: str) -> str:
    """A CSP source expression for an inline element with exactly ``text`` inside."""
    digest = hashlib.sha256(text.encode("utf-8")).digest()
    return f"'sha256-{base64.b64encode(digest).decode('ascii')}'"


def _time_label(value: datetime | None) -> str | None:
    """``2026-11-27 03:32 UTC``: what a reader needs (the ``<time>`` element keeps the full ISO)."""
    stamp = iso_utc(value)
    return f"{stamp[:10]} {stamp[11:16]} UTC" if stamp else None


def context(result: AuditResult) -> dict[str, Any]:
    """Everything the summary part of the template shows, as plain values."""
    counts = result.outcome_counts()
    return {
        "tenant": tenant_name(result),
        "tenant_id": str(result.tenant.get("id") or ""),
        "target": result.target,
        "target_label": target_label(result),
        "app": app_name(result),
        "version": result.tool_version,
        "generated_at": iso_utc(result.generated_at),
        "collected_at": iso_utc(result.collected_at),
        "generated_label": _time_label(result.generated_at),
        "collected_label": _time_label(result.collected_at),
        "guests": len(result.guests),
        "outcomes": _outcome_rows(counts),
        "donut": _donut(counts),
        "whatif": _whatif(result),
        "severity_counts": findings_by_severity(result),
        "muted_counts": findings_by_severity(result, "muted"),
        "rules": _rule_rows(result),
        "top_domains": _top_domains(result.domains),
        "sources": [s.to_dict() for s in result.sources],
        "problem_sources": problem_sources(result),
        "skipped_rules": skipped_rules(result),
        "app_findings": _app_findings(result.findings),
        "changes": _changes(result.diff),
    }


CHANGES_LIMIT = 10
"""Rows per table of the "Changes since" section; the rest is counted ("and N more")."""

_CHANGE_FINDING_FIELDS = ("rule_id", "severity", "user_principal_name", "display_name", "detail")
_CHANGE_OUTCOME_FIELDS = ("user_principal_name", "display_name", "old_outcome", "new_outcome")


def _changes(diff: Any) -> dict[str, Any] | None:
    """The "Changes since <date>" section: counts and capped tables (None without a diff)."""
    if diff is None:
        return None
    return {
        "since": diff_since(diff),
        "since_iso": iso_utc(diff.old.when),
        "counts": diff_counts(diff),
        "warnings": list(diff.warnings),
        "tables": [
            _capped("New findings", diff.new_findings, _CHANGE_FINDING_FIELDS),
            _capped("Fixed findings", diff.fixed_findings, _CHANGE_FINDING_FIELDS),
            _capped(
                "Exceptions expired",
                diff.exceptions_expired,
                (*_CHANGE_FINDING_FIELDS[:4], "exception"),
            ),
            _capped(
                "Not re-checked (rule skipped or data unknown)",
                diff.not_rechecked,
                (*_CHANGE_FINDING_FIELDS[:4], "why"),
            ),
        ],
        "outcomes": _capped("Outcome changes", diff.outcome_changes, _CHANGE_OUTCOME_FIELDS),
    }


def _capped(title: str, frame: pd.DataFrame, fields: tuple[str, ...]) -> dict[str, Any]:
    """The first :data:`CHANGES_LIMIT` rows of ``frame`` and how many more there are."""
    return {
        "title": title,
        "rows": json_records(frame.head(CHANGES_LIMIT), fields),
        "more": max(len(frame) - CHANGES_LIMIT, 0),
        "total": len(frame),
        "note": fields[-1],
    }


def _outcome_rows(counts: dict[str, int]) -> list[dict[str, Any]]:
    """One row per outcome with its share of all guests."""
    total = sum(counts.values()) or 1
    return [
        {"key": o, "label": _OUTCOME_LABELS[o], "count": counts[o], "pct": 100 * counts[o] / total}
        for o in OUTCOMES
    ]


def _donut(counts: dict[str, int]) -> list[dict[str, Any]]:
    """Donut segments on a circle of circumference 100, starting at 12 o'clock."""
    total = sum(counts.values())
    segments, start = [], 0.0
    for outcome in OUTCOMES:
        share = 100 * counts[outcome] / total if total else 0.0
        if share > 0:
            segments.append(
                {"key": outcome, "dash": f"{share:.3f} {100 - share:.3f}", "offset": 25 - start}
            )
        start += share
    return segments


def _whatif(result: AuditResult) -> dict[str, Any] | None:
    """The what-if sentence with before/after stacked-bar segments."""
    whatif = result.whatif
    if whatif is None:
        return None
    return {
        "sentence": whatif_sentence(whatif),
        "newly_ready": whatif.newly_ready,
        "precondition": whatif.precondition,
        "precondition_met": whatif.precondition_met,
        "bars": [("Current mapping", _stack(whatif.before)), ("Recommended", _stack(whatif.after))],
    }


def _stack(counts: dict[str, int]) -> list[dict[str, Any]]:
    """Stacked horizontal bar segments (x and width in percent) per outcome."""
    total = sum(counts.get(o, 0) for o in OUTCOMES) or 1
    out, x = [], 0.0
    for outcome in OUTCOMES:
        width = 100 * counts.get(outcome, 0) / total
        out.append({"key": outcome, "x": x, "width": width, "count": counts.get(outcome, 0)})
        x += width
    return out


def _rule_rows(result: AuditResult) -> list[dict[str, Any]]:
    """Rules ordered by severity then open findings, with a bar length for the chart."""
    records = json_records(result.rules, (*RULE_FIELDS, "rationale", "remediation"))
    rank = {s: i for i, s in enumerate(SEVERITIES)}
    records.sort(key=lambda r: (rank.get(str(r["severity"]), 9), -(r["flagged"] or 0)))
    top = max((r["flagged"] or 0 for r in records), default=0) or 1
    for record in records:
        record["bar"] = 100 * (record["flagged"] or 0) / top
    return records


def _top_domains(domains: pd.DataFrame, limit: int = 10) -> list[dict[str, Any]]:
    """The domains with most affected guests."""
    if domains.empty:
        return []
    top = domains.sort_values(["affected", "guests"], ascending=False, kind="stable").head(limit)
    cols = ("domain", "guests", "affected", "verified_in_target", "mail_state", "public_provider")
    return json_records(top, cols)


def _app_findings(findings: pd.DataFrame) -> list[dict[str, Any]]:
    """Tenant-level findings (on the app object), shown in the summary."""
    app = findings[column(findings, "level") == "app"]
    return json_records(
        app, ("rule_id", "severity", "status", "display_name", "detail", "muted_by")
    )


def payload(
    result: AuditResult,
    *,
    guests: AuditResult | None = None,
    domain_rows: np.ndarray | None = None,
) -> dict[str, Any]:
    """The columnar data behind the client-side Guests and Domains tables.

    ``guests``: the result narrowed to the guests to embed (None: every guest);
    ``domain_rows``: positions of the domains to embed (None: all).
    """
    rules = _rule_dictionary(result)
    columns = _guest_columns(guests or result, rules)  # may add rule ids the catalogue lacks
    domains = result.domains
    if domain_rows is not None:
        domains = domains.iloc[domain_rows]
    return {
        "rules": rules,
        "outcomes": list(OUTCOMES),
        "outcome_labels": _OUTCOME_LABELS,
        "severities": list(SEVERITIES),
        "guests": columns,
        "domains": _domain_columns(domains),
    }


def _rule_dictionary(result: AuditResult) -> list[dict[str, Any]]:
    """Every rule id the tables can show: the catalogue, plus any id only findings mention."""
    ids = py_values(column(result.rules, "rule_id"))
    titles = py_values(column(result.rules, "title"))
    severities = py_values(column(result.rules, "severity"))
    out = [
        {"id": r, "title": t or r, "severity": s}
        for r, t, s in zip(ids, titles, severities, strict=True)
    ]
    known = set(ids)
    extra = result.findings.drop_duplicates("rule_id")
    for rule_id, severity in zip(extra["rule_id"], extra["severity"], strict=True):
        if rule_id not in known:
            out.append({"id": rule_id, "title": rule_id, "severity": severity})
    return out


def _guest_columns(result: AuditResult, rules: list[dict[str, Any]]) -> dict[str, Any]:
    """Guests as parallel arrays; repeated strings as indexes into small dictionaries.

    Addresses are split at their last ``@``: the part after it (the tenant's initial domain in
    every ``#EXT#`` UPN, the guest's own domain in ``mail``) goes into the shared ``at``
    dictionary, which saves about a third of the payload.
    """
    view = guest_view(result)
    mail = py_values(column(view, "mail"))
    at: dict[str, int] = {}
    domain_codes, domains = _factorize(column(view, "mail_domain"))
    scope_codes, scopes = _factorize(column(view, "scope"))
    state_codes, states = _factorize(column(view, "external_user_state"))
    outcome_index = {o: i for i, o in enumerate(OUTCOMES)}
    upn_local, upn_at = _split_at(py_values(column(view, "user_principal_name")), at)
    mail_local, mail_at = _split_at(mail, at)
    return {
        "id": py_values(column(view, "object_id")),
        "name": py_values(column(view, "display_name")),
        "upn": upn_local,
        "upn_at": upn_at,
        "mail": mail_local,
        "mail_at": mail_at,
        "at": list(at),
        "target": _same_as(py_values(column(view, "target_email")), mail),
        "key": _same_as(py_values(column(view, "target_key")), mail),
        "domain": domain_codes,
        "domains": domains,
        "scope": scope_codes,
        "scopes": scopes,
        "state": state_codes,
        "states": states,
        "enabled": py_values(column(view, "account_enabled")),
        "outcome": _codes(column(view, "outcome"), outcome_index),
        "whatif": _codes(column(view, "whatif_outcome"), outcome_index),
        "reasons": _rule_codes(column(view, "reasons"), rules),
        "flagged": _rule_codes(column(view, "flagged_rules"), rules),
        "muted": _rule_codes(column(view, "muted_rules"), rules),
    }


def _split_at(values: list[Any], at: dict[str, int]) -> tuple[list[Any], list[int]]:
    """Addresses as (part before the last ``@``, index of the part after it in ``at``).

    A value without ``@`` is kept whole with index -1; the page joins the parts back.
    """
    local: list[Any] = []
    codes: list[int] = []
    for value in values:
        head, sep, tail = value.rpartition("@") if isinstance(value, str) else ("", "", "")
        if sep:
            local.append(head)
            codes.append(at.setdefault(tail, len(at)))
        else:
            local.append(value)
            codes.append(-1)
    return local, codes


def _domain_columns(domains: pd.DataFrame) -> dict[str, list[Any]]:
    """The domains table as parallel arrays."""
    names = ("domain", "guests", "affected", "verified_in_target", "claimed_elsewhere")
    more = ("public_provider", "mail_state", "mx", "txt_state")
    return {name: py_values(column(domains, name)) for name in (*names, *more)}


def _factorize(series: pd.Series) -> tuple[list[int], list[Any]]:
    """Codes (-1 for NA) and the distinct values, in order of appearance."""
    codes, uniques = pd.factorize(series, use_na_sentinel=True)
    return codes.tolist(), [str(u) for u in uniques]


def _codes(series: pd.Series, index: dict[str, int]) -> list[int]:
    """Values as indexes into a fixed dictionary (-1 for NA or unknown values)."""
    return [index.get(v, -1) if isinstance(v, str) else -1 for v in py_values(series)]


def _rule_codes(series: pd.Series, rules: list[dict[str, Any]]) -> list[list[int]]:
    """Lists of rule ids as lists of indexes into ``rules`` (unknown ids are appended to it)."""
    index = {r["id"]: i for i, r in enumerate(rules)}
    out = []
    for value in series.tolist():
        ids = list(value) if isinstance(value, list | tuple | np.ndarray) else []
        codes = []
        for rule_id in ids:
            if rule_id not in index:
                index[rule_id] = len(rules)
                rules.append({"id": str(rule_id), "title": str(rule_id), "severity": ""})
            codes.append(index[rule_id])
        out.append(codes)
    return out


def _same_as(values: list[Any], reference: list[Any]) -> list[Any]:
    """``0`` where a value equals the reference value (the page shows the reference then)."""
    return [0 if v is not None and v == r else v for v, r in zip(values, reference, strict=True)]
