"""``audit.redact``: pseudonyms are consistent, keep the structure, and leave no original behind.

Same guest → same pseudonym in every table and output; an address keeps its length, validity and
(non-)ASCII-ness; the findings and outcomes of a redacted result are the original ones, and a
redacted snapshot analysed again gives the same findings per object id. No original name or
address of a guest is in any redacted output, and the per-run key is never written.
"""

from __future__ import annotations

import csv
import io
import re
from pathlib import Path

import orjson
import pandas as pd
import pytest

from audit import addresses as addr
from audit import snapshot as snap
from audit.analysis.analyzer import analyze
from audit.analysis.result import AuditResult
from audit.collectors.pipeline import CollectOptions, collect_sync
from audit.config import AuditConfig
from audit.redact import (
    Pseudonymiser,
    redact_dns_document,
    redact_records,
    redact_result,
    redact_snapshot,
)
from audit.render import render_all
from tests.make_hostile_corpus import TARGET as HOSTILE

HANDMADE = Path(__file__).parent / "data" / "handmade"
CONFIG = AuditConfig(
    verified_domains=("fabrikam.onmicrosoft.com", "contoso.com"),
    verification_tokens=("atlassian-domain-verification=OUR-TOKEN-123",),
)
KEY = b"k" * 32
SECRET_WORDS = ("john", "contoso", "adatum", "litware", "wingtiptoys", "smith")


@pytest.fixture(scope="module")
def snapshot() -> snap.Snapshot:
    return collect_sync(CollectOptions(from_export=str(HANDMADE)), config=CONFIG)


@pytest.fixture(scope="module")
def result(snapshot: snap.Snapshot) -> AuditResult:
    return analyze(snapshot, CONFIG)


def _keys(findings: pd.DataFrame) -> list[tuple[str, str, str, str]]:
    cols = ["rule_id", "object_id", "status", "severity"]
    return sorted(map(tuple, findings[cols].astype(str).itertuples(index=False)))


def test_same_word_same_pseudonym_with_its_shape() -> None:
    p = Pseudonymiser(key=KEY)
    mail = p.text("John.Smith@Contoso.com")
    assert mail == p.text("John.Smith@Contoso.com")
    assert p.text("john.smith@contoso.com") == mail.lower()  # case-insensitive, case kept
    assert p.text("john.smith_contoso.com#EXT#@fabrikam.onmicrosoft.com").startswith(
        mail.lower().replace("@", "_")
    )
    assert p.text("SMTP:john.smith@contoso.com") == "SMTP:" + mail.lower()
    assert mail.endswith(".com")
    assert len(mail) == len("John.Smith@Contoso.com")
    assert mail[0].isupper()
    assert mail[1:4].islower()
    assert "john" not in mail.lower()
    assert p.text("ann@gmail.com").endswith("@gmail.com")  # providers identify nobody
    assert Pseudonymiser(key=b"x" * 32).text("John") != p.text("John")
    assert Pseudonymiser().text("John") != Pseudonymiser().text("John")  # a new key per run


@pytest.mark.parametrize(
    "address",
    ["jürgen@bücher.example", "user@xn--bcher-kva.example", '"a b"@x.example', "a..b@x.example",
     "x" * 70 + "@long.example", "trailing@dot.example.", "нет@пример.рф", "user@xn--bad"],
)  # fmt: skip
def test_addresses_keep_validity_length_and_ascii_ness(address: str) -> None:
    p = Pseudonymiser(key=KEY)
    before, after = pd.Series([address], dtype="str"), pd.Series([p.text(address)], dtype="str")
    for check in (addr.is_valid, addr.too_long, addr.needs_smtputf8):
        assert check(after).iloc[0] == check(before).iloc[0], check.__name__
    assert len(after.iloc[0]) == len(address) or "xn--" in address


def test_a_and_u_labels_of_one_domain_stay_one_domain() -> None:
    p = Pseudonymiser(key=KEY)
    u_label = addr.a_label(p.text("bücher.example").split("@")[-1])
    assert u_label == p.text("xn--bcher-kva.example")
    assert u_label is not None
    assert "bcher" not in u_label


