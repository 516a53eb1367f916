"""Run-to-run diff: exact buckets on a hand-built month, the demo a month later, rendering."""

from __future__ import annotations

import collections
import shutil
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from functools import cache
from pathlib import Path
from typing import Any

import orjson
import pandas as pd
import pytest
from openpyxl import load_workbook

from audit.analysis.diff import CHANGE_FIELDS, Diff, diff_results
from audit.analysis.findings import FINDING_COLUMNS
from audit.analysis.result import AuditResult
from audit.config import AuditConfig, AuditException
from audit.demo.evolve import evolve_tenant
from audit.demo.model import DemoTenant
from audit.demo.tenant import generate_tenant
from audit.render import render_all
from audit.render.json_out import dumps
from tests._demo_results import demo_result
from tests.factories import CATALOGUE, HOSTILE, make_result

SEVERITY = {rule_id: severity for rule_id, severity, *_ in CATALOGUE}
SP = "bbbbbbbb-0000-0000-0000-000000000002"
EVIL = '<script>alert("g")</script>=HYPERLINK("http://evil","x")'
EXCEPTION = "Partner onboarding <b>CHG-7</b> (it@contoso.com) until 2026-10-15"
OCT, NOV = datetime(2026, 10, 1, 6, tzinfo=UTC), datetime(2026, 10, 31, 6, tzinfo=UTC)

Finding = tuple[str, str, str, str]  # rule id, object id, status, muted_by


def _result(
    when: datetime,
    guests: list[tuple[str, str]],
    findings: list[Finding],
    outcomes: dict[str, tuple[str, list[str]]],
    *,
    skipped: dict[str, str] | None = None,
    statuses: dict[tuple[str, str], str] | None = None,
) -> AuditResult:
    """A small, exact ``AuditResult``: guests (id, display name), findings, outcomes."""
    skipped = skipped or {}
    names = dict(guests)
    rows = [
        {
            "rule_id": rule,
            "severity": SEVERITY[rule],
            "status": status,
            "object_id": oid,
            "user_principal_name": None if oid == SP else f"{oid}_x.example#EXT#@contoso.com",
            "display_name": names.get(oid, "Atlassian Cloud"),
            "mail": None if oid == SP else f"{oid}@x.example",
            "domain": None if oid == SP else "x.example",
            "detail": f"{rule} on {oid}",
            "level": "app" if oid == SP else "guest",
            "muted_by": muted_by,
        }
        for rule, oid, status, muted_by in findings
    ]
    frame = pd.DataFrame(rows, columns=list(FINDING_COLUMNS))
    guest_frame = pd.DataFrame(
        {
            "object_id": [g for g, _ in guests],
            "display_name": [n for _, n in guests],
            "user_principal_name": [f"{g}_x.example#EXT#@contoso.com" for g, _ in guests],
            "mail": [f"{g}@x.example" for g, _ in guests],
        }
    )
    rule_rows = [
        {
            "rule_id": r,
            "title": r,
            "severity": s,
            "level": level,
            "state": "skipped" if r in skipped else "ran",
            "reason": skipped.get(r, ""),
        }
        for r, s, level, *_ in CATALOGUE
    ]
    status_frame = None
    if statuses is not None:
        cols = {r: ["passed"] * len(guests) for r, *_ in CATALOGUE}
        ids = [g for g, _ in guests]
        for (rule, oid), value in statuses.items():
            cols[rule][ids.index(oid)] = value
        status_frame = pd.DataFrame({"object_id": ids, **cols})
    return AuditResult(
        tool_version="0.1.0",
        tenant={"id": "tenant-1", "name": "Contoso"},
        target="atlassian",
        app={"display_name": "Atlassian Cloud"},
        generated_at=when,
        collected_at=when,
        sources=[],
        guests=guest_frame,
        findings=frame,
        rules=pd.DataFrame(rule_rows),
        outcomes=pd.DataFrame(
            {
                "object_id": list(outcomes),
                "outcome": [o for o, _ in outcomes.values()],
                "reasons": [r for _, r in outcomes.values()],
            }
        ),
        domains=pd.DataFrame(columns=["domain", "guests", "affected"]),
        statuses=status_frame,
    )


