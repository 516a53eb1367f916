"""The vectorised (Arrow/RE2) analysis helpers give exactly what a per-value Python statement does.

Each helper is restated as the obvious per-value Python (``re``, ``idna``, ``str`` methods) and
compared on tricky text: newlines before ``$``, Unicode whitespace for ``\\s``, case variants of
``#EXT#``, U-labels, hyphens in the 3rd and 4th position, colons and non-ASCII case folding.
"""

from __future__ import annotations

import re
import sys
from datetime import UTC, datetime
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from audit import _text as text
from audit import addresses as addr
from audit.analysis.columns import conform
from audit.analysis.engine import RuleRun
from audit.analysis.findings import FINDING_COLUMNS, findings_table, status_table
from audit.analysis.outcomes import predict_outcomes
from audit.models import RuleState
from audit.rules import get_rule
from audit.rules._common import any_address, known
from audit.rules.duplicate_target_key import duplicated, in_scope
from audit.rules.exo_forwarding_broken import _no_alias
from audit.snapshot import Snapshot

SETTINGS = settings(deadline=None, max_examples=100, suppress_health_check=list(HealthCheck))
PIECES = ["@", ".", "_", "-", "--", "#EXT#", "#ext#", "#eXt#", "xn--", "xn--bcher-kva", "ab--"]
PIECES += ["\n", "\t", "\x0b", "\x1c", "\x85", "\xa0", "\u2028", "\u3000", " ", ":", "smtp:"]
PIECES += ["ü", "İ", "ı", "\u212a", "ß", "ſ", "。", "．", "é", "e\u0301", "日本", "ا", "Ⅻ", "ﬁ"]
PIECES += ["a", "Z", "0", "com", "DE", "partner", "!#$%&'*+/=?^`{|}~", '"', "a" * 64, "b" * 70]
TEXT = st.lists(st.sampled_from(PIECES) | st.text(max_size=3), max_size=10).map("".join)
TEXT = TEXT.filter(lambda t: not any(0xD800 <= ord(c) <= 0xDFFF for c in t))
VALUES = st.lists(st.none() | TEXT, max_size=12)
ATOM = r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~\-\u0080-\U0010ffff]+"
LOCAL_RE = re.compile(rf"^{ATOM}(?:\.{ATOM})*$")  # RFC 5322 dot-atom, non-ASCII allowed


def _series(values: list[Any]) -> pd.Series:
    return pd.Series(values, dtype="str")


def _parts(value: str | None) -> tuple[str | None, str | None]:
    if value is None or "@" not in value:
        return None, None
    local, _, domain = value.rpartition("@")
    return local, domain


def _valid(value: str | None) -> bool:
    local, domain = _parts(value)
    if local is None or domain is None or value is None:
        return False
    no_space = re.search(r"\s", value) is None
    return bool(LOCAL_RE.match(local)) and addr.a_label(domain) is not None and no_space


def _long(value: str | None) -> bool:
    local, _ = _parts(value)
    return len(local or "") > addr.MAX_LOCAL or len(value or "") > addr.MAX_ADDRESS


def _smtputf8(value: str | None) -> bool:
    local, domain = _parts(value)
    if domain is None:  # not an address (or missing): only non-ASCII text needs SMTPUTF8
        return value is not None and not value.isascii()
    nfc = pc.utf8_normalize(pa.array([domain]), "NFC")[0].as_py()  # Arrow's Unicode tables
    return not (local or "").isascii() or not domain.isascii() or nfc != domain


def _demangled(value: str | None) -> str | None:
    if value is None:
        return None
    found = re.search("#EXT#", value, flags=re.IGNORECASE)
    if found is None:
        return value
    head, sep, tail = value[: found.start()].rpartition("_")
    return f"{head}@{tail}" if sep else tail


def _same(got: pd.Series, want: list[Any]) -> None:
    assert [None if pd.isna(v) else v for v in got] == want


