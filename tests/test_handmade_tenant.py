"""A tenant written by hand from Microsoft's documented response shapes gives the expected findings.

``tests/data/handmade`` is a Graph JSON export folder (not produced by the demo generator): ten guests,
one internal member, an app with a direct and a group assignment and a nested group, the gallery default
mapping, provisioning logs, recorded DNS answers and a Get-MailUser CSV.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from audit.analysis.analyzer import analyze
from audit.collectors.pipeline import CollectOptions, collect_sync
from audit.config import AuditConfig

HERE = Path(__file__).parent / "data" / "handmade"
NOW = datetime(2026, 11, 26, tzinfo=UTC)
CONFIG = AuditConfig(
    verified_domains=("fabrikam.onmicrosoft.com", "contoso.com"),
    verification_tokens=("atlassian-domain-verification=OUR-TOKEN-123",),
)


def _id(n: int) -> str:
    return f"1b5d2a4e-{n:04d}-4c3a-9f00-{n:012d}"


EXPECTED = {
    _id(1): {"duplicate-target-key"},
    _id(2): {"domain-unverified", "public-mail-domain", "exo-forwarding-broken"},
    _id(3): {"pending-acceptance", "stale-guest", "domain-unverified", "exo-forwarding-broken"},
    _id(4): {"mail-missing", "primary-smtp-mismatch", "exo-not-mail-enabled"},
    _id(5): {"external-member", "domain-unverified"},
    _id(6): {"address-invalid", "upn-mail-mismatch", "primary-smtp-mismatch"},
    _id(7): {"upn-mail-mismatch", "duplicate-target-key", "prior-provisioning-failure"},
    _id(8): {"mail-domain-undeliverable", "domain-unverified"},
    _id(9): {
        "not-in-scope", "account-disabled", "guest-licensed", "domain-claimed-elsewhere",
        "mail-domain-undeliverable", "domain-unverified",
    },
    _id(10): {"nested-group-only", "stale-guest", "primary-smtp-mismatch"},
}  # fmt: skip
OUTCOMES = {
    _id(1): "blocked",
    _id(2): "unmanaged",
    _id(3): "unmanaged",
    _id(4): "blocked",
    _id(5): "unmanaged",
    _id(6): "blocked",
    _id(7): "blocked",
    _id(8): "unmanaged",
    _id(9): "out_of_scope",
    _id(10): "out_of_scope",
}


@pytest.fixture(scope="module")
def result():
    snapshot = collect_sync(CollectOptions(from_export=str(HERE)), config=CONFIG, now=NOW)
    return analyze(snapshot, CONFIG, now=NOW)


def test_every_guest_gets_exactly_the_expected_findings(result):
    guests = result.findings[result.findings["level"] == "guest"]
    got = guests.groupby("object_id")["rule_id"].agg(set).to_dict()
    assert {k: got.get(k, set()) for k in EXPECTED} == EXPECTED


def test_internal_members_are_not_audited(result):
    assert _id(99) not in set(result.guests["object_id"])
    assert len(result.guests) == 10


def test_app_level_mapping_finding_is_on_the_service_principal(result):
    app = result.findings[result.findings["rule_id"] == "mapping-sends-external-address"]
    assert list(app["object_id"]) == ["6a1c0e2b-9f3d-4c55-8f0e-3a7f1c2d4b10"]


def test_dns_timeouts_are_not_evaluated_never_flagged(result):
    erin = result.statuses.set_index("object_id").loc[_id(6)]
    assert erin["mail-domain-undeliverable"] == "not_evaluated"
    assert erin["domain-unverified"] == "not_evaluated"


def test_outcomes_and_whatif(result):
    outcomes = result.outcomes.set_index("object_id")["outcome"].to_dict()
    assert outcomes == OUTCOMES
    whatif = result.outcomes.set_index("object_id")["whatif_outcome"]
    assert whatif[_id(2)] == "ready"  # gmail guest becomes ready on the initial domain
    assert result.whatif is not None
    assert result.whatif.precondition_met is True
    assert result.whatif.newly_ready >= 3


def test_every_rule_ran(result):
    """Every rule that means something for Atlassian ran, but those that need evidence from the
    target itself (none in this export); the others say why not."""
    ran = result.rules.set_index("rule_id")
    skipped = set(ran.index[ran["state"] == "skipped"])
    target_side = {"target-email-conflict", "target-unlinked-account"}
    assert skipped == {"target-key-invalid", "matching-attribute-unsupported", *target_side}
    assert all(ran.loc[r, "reason"].startswith("not evaluated: Atlassian Cloud") for r in skipped - target_side)  # fmt: skip
    assert all("was not collected" in ran.loc[r, "reason"] for r in target_side)


def test_a_dns_table_holding_a_domain_twice_gives_the_same_findings(result):
    """An edited snapshot may repeat a domain in its DNS table: its first row counts, no error."""
    import dataclasses

    import pandas as pd

    snapshot = collect_sync(CollectOptions(from_export=str(HERE)), config=CONFIG, now=NOW)
    dns = snapshot.tables["dns"]
    tables = {**snapshot.tables, "dns": pd.concat([dns, dns], ignore_index=True)}
    doubled = analyze(dataclasses.replace(snapshot, tables=tables), CONFIG, now=NOW)
    columns = ["object_id", "rule_id", "status"]
    assert CONFIG.verification_tokens  # the lookup that used to fail needs tokens
    pd.testing.assert_frame_equal(doubled.findings[columns], result.findings[columns])