def _month() -> tuple[AuditResult, AuditResult]:
    """October and November: a guest fixed, one broken, one added, one removed, one exception
    expired, one newly muted, one rule skipped and one guest whose data is now unknown."""
    old = _result(
        OCT,
        [("A", "Anna"), ("B", "Bob"), ("C", "Carol"), ("D", "Dave"), ("E", "Eve"), ("F", "Finn")],
        [
            ("domain-unverified", "A", "flagged", ""),
            ("upn-mail-mismatch", "A", "flagged", ""),
            ("mail-missing", "B", "flagged", ""),
            ("pending-acceptance", "C", "muted", EXCEPTION),
            ("stale-guest", "D", "muted", "forever"),
            ("public-mail-domain", "E", "flagged", ""),
            ("exo-not-mail-enabled", "F", "flagged", ""),
            ("nested-group-only", "F", "flagged", ""),
            ("mapping-sends-external-address", SP, "flagged", ""),
        ],
        {
            "A": ("unmanaged", ["domain-unverified"]),
            "B": ("blocked", ["mail-missing"]),
            "C": ("ready", []),
            "D": ("ready", []),
            "E": ("unmanaged", ["domain-unverified"]),
            "F": ("ready", []),
        },
    )
    new = _result(
        NOV,
        [("A", "Anna"), ("B", "Bob"), ("C", "Carol"), ("D", "Dave"), ("F", "Finn"), ("G", EVIL)],
        [
            ("domain-unverified", "A", "flagged", ""),
            ("upn-mail-mismatch", "A", "muted", "accepted by IT"),
            ("pending-acceptance", "C", "flagged", ""),
            ("account-disabled", "D", "flagged", ""),
            ("stale-guest", "D", "muted", "forever"),
            ("domain-unverified", "G", "flagged", ""),
            ("mapping-sends-external-address", SP, "flagged", ""),
        ],
        {
            "A": ("unmanaged", ["domain-unverified"]),
            "B": ("ready", []),
            "C": ("ready", []),
            "D": ("ready", []),
            "F": ("unknown", ["nested-group-only"]),
            "G": ("unmanaged", ["domain-unverified"]),
        },
        skipped={"exo-not-mail-enabled": "source mailusers not requested"},
        statuses={("nested-group-only", "F"): "not_evaluated"},
    )
    return old, new


def _keys(frame: pd.DataFrame) -> set[tuple[str, str]]:
    return set(zip(frame["rule_id"], frame["object_id"], strict=True))


def test_a_month_lands_in_exact_buckets() -> None:
    diff = diff_results(*_month())
    assert _keys(diff.new_findings) == {("account-disabled", "D"), ("domain-unverified", "G")}
    assert _keys(diff.fixed_findings) == {("mail-missing", "B")}
    assert _keys(diff.still_open) == {
        ("domain-unverified", "A"),
        ("mapping-sends-external-address", SP),
    }
    assert _keys(diff.exceptions_expired) == {("pending-acceptance", "C")}
    assert diff.exceptions_expired["exception"].tolist() == [EXCEPTION]
    assert _keys(diff.newly_muted) == {("upn-mail-mismatch", "A")}
    assert diff.newly_muted["muted_by"].tolist() == ["accepted by IT"]
    assert _keys(diff.not_rechecked) == {
        ("exo-not-mail-enabled", "F"),
        ("nested-group-only", "F"),
    }
    why = dict(zip(diff.not_rechecked["rule_id"], diff.not_rechecked["why"], strict=True))
    assert why == {
        "exo-not-mail-enabled": "rule skipped: source mailusers not requested",
        "nested-group-only": "not evaluated in the new analysis",
    }
    changes = diff.outcome_changes
    assert list(
        zip(changes["object_id"], changes["old_outcome"], changes["new_outcome"], strict=True)
    ) == [
        ("F", "ready", "unknown"),
        ("B", "blocked", "ready"),
    ]
    assert changes["new_reasons"].tolist() == [["nested-group-only"], []]
    added, removed = diff.guests_added, diff.guests_removed
    assert added[["object_id", "display_name", "outcome", "open_findings"]].values.tolist() == [
        ["G", EVIL, "unmanaged", 1]
    ]
    assert removed[["object_id", "outcome", "open_findings"]].values.tolist() == [
        ["E", "unmanaged", 1]
    ]
    assert diff.counts() == {
        "new": 2,
        "fixed": 1,
        "still_open": 2,
        "outcome_changes": 2,
        "guests_added": 1,
        "guests_removed": 1,
        "exceptions_expired": 1,
        "newly_muted": 1,
        "not_rechecked": 2,
    }
    assert diff.warnings == []