@SETTINGS
@given(VALUES)
@example(["jo\n@partner.com", "jo@partner.com\n", "a@b@c.de", "@", "x@", "\n@x\n"])
@example(["jo\xa0x@p.com", "jo\x85@p.com", "jo@p.com\u3000", "jo\x0b@p.com"])
@example(["jo_p.com#ext#x#EXT#@t", "a_b#eXt#@t", "#EXT#", "no_ext", "a__b_#EXT#"])
def test_address_helpers_equal_their_per_value_statement(values: list[str | None]) -> None:
    series = _series(values)
    parts = addr.split(series)
    _same(parts["local"], [_parts(v)[0] for v in values])
    _same(parts["domain"], [_parts(v)[1] for v in values])
    _same(addr.domain_of(series), [addr.a_label(_parts(v)[1]) for v in values])
    assert addr.is_valid(series).tolist() == [_valid(v) for v in values]
    assert addr.too_long(series).tolist() == [_long(v) for v in values]
    assert addr.needs_smtputf8(series).tolist() == [_smtputf8(v) for v in values]
    _same(addr.demangle_upn(series), [_demangled(v) for v in values])


LABEL = st.text(st.sampled_from("aZ09-xnX"), min_size=1, max_size=66)
HOSTS = st.lists(st.lists(LABEL, min_size=1, max_size=4).map(".".join), max_size=20)


@SETTINGS
@given(HOSTS)
@example(["ab--c.com", "a---b.com", "xn--bcher-kva.de", "A-B.COM", "a.b", "a.c0m", "-a.com"])
@example(["a." * 126 + "de", "a" * 63 + ".com", "a" * 64 + ".com"])
def test_domain_a_labels_equal_idna_per_domain(hosts: list[str]) -> None:
    got = addr.domains_a_label(_series(hosts))
    _same(got, [addr.a_label(h) for h in hosts])


def test_the_re2_space_class_is_pythons_backslash_s() -> None:
    chars = [chr(c) for c in range(sys.maxunicode + 1) if not 0xD800 <= c <= 0xDFFF]
    hits = pc.match_substring_regex(pa.array(chars), addr._SPACE_RE2).to_pylist()
    assert [c for c, hit in zip(chars, hits, strict=True) if hit] == [
        c for c in chars if c.isspace()
    ]


CANDIDATES = st.lists(st.none() | st.just(float("nan")) | st.integers(-9, 9) | TEXT, max_size=8)


@SETTINGS
@given(VALUES, CANDIDATES)
@example(["a", None], ["a", None])
@example(["a", None], [1, 2])
def test_text_isin_is_pandas_isin(values: list[str | None], candidates: list[Any]) -> None:
    series = _series(values).rename("ids")
    pd.testing.assert_series_equal(text.text_isin(series, candidates), series.isin(candidates))
    pool = pd.Series([c for c in candidates if not isinstance(c, int)], dtype="str")
    pd.testing.assert_series_equal(text.text_isin(series, pool), series.isin(pool))


@SETTINGS
@given(VALUES, st.lists(st.none() | TEXT, max_size=6, unique=True), st.data())
def test_map_text_is_pandas_map(
    values: list[str | None], keys: list[str | None], data: Any
) -> None:
    series = _series(values).rename("domain")
    index = pd.Index(keys, dtype="str")
    for dtype, draw in (("boolean", st.none() | st.booleans()), ("str", st.none() | TEXT)):
        mapper = pd.Series([data.draw(draw) for _ in keys], index=index, dtype=dtype)
        pd.testing.assert_series_equal(text.map_text(series, mapper), series.map(mapper))


@SETTINGS
@given(VALUES, VALUES)
@example(["a", None, "b", "z"], ["b", None, "a", "b", None])
def test_first_rows_are_the_lookup_in_the_deduplicated_table(
    keys: list[str | None], table: list[str | None]
) -> None:
    for dtype in ("str", object):
        keyed = pd.Series(keys, dtype=dtype)
        table_keys = pd.Series(table, dtype=dtype)
        frame = pd.DataFrame({"key": table_keys, "row": range(len(table))})
        unique = frame.drop_duplicates("key").set_index("key")
        found = unique.index.get_indexer(pd.Index(keyed))
        rows = unique["row"].tolist()
        want = [rows[i] if i >= 0 else -1 for i in found.tolist()]
        assert text.first_rows(keyed, table_keys).tolist() == want


def _no_alias_reference(addresses: pd.Series, upn: pd.Series) -> list[bool]:
    def forms(cell: Any) -> set[str]:
        items = cell if isinstance(cell, list) else []
        return {str(v).split(":", 1)[-1].lower() for v in items}

    return [u not in forms(cell) for u, cell in zip(upn, addresses, strict=True)]