def test_result_findings_and_outcomes_are_unchanged(result: AuditResult) -> None:
    redacted = redact_result(result, Pseudonymiser.for_result(result, key=KEY))
    assert _keys(redacted.findings) == _keys(result.findings)
    pd.testing.assert_frame_equal(redacted.outcomes, result.outcomes)
    assert redacted.guests["object_id"].tolist() == result.guests["object_id"].tolist()
    assert redacted.outcome_counts() == result.outcome_counts()
    by_id = redacted.guests.set_index("object_id")
    for _, row in redacted.findings[redacted.findings["level"] == "guest"].iterrows():
        guest = by_id.loc[row["object_id"]]
        assert row["display_name"] == guest["display_name"]  # one pseudonym per guest
        assert str(row["mail"]) == str(guest["mail"])
    same = result.guests["provisioning_upn"].str.lower() == result.guests["mail"].str.lower()
    again = redacted.guests["provisioning_upn"].str.lower() == redacted.guests["mail"].str.lower()
    assert same.fillna(False).tolist() == again.fillna(False).tolist()


def test_redacted_outputs_hold_no_original_name_or_address(
    result: AuditResult, tmp_path: Path
) -> None:
    p = Pseudonymiser.for_result(result, key=KEY)
    render_all(redact_result(result, p), tmp_path)
    findings = orjson.loads((tmp_path / "findings.json").read_bytes())
    data = orjson.dumps([findings["findings"], findings.get("domains", [])]).decode().lower()
    texts = [data]
    for name in ("findings.csv", "guests.csv"):
        text = (tmp_path / name).read_text("utf-8-sig")
        texts.append(orjson.dumps(list(csv.reader(io.StringIO(text)))[1:]).decode().lower())
    html = (tmp_path / "report.html").read_text("utf-8")
    payload = re.search(r'<script type="application/json" id="data">(.*?)</script>', html, re.S)
    assert payload is not None
    texts.append(payload.group(1).lower())
    for text in texts:
        for word in SECRET_WORDS:
            assert word not in text, word
    assert "fabrikam.onmicrosoft.com" in texts[0]  # the tenant's own domain is kept
    assert KEY.decode() not in "".join(texts)


def test_redacted_snapshot_gives_the_same_findings(snapshot: snap.Snapshot, tmp_path: Path) -> None:
    p = Pseudonymiser.for_snapshot(snapshot, key=KEY)
    redacted = redact_snapshot(snapshot, p)
    config = AuditConfig(
        verified_domains=tuple(p.text(d) for d in CONFIG.verified_domains),
        verification_tokens=CONFIG.verification_tokens,
    )
    again = analyze(redacted, config)
    original = analyze(snapshot, CONFIG)
    assert _keys(again.findings) == _keys(original.findings)
    pd.testing.assert_frame_equal(again.outcomes, original.outcomes)
    saved = snap.save(redacted, tmp_path / "snapshot")
    raw = b"".join(f.read_bytes() for f in saved.iterdir()).lower()
    for word in SECRET_WORDS:
        assert word.encode() not in raw, word
    assert KEY not in raw


def test_snapshot_and_result_pseudonyms_agree(snapshot: snap.Snapshot) -> None:
    p = Pseudonymiser.for_snapshot(snapshot, key=KEY)
    users = redact_snapshot(snapshot, p).tables["users"].set_index("id")
    guests = redact_result(analyze(snapshot, CONFIG), p).guests.set_index("object_id")
    for object_id, row in guests.iterrows():
        assert users.at[object_id, "displayName"] == row["display_name"]
        assert users.at[object_id, "mail"] == row["mail"] or pd.isna(row["mail"])


def test_raw_records_and_dns_document_are_redacted() -> None:
    from audit.collectors.export import load_json, read_export

    records, _ = read_export(HANDMADE)
    p = Pseudonymiser(key=KEY, keep=["fabrikam.onmicrosoft.com", "fabrikam.com"])
    redacted = redact_records(records, p)
    text = orjson.dumps(redacted).decode().lower()
    for word in SECRET_WORDS:
        assert word not in text, word
    assert [u["id"] for u in redacted["users"]] == [u["id"] for u in records["users"]]
    document = redact_dns_document(load_json(HANDMADE / "dns.json"), p)
    assert "contoso" not in orjson.dumps(document).decode()
    assert p.text("contoso.com") in document["domains"]


def test_hostile_corpus_redacts_and_renders(tmp_path: Path) -> None:
    snapshot = collect_sync(CollectOptions(from_export=str(HOSTILE)))
    result = analyze(snapshot)
    p = Pseudonymiser.for_snapshot(snapshot, key=KEY)
    redacted = redact_result(result, p)
    assert _keys(redacted.findings) == _keys(result.findings)
    render_all(redacted, tmp_path)
    names = set(redacted.guests["display_name"].dropna())
    assert not names & set(result.guests["display_name"].dropna()) - {""}
    assert "Pseudonymiser(" in repr(p)
    assert KEY.decode() not in repr(p)


