"""Target-side evidence in the analysis, on the hand-made tenant plus a hand-made organization.

Each guest of ``tests/data/handmade`` gets a target side chosen so that every target-account value,
both new rules, the reconciliation of every comparable outcome and the domain comparison occur:

=======  ================================  ===================================================
guest    in the organization               expected
=======  ================================  ===================================================
0001     SCIM user (externalId = its id)   already_provisioned; blocked (duplicate), not compared
0002     unmanaged account (gmail.com)     links_unmanaged
0003     managed account                   links_managed
0004     (no mail)                         unknown
0005     SCIM user, managed account        already_provisioned; reconciled (ready, agrees)
0006     nothing                           new
0007     its mail is 0001's                conflict (another directory user): target-email-conflict
0008     its mail on an account linked to  conflict (the account's link)
         an older SCIM user
0009     SCIM user, inactive (unassigned)  already_provisioned; reconciled (out_of_scope, agrees)
0010     SCIM user (userName), old e-mail, already_provisioned; reconciled (out_of_scope: active,
         active                            a mismatch); target-unlinked-account (changed e-mail)
=======  ================================  ===================================================
"""

from __future__ import annotations

import shutil
from pathlib import Path

import orjson
import pandas as pd
import pytest
from click.testing import CliRunner

from audit.analysis.analyzer import analyze
from audit.analysis.result import AuditResult
from audit.cli import cli
from audit.collectors.atlassian_export import write_atlassian_export
from audit.collectors.pipeline import CollectOptions, collect_sync
from audit.config import AuditConfig
from audit.demo.atlassian_org import export_pages
from audit.errors import ConfigError
from audit.render.json_out import build_document
from audit.snapshot import Snapshot
from tests._atlassian import directory_user, domain, managed, org, scim_user

HANDMADE = Path(__file__).parent / "data" / "handmade"
G = "1b5d2a4e-00{:02d}-4c3a-9f00-0000000000{:02d}"


def gid(n: int) -> str:
    return G.format(n, n)


def _organization() -> object:
    return org(
        domains=[domain("fabrikam.com", "verified"), domain("contoso.com", "verified", "http"),
                 domain("adatum.com", "superseded"), domain("wingtiptoys.com", "unverified"),
                 domain("tailspintoys.com", "verified")],
        managed=[managed("a1", "john@contoso.com"), managed("a3", "bob@adatum.com"),
                 managed("a5", "dave@tailspintoys.com"),
                 managed("a8", "frank@gone-partner.com"), managed("a30", "admin@fabrikam.com")],
        directory_users=[directory_user("a2", "ann.smith@gmail.com"),
                         directory_user("a10", "heidi.old@wingtiptoys.com")],
        scim_users=[
            scim_user("s1", "john@contoso.com", "john@contoso.com", external=gid(1), account="a1"),
            scim_user("s5", "dave@tailspintoys.com", "dave@tailspintoys.com", external=gid(5),
                      account="a5"),
            scim_user("s8", "frank.old@gone-partner.com", "frank.previous@gone-partner.com",
                      external="deleted-object", account="a8"),
            scim_user("s9", "grace@claimed-partner.com", "grace@claimed-partner.com",
                      external=gid(9), active=False),
            scim_user("s10", "heidi@wingtiptoys.com", "heidi.old@wingtiptoys.com", account="a10"),
            scim_user("s20", "left@partner.example", "left@partner.example", external="gone"),
            scim_user("s30", "admin@fabrikam.com", "admin@fabrikam.com", external=gid(99),
                      account="a30"),
            scim_user("s31", "x_y.example#EXT#@fabrikam.onmicrosoft.com", "x@y.example"),
        ],
    )  # fmt: skip


def _snapshot(folder: Path, pages: dict[str, list[dict[str, object]]] | None) -> Snapshot:
    shutil.copytree(HANDMADE, folder)
    if pages is not None:
        write_atlassian_export(pages, folder)
    return collect_sync(CollectOptions(from_export=str(folder), dns=False))


CONFIG = AuditConfig(verified_domains=("contoso.com", "adatum.com"))