CELLS = st.lists(st.none() | st.lists(st.none() | st.integers() | TEXT, max_size=3), max_size=10)


@SETTINGS
@given(CELLS, st.data())
def test_mail_user_alias_lookup_equals_the_set_statement(cells: list[Any], data: Any) -> None:
    addresses = pd.Series(cells, dtype=object, index=range(7, 7 + len(cells)))
    picks = [data.draw(TEXT) for _ in cells]
    for i, cell in enumerate(cells):  # plant some hits, spelled as the rule folds them
        if isinstance(cell, list) and cell and i % 2:
            picks[i] = str(cell[0]).split(":", 1)[-1].lower()
    _check_no_alias(addresses, picks)


def test_mail_user_alias_lookup_folds_case_as_python_does() -> None:
    addresses = pd.Series([["SMTP:Jo@P", "smtp:İx"], [":"], None, "SMTP:a@b"], dtype=object)
    _check_no_alias(addresses, ["JO@p", "İx", "", "a@b"])


def _check_no_alias(addresses: pd.Series, upns: list[str]) -> None:
    upn = pd.Series(upns, dtype="str", index=addresses.index).str.lower().fillna("")
    assert _no_alias(addresses, upn).tolist() == _no_alias_reference(addresses, upn)


def _primary_reference(cell: Any) -> str | None:
    if cell is None or (isinstance(cell, float) and cell != cell):
        return None
    return next((v[5:] for v in cell if isinstance(v, str) and v.startswith("SMTP:")), None)


@SETTINGS
@given(CELLS)
@example([["smtp:a@b", "SMTP:c@d", "SMTP:e@f"], ["X500:x", "SMTP:"], [], None, ["SMTP:ü@日本"]])
@example([["SMTP:a@b"], "SMTP:not-a-list", float("nan")])
def test_primary_smtp_is_the_first_upper_case_smtp_proxy(cells: list[Any]) -> None:
    proxies = pd.Series(cells, dtype=object, index=range(3, 3 + len(cells)), name="proxy_addresses")
    got = addr.primary_smtp(proxies)
    assert got.name == "proxy_addresses"
    assert got.index.equals(proxies.index)
    _same(got, [_primary_reference(c) for c in cells])


@SETTINGS
@given(CELLS, st.sampled_from([addr.is_valid, addr.too_long, addr.needs_smtputf8]))
@example([["a@b.com", "bad"], ["x y@b.com"], [], None, "a@b.com"], addr.is_valid)
def test_any_address_on_lists_equals_exploding_them(cells: list[Any], test: Any) -> None:
    frame = pd.DataFrame({"other_mails": pd.Series(cells, dtype=object)}, index=range(len(cells)))
    frame["mail"] = pd.Series(["a@b.com"] * len(cells), dtype="str")
    got = any_address(frame, ("mail", "other_mails"), test)["other_mails"]
    values = frame["other_mails"].explode().astype("str")
    want = (test(values) & known(values)).groupby(level=0).any().reindex(frame.index)
    if any(isinstance(c, list) for c in cells):
        pd.testing.assert_series_equal(got, want.fillna(False).astype(bool), check_names=False)


@SETTINGS
@given(VALUES, st.data())
def test_duplicates_equal_value_counts(values: list[str | None], data: Any) -> None:
    scope = pd.Series([data.draw(st.booleans()) for _ in values])
    series = _series(values)
    key = series.str.lower().where(scope & series.str.strip().ne("").fillna(False))
    want = (key.map(key.value_counts()) > 1).fillna(False).astype(bool)
    pd.testing.assert_series_equal(duplicated(series, scope), want, check_names=False)


@pytest.mark.parametrize("size", [0, 1, 5])
def test_status_table_equals_categories_of_the_status_strings(size: int) -> None:
    frame = pd.DataFrame({"object_id": pd.Series([f"id{i}" for i in range(size)], dtype="str")})
    rule = get_rule("mail-missing")
    masks = [
        pd.Series([True, None, False, True, None][:size], dtype="boolean"),
        pd.Series([False] * size, dtype="boolean"),
        pd.Series([None] * size, dtype="boolean"),
    ]
    runs = [RuleRun(rule, RuleState.RAN, mask=m) for m in masks]
    runs.append(RuleRun(rule, RuleState.SKIPPED, "not collected"))
    got = [status_table([run], frame) for run in runs]
    for table, run in zip(got, runs, strict=True):
        want = _status_reference(run, frame)
        pd.testing.assert_frame_equal(table, want)