def test_export_and_snapshot_of_one_run_agree(snapshot: snap.Snapshot, tmp_path: Path) -> None:
    from audit.collectors.export import read_export
    from audit.collectors.mailusers import read_mailusers
    from audit.redact import redact_mailusers_csv

    records, _ = read_export(HANDMADE)
    exported = redact_records(records, Pseudonymiser.for_records(records, key=KEY))
    saved = redact_snapshot(snapshot, Pseudonymiser.for_snapshot(snapshot, key=KEY))
    users = saved.tables["users"].set_index("id")
    for user in exported["users"]:
        assert users.at[user["id"], "displayName"] == user["displayName"]
        assert users.at[user["id"], "userPrincipalName"] == user["userPrincipalName"]
    csv_out = redact_mailusers_csv(
        HANDMADE / "mailusers.csv", tmp_path / "mailusers.csv", Pseudonymiser(key=KEY)
    )
    assert "contoso" not in csv_out.read_text("utf-8-sig").lower()
    table = read_mailusers(csv_out).table.set_index("ExternalDirectoryObjectId")
    expected = saved.tables["mailusers"].set_index("ExternalDirectoryObjectId")
    assert table["PrimarySmtpAddress"].to_dict() == expected["PrimarySmtpAddress"].to_dict()


# ---- exact values, never words ------------------------------------------------------------------


def test_a_word_of_a_tenant_domain_is_no_reason_to_keep_an_address() -> None:
    p = Pseudonymiser(key=KEY, keep=["bob-adatum-alliance.com", "fabrikam.onmicrosoft.com"])
    for address in ("bob@adatum.com", "SMTP:BOB@ADATUM.COM", "bob_adatum.com#EXT#@x.example"):
        redacted = p.text(address)
        assert "bob" not in redacted.lower(), redacted
        assert "adatum" not in redacted.lower(), redacted
    assert p.text("ann@bob-adatum-alliance.com").endswith("@bob-adatum-alliance.com")
    assert p.text("ann@mail.bob-adatum-alliance.com").endswith(".bob-adatum-alliance.com")
    upn = p.text("bob_adatum.com#EXT#@fabrikam.onmicrosoft.com")
    assert upn.endswith("#EXT#@fabrikam.onmicrosoft.com")
    assert p.text("Bob Adatum-Alliance") != "Bob Adatum-Alliance"  # a name is a name


def test_free_text_replaces_learned_values_never_the_tools_words() -> None:
    p = Pseudonymiser(key=KEY)
    for value in ("A Address", "A", "Address", "a address@partner.example", "Valid"):
        p.learn(value)
    detail = "not a valid address: mail=a address@partner.example"
    redacted = p.known_text(detail)
    assert redacted.startswith("not a valid address: mail=")
    assert "partner" not in redacted
    assert p.known_text("guest A Address failed") == f"guest {p.text('A Address')} failed"
    assert p.known_text("Address book") == f"{p.text('Address')} book"  # one word: its own case


def test_a_long_value_cut_short_in_a_text_is_still_found() -> None:
    p = Pseudonymiser(key=KEY)
    upn = "x" * 500 + "_partner.example#EXT#@fabrikam.onmicrosoft.com"
    p.learn(upn)
    redacted = p.known_text(f"UPN {upn[:200]} breaks Entra's UPN rules")
    assert "xxxxxxxxxx" not in redacted
    assert redacted.endswith(" breaks Entra's UPN rules")


def test_redacted_mailusers_csv_reads_back_with_the_same_problems(tmp_path: Path) -> None:
    from audit.collectors.mailusers import read_mailusers
    from audit.redact import redact_mailusers_csv

    original = read_mailusers(HOSTILE / "mailusers.csv")
    copy = redact_mailusers_csv(
        HOSTILE / "mailusers.csv", tmp_path / "mailusers.csv", Pseudonymiser()
    )
    again = read_mailusers(copy)
    assert [p.split(": ")[0] for p in again.problems] == [
        p.split(": ")[0] for p in original.problems
    ]
    assert again.table["ExternalDirectoryObjectId"].tolist() == (
        original.table["ExternalDirectoryObjectId"].tolist()
    )
    assert "PWN-02" not in copy.read_text("utf-8-sig")  # also inside a row another one swallowed
