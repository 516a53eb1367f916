"""Property tests: the UPN de-mangler, the address normaliser, the MailUser CSV importer, and a
bounded-time fuzz of the mapping-expression parser and evaluator.

Properties: no exception escapes on any input (only the typed InputError/ExpressionError where an
input is refused), and the round trips hold (mangle → de-mangle gives the address back; an address
split at its last ``@`` joins back; A-labels are fixed points; a MailUser CSV written by
``Export-Csv`` in any of its encodings and layouts reads back to the same rows).

The fuzz target runs for ``B2B_FUZZ_SECONDS`` seconds (default 2; CI may give it more), feeding
seeded random buffers to Hypothesis's ``fuzz_one_input``, so it is bounded and reproducible.
"""

from __future__ import annotations

import csv
import io
import os
import random
import re
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any, cast

import idna
import pandas as pd
import pytest
from hypothesis import HealthCheck, assume, example, given, settings
from hypothesis import strategies as st

from audit import addresses as addr
from audit.collectors.mailusers import OPTIONAL, REQUIRED, read_mailusers
from audit.errors import ExpressionError, InputError
from audit.mapping import DEFAULT_ATTRIBUTE_COLUMNS, evaluate, parse, to_text
from audit.mapping.signatures import SIGNATURES

SETTINGS = settings(
    deadline=None, max_examples=100, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
# Graph JSON cannot carry lone surrogates (orjson refuses them), so tenant text never holds them.
TEXT = st.text(st.characters(exclude_categories=["Cs"]), max_size=40)
INITIAL = "contoso.onmicrosoft.com"
# Plain LDH labels. Hyphens in the 3rd and 4th positions are IDNA's reserved form (``xn--``):
# those labels go through the IDNA checks (``addresses._plain_hosts``), not this property.
LABEL = st.from_regex(r"[a-z0-9](?:[a-z0-9-]{0,10}[a-z0-9])?", fullmatch=True).filter(
    lambda label: label[2:4] != "--"
)
HOST = st.builds(lambda labels, tld: ".".join([*labels, tld]), st.lists(LABEL, min_size=1, max_size=3),
                 st.from_regex(r"[a-z]{2,6}", fullmatch=True))  # fmt: skip


def _series(values: list[Any]) -> pd.Series:
    return pd.Series(values, dtype="str")


# ---- UPN de-mangler ---------------------------------------------------------------------------------


def _reference_demangle(upn: str) -> str:
    """The rule restated: the prefix before the first ``#EXT#``, its last ``_`` made ``@``."""
    found = re.search("#EXT#", upn, flags=re.IGNORECASE)
    if found is None:
        return upn
    prefix = upn[: found.start()]
    if "_" not in prefix:
        return prefix
    at = prefix.rindex("_")
    return prefix[:at] + "@" + prefix[at + 1 :]


@SETTINGS
@given(st.lists(st.none() | TEXT, max_size=8))
def test_demangle_never_raises_and_matches_the_rule(values: list[str | None]) -> None:
    upns = _series(values)
    got = addr.demangle_upn(upns)
    assert got.index.equals(upns.index)
    for value, out in zip(values, got.tolist(), strict=True):
        if value is None:
            assert pd.isna(out)
        else:
            assert out == _reference_demangle(value)
    assert addr.is_ext_upn(upns, INITIAL).dtype == bool


@SETTINGS
@given(TEXT.filter(lambda a: "#ext#" not in a.casefold() and "#" not in a[-4:]), HOST)
@example("o'brien_jr", "partner.example")
@example("a_b_c", "x.example")
def test_mangle_then_demangle_gives_the_address_back(alias: str, domain: str) -> None:
    upn = f"{alias}_{domain}#EXT#@{INITIAL}"
    assert addr.demangle_upn(_series([upn])).iloc[0] == f"{alias}@{domain}"


@SETTINGS
@given(TEXT.filter(lambda t: "#ext#" not in t.casefold()))
def test_upns_without_ext_are_unchanged(text: str) -> None:
    assert addr.demangle_upn(_series([text])).iloc[0] == text


@SETTINGS
@given(st.from_regex(r"[a-z0-9.'+-]{0,20}[a-z0-9]", fullmatch=True), HOST)
def test_guest_upns_of_valid_addresses_are_recognised(alias: str, domain: str) -> None:
    upn = f"{alias}_{domain}#EXT#@{INITIAL}"
    assert bool(addr.is_ext_upn(_series([upn]), INITIAL).iloc[0])
    assert bool(addr.is_ext_upn(_series([upn.upper()]), INITIAL).iloc[0])
    assert not addr.is_ext_upn(_series([upn]), "other.onmicrosoft.com").iloc[0]


# ---- address normaliser -----------------------------------------------------------------------------

U_LABEL = st.text(st.sampled_from("abcdefghijklmnopqrstuvwxyz0123456789äöüéèçñøåßłžšæ"), min_size=1,
                  max_size=12)  # fmt: skip


@SETTINGS
@given(st.none() | TEXT)
def test_a_label_never_raises_and_is_a_lower_case_ascii_host_or_none(value: str | None) -> None:
    out = addr.a_label(value)
    if out is not None:
        assert out.isascii()
        assert out == out.lower()
        assert addr.a_label(out) == out  # a fixed point
        assert len(out) <= 253
        assert "." in out


@SETTINGS
@given(HOST)
def test_ascii_hosts_normalise_to_their_lower_case(host: str) -> None:
    assert addr.a_label(host) == host
    assert addr.a_label(host.upper()) == host
    assert addr.a_label(host + ".") is None  # a trailing dot is refused, never silently dropped
    assert addr.a_label(" " + host) is None


@SETTINGS
@given(st.lists(U_LABEL, min_size=1, max_size=3), st.sampled_from(["example", "de", "com"]))
def test_idn_hosts_round_trip_through_their_a_label(labels: list[str], tld: str) -> None:
    host = ".".join([*labels, tld])
    try:
        expected = idna.encode(host, uts46=True).decode("ascii")
    except idna.IDNAError:
        assume(False)
        return
    out = addr.a_label(host)
    if out is None:  # e.g. a label that becomes too long as an A-label
        assert any(len(label) > 63 for label in expected.split("."))
        return
    assert out == expected.lower()
    assert idna.decode(out) == idna.decode(expected)


@SETTINGS
@given(st.lists(st.none() | TEXT | st.builds(lambda a, b: f"{a}@{b}", TEXT, TEXT), max_size=8))
def test_address_checks_never_raise_and_agree_with_each_other(values: list[str | None]) -> None:
    series = _series(values)
    parts = addr.split(series)
    for value, local, domain in zip(values, parts["local"], parts["domain"], strict=True):
        if value is not None and "@" in value:
            assert f"{local}@{domain}" == value
            assert "@" not in domain
        else:
            assert pd.isna(local)
            assert pd.isna(domain)
    valid, long_, utf8 = addr.is_valid(series), addr.too_long(series), addr.needs_smtputf8(series)
    for frame in (valid, long_, utf8):
        assert frame.dtype == bool
        assert frame.index.equals(series.index)
    domains = addr.domain_of(series)
    for value, domain, ok in zip(values, domains, valid, strict=True):
        if ok:
            assert value is not None
            assert domain == addr.a_label(value.rpartition("@")[2])
            assert not any(c.isspace() for c in value)
        if value is not None and "@" in value and not pd.isna(domain):
            assert domain == addr.a_label(value.rpartition("@")[2])
    for value, flag in zip(values, long_, strict=True):
        if value is not None and "@" in value:
            assert flag == (len(value.rpartition("@")[0]) > 64 or len(value) > 254)


# ---- MailUser CSV importer --------------------------------------------------------------------------

CELL = st.text(
    st.characters(exclude_categories=["Cs"], exclude_characters="\x00"), max_size=30
).map(str.strip)
ADDRESS = st.from_regex(r"(SMTP|smtp|X500):[A-Za-z0-9._'+=-]{1,12}@[a-z0-9-]{1,10}\.[a-z]{2,5}",
                        fullmatch=True)  # fmt: skip
ROW = st.fixed_dictionaries({
    "ExternalDirectoryObjectId": st.uuids().map(str),
    "PrimarySmtpAddress": CELL,
    "ExternalEmailAddress": CELL,
    "EmailAddresses": st.lists(ADDRESS, max_size=4),
    "DisplayName": CELL,
    "UserPrincipalName": CELL,
    "HiddenFromAddressListsEnabled": st.sampled_from(["True", "False", ""]),
    "RecipientTypeDetails": st.just("GuestMailUser"),
})  # fmt: skip
LAYOUT = st.fixed_dictionaries({
    "encoding": st.sampled_from(["utf-8-sig", "utf-8", "utf-16"]),
    "newline": st.sampled_from(["\r\n", "\n"]),
    "quoting": st.sampled_from([csv.QUOTE_ALL, csv.QUOTE_MINIMAL]),
    "type_line": st.booleans(),
    "joiner": st.sampled_from([";", ",", "braces"]),
    "extra": st.booleans(),
    "order": st.randoms(use_true_random=False),
})  # fmt: skip


def _write_csv(path: Path, rows: list[dict[str, Any]], layout: dict[str, Any]) -> None:
    columns = [*REQUIRED, *OPTIONAL, *(["Extra, column"] if layout["extra"] else [])]
    layout["order"].shuffle(columns)
    buffer = io.StringIO(newline="")
    if layout["type_line"]:
        buffer.write("#TYPE Deserialized.Microsoft.Exchange.Data.Directory.Management.MailUser")
        buffer.write(layout["newline"])
    writer = csv.writer(buffer, quoting=layout["quoting"], lineterminator=layout["newline"])
    writer.writerow(columns)
    for row in rows:
        cells = dict(row, **{"Extra, column": "=x"})
        joined = {";": ";".join, ",": ", ".join}.get(layout["joiner"])
        addresses = row["EmailAddresses"]
        cells["EmailAddresses"] = joined(addresses) if joined else "{" + ", ".join(addresses) + "}"
        writer.writerow([cells[c] for c in columns])
    path.write_bytes(buffer.getvalue().encode(layout["encoding"]))


@SETTINGS
@given(
    rows=st.lists(ROW, max_size=6, unique_by=lambda r: r["ExternalDirectoryObjectId"]),
    layout=LAYOUT,
)
def test_mailuser_csv_round_trips(
    rows: list[dict[str, Any]], layout: dict[str, Any], tmp_path: Path
) -> None:
    if layout["quoting"] == csv.QUOTE_MINIMAL and layout["newline"] == "\n":
        # Python's writer would leave a lone CR unquoted here (Export-Csv quotes every field)
        assume(not any("\r" in str(v) for row in rows for v in row.values()))
    path = tmp_path / "mailusers.csv"
    _write_csv(path, rows, layout)
    parsed = read_mailusers(path)
    assert parsed.problems == []
    assert parsed.status.rows == len(rows)
    table = parsed.table
    assert len(table) == len(rows)
    for row, (_, got) in zip(rows, table.iterrows(), strict=True):
        assert got["ExternalDirectoryObjectId"] == row["ExternalDirectoryObjectId"].lower()
        assert got["EmailAddresses"] == row["EmailAddresses"]
        for column in ("PrimarySmtpAddress", "ExternalEmailAddress", "DisplayName"):
            assert got[column] == row[column]


@SETTINGS
@given(data=st.binary(max_size=400) | TEXT.map(lambda t: t.encode("utf-8")))
@example(data=b"\xef\xbb\xbf")
@example(
    data=b'"ExternalDirectoryObjectId","PrimarySmtpAddress","ExternalEmailAddress","EmailAddresses"\n"'
)
def test_any_bytes_give_a_table_or_an_input_error(data: bytes, tmp_path: Path) -> None:
    path = tmp_path / "mailusers.csv"
    header = b"ExternalDirectoryObjectId,PrimarySmtpAddress,ExternalEmailAddress,EmailAddresses\n"
    for content in (data, header + data):
        path.write_bytes(content)
        try:
            parsed = read_mailusers(path)
        except InputError as error:
            refused: InputError | None = error
        else:
            refused = None
        if refused is not None:
            assert str(path) in str(refused)
            continue
        table = parsed.table
        readable = table[~table["_unreadable"]]
        assert len(readable) == parsed.status.rows
        assert all(str(uuid.UUID(i)) == i for i in readable["ExternalDirectoryObjectId"])
        unreadable = table.loc[table["_unreadable"], "ExternalDirectoryObjectId"].dropna()
        assert all(str(uuid.UUID(i)) == i for i in unreadable)


# ---- bounded-time fuzz of the mapping-expression parser and evaluator ------------------------------

FUNCTIONS = sorted(SIGNATURES)
TOKENS = [*FUNCTIONS, *(f.lower() for f in FUNCTIONS[:8]), "[mail]", "[userPrincipalName]",
          "[otherMails]", "[", "]", "(", ")", ",", '"', '""', "\\", " ", "=", "<", ">", "&", "-",
          "True", "False", "0", "-1", "99999999999999999999", "\n", "#EXT#", "@", "\u202e", "\x00"]  # fmt: skip
FRAME = pd.DataFrame(
    {
        column: pd.Series(["a_b.example#EXT#@t.example", None, "Ünï <x>"], dtype="string")
        if column not in ("other_mails", "proxy_addresses", "account_enabled")
        else pd.Series([["x@y.z"], None, []], dtype=object)
        if column != "account_enabled"
        else pd.Series([True, None, False], dtype="boolean")
        for column in DEFAULT_ATTRIBUTE_COLUMNS.values()
    }
)
EXPRESSIONS = st.one_of(
    st.lists(st.sampled_from(TOKENS), max_size=24).map("".join),
    st.lists(st.sampled_from(TOKENS) | TEXT, max_size=12).map("".join),
    TEXT,
)


@settings(deadline=None, database=None, max_examples=1)
@given(EXPRESSIONS)
def fuzz_expression(text: str) -> None:
    """The fuzz target: parse, print, re-parse and evaluate; only ExpressionError may escape."""
    try:
        tree = parse(text)
    except ExpressionError as error:
        failure: ExpressionError | None = error
    else:
        failure = None
    if failure is not None:
        assert failure.position is not None
        assert 0 <= failure.position <= len(text)
        return
    printed = to_text(tree)
    assert parse(printed) == tree
    try:
        values = evaluate(tree, FRAME)
    except ExpressionError:
        return
    assert len(values) == len(FRAME)


def _fuzz_one_input() -> Callable[[bytes], object]:
    """Hypothesis's entry point for external fuzzers (atheris-style), of the fuzz target."""
    return cast(Callable[[bytes], object], fuzz_expression.hypothesis.fuzz_one_input)  # type: ignore[attr-defined]


def test_fuzz_the_expression_parser_for_a_bounded_time() -> None:
    budget = float(os.environ.get("B2B_FUZZ_SECONDS", "2"))
    rng = random.Random(int(os.environ.get("B2B_FUZZ_SEED", "20250314")))
    fuzz = _fuzz_one_input()
    runs, deadline = 0, time.monotonic() + budget
    while time.monotonic() < deadline:
        fuzz(rng.randbytes(rng.randint(1, 512)))
        runs += 1
    assert runs > 50, runs
    print(f"fuzzed the expression parser with {runs} inputs in {budget:g} s")


@pytest.mark.parametrize("text", ["Coalesce(", '"\\', "[", "Switch([mail],,,,)", "IIF(" * 70])
def test_fuzz_target_accepts_known_nasty_inputs(text: str) -> None:
    _fuzz_one_input()(text.encode())  # any bytes are a valid buffer
