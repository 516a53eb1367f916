"""The users table and the Get-MailUser reader at tenant scale: column-wise conversion with the
same coercions as ever, no object shared with the raw records, the GC left as found, and the
streamed CSV reader's chunks, line numbers and encodings."""

from __future__ import annotations

import gc
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from audit import _process
from audit.collectors import mailusers as mu
from audit.collectors.mailusers import mailusers_steps, read_mailusers
from audit.collectors.tables import USER_COLUMNS, gc_paused, users_table
from audit.errors import InputError

GUID = "0b0e1f7e-3f5c-4f0a-9a59-1f2b3c4d5e6f"
HEADER = "ExternalDirectoryObjectId,PrimarySmtpAddress,ExternalEmailAddress,EmailAddresses\n"


def _user(n: int, **extra: Any) -> dict[str, Any]:
    return {
        "id": f"id-{n}",
        "displayName": f"User {n}",
        "userPrincipalName": f"u{n}_x.com#EXT#@t.onmicrosoft.com",
        "mail": f"u{n}@x.com",
        "userType": "Guest",
        "otherMails": [f"u{n}@x.com"],
        "proxyAddresses": [f"SMTP:u{n}@x.com"],
        "identities": [{"signInType": "emailAddress", "issuer": "x.com"}],
        "accountEnabled": True,
        "assignedLicenses": [],
        "createdDateTime": "2024-01-02T03:04:05Z",
        "signInActivity": {"lastSignInDateTime": "2025-01-02T03:04:05.5Z"},
    } | extra


def test_users_table_columns_and_types() -> None:
    table = users_table([_user(1), _user(2)])
    assert tuple(table.columns) == USER_COLUMNS
    assert str(table["id"].dtype) == "str"
    assert str(table["identities"].dtype) == "str"
    assert table["otherMails"].tolist() == [["u1@x.com"], ["u2@x.com"]]
    assert table["accountEnabled"].dtype == "boolean"
    assert table["licenseCount"].tolist() == [0, 0]
    assert table["lastSignInDateTime"].iloc[0] == pd.Timestamp("2025-01-02 03:04:05.5", tz="UTC")


def test_users_table_coerces_wrong_json_types_per_value() -> None:
    odd = _user(
        3,
        displayName=42,
        mail=["not", "a", "string"],
        otherMails="single@x.com",
        proxyAddresses=[1, "SMTP:a@x.com", None],
        accountEnabled="yes",
        assignedLicenses={"a": 1},
        createdDateTime="garbage",
        identities="not a list",
    )
    raw: list[Any] = [_user(1), odd, "not an object", {"id": ""}, _user(1, mail="dup")]
    table = users_table(raw)
    assert table["id"].tolist() == ["id-1", "id-3"]  # bad rows dropped, first of a dup kept
    row = table.iloc[1]
    assert row["displayName"] == "42"
    assert pd.isna(row["mail"])
    assert row["otherMails"] == ["single@x.com"]
    assert row["proxyAddresses"] == ["SMTP:a@x.com"]
    assert pd.isna(row["accountEnabled"])
    assert pd.isna(row["licenseCount"])
    assert pd.isna(row["createdDateTime"])
    assert pd.isna(row["identities"])
    assert table.iloc[0]["mail"] == "u1@x.com"


def test_users_table_shares_no_object_with_the_raw_records() -> None:
    """List cells are fresh copies: the raw objects' memory can be returned once dropped."""
    raw = [_user(n) for n in range(3)]
    table = users_table(raw)
    for n, cell in enumerate(table["otherMails"]):
        assert cell == raw[n]["otherMails"]
        assert cell is not raw[n]["otherMails"]
        assert cell[0] is not raw[n]["otherMails"][0]


def test_empty_users_table_keeps_its_columns() -> None:
    table = users_table([])
    assert tuple(table.columns) == USER_COLUMNS
    assert len(table) == 0


@pytest.mark.parametrize("enabled", [True, False])
@pytest.mark.parametrize("allowed", [True, False])
def test_the_gc_is_left_as_it_was(enabled: bool, allowed: bool) -> None:
    """Paused only in a process that allows it (the CLI's), and restored as it was."""
    previous = _process.opt_in(_process.Measures(pause_gc=allowed))
    (gc.enable if enabled else gc.disable)()
    try:
        users_table([_user(1)])
        assert gc.isenabled() is enabled
        try:
            with gc_paused():
                assert gc.isenabled() is (enabled and not allowed)
                raise KeyError("inside")
        except KeyError:
            pass
        assert gc.isenabled() is enabled
    finally:
        gc.enable()
        _process.opt_in(previous)