def test_new_findings_are_most_severe_first() -> None:
    diff = diff_results(*_month())
    assert diff.new_findings["rule_id"].tolist() == ["domain-unverified", "account-disabled"]


def test_changes_have_one_row_per_change_in_kind_order() -> None:
    diff = diff_results(*_month())
    changes = diff.changes()
    assert list(changes.columns) == list(CHANGE_FIELDS)
    rows = list(zip(changes["kind"], changes["rule_id"], changes["object_id"], strict=True))
    assert rows == [
        ("exception_expired", "pending-acceptance", "C"),
        ("new", "domain-unverified", "G"),
        ("new", "account-disabled", "D"),
        ("outcome_changed", None, "F"),
        ("outcome_changed", None, "B"),
        ("not_rechecked", "exo-not-mail-enabled", "F"),
        ("not_rechecked", "nested-group-only", "F"),
        ("fixed", "mail-missing", "B"),
        ("newly_muted", "upn-mail-mismatch", "A"),
        ("guest_added", None, "G"),
        ("guest_removed", None, "E"),
    ]
    by_kind = {
        k: (o, n, d)
        for k, o, n, d in changes[["kind", "old_outcome", "new_outcome", "detail"]].values
    }
    assert by_kind["exception_expired"] == (
        "ready",
        "ready",
        f"exception expired: {EXCEPTION} · pending-acceptance on C",
    )
    assert by_kind["guest_added"] == (None, "unmanaged", "1 open finding")
    assert by_kind["guest_removed"] == ("unmanaged", None, "1 open finding when removed")
    assert by_kind["outcome_changed"][2] == ""  # B: ready, no deciding rule


def test_buckets_add_up_to_the_open_findings_of_both_runs() -> None:
    for seed in range(4):
        old, new = make_result(90, seed=seed), make_result(110, seed=seed + 10)
        new.guests = new.guests.iloc[5:]  # five guests left, twenty joined
        new.findings = new.findings[~new.findings["object_id"].isin(old.guests["object_id"][:5])]
        diff = diff_results(old, new)
        c = diff.counts()
        open_old, open_new = old.open_findings(), new.open_findings()
        removed_open = int(diff.guests_removed["open_findings"].sum())
        assert c["still_open"] + c["new"] + c["exceptions_expired"] == len(open_new)
        assert c["still_open"] + c["fixed"] + c["not_rechecked"] + c[
            "newly_muted"
        ] + removed_open == len(open_old)
        assert c["guests_removed"] == 5
        assert c["guests_added"] == 20


def test_the_same_result_has_no_changes() -> None:
    result = make_result(60, seed=3)
    counts = diff_results(result, result).counts()
    assert counts.pop("still_open") == len(result.open_findings())
    assert set(counts.values()) == {0}


def test_warnings_for_other_tenants_and_swapped_runs() -> None:
    old, new = _month()
    other = replace(old, tenant={"id": "tenant-2", "name": "Fabrikam"})
    assert diff_results(other, new).warnings == [
        "the runs are of different tenants (tenant-2 and tenant-1)"
    ]
    assert "swapped" in diff_results(new, old).warnings[0]


