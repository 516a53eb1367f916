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
    assert len(parsed.table) == 1
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