def test_mailusers_rows_cross_chunks_in_order(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(mu, "_CHUNK", 3)
    lines = [HEADER]
    for n in range(10):
        guid = f"{n:08d}-3F5C-4F0A-9A59-1F2B3C4D5E6F"
        lines.append(f"{guid},u{n}@x.com,SMTP:u{n}@x.com,SMTP:u{n}@x.com;smtp:y{n}@t.com\n")
        if n == 4:
            lines.append("bad,row\n")
    path = tmp_path / "m.csv"
    path.write_text("".join(lines), encoding="utf-8")
    parsed = read_mailusers(path)
    assert parsed.table["ExternalDirectoryObjectId"].tolist()[:10] == [
        f"{n:08d}-3f5c-4f0a-9a59-1f2b3c4d5e6f" for n in range(10)
    ]
    assert parsed.table["_unreadable"].tolist() == [False] * 10 + [True]  # "bad,row": anyone's
    assert parsed.table["EmailAddresses"].iloc[7] == ["SMTP:u7@x.com", "smtp:y7@t.com"]
    assert parsed.table["DisplayName"].isna().all()  # absent optional column
    assert str(parsed.table["DisplayName"].dtype) == "str"
    assert parsed.problems == ["m.csv:7: 2 fields, header has 4"]


@pytest.mark.parametrize(
    "object_id", [GUID.upper(), "{" + GUID + "}", GUID.replace("-", ""), "urn:uuid:" + GUID]
)
def test_mailusers_accepts_every_guid_form(tmp_path: Path, object_id: str) -> None:
    path = tmp_path / "m.csv"
    path.write_text(HEADER + f" {object_id} ,a@b.com,SMTP:a@b.com,SMTP:a@b.com\n", "utf-8")
    parsed = read_mailusers(path)
    assert parsed.problems == []
    assert parsed.table["ExternalDirectoryObjectId"].tolist() == [GUID.lower()]  # joins on it


def test_mailusers_type_line_with_cr_line_ends(tmp_path: Path) -> None:
    """Old Mac line ends: the #TYPE line ends at its CR like every other line."""
    path = tmp_path / "m.csv"
    text = "#TYPE x\r" + HEADER.replace("\n", "\r") + f"{GUID},a@b.com,SMTP:a@b.com,x\r"
    path.write_text(text, encoding="utf-8", newline="")
    parsed = read_mailusers(path)
    assert len(parsed.table) == 1
    assert parsed.problems == []


def test_mailusers_broken_utf16_is_an_input_error(tmp_path: Path) -> None:
    path = tmp_path / "m.csv"
    path.write_bytes(HEADER.encode("utf-16") + b"\x00\xd8")  # a lone surrogate
    with pytest.raises(InputError, match="not UTF-8 or UTF-16"):
        read_mailusers(path)


def test_mailusers_bad_utf8_names_the_line_past_the_first_chunk(tmp_path: Path) -> None:
    rows = "".join(f"{GUID},a@b.com,SMTP:a@b.com,x\n" for _ in range(5000))
    path = tmp_path / "m.csv"
    path.write_bytes(HEADER.encode() + rows.encode() + b"\xff\n")
    with pytest.raises(InputError, match=r"m\.csv:5002: not UTF-8"):
        read_mailusers(path)


def test_mailusers_steps_pause_and_return_the_same_result(tmp_path: Path) -> None:
    rows = "".join(f"{GUID},u{n}@x.com,SMTP:u{n}@x.com,x\n" for n in range(95))
    path = tmp_path / "m.csv"
    path.write_text(HEADER + rows + "bad\n", encoding="utf-8")
    steps = mailusers_steps(path, rows_per_step=10)
    pauses = 0
    while True:
        try:
            next(steps)
            pauses += 1
        except StopIteration as done:
            stepped = done.value
            break
    assert pauses == 9  # 96 rows read, a pause after every 10th
    whole = read_mailusers(path)
    pd.testing.assert_frame_equal(stepped.table, whole.table)
    assert stepped.problems == whole.problems == ["m.csv:97: 1 fields, header has 4"]
    assert gc.isenabled()
