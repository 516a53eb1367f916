"""The summary part of report.html: the figures and short tables the template shows around the
guest table, as plain values (jinja autoescapes them). Figures count guests; an app-level
finding is one line shown first, with the number of guests it affects."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import pandas as pd

from audit._values import column, iso_utc
from audit.analysis.result import AuditResult
from audit.analysis.summary import whatif_sentence
from audit.models import SourceState
from audit.render._common import (
    OUTCOMES,
    SEVERITIES,
    app_name,
    diff_counts,
    diff_since,
    problem_sources,
    skipped_rules,
    target_label,
    tenant_name,
)
from audit.render._html_data import OUTCOME_LABELS
from audit.render._html_target import target_section
from audit.render.json_out import RULE_FIELDS
from audit.render.json_out import records as json_records
from audit.targets import all_targets

__all__ = ["CHANGES_LIMIT", "context", "guests_by_severity"]


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
        "target": _target_title(result.target),
        "target_label": target_label(result),
        "app": _app_label(result),
        "settings": dict(result.settings),
        "warnings": list(result.warnings),
        "version": result.tool_version,
        "generated_at": iso_utc(result.generated_at),
        "collected_at": iso_utc(result.collected_at),
        "generated_label": _time_label(result.generated_at),
        "collected_label": _time_label(result.collected_at),
        "guests": len(result.guests),
        "outcomes": _outcome_rows(counts),
        "donut": _donut(counts),
        "donut_label": _donut_label(len(result.guests)),
        "whatif": _whatif(result),
        "severity_counts": guests_by_severity(result),
        "muted_counts": guests_by_severity(result, "muted"),
        "rules": _rule_rows(result),
        "top_domains": _top_domains(result.domains),
        "sources": [s.to_dict() for s in result.sources],
        "problem_sources": problem_sources(result),
        "skipped_rules": skipped_rules(result),
        "app_findings": _app_findings(result),
        "changes": _changes(result.diff),
        "target_side": target_section(result),
        "provisioning_scope": result.provisioning_scope,
        "quarantine": _quarantine(result),
        "engine_notes": list(result.engine_notes),
    }


def _quarantine(result: AuditResult) -> dict[str, Any] | None:
    """The quarantine forecast's verdict and sentence."""
    found = result.quarantine_forecast
    if found is None:
        return None
    return {"would_quarantine": found.would_quarantine, "sentence": found.sentence}


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
        {"key": o, "label": OUTCOME_LABELS[o], "count": counts[o], "pct": 100 * counts[o] / total}
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


def _donut_label(guests: int) -> dict[str, str]:
    """The count in the donut's hole, with a font size that keeps it inside the hole (about 21
    of the 42 viewBox units; a digit is about 0.6 em wide): 500 and 1,000,000 both fit."""
    text = f"{guests:,}"
    size = min(6.5, 21 / (0.6 * max(len(text), 1)))
    return {"text": text, "size": f"{size:.2f}"}


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
    fields = (*RULE_FIELDS, "flagged_in_scope", "rationale", "remediation")
    records = json_records(result.rules, fields)
    rank = {s: i for i, s in enumerate(SEVERITIES)}
    records.sort(key=lambda r: (rank.get(str(r["severity"]), 9), -(r["flagged"] or 0)))
    guest_rules = [r for r in records if r["level"] != "app"]
    top = max((r["flagged"] or 0 for r in guest_rules), default=0) or 1
    for record in records:
        record["bar"] = 100 * min(record["flagged"] or 0, top) / top
    return records


def _top_domains(domains: pd.DataFrame, limit: int = 10) -> list[dict[str, Any]]:
    """The domains with most affected guests."""
    if domains.empty:
        return []
    top = domains.sort_values(["affected", "guests"], ascending=False, kind="stable").head(limit)
    cols = ("domain", "guests", "affected", "verified_in_target", "mail_state", "public_provider")
    return json_records(top, cols)


def _app_findings(result: AuditResult) -> list[dict[str, Any]]:
    """Tenant-level findings (on the app object), with how many guests each affects: the
    report shows them first, as one line each, not as a row among per-guest counts."""
    findings = result.findings
    app = findings[column(findings, "level") == "app"]
    rows = json_records(
        app, ("rule_id", "severity", "status", "display_name", "detail", "muted_by")
    )
    rules = {
        r["rule_id"]: r
        for r in json_records(
            result.rules, ("rule_id", "title", "flagged", "flagged_in_scope", "remediation")
        )
    }
    for row in rows:
        rule = rules.get(row["rule_id"], {})
        row["title"] = rule.get("title") or row["rule_id"]
        row["affected"] = rule.get("flagged") or 0
        row["in_scope"] = rule.get("flagged_in_scope")
        row["remediation"] = rule.get("remediation") or ""
    return rows


def _target_title(name: str) -> str:
    """The target profile's product title, or its profile name when unknown."""
    target = all_targets().get(name)
    return target.title if target is not None else name


def _app_label(result: AuditResult) -> str:
    """The app's name when its service principal was read; never a name that was not found."""
    status = next((s for s in result.sources if s.name == "service_principal"), None)
    if status is not None and not status.usable:
        return "not found" if status.state is SourceState.FAILED else "not collected"
    return app_name(result)


def guests_by_severity(result: AuditResult, status: str = "flagged") -> dict[str, int]:
    """Guests with at least one finding of each severity (of one status), most severe first.

    Headline figures count guests, like the outcome cards; an app-level finding is shown apart,
    and target-level ones (users of the target's directory) in the target section.
    """
    findings = result.findings
    mask = (column(findings, "status") == status) & (column(findings, "level") == "guest")
    rows = findings.loc[mask.fillna(False).astype(bool), ["object_id", "severity"]]
    counts = rows.drop_duplicates().groupby("severity")["object_id"].size()
    return {s: int(counts.get(s, 0)) for s in SEVERITIES}
