"""Documented contracts match the code: the guests-frame columns of ``audit/COLUMNS.md`` and the
README's API reference (regenerate it with ``.venv/bin/python -m tests.update_readme``)."""

from __future__ import annotations

import re
from pathlib import Path

import pandas as pd
import pytest

import audit
from audit.analysis.columns import FRAME_COLUMNS, TARGET_USER_COLUMNS, columns_markdown
from audit.collectors.pipeline import CollectOptions, collect_sync
from tests.api_reference import API_BLOCK, api_markdown
from tests.test_docs import README
from tests.update_readme import COLUMNS_BLOCK, COLUMNS_MD, TARGET_BLOCK

ROOT = Path(__file__).parents[1]
HANDMADE = ROOT / "tests" / "data" / "handmade"


def _documented_columns() -> set[str]:
    """Column names in the first cell of each row of the guests-frame table of COLUMNS.md."""
    text = (ROOT / "audit" / "COLUMNS.md").read_text(encoding="utf-8")
    section = text.split("## Guests frame", 1)[1].split("\n## ", 1)[0]
    names: set[str] = set()
    for line in section.splitlines():
        if line.startswith("| `"):
            names |= set(re.findall(r"`([a-z_]+)`", line.split("|")[1]))
    return names


@pytest.fixture(scope="module")
def frame() -> pd.DataFrame:
    snapshot = collect_sync(CollectOptions(from_export=str(HANDMADE), dns=False))
    return audit.guests_frame(snapshot)


def test_columns_md_documents_exactly_the_frame_contract() -> None:
    documented = _documented_columns()
    assert FRAME_COLUMNS - documented == set(), "columns missing from audit/COLUMNS.md"
    assert documented - FRAME_COLUMNS == set(), "COLUMNS.md documents columns the frame lacks"


def test_columns_md_table_is_generated_from_the_code() -> None:
    found = COLUMNS_BLOCK.search(COLUMNS_MD.read_text(encoding="utf-8"))
    assert found, "audit/COLUMNS.md lacks the columns:start/columns:end block"
    assert found.group(1).strip() == columns_markdown().strip(), (
        "audit/COLUMNS.md is stale: run `python -m tests.update_readme`"
    )


def test_columns_md_target_users_table_is_generated_from_the_code() -> None:
    found = TARGET_BLOCK.search(COLUMNS_MD.read_text(encoding="utf-8"))
    assert found, "audit/COLUMNS.md lacks the target-columns:start/target-columns:end block"
    assert found.group(1).strip() == columns_markdown(TARGET_USER_COLUMNS).strip(), (
        "audit/COLUMNS.md is stale: run `python -m tests.update_readme`"
    )


def test_the_built_frame_has_exactly_the_contract_columns(frame: pd.DataFrame) -> None:
    assert set(frame.columns) == FRAME_COLUMNS
    assert frame["object_id"].is_unique


def test_readme_api_reference_is_generated_from_the_code() -> None:
    found = API_BLOCK.search(README.read_text(encoding="utf-8"))
    assert found, "README lacks the api:start/api:end block"
    assert found.group(1).strip() == api_markdown().strip(), (
        "README API reference is stale: run `python -m tests.update_readme`"
    )


def test_api_reference_covers_every_public_name() -> None:
    table = api_markdown()
    for name in audit.__all__:
        if name != "__version__":
            assert f"`{name}" in table or f"`class {name}`" in table or f"`async {name}" in table
