"""Every rule's metadata is valid and every example is judged as it says."""

from __future__ import annotations

from datetime import UTC, datetime

import pandas as pd
import pytest

from audit.analysis.engine import Context, evaluate, example_frame
from audit.rules import all_rules

CTX = Context(now=datetime(2026, 11, 1, tzinfo=UTC), initial_domain="t.onmicrosoft.com")
CASES = [(r, i) for r in all_rules() for i in range(len(r.examples))]


@pytest.mark.parametrize(("rule", "index"), CASES, ids=[f"{r.id}-{i}" for r, i in CASES])
def test_rule_examples(rule, index):
    example = rule.examples[index]
    frame = example_frame(rule, example)
    result = evaluate(rule, frame, example.context(CTX))
    got = [None if pd.isna(v) else bool(v) for v in result]
    assert got == list(example.expect), example.note


@pytest.mark.parametrize("rule", all_rules(), ids=lambda r: r.id)
def test_rule_details_are_text(rule):
    if rule.detail is None:
        return
    example = rule.examples[0]
    frame = example_frame(rule, example)
    ctx = example.context(CTX)
    mask = evaluate(rule, frame, ctx).fillna(False).astype(bool)
    details = rule.detail(frame[mask], ctx)
    assert details.map(lambda v: isinstance(v, str) and v != "").all()


def test_catalogue_ids_are_the_public_contract():
    ids = {r.id for r in all_rules()}
    assert ids == {
        "domain-unverified", "public-mail-domain", "original-upn-missing", "mail-missing",
        "address-invalid", "address-too-long", "address-non-ascii", "mail-domain-undeliverable",
        "pending-acceptance", "account-disabled", "upn-mail-mismatch", "duplicate-target-key",
        "nested-group-only", "not-in-scope", "mapping-sends-external-address",
        "primary-smtp-mismatch", "exo-not-mail-enabled", "exo-forwarding-broken",
        "domain-claimed-elsewhere", "prior-provisioning-failure", "upn-invalid", "guest-licensed",
        "external-member", "stale-guest", "target-key-invalid", "matching-attribute-unsupported",
        "target-email-conflict", "target-unlinked-account",
        "scoping-filter", "mapping-not-evaluable", "mapping-creates-nobody",
    }  # fmt: skip