def _status_reference(run: RuleRun, frame: pd.DataFrame) -> pd.DataFrame:
    data: dict[str, Any] = {"object_id": frame["object_id"]}
    if run.mask is None:
        data[run.rule.id] = pd.Series("skipped", index=frame.index)
    else:
        values = np.where(run.mask.isna(), "not_evaluated", "passed").astype(object)
        values[run.mask.fillna(False).astype(bool).to_numpy()] = "flagged"
        data[run.rule.id] = pd.Series(values, index=frame.index)
    return pd.DataFrame(data).astype("category").astype({"object_id": "str"})


# ---- outcomes and findings, against their per-guest statements ------------------------------------

EMAILS = st.sampled_from(
    [None, "", "jo@partner.com", "JO@partner.com", "jo@gmail.com", "bad", "a b@c.de"]
)
EMAILS |= st.sampled_from(["x" * 70 + "@p.com", "x y" + "x" * 70 + "@p.com"])
GUEST = st.fixed_dictionaries(
    {
        "email": EMAILS,
        "key": st.sampled_from([None, "k1", "K1", "k2"]),
        "verified": st.sampled_from([True, False, None]),
        "scope": st.sampled_from([None, "direct", "group", "none", "nested_only"]),
        "mail": st.sampled_from([None, "jo@partner.com"]),
        "upn_ok": st.booleans(),
    }
)


def _reasons_reference(guest: dict[str, Any], dup: bool) -> list[str]:
    """The reasons of one guest as the rules state them, one guest at a time (catalogue order)."""
    if guest["scope"] in ("none", "nested_only"):
        return ["not-in-scope" if guest["scope"] == "none" else "nested-group-only"]
    email = guest["email"]
    missing = email is None or not email.strip()
    blocking = []
    if missing or not _valid(email):
        blocking.append("address-invalid")
    if dup:
        blocking.append("duplicate-target-key")
    if missing and guest["mail"] is None:
        blocking.append("mail-missing")
    if missing and not guest["upn_ok"]:
        blocking.append("original-upn-missing")
    if not missing and _long(email):
        blocking.append("address-too-long")
    if blocking:
        return blocking
    public = addr.a_label(_parts(email)[1]) == "gmail.com"
    if guest["verified"] is False or public:
        return ["domain-unverified"] * (guest["verified"] is False) + [
            "public-mail-domain"
        ] * public
    return ["domain-unverified"] if guest["verified"] is None else []


@SETTINGS
@given(st.lists(GUEST, max_size=12))
def test_outcome_reasons_equal_the_per_guest_statement(guests: list[dict[str, Any]]) -> None:
    email = pd.Series([g["email"] for g in guests], dtype="str")
    domain = addr.domain_of(email)
    frame = conform(
        pd.DataFrame(
            {
                "target_email": email,
                "target_email_domain": domain,
                "target_email_public": domain.eq("gmail.com").fillna(False),
                "target_key": pd.Series([g["key"] for g in guests], dtype="str"),
                "target_key_normalised": pd.Series([g["key"] for g in guests], dtype="str"),
                "target_domain_verified": [g["verified"] for g in guests],
                "scope": pd.Series([g["scope"] for g in guests], dtype="str"),
                "mail": pd.Series([g["mail"] for g in guests], dtype="str"),
                "other_mails": [[] for _ in guests],
                "original_upn": pd.Series(["u"] * len(guests), dtype="str"),
                "original_upn_ok": [g["upn_ok"] for g in guests],
                "proxy_addresses": [[] for _ in guests],
                "target_account": pd.Series([None] * len(guests), dtype="str"),
            }
        )
    )
    # The engine's columns for guests that are enabled, let in by the filter and fully evaluated.
    assigned = frame["scope"].isna() | frame["scope"].isin(["direct", "group"])
    frame["in_scope"] = assigned.astype("boolean")
    frame["filter_in_scope"] = pd.Series(True, index=frame.index, dtype="boolean")
    frame["account_enabled"] = pd.Series(True, index=frame.index, dtype="boolean")
    frame["target_email_known"] = True
    frame["target_key_known"] = True
    frame["match_value"] = frame["target_key"]
    frame["engine_unknown"] = pd.Series(pd.NA, index=frame.index, dtype="str")
    frame["step_action"] = pd.Series("create", index=frame.index, dtype="str")
    frame["step_scope"] = pd.Series("", index=frame.index, dtype="str")
    scope = in_scope(frame["in_scope"])[0]
    dup = duplicated(frame["target_key"], scope) | duplicated(frame["target_email"], scope)
    got = predict_outcomes(frame)["reasons"].tolist()
    assert got == [_reasons_reference(g, d) for g, d in zip(guests, dup, strict=True)]
    assert len({id(reasons) for reasons in got}) == len(got)  # every guest has its own list