def test_to_dict_is_json_with_every_bucket() -> None:
    diff = diff_results(*_month())
    doc = orjson.loads(dumps(diff.to_dict()))
    assert list(doc) == [
        "old",
        "new",
        "counts",
        "warnings",
        "new_findings",
        "fixed_findings",
        "exceptions_expired",
        "newly_muted",
        "not_rechecked",
        "still_open",
        "outcome_changes",
        "guests_added",
        "guests_removed",
    ]
    assert doc["old"]["collected_at"] == "2026-10-01T06:00:00Z"
    assert doc["counts"] == diff.counts()
    assert list(doc["new_findings"][0]) == list(FINDING_COLUMNS)
    assert doc["exceptions_expired"][0]["exception"] == EXCEPTION
    assert doc["still_open"][0] == {
        "rule_id": "domain-unverified",
        "severity": "high",
        "object_id": "A",
    }
    assert doc["guests_added"][0]["display_name"] == EVIL
    assert doc["outcome_changes"][0]["new_reasons"] == ["nested-group-only"]


def test_empty_results_diff_cleanly() -> None:
    old, new = _month()
    empty = replace(
        new,
        guests=new.guests.iloc[:0],
        findings=new.findings.iloc[:0],
        outcomes=new.outcomes.iloc[:0],
        statuses=None,
    )
    diff = diff_results(empty, empty)
    assert set(diff.counts().values()) == {0}
    assert diff.changes().empty
    assert orjson.loads(dumps(diff.to_dict()))["counts"]["new"] == 0
    gone = diff_results(old, empty)
    assert gone.counts()["guests_removed"] == 6
    assert gone.counts()["fixed"] == 1  # only the app-level finding: its rule ran and passed


# --- the demo tenant, a month apart -------------------------------------------------------------

NOW = datetime(2025, 6, 1, tzinfo=UTC)


@cache
def _demo() -> tuple[DemoTenant, DemoTenant]:
    base = generate_tenant(250, 30, seed=11, now=NOW)
    return base, evolve_tenant(base, 1, seed=2)


def _expired_exception(base: DemoTenant, later: DemoTenant) -> tuple[str, str]:
    """A (rule, guest) flagged in both months: the exception on it expires mid-month."""
    for uid in sorted(set(base.expected) & set(later.expected)):
        both = sorted(base.expected[uid] & later.expected[uid])
        if both:
            return both[0], uid
    raise AssertionError("no finding open in both months")


def _config(tenant: DemoTenant, rule: str, uid: str) -> AuditConfig:
    exception = AuditException(
        match=uid, rule=rule, reason="waiting for partner", expires=date(2025, 6, 15)
    )
    return AuditConfig(
        verified_domains=tuple(tenant.verified_in_target),
        verification_tokens=tuple(tenant.verification_tokens),
        exceptions=(exception,),
    )


@pytest.fixture(scope="module")
def demo_diff(tmp_path_factory: pytest.TempPathFactory) -> tuple[Diff, AuditResult]:
    base, later = _demo()
    rule, uid = _expired_exception(base, later)
    folder = tmp_path_factory.mktemp("demo")
    old = demo_result(base, folder / "may", _config(base, rule, uid))
    new = demo_result(later, folder / "june", _config(later, rule, uid))
    new.diff = diff_results(old, new)
    return new.diff, new


