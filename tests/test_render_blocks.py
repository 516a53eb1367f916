"""Writers that format a block of rows at a time write the same bytes as all rows at once."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pandas as pd
import pytest
from pandas.testing import assert_frame_equal

from audit.render import csv_out
from audit.render._common import guest_view, guest_views
from tests.factories import make_result


@pytest.mark.parametrize("rows", [1, 7, 50])
def test_guest_views_in_blocks_make_the_guest_view(rows: int) -> None:
    result = make_result(40)
    blocks = list(guest_views(result, rows))
    assert len(blocks) == -(-40 // rows)
    assert_frame_equal(pd.concat(blocks, ignore_index=True), guest_view(result))


def test_a_result_without_guests_has_one_empty_view() -> None:
    result = make_result(0)
    (block,) = guest_views(result, 10)
    assert block.empty
    assert list(block.columns) == list(guest_view(result).columns)


@pytest.mark.parametrize("hostile", [True, False])
def test_csv_in_blocks_is_the_same_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, hostile: bool
) -> None:
    result = make_result(60, seed=4, hostile=hostile)
    whole = {
        name: write(result, tmp_path / f"whole-{name}").read_bytes()
        for name, write in (("f", csv_out.write_findings_csv), ("g", csv_out.write_guests_csv))
    }
    monkeypatch.setattr(csv_out, "ROWS_PER_BLOCK", 7)
    assert csv_out.write_findings_csv(result, tmp_path / "f").read_bytes() == whole["f"]
    assert csv_out.write_guests_csv(result, tmp_path / "g").read_bytes() == whole["g"]


def test_rule_ids_per_guest_follow_the_findings_order_and_status() -> None:
    """``flagged_rules``/``muted_rules`` as a plain loop over the findings gives them: guest-level
    rows of that status, in findings order; a repeated object id gets the same lists; findings of
    ids no guest has and app-level rows are left out."""
    result = make_result(30, seed=9)
    guests = result.guests.copy()
    guests.loc[5, "object_id"] = guests.loc[4, "object_id"]  # a repeated id
    findings = result.findings.copy()
    extra = findings.iloc[:2].copy()
    extra["object_id"] = "no-such-guest"
    findings = pd.concat([extra, findings], ignore_index=True)
    result = dataclasses.replace(result, guests=guests, findings=findings)
    view = pd.concat(list(guest_views(result, 4)), ignore_index=True)
    for status, name in (("flagged", "flagged_rules"), ("muted", "muted_rules")):
        expected: dict[str, list[str]] = {}
        for row in findings.itertuples():
            if row.status == status and row.level != "app":
                expected.setdefault(row.object_id, []).append(row.rule_id)
        got = view[name].tolist()
        assert got == [expected.get(i, []) for i in guests["object_id"]]
    assert any(view["flagged_rules"])  # the check can fail
