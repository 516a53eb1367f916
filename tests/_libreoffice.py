"""Import CSV files the way a spreadsheet user does: LibreOffice Calc, headless, one separator.

``formula_cells(paths, separator)`` converts each CSV to a flat OpenDocument spreadsheet with
LibreOffice's CSV import filter (UTF-8, ``"`` as text delimiter, formulas evaluated, as the Text
Import dialog does by default) and returns every cell LibreOffice made a formula of. CI installs
Debian's ``libreoffice-calc-nogui``; elsewhere the tests skip when ``soffice`` is missing.

Filter options: https://help.libreoffice.org/latest/en-US/text/shared/guide/csv_params.html
(token 1 field separator, 2 text delimiter, 3 character set (76 = UTF-8), 4 first line,
5 column formats, 6 language, 7 quoted field as text, 8 detect special numbers, 9-12 export
options and sheet, 13 evaluate formulas).
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import tempfile
from collections.abc import Sequence
from pathlib import Path

import pytest

SOFFICE = shutil.which("soffice") or shutil.which("libreoffice")
SEPARATORS = {",": 44, ";": 59, "tab": 9}
"""The separators a spreadsheet may assume for a .csv: its locale's list separator or a tab."""

_FORMULA = re.compile(rb'table:formula="([^"]*)"')


def require_soffice() -> str:
    """The soffice binary; fails in CI (it must be installed there), skips elsewhere."""
    if SOFFICE is None:
        if os.environ.get("CI") == "true":
            pytest.fail("LibreOffice (soffice) is missing in CI: install libreoffice-calc-nogui")
        pytest.skip("LibreOffice (soffice) is not installed")
    return SOFFICE


def formula_cells(paths: Sequence[Path], separator: str) -> dict[str, list[str]]:
    """Per CSV file, the formulas LibreOffice made when importing it with ``separator``."""
    soffice = require_soffice()
    options = f"{SEPARATORS[separator]},34,76,1,,1033,false,false,false,false,false,-1,true"
    with tempfile.TemporaryDirectory(prefix="b2b-lo-") as work:
        profile, out = Path(work) / "profile", Path(work) / "out"
        command = [
            soffice,
            f"-env:UserInstallation={profile.as_uri()}",
            "--headless",
            "--norestore",
            f"--infilter=Text - txt - csv (StarCalc):{options}",
            "--convert-to",
            "fods",
            "--outdir",
            str(out),
            *map(str, paths),
        ]
        done = subprocess.run(command, capture_output=True, timeout=300, check=False)
        found: dict[str, list[str]] = {}
        for path in paths:
            converted = out / (path.stem + ".fods")
            assert converted.is_file(), (done.stdout, done.stderr)
            formulas = _FORMULA.findall(converted.read_bytes())
            found[path.name] = [f.decode("utf-8", "replace") for f in formulas]
        return found