def test_demo_month_matches_the_oracle(demo_diff: tuple[Diff, AuditResult]) -> None:
    """Every bucket equals what evolve_tenant says it changed, pair by pair."""
    diff, _ = demo_diff
    base, later = _demo()
    rule, uid = _expired_exception(base, later)
    shared = set(base.expected) & set(later.expected)
    added, removed = set(later.expected) - set(base.expected), set(base.expected) - shared

    def pairs(ids: set[str], rules: Any) -> set[tuple[str, str]]:
        return {(r, u) for u in ids for r in rules(u)}

    fixed = pairs(shared, lambda u: base.expected[u] - later.expected[u])
    new = pairs(shared, lambda u: later.expected[u] - base.expected[u])
    new |= pairs(added, lambda u: later.expected[u])
    still = pairs(shared, lambda u: base.expected[u] & later.expected[u]) - {(rule, uid)}

    guest_level = diff.still_open[diff.still_open["object_id"].isin(shared)]
    assert _keys(diff.new_findings) == new
    assert _keys(diff.fixed_findings) == fixed
    assert _keys(guest_level) == still
    assert _keys(diff.exceptions_expired) == {(rule, uid)}
    assert diff.exceptions_expired["exception"].iloc[0].startswith("waiting for partner")
    assert set(diff.guests_added["object_id"]) == added
    assert set(diff.guests_removed["object_id"]) == removed
    assert diff.not_rechecked.empty
    assert len(fixed) >= 5
    assert len(new) >= 5
    assert added
    assert removed
    assert diff.old.when == NOW
    assert diff.new.when == NOW + timedelta(days=30)


def test_demo_outcome_changes_are_guests_in_both_months(
    demo_diff: tuple[Diff, AuditResult],
) -> None:
    diff, new = demo_diff
    changes = diff.outcome_changes
    assert len(changes) > 0
    assert (changes["old_outcome"] != changes["new_outcome"]).all()
    shared = set(_demo()[0].expected) & set(_demo()[1].expected)
    assert set(changes["object_id"]) <= shared
    now = dict(zip(new.outcomes["object_id"], new.outcomes["outcome"], strict=True))
    assert all(
        now[o] == n for o, n in zip(changes["object_id"], changes["new_outcome"], strict=True)
    )


# --- rendering ------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def rendered(tmp_path_factory: pytest.TempPathFactory) -> Path:
    old, new = _month()
    new.diff = diff_results(old, new)
    out = tmp_path_factory.mktemp("render")
    render_all(new, out)
    return out


def test_findings_json_has_the_diff_only_when_compared(rendered: Path, tmp_path: Path) -> None:
    doc = orjson.loads((rendered / "findings.json").read_bytes())
    assert list(doc)[-1] == "diff"
    assert doc["diff"]["counts"]["new"] == 2
    plain = _month()[1]
    render_all(plain, tmp_path, formats=("json",))
    assert "diff" not in orjson.loads((tmp_path / "findings.json").read_bytes())


def test_html_changes_section_is_escaped(rendered: Path) -> None:
    html = (rendered / "report.html").read_text(encoding="utf-8")
    section = html[html.index('id="changes"') : html.index("Predicted outcome in")]
    assert "Changes since" in section
    assert "2026-10-01 06:00 UTC" in section
    assert 'href="#changes"' in html
    assert "<script>alert" not in section
    assert "<b>CHG-7</b>" not in section
    assert "&lt;script&gt;alert(&#34;g&#34;)&lt;/script&gt;" in section
    assert "&lt;b&gt;CHG-7&lt;/b&gt;" in section
    for key, count in (("new", 2), ("fixed", 1), ("exceptions_expired", 1), ("not_rechecked", 2)):
        assert f'id="chg-{key}"><div class="l">' in section
        after = section[section.index(f'id="chg-{key}"') :]
        assert f'<div class="v">{count}</div>' in after[:200]


def test_html_without_diff_has_no_changes_section(tmp_path: Path) -> None:
    render_all(_month()[1], tmp_path, formats=("html",))
    html = (tmp_path / "report.html").read_text(encoding="utf-8")
    assert 'id="changes"' not in html
    assert 'href="#changes"' not in html


def test_html_tables_are_capped(tmp_path: Path) -> None:
    old, new = make_result(40, seed=1, hostile=False), make_result(140, seed=2)
    new.diff = diff_results(old, new)
    render_all(new, tmp_path, formats=("html",))
    html = (tmp_path / "report.html").read_text(encoding="utf-8")
    section = html[html.index('id="changes"') : html.index("Predicted outcome in")]
    more = len(new.diff.new_findings) - 10
    assert f"and {more:,} more" in section
    assert section.count("<tr>") < 80


