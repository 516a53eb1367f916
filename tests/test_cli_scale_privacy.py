"""CLI wiring of the scale and privacy flags: --partitions, --incremental, checkpoints, --redact.

The library behaviour has its own tests (test_partition, test_delta, test_checkpoint,
test_redact); these prove the flags reach it, over real HTTP to the emulator and from exports.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Any

import orjson
from click.testing import CliRunner

from audit import snapshot as snap
from audit.cli import cli
from audit.demo.emulator import GraphEmulator
from audit.demo.tenant import generate_tenant
from tests._handmade_month import HANDMADE

NONE = ("--no-verified-domains",)  # tests of other things: no verified domain, on purpose


def _cli(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(cli, list(args))
    return result.exit_code, result.output


def _findings(folder: Path) -> dict[str, Any]:
    doc: dict[str, Any] = orjson.loads((folder / "findings.json").read_bytes())
    return doc


def _by_rule(doc: dict[str, Any]) -> Counter[str]:
    return Counter(f["rule_id"] for f in doc["findings"])


def _live(graph: GraphEmulator, *extra: str) -> list[str]:
    return ["--graph-url", graph.base_url, "--auth", "none", "--no-dns", *extra]


def test_partitioned_and_sequential_runs_find_the_same(tmp_path: Path) -> None:
    tenant = generate_tenant(3000, 40, seed=5)
    with GraphEmulator(tenant) as graph:
        code, out = _cli(
            "run", *_live(graph, *NONE, "--partitions", "0", "--out", str(tmp_path / "seq"))
        )
        assert code == 0, out
        sequential = len(graph.requests)
        code, out = _cli(
            "run", *_live(graph, *NONE, "--partitions", "8", "--out", str(tmp_path / "par"))
        )
        assert code == 0, out
        partitioned = len(graph.requests) - sequential
        queries = [r.query for r in graph.requests[sequential:]]
    seq, par = _findings(tmp_path / "seq"), _findings(tmp_path / "par")
    assert _by_rule(seq) == _by_rule(par)
    assert sorted(o["object_id"] for o in seq["outcomes"]) == sorted(
        o["object_id"] for o in par["outcomes"]
    )
    assert any("startswith" in q for q in queries), "the partitions were not used"
    assert partitioned > sequential  # more, shorter chains
    assert not (tmp_path / ".par.checkpoint").exists()  # cleared once complete


def test_incremental_run_reads_only_changes(tmp_path: Path) -> None:
    tenant = generate_tenant(300, 20, seed=8)
    with GraphEmulator(tenant) as graph:
        code, out = _cli("collect", *_live(graph, "--out", str(tmp_path / "first")))
        assert code == 0, out
        first = snap.load(tmp_path / "first")
        assert first.extra.get("delta_link")
        before = len(graph.requests)
        args = _live(
            graph, "--incremental", str(tmp_path / "first"), "--out", str(tmp_path / "two")
        )
        code, out = _cli("collect", *args)
        assert code == 0, out
        users_reads = [f"{r.path}?{r.query}" for r in graph.requests[before:] if "/users" in r.path]
    second = snap.load(tmp_path / "two")
    assert second.extra.get("incremental_from") == first.collected_at.isoformat()
    assert any("/users/delta" in u for u in users_reads)
    members = "$filter=userType%20eq%20%27Member%27&"  # the small full read of member_users
    guest_reads = [u for u in users_reads if members not in u]
    assert not any("userType" in u and "/users/delta" not in u for u in guest_reads)
    assert len(second.table("users")) == len(first.table("users"))


def test_no_track_changes_stores_no_delta_link(tmp_path: Path) -> None:
    tenant = generate_tenant(60, 10, seed=3)
    with GraphEmulator(tenant) as graph:
        out = str(tmp_path / "s")
        code, text = _cli("collect", *_live(graph, "--no-track-changes", "--out", out))
        assert code == 0, text
        assert not any("/users/delta" in r.path for r in graph.requests)
    assert not snap.load(out).extra.get("delta_link")


def _addresses(export: Path) -> set[str]:
    """Every guest address of the hand-made export (mail and otherMails), lower-cased."""
    found: set[str] = set()
    for file in export.glob("users*.json"):
        for user in orjson.loads(file.read_bytes())["value"]:
            for value in [user.get("mail"), *(user.get("otherMails") or [])]:
                if value and "@" in value and "onmicrosoft.com" not in value.lower():
                    found.add(value.lower())
    return found


def _texts(folder: Path) -> str:
    parts = []
    for path in folder.rglob("*"):
        if path.is_file() and path.suffix in {".html", ".json", ".csv", ".ps1"}:
            parts.append(path.read_bytes().decode("utf-8", "replace").lower())
    return "\n".join(parts)


def test_redacted_reports_keep_the_analysis_and_hide_addresses(tmp_path: Path) -> None:
    plain, redacted = tmp_path / "plain", tmp_path / "redacted"
    base = ["run", "--from-export", str(HANDMADE), "--verified-domain", "contoso.com"]
    assert _cli(*base, "--out", str(plain))[0] == 0
    code, out = _cli(*base, "--redact", "--out", str(redacted))
    assert code == 0, out
    original, hidden = _findings(plain), _findings(redacted)
    assert _by_rule(original) == _by_rule(hidden)
    assert [o["outcome"] for o in original["outcomes"]] == [
        o["outcome"] for o in hidden["outcomes"]
    ]
    addresses = _addresses(HANDMADE)
    assert addresses
    text = _texts(redacted)
    assert not [a for a in addresses if a in text]
    assert [a for a in addresses if a in _texts(plain)]  # the check can fail


def test_redacted_save_raw_export_round_trips(tmp_path: Path) -> None:
    export, snapshot = tmp_path / "export", tmp_path / "snapshot"
    args = ["collect", "--from-export", str(HANDMADE), "--save-raw", str(export), "--redact"]
    code, out = _cli(*args, "--out", str(snapshot))
    assert code == 0, out
    assert not [a for a in _addresses(HANDMADE) if a in _texts(export)]
    assert _cli("run", "--from-export", str(HANDMADE), *NONE, "--out", str(tmp_path / "a"))[0] == 0
    assert _cli("run", "--from-export", str(export), *NONE, "--out", str(tmp_path / "b"))[0] == 0
    assert _by_rule(_findings(tmp_path / "a")) == _by_rule(_findings(tmp_path / "b"))
    outcomes = {o["object_id"]: o["outcome"] for o in _findings(tmp_path / "a")["outcomes"]}
    assert outcomes == {o["object_id"]: o["outcome"] for o in _findings(tmp_path / "b")["outcomes"]}
    # the redacted snapshot written by the same command analyses the same
    assert _cli("report", str(snapshot), *NONE, "--out", str(tmp_path / "c"))[0] == 0
    assert _by_rule(_findings(tmp_path / "c")) == _by_rule(_findings(tmp_path / "a"))
    assert not [a for a in _addresses(HANDMADE) if a in _texts(tmp_path / "c")]