def _findings_reference(runs: list[RuleRun], frame: pd.DataFrame) -> pd.DataFrame:
    """Findings of guest-level rules built one rule at a time, as a DataFrame per rule."""
    parts = []
    for run in runs:
        flags = run.mask.fillna(False).astype(bool) if run.mask is not None else None
        idx = frame.index[flags.to_numpy()] if flags is not None else pd.Index([])
        rows = frame.loc[idx]
        details = run.details if run.details is not None else pd.Series("", index=idx)
        part: dict[str, Any] = {"rule_id": run.rule.id, "severity": run.rule.severity.value}
        part |= {"status": "flagged"}
        part |= {c: rows[c] for c in ("object_id", "user_principal_name", "display_name", "mail")}
        part |= {"domain": rows["mail_domain"], "detail": details.reindex(idx).fillna("")}
        part |= {"level": run.rule.level, "muted_by": ""}
        parts.append(pd.DataFrame(part))
    parts = [p for p in parts if len(p)]
    if not parts:
        return pd.DataFrame({c: pd.Series(dtype="str") for c in FINDING_COLUMNS})
    return pd.concat(parts, ignore_index=True)[FINDING_COLUMNS]


MASKS = st.lists(st.none() | st.booleans(), min_size=4, max_size=4)


@SETTINGS
@given(st.lists(st.tuples(st.none() | MASKS, st.booleans()), max_size=5))
def test_findings_equal_the_per_rule_tables(specs: list[tuple[list[Any] | None, bool]]) -> None:
    texts = {c: [f"{c}{i}" if i != 2 else None for i in range(4)] for c in _FIELDS}
    frame = pd.DataFrame({c: pd.Series(v, dtype="str") for c, v in texts.items()})
    rules = [get_rule(r) for r in ("mail-missing", "stale-guest", "upn-invalid", "guest-licensed")]
    runs = []
    for i, (mask, with_details) in enumerate(specs):
        rule = rules[i % len(rules)]
        if mask is None:
            runs.append(RuleRun(rule, RuleState.SKIPPED, "not collected"))
            continue
        flags = pd.Series(mask, dtype="boolean")
        picked = frame.index[flags.fillna(False).to_numpy()]
        details = pd.Series([f"d{j}" for j in picked], index=picked, dtype="str")
        runs.append(
            RuleRun(rule, RuleState.RAN, mask=flags, details=details if with_details else None)
        )
    empty = Snapshot(
        tenant={}, collected_at=datetime(2026, 1, 1, tzinfo=UTC), sources={}, tables={}
    )
    got = findings_table(runs, frame, empty)
    pd.testing.assert_frame_equal(got, _findings_reference(runs, frame))


_FIELDS = ("object_id", "user_principal_name", "display_name", "mail", "mail_domain")


@pytest.mark.parametrize(
    ("cells", "expected"),
    [
        ([["a", "b"], [], None, float("nan"), ["c"]], (["a", "b", "c"], [0, 0, 4])),
        ([["a"], "ab"], None),  # Arrow would read the string as the list ["a", "b"]
        ([["a"], ("b",)], None),
        ([["a"], [None]], None),
        ([["a"], [5]], None),
        ([["a"], 1.5], None),
    ],
)
def test_list_items_only_takes_plain_lists_of_strings(cells: list[Any], expected: Any) -> None:
    got = text.list_items(pd.Series(cells, dtype=object))
    if expected is None:
        assert got is None
    else:
        assert got is not None
        assert (got[0].to_pylist(), got[1].tolist()) == expected