def test_excel_changes_sheet(rendered: Path) -> None:
    book = load_workbook(rendered / "report.xlsx")
    assert book.sheetnames[:3] == ["Summary", "Changes", "Findings"]
    sheet = book["Changes"]
    rows = list(sheet.iter_rows(values_only=True))
    assert rows[0] == (
        "kind",
        "rule_id",
        "severity",
        "object_id",
        "user_principal_name",
        "display_name",
        "old outcome",
        "new outcome",
        "detail",
    )
    assert [r[0] for r in rows[1:]] == diff_results(*_month()).changes()["kind"].tolist()
    assert sheet.freeze_panes == "A2"
    assert sheet.auto_filter.ref == "A1:I12"
    evil = next(c for row in sheet.iter_rows(min_row=2) for c in row if c.value == EVIL)
    assert evil.data_type == "s"
    formulas = [c for row in sheet.iter_rows() for c in row if c.data_type == "f"]
    assert formulas == []
    summary = [r for r in book["Summary"].iter_rows(values_only=True) if r and r[0]]
    assert ("Changes since", "2026-10-01 06:00 UTC") in [r[:2] for r in summary]
    assert ("New findings", 2) in [r[:2] for r in summary]


def test_excel_hostile_names_in_changes_are_quoted(tmp_path: Path) -> None:
    old = make_result(5, seed=1, hostile=False)
    new = make_result(len(HOSTILE), seed=2)
    new.diff = diff_results(old, new)
    render_all(new, tmp_path, formats=("xlsx",))
    sheet = load_workbook(tmp_path / "report.xlsx")["Changes"]
    cells = {c.value: c for row in sheet.iter_rows(min_row=2) for c in row if c.value}
    formula_like = cells['=HYPERLINK("http://evil","x")']
    assert formula_like.data_type == "s"
    assert formula_like.quotePrefix
    assert all(c.data_type != "f" for c in cells.values())
    kinds = collections.Counter(r[0] for r in sheet.iter_rows(min_row=2, values_only=True))
    assert kinds["guest_added"] == len(HOSTILE) - 5


# --- the diff command -----------------------------------------------------------------------------


def _cli(*args: str) -> tuple[int, str]:
    from click.testing import CliRunner

    from audit.cli import cli

    result = CliRunner().invoke(cli, list(args))
    return result.exit_code, result.output


@pytest.fixture(scope="module")
def month_folders(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, Path]:
    from tests._handmade_month import month_snapshots, write_config

    tmp = tmp_path_factory.mktemp("month")
    old, new = month_snapshots(tmp)
    return old, new, write_config(tmp)


EXPECTED_CLI_CHANGES = [
    ("exception_expired", "external-member", "1b5d2a4e-0005-4c3a-9f00-000000000005"),
    ("new", "domain-unverified", "1b5d2a4e-0004-4c3a-9f00-000000000004"),
    ("new", "domain-unverified", "1b5d2a4e-0011-4c3a-9f00-000000000011"),
    ("new", "exo-not-mail-enabled", "1b5d2a4e-0011-4c3a-9f00-000000000011"),
    ("new", "public-mail-domain", "1b5d2a4e-0011-4c3a-9f00-000000000011"),
    ("new", "account-disabled", "1b5d2a4e-0001-4c3a-9f00-000000000001"),
    ("new", "not-in-scope", "1b5d2a4e-0011-4c3a-9f00-000000000011"),
    ("outcome_changed", None, "1b5d2a4e-0004-4c3a-9f00-000000000004"),
    # John was disabled: he is no longer provisioned, so neither he nor John2 collides
    ("outcome_changed", None, "1b5d2a4e-0001-4c3a-9f00-000000000001"),
    ("outcome_changed", None, "1b5d2a4e-0007-4c3a-9f00-000000000007"),
    ("fixed", "duplicate-target-key", "1b5d2a4e-0007-4c3a-9f00-000000000007"),
    ("fixed", "duplicate-target-key", "1b5d2a4e-0001-4c3a-9f00-000000000001"),
    ("fixed", "mail-missing", "1b5d2a4e-0004-4c3a-9f00-000000000004"),
    ("fixed", "primary-smtp-mismatch", "1b5d2a4e-0004-4c3a-9f00-000000000004"),
    ("guest_added", None, "1b5d2a4e-0011-4c3a-9f00-000000000011"),
    ("guest_removed", None, "1b5d2a4e-0010-4c3a-9f00-000000000010"),
]


