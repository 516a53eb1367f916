"""The Get-MailUser CSV importer tolerates real export quirks and reports bad rows by line."""

from __future__ import annotations

import pytest

from audit.collectors.mailusers import read_mailusers
from audit.errors import InputError
from audit.models import SourceState

GUID = "0b0e1f7e-3f5c-4f0a-9a59-1f2b3c4d5e6f"


def _write(tmp_path, text: str, *, encoding: str = "utf-8-sig", name: str = "m.csv"):
    path = tmp_path / name
    path.write_bytes(text.encode(encoding))
    return path


def test_export_csv_with_bom_crlf_type_line_and_extra_columns(tmp_path):
    text = (
        "#TYPE Selected.Microsoft.Exchange.Data.Directory.Management.MailUser\r\n"
        '"Extra","EmailAddresses","ExternalEmailAddress","PrimarySmtpAddress",'
        '"ExternalDirectoryObjectId"\r\n'
        f'"x","SMTP:jo@p.com;smtp:jo_p.com#EXT#@t.onmicrosoft.com","SMTP:jo@p.com","jo@p.com","{GUID.upper()}"\r\n'
    )
    parsed = read_mailusers(_write(tmp_path, text))
    assert parsed.status.state is SourceState.OK
    row = parsed.table.iloc[0]
    assert row["ExternalDirectoryObjectId"] == GUID
    assert row["EmailAddresses"] == ["SMTP:jo@p.com", "smtp:jo_p.com#EXT#@t.onmicrosoft.com"]


def test_utf16_and_braced_addresses(tmp_path):
    text = (
        "ExternalDirectoryObjectId,PrimarySmtpAddress,ExternalEmailAddress,EmailAddresses\n"
        f'{GUID},jo@p.com,SMTP:jo@p.com,"{{SMTP:jo@p.com, smtp:x@t.onmicrosoft.com}}"\n'
    )
    parsed = read_mailusers(_write(tmp_path, text, encoding="utf-16"))
    assert parsed.table.iloc[0]["EmailAddresses"] == ["SMTP:jo@p.com", "smtp:x@t.onmicrosoft.com"]


def test_bad_rows_are_reported_with_line_numbers(tmp_path):
    text = (
        "ExternalDirectoryObjectId,PrimarySmtpAddress,ExternalEmailAddress,EmailAddresses\n"
        f"{GUID},jo@p.com,SMTP:jo@p.com,SMTP:jo@p.com\n"
        "not-a-guid,a@b.com,SMTP:a@b.com,SMTP:a@b.com\n"
        "short\n"
    )
    parsed = read_mailusers(_write(tmp_path, text))
    assert parsed.status.state is SourceState.PARTIAL
    assert parsed.status.rows == 1
    assert parsed.table["_unreadable"].tolist() == [False, True]  # "short": whose row was it?
    assert parsed.problems[0].startswith("m.csv:3:")
    assert parsed.problems[1].startswith("m.csv:4:")


def test_missing_column_names_file_and_line(tmp_path):
    path = _write(tmp_path, "ExternalDirectoryObjectId,PrimarySmtpAddress\n")
    with pytest.raises(InputError, match=r"m\.csv:1: missing column\(s\) ExternalEmailAddress"):
        read_mailusers(path)


def test_bad_encoding_is_a_clear_error(tmp_path):
    path = tmp_path / "m.csv"
    path.write_bytes(b"ExternalDirectoryObjectId\n\xff\xfe\xfa broken")
    with pytest.raises(InputError, match="not UTF-8"):
        read_mailusers(path)


G2 = "1b0e1f7e-3f5c-4f0a-9a59-1f2b3c4d5e6f"
G3 = "2b0e1f7e-3f5c-4f0a-9a59-1f2b3c4d5e6f"
HEADER = (
    '"ExternalDirectoryObjectId","PrimarySmtpAddress","ExternalEmailAddress","EmailAddresses"\r\n'
)


def _row(guid: str, mail: str, *, close: bool = True) -> str:
    last = f'"SMTP:{mail}"' if close else f'"SMTP:{mail}'
    return f'"{guid}","{mail}","SMTP:{mail}",{last}\r\n'


def test_a_missing_closing_quote_never_swallows_the_next_row(tmp_path):
    """Read leniently, the open quote ran on into the next row and hid its mail user."""
    text = HEADER + _row(GUID, "a@p.com", close=False) + _row(G2, "b@p.com") + _row(G3, "c@p.com")
    parsed = read_mailusers(_write(tmp_path, text))
    assert parsed.status.state is SourceState.PARTIAL
    assert parsed.problems == [
        "m.csv:2: unreadable row (',' expected after '\"'; lines 2-3 not read)"
    ]
    table = parsed.table
    readable = table[~table["_unreadable"]]
    assert readable["ExternalDirectoryObjectId"].tolist() == [G3]
    assert sorted(table.loc[table["_unreadable"], "ExternalDirectoryObjectId"]) == [GUID, G2]
    assert parsed.status.rows == 1


def test_an_open_quote_to_the_end_of_the_file_is_reported(tmp_path):
    text = HEADER + _row(GUID, "a@p.com") + '"' + _row(G2, "b@p.com")[1:].replace('"', "", 1)
    parsed = read_mailusers(_write(tmp_path, text))
    assert parsed.problems[0].startswith("m.csv:3: unreadable row")
    assert parsed.table.loc[parsed.table["_unreadable"], "ExternalDirectoryObjectId"].tolist() == [
        G2
    ]


def test_braced_and_other_guid_forms_are_normalised(tmp_path):
    text = HEADER + "".join(
        _row(g, f"{n}@p.com")
        for n, g in enumerate(["{" + GUID.upper() + "}", "urn:uuid:" + G2, G3.replace("-", "")])
    )
    parsed = read_mailusers(_write(tmp_path, text))
    assert parsed.table["ExternalDirectoryObjectId"].tolist() == [GUID, G2, G3]


def test_an_oversized_row_is_unreadable_not_absent(tmp_path):
    huge = "x" * 200_000  # over the CSV reader's field size limit
    text = HEADER + _row(GUID, "a@p.com") + f'"{G2}","{huge}","b","c"\r\n' + _row(G3, "c@p.com")
    parsed = read_mailusers(_write(tmp_path, text))
    assert parsed.problems[0].startswith("m.csv:3: unreadable row (field larger than field limit")
    table = parsed.table
    assert table.loc[table["_unreadable"], "ExternalDirectoryObjectId"].tolist() == [G2]
    assert table.loc[~table["_unreadable"], "ExternalDirectoryObjectId"].tolist() == [GUID, G3]


def test_a_short_row_without_an_id_is_unreadable_for_anyone(tmp_path):
    parsed = read_mailusers(_write(tmp_path, HEADER + _row(GUID, "a@p.com") + '"x","y"\r\n'))
    table = parsed.table
    assert table["_unreadable"].tolist() == [False, True]
    assert table["ExternalDirectoryObjectId"].isna().tolist() == [False, True]


def test_a_fifo_is_refused_without_blocking(tmp_path):
    import os

    path = tmp_path / "m.csv"
    os.mkfifo(path)
    with pytest.raises(InputError, match="not a regular file"):
        read_mailusers(path)