@pytest.fixture(scope="module")
def result(tmp_path_factory: pytest.TempPathFactory) -> AuditResult:
    pages = export_pages(_organization())  # type: ignore[arg-type]
    snapshot = _snapshot(tmp_path_factory.mktemp("t") / "export", pages)
    return analyze(snapshot, CONFIG)


def _by_guest(result: AuditResult, column: str) -> dict[int, object]:
    values = result.guests.set_index("object_id")[column]
    return {n: values.get(gid(n)) for n in (1, 2, 3, 4, 5, 6, 7, 8, 9, 10)}


def test_every_target_account_value(result: AuditResult) -> None:
    accounts = _by_guest(result, "target_account")
    assert accounts == {
        1: "already_provisioned", 2: "links_unmanaged", 3: "links_managed", 4: "unknown",
        5: "already_provisioned", 6: "new", 7: "conflict", 8: "conflict", 9: "already_provisioned",
        10: "already_provisioned",
    }  # fmt: skip
    holders = _by_guest(result, "target_conflict")
    assert holders[7] == "directory user s1"
    assert holders[8] == "account a8 (linked to directory user s8)"
    assert _by_guest(result, "target_user_id")[10] == "s10"


def test_conflicts_are_flagged_and_block(result: AuditResult) -> None:
    findings = result.findings[result.findings["rule_id"] == "target-email-conflict"]
    assert set(findings["object_id"]) == {gid(7), gid(8)}
    assert set(findings["level"]) == {"guest"}
    outcomes = result.outcomes.set_index("object_id")
    assert outcomes.at[gid(8), "outcome"] == "blocked"
    assert "target-email-conflict" in outcomes.at[gid(8), "reasons"]
    assert outcomes.at[gid(8), "whatif_outcome"] != "blocked"  # the #EXT# address is free


def test_directory_users_whose_guest_is_gone_or_moved_are_flagged(result: AuditResult) -> None:
    findings = result.findings[result.findings["rule_id"] == "target-unlinked-account"]
    flagged = dict(zip(findings["object_id"], findings["detail"], strict=True))
    assert set(flagged) == {"s8", "s10", "s20", "s31"}
    assert "now sends heidi@wingtiptoys.com" in flagged["s10"]
    row = findings.set_index("object_id").loc["s20"]
    assert (row["level"], row["user_principal_name"], row["mail"], row["domain"]) == (
        "target", "left@partner.example", "left@partner.example", "partner.example")  # fmt: skip
    rule = result.rules.set_index("rule_id").loc["target-unlinked-account"]
    assert (rule["flagged"], rule["not_evaluated"], rule["level"]) == (4, 1, "target")  # s30
    assert "target-unlinked-account" not in result.statuses.columns  # not a per-guest status


def test_reconciliation_compares_prediction_and_target(result: AuditResult) -> None:
    table = result.reconciliation
    assert table is not None
    rows = table.set_index("object_id")
    assert set(rows.index) == {gid(1), gid(5), gid(9), gid(10)}
    assert rows.at[gid(1), "predicted"] == "blocked"
    assert pd.isna(rows.at[gid(1), "agrees"])
    assert rows.at[gid(5), "predicted"] == "ready"
    assert rows.at[gid(5), "agrees"]
    assert rows.at[gid(9), "predicted"] == "out_of_scope"
    assert rows.at[gid(9), "agrees"]
    assert rows.at[gid(10), "agrees"] == False  # noqa: E712
    assert rows.at[gid(10), "mismatch"] == "active although out of scope"
    counts = result.reconciliation_counts()
    assert counts is not None
    assert (counts["held"], counts["agree"], counts["disagree"], counts["not_compared"]) == (4, 2, 1, 1)  # fmt: skip
    assert counts["by_outcome"]["out_of_scope"] == {"held": 2, "agree": 1, "disagree": 1, "not_compared": 0}  # fmt: skip