def test_diff_command_on_two_snapshots(
    month_folders: tuple[Path, Path, Path], tmp_path: Path
) -> None:
    from tests._handmade_month import EVIL, FLAGS

    old, new, config = month_folders
    out = tmp_path / "out"
    code, output = _cli(
        "diff", str(old), str(new), *FLAGS, "--config", str(config), "--out", str(out), "--json"
    )
    assert code == 0, output
    summary = orjson.loads(output)
    assert summary["counts"] == {
        "new": 6,
        "fixed": 4,
        "still_open": 23,
        "outcome_changes": 3,
        "guests_added": 1,
        "guests_removed": 1,
        "exceptions_expired": 1,
        "newly_muted": 0,
        "not_rechecked": 0,
    }
    assert summary["old"]["collected_at"] == "2026-11-20T06:00:00Z"
    assert summary["out"] == str(out)
    doc = orjson.loads((out / "diff.json").read_bytes())
    assert doc["counts"] == summary["counts"]
    got = [(c["rule_id"], c["object_id"]) for c in doc["new_findings"]]
    want = [(r, o) for k, r, o in EXPECTED_CLI_CHANGES if k == "new"]
    assert sorted(got) == sorted(want)
    assert doc["exceptions_expired"][0]["exception"].startswith("flip <b>scheduled</b>")
    assert doc["guests_added"][0]["display_name"] == EVIL
    findings = orjson.loads((out / "findings.json").read_bytes())
    assert findings["diff"]["counts"] == summary["counts"]
    html = (out / "report.html").read_text(encoding="utf-8")
    section = html[html.index('id="changes"') : html.index("Predicted outcome in")]
    assert "Changes since" in section
    assert "2026-11-20 06:00 UTC" in section
    assert "<script>alert(9)" not in section
    assert "<b>scheduled" not in section
    assert "&lt;script&gt;alert(9)&lt;/script&gt;" in section
    sheet = load_workbook(out / "report.xlsx")["Changes"]
    rows = [r[:4:] for r in sheet.iter_rows(min_row=2, values_only=True)]
    assert [(k, r, o) for k, r, _s, o in rows] == EXPECTED_CLI_CHANGES


def test_diff_command_text_and_fail_on(month_folders: tuple[Path, Path, Path]) -> None:
    from tests._handmade_month import FLAGS

    old, new, config = month_folders
    code, output = _cli("diff", str(old), str(new), *FLAGS, "--config", str(config))
    assert code == 0, output
    assert output.splitlines()[0] == "changes since 2026-11-20 06:00 UTC · Fabrikam"
    assert "  New findings               6" in output
    assert "  Exceptions expired         1" in output
    code, _ = _cli("diff", str(old), str(new), *FLAGS, "--fail-on", "high")
    assert code == 1


def test_diff_command_accepts_run_folders(
    month_folders: tuple[Path, Path, Path], tmp_path: Path
) -> None:
    from tests._handmade_month import FLAGS

    old, new, _ = month_folders
    for name, source in (("run-old", old), ("run-new", new)):
        shutil.copytree(source, tmp_path / name / "snapshot")
    runs = (str(tmp_path / "run-old"), str(tmp_path / "run-new"))
    code, output = _cli("diff", *runs, *FLAGS, "--json")
    assert code == 0, output
    assert orjson.loads(output)["counts"]["guests_added"] == 1


def test_diff_command_refuses_a_folder_without_snapshot(
    month_folders: tuple[Path, Path, Path], tmp_path: Path
) -> None:
    code, output = _cli("diff", str(tmp_path), str(month_folders[1]))
    assert code == 2
    assert "neither a snapshot nor a run folder" in output
