"""``evolve_tenant``: deterministic, never mutates its input, and its oracle matches the analysis."""

from __future__ import annotations

import collections
import copy
from datetime import UTC, datetime, timedelta
from functools import cache
from pathlib import Path

import pytest

from audit.demo.evolve import MONTH, evolve_tenant, tenant_clock
from audit.demo.model import DemoTenant
from audit.demo.tenant import generate_tenant
from tests._demo_results import demo_result

NOW = datetime(2025, 6, 1, tzinfo=UTC)


@cache
def _base() -> DemoTenant:
    return generate_tenant(300, 40, seed=5, now=NOW)


def _guest_ids(tenant: DemoTenant) -> set[str]:
    return set(tenant.expected)


def test_same_arguments_give_the_same_tenant() -> None:
    assert evolve_tenant(_base(), 2, seed=1) == evolve_tenant(_base(), 2, seed=1)


def test_another_seed_gives_another_history() -> None:
    assert evolve_tenant(_base(), 1, seed=1) != evolve_tenant(_base(), 1, seed=2)


def test_the_input_is_never_mutated() -> None:
    before = copy.deepcopy(_base())
    evolved = evolve_tenant(_base(), 3, seed=4)
    assert _base() == before
    assert evolved.users is not _base().users


def test_zero_months_is_an_equal_copy() -> None:
    same = evolve_tenant(_base(), 0, seed=1)
    assert same == _base()
    assert same is not _base()


def test_negative_months_are_refused() -> None:
    with pytest.raises(ValueError, match="months"):
        evolve_tenant(_base(), -1, seed=1)


def test_the_clock_moves_thirty_days_a_month() -> None:
    assert tenant_clock(_base()) == NOW
    assert tenant_clock(evolve_tenant(_base(), 2, seed=1)) == NOW + 2 * MONTH


def test_clock_needs_a_provisioning_job() -> None:
    bare = copy.deepcopy(_base())
    bare.sync_jobs = {}
    with pytest.raises(ValueError, match="provisioning job"):
        tenant_clock(bare)


def test_months_extend_each_other() -> None:
    """Two months are the first month plus one more: removed guests stay removed, added ones stay."""
    base, one, two = _base(), evolve_tenant(_base(), 1, seed=3), evolve_tenant(_base(), 2, seed=3)
    removed_first = _guest_ids(base) - _guest_ids(one)
    added_first = _guest_ids(one) - _guest_ids(base)
    assert removed_first
    assert added_first
    assert removed_first.isdisjoint(_guest_ids(two))
    assert added_first - (_guest_ids(one) - _guest_ids(two)) <= _guest_ids(two)


def test_a_month_adds_removes_fixes_and_breaks() -> None:
    base, later = _base(), evolve_tenant(_base(), 1, seed=3)
    shared = _guest_ids(base) & _guest_ids(later)
    fixed = collections.Counter(
        r for uid in shared for r in base.expected[uid] - later.expected[uid]
    )
    broken = collections.Counter(
        r for uid in shared for r in later.expected[uid] - base.expected[uid]
    )
    assert len(fixed) >= 4  # kinds of fixes; which ones depends on the draw
    assert {"account-disabled", "upn-mail-mismatch", "duplicate-target-key"} <= set(broken)
    assert len(_guest_ids(later) - _guest_ids(base)) >= 12  # 4 % of 300 guests


def test_logs_and_sign_ins_keep_their_age() -> None:
    later = evolve_tenant(_base(), 1, seed=3)
    window = NOW + MONTH - timedelta(days=30)
    stamps = [e["activityDateTime"] for e in later.provisioning_logs]
    assert min(stamps) >= window.strftime("%Y-%m-%dT%H:%M:%SZ")


@pytest.mark.parametrize("months", [1, 2])
def test_expected_matches_the_analysis(months: int, tmp_path: Path) -> None:
    """The evolved oracle equals what the rules find, guest by guest, on the tenant's own date."""
    tenant = evolve_tenant(_base(), months, seed=3)
    result = demo_result(tenant, tmp_path / "export")
    got: dict[str, set[str]] = collections.defaultdict(set)
    guest_level = result.findings[result.findings["level"] == "guest"]
    for rule_id, object_id in zip(guest_level["rule_id"], guest_level["object_id"], strict=True):
        got[object_id].add(rule_id)
    wrong = {uid: got.get(uid, set()) ^ exp for uid, exp in tenant.expected.items()}
    wrong = {uid: diff for uid, diff in wrong.items() if diff}
    assert not wrong, list(wrong.items())[:5]
    assert set(result.guests["object_id"]) == _guest_ids(tenant)