def _reconciled(rows: list[dict[str, object]]) -> pd.DataFrame:
    """The reconciliation of hand-made guests, outcomes and directory users (one each per row)."""
    from audit.analysis.reconcile import reconcile

    guests = pd.DataFrame([{"object_id": f"g{i}", "user_principal_name": f"u{i}",
                            "display_name": f"n{i}", "target_user_id": f"s{i}",
                            "target_email": r.get("sent", "a@p.example")}
                           for i, r in enumerate(rows)])  # fmt: skip
    outcomes = pd.DataFrame({"object_id": guests["object_id"], "outcome": [r["predicted"] for r in rows]})  # fmt: skip
    users = pd.DataFrame([{"tu_id": f"s{i}", "tu_email": r.get("held", "a@p.example"),
                           "tu_active": r.get("active", True), "tu_account_state": r["state"]}
                          for i, r in enumerate(rows)])  # fmt: skip
    users["tu_active"] = users["tu_active"].astype("boolean")
    table = reconcile(guests, outcomes, users)
    assert table is not None
    return table


@pytest.mark.parametrize(
    ("row", "agrees", "mismatch"),
    [
        ({"predicted": "ready", "state": "managed"}, True, ""),
        (
            {"predicted": "ready", "state": "unmanaged"},
            False,
            "predicted managed, the account is unmanaged",
        ),
        (
            {"predicted": "ready", "state": "managed", "held": "B@p.example"},
            False,
            "the target holds B@p.example",
        ),
        ({"predicted": "ready", "state": "managed", "active": False}, False, "not active"),
        ({"predicted": "unmanaged", "state": "unlinked"}, True, ""),
        (
            {"predicted": "unmanaged", "state": "managed"},
            False,
            "predicted unmanaged, the account is managed",
        ),
        ({"predicted": "out_of_scope", "state": "managed", "active": False}, True, ""),
        ({"predicted": "out_of_scope", "state": "managed"}, False, "active although out of scope"),
        ({"predicted": "blocked", "state": "managed"}, None, ""),
        ({"predicted": "unknown", "state": "managed"}, None, ""),
        ({"predicted": "ready", "state": "unknown"}, None, ""),
        ({"predicted": "ready", "state": "managed", "active": None}, None, ""),
    ],
)
def test_each_outcome_is_reconciled_as_documented(
    row: dict[str, object], agrees: bool | None, mismatch: str
) -> None:
    table = _reconciled([row])
    got = table.at[0, "agrees"]
    assert (None if pd.isna(got) else bool(got)) == agrees
    assert mismatch in table.at[0, "mismatch"]


def test_verified_domains_come_from_the_organization(result: AuditResult) -> None:
    flagged = set(
        result.findings.loc[result.findings["rule_id"] == "domain-unverified", "object_id"]
    )
    assert gid(1) not in flagged  # contoso.com: verified there
    assert gid(3) in flagged  # adatum.com: configured, but superseded there
    compared = result.target_domains
    assert compared is not None
    assert compared["typed_not_verified"] == [{"domain": "adatum.com", "status": "superseded"}]
    assert compared["verified_not_typed"] == ["fabrikam.com", "tailspintoys.com"]
    statuses = {d["domain"]: d["status"] for d in compared["domains"]}
    assert statuses["wingtiptoys.com"] == "unverified"


def test_findings_json_carries_target_accounts_and_reconciliation(result: AuditResult) -> None:
    document = orjson.loads(orjson.dumps(build_document(result), default=str))
    accounts = {o["object_id"]: o["target_account"] for o in document["outcomes"]}
    assert accounts[gid(7)] == "conflict"
    assert document["reconciliation"]["summary"]["disagree"] == 1
    held = {gid(1), gid(5), gid(9), gid(10)}
    assert {g["object_id"] for g in document["reconciliation"]["guests"]} == held
    assert document["target_domains"]["typed_not_verified"][0]["domain"] == "adatum.com"
    finding = next(f for f in document["findings"] if f["object_id"] == "s20")
    assert set(finding) == set(document["findings"][0])  # the same fields as any finding


def test_without_the_directory_only_accounts_are_told(tmp_path: Path) -> None:
    pages = export_pages(_organization())  # type: ignore[arg-type]
    del pages["atlassian_scim_users"]
    result = analyze(_snapshot(tmp_path / "export", pages), CONFIG)
    accounts = _by_guest(result, "target_account")
    assert accounts[3] == "links_managed"
    assert accounts[2] == "links_unmanaged"
    assert accounts[6] == "unknown"  # "new" needs the directory too (a user may hold the e-mail)
    assert result.reconciliation is None
    rules = result.rules.set_index("rule_id")
    assert rules.at["target-email-conflict", "state"] == "skipped"
    assert "atlassian_scim_users" in rules.at["target-email-conflict", "reason"]


def test_a_forbidden_domain_listing_falls_back_to_the_configured_domains(tmp_path: Path) -> None:
    pages = export_pages(_organization())  # type: ignore[arg-type]
    del pages["atlassian_domains"]
    result = analyze(_snapshot(tmp_path / "export", pages), CONFIG)
    flagged = set(
        result.findings.loc[result.findings["rule_id"] == "domain-unverified", "object_id"]
    )
    assert gid(3) not in flagged  # adatum.com is configured
    assert result.target_domains is None


def test_without_target_evidence_everything_is_as_before(tmp_path: Path) -> None:
    result = analyze(_snapshot(tmp_path / "export", None), CONFIG)
    assert result.guests["target_account"].isna().all()
    assert result.reconciliation is None
    assert result.target_users is None
    assert not any(s.name.startswith("atlassian") for s in result.sources)
    document = build_document(result)
    assert "reconciliation" not in document
    assert "target_domains" not in document
    assert all("target_account" not in o for o in document["outcomes"])  # as before
    rules = result.rules.set_index("rule_id")
    assert set(rules.loc[["target-email-conflict", "target-unlinked-account"], "state"]) == {"skipped"}  # fmt: skip


def test_a_target_without_evidence_sources_skips_the_rules(
    result: AuditResult, tmp_path: Path
) -> None:
    pages = export_pages(_organization())  # type: ignore[arg-type]
    snapshot = _snapshot(tmp_path / "export", pages)
    generic = analyze(snapshot, AuditConfig(target="generic-scim"))
    rules = generic.rules.set_index("rule_id")
    assert "does not apply" in rules.at["target-email-conflict", "reason"]
    assert generic.guests["target_account"].isna().all()


def test_from_export_with_live_atlassian_flags_is_a_config_error(tmp_path: Path) -> None:
    options = CollectOptions(from_export=str(HANDMADE), dns=False, atlassian_org="o",
                             atlassian_api_key="k")  # fmt: skip
    with pytest.raises(ConfigError, match="atlassian/ folder"):
        collect_sync(options)


def test_a_config_file_naming_the_organization_still_reads_an_export(tmp_path: Path) -> None:
    export = tmp_path / "export"
    shutil.copytree(HANDMADE, export)
    write_atlassian_export(export_pages(_organization()), export)  # type: ignore[arg-type]
    config = tmp_path / "audit.toml"
    config.write_text('atlassian_org = "org-1"\natlassian_directory = "dir-1"\n', encoding="utf-8")
    runner = CliRunner(env={"ATLASSIAN_API_KEY": None, "ATLASSIAN_SCIM_KEY": None})
    base = ["run", "--config", str(config), "--from-export", str(export), "--no-dns"]
    done = runner.invoke(cli, [*base, "--out", str(tmp_path / "out")])
    assert done.exit_code == 0, done.output
    document = orjson.loads((tmp_path / "out" / "findings.json").read_bytes())
    assert {o.get("target_account") for o in document["outcomes"]} >= {"conflict", "new"}
    flagged = runner.invoke(cli, [*base, "--atlassian-org", "org-1", "--out", str(tmp_path / "o2")])
    assert flagged.exit_code == 2, flagged.output


def test_target_users_frame_has_its_contract_columns(result: AuditResult) -> None:
    from audit.analysis.columns import TARGET_USER_FRAME_COLUMNS

    users = result.target_users
    assert isinstance(users, pd.DataFrame)
    assert set(users.columns) == TARGET_USER_FRAME_COLUMNS
    states = dict(zip(users["tu_id"], users["tu_account_state"], strict=True))
    assert states == {"s1": "managed", "s5": "managed", "s8": "managed", "s9": "unlinked", "s10": "unmanaged",
                      "s20": "unlinked", "s30": "managed", "s31": "unlinked"}  # fmt: skip
