"""The provisioning engine simulated on a tenant written by hand from Graph's documented shapes.

``tests/data/engine/base`` is a Graph JSON export: twelve guests and two employee accounts, an app
assigned to a security group, a Microsoft 365 group and one employee, a job whose User mapping has
three scoping filters (``department EQUALS Sales``; ``extensionAttribute1 EQUALS contractor``;
``companyName Includes Wingtip`` AND ``mail ENDS_WITH .com``), and provisioning logs of this job and
of another app. The folders beside it replace only the job schema. Each test names the Learn page
whose behaviour it checks.
"""

from __future__ import annotations

import shutil
from datetime import UTC, datetime
from pathlib import Path

import orjson
import pandas as pd
import pytest

from audit.analysis.analyzer import analyze
from audit.analysis.result import AuditResult
from audit.collectors.pipeline import CollectOptions, collect_sync
from audit.config import AuditConfig

DATA = Path(__file__).parent / "data" / "engine"
NOW = datetime(2026, 11, 26, tzinfo=UTC)
VERIFIED = (
    "contoso.com", "litware.com", "adatum.com", "tailspin.com", "northwind.com", "partner.com",
    "wingtip.com", "fourthcoffee.com", "fabrikam.com", "fabrikam.onmicrosoft.com",
)  # fmt: skip


def gid(n: int) -> str:
    return f"2c1f0a00-0000-4000-8000-0000000000{n:02d}"


ANN, BEN, BEN2, CAL, CAL2, DEE, EVE, FAY, LEE, HAL, IDA, JON = (gid(n) for n in range(1, 13))


def _tenant(tmp: Path, variant: str | None) -> Path:
    folder = tmp / (variant or "base")
    shutil.copytree(DATA / "base", folder)
    if variant is not None:
        for file in (DATA / variant).glob("*.json"):
            shutil.copy(file, folder / file.name)
    return folder


def audit(tmp: Path, variant: str | None = None, **config: str) -> AuditResult:
    options = CollectOptions(from_export=str(_tenant(tmp, variant)), dns=False)
    cfg = AuditConfig(verified_domains=VERIFIED, **config)  # type: ignore[arg-type]
    snapshot = collect_sync(options, config=cfg, now=NOW)
    return analyze(snapshot, cfg, now=NOW)


def outcomes(result: AuditResult) -> dict[str, tuple[str, list[str]]]:
    rows = result.outcomes.set_index("object_id")
    return {i: (rows.loc[i, "outcome"], list(rows.loc[i, "reasons"])) for i in rows.index}


def flagged(result: AuditResult, rule: str) -> set[str]:
    found = result.findings
    return set(found.loc[(found["rule_id"] == rule) & (found["status"] == "flagged"), "object_id"])


def guest(result: AuditResult, object_id: str) -> dict[str, object]:
    return result.guests.set_index("object_id").loc[object_id].to_dict()


@pytest.fixture(scope="module")
def base(tmp_path_factory: pytest.TempPathFactory) -> AuditResult:
    return audit(tmp_path_factory.mktemp("engine"))


def test_every_guest_gets_the_documented_outcome(base: AuditResult) -> None:
    assert outcomes(base) == {
        ANN: ("ready", []),
        BEN: ("out_of_scope", ["scoping-filter"]),
        BEN2: ("ready", []),
        CAL: ("out_of_scope", ["account-disabled"]),
        CAL2: ("ready", []),
        DEE: ("out_of_scope", ["not-in-scope"]),
        EVE: ("blocked", ["duplicate-target-key"]),
        FAY: ("ready", []),
        LEE: ("ready", []),
        HAL: ("unknown", ["scoping-filter"]),
        IDA: ("ready", []),
        JON: ("blocked", ["address-invalid", "mail-missing"]),
    }


def test_scoping_filters_and_or_and_null(base: AuditResult) -> None:
    """define-conditional-rules-for-provisioning-user-accounts: clauses ANDed, filters ORed, a
    clause on a null value is false; Ida passes only the second filter (department is null)."""
    assert guest(base, IDA)["filter_in_scope"] is True
    assert guest(base, BEN)["filter_in_scope"] is False
    assert "filter 'Sales' fails: department EQUALS Sales is false" in str(
        guest(base, BEN)["step_scope"]
    )
    assert "filter 'Contractors' passes" in str(guest(base, IDA)["step_scope"])


def test_an_undocumented_case_rule_makes_only_that_guest_unknown_and_names_the_clause(
    base: AuditResult,
) -> None:
    """ENDS_WITH's case sensitivity is not documented: hal@wingtip.COM is neither in nor out."""
    hal = guest(base, HAL)
    assert pd.isna(hal["in_scope"])
    assert "mail ENDS_WITH .com" in str(hal["engine_unknown"])
    assert "filter 'Wingtip' unknown: mail ENDS_WITH .com" in str(hal["step_scope"])
    assert HAL not in flagged(base, "scoping-filter")  # not evaluated, never flagged
    status = base.statuses.set_index("object_id").loc[HAL, "scoping-filter"]
    assert status == "not_evaluated"


def test_out_of_scope_and_disabled_guests_take_part_in_no_collision(base: AuditResult) -> None:
    """Ben (filtered out) and Cal (disabled: "Provisioning a user that is disabled in Microsoft
    Entra ID isn't supported", how-provisioning-works) leave their re-invited twins alone."""
    assert {BEN2, CAL2, BEN, CAL}.isdisjoint(flagged(base, "duplicate-target-key"))
    assert CAL in flagged(base, "account-disabled")


def test_an_assigned_employee_with_the_same_mail_collides(base: AuditResult) -> None:
    """Users who are not guests are provisioned too: Eve's employee account is assigned directly."""
    assert flagged(base, "duplicate-target-key") == {EVE}
    others = base.mapping["engine"]["other_users"]
    assert others == 2


def test_a_group_that_is_not_security_enabled_grants_no_scope(base: AuditResult) -> None:
    """how-provisioning-works: "Ensure that groups assigned to your application have the property
    SecurityEnabled set to True"."""
    assert guest(base, DEE)["scope"] == "none"
    assert DEE in flagged(base, "not-in-scope")


def test_logs_of_another_job_or_app_are_not_this_guests_history(base: AuditResult) -> None:
    """A provisioningObjectSummary names its jobId and servicePrincipal: Ben2's failure belongs
    to another app, Cal2's to this job."""
    assert flagged(base, "prior-provisioning-failure") == {CAL2}
    assert str(guest(base, ANN)["step_action"]).startswith("update")


def test_ext_upn_on_a_verified_custom_domain_and_trailing_underscore_aliases(
    base: AuditResult,
) -> None:
    """how-provisioning-works: originalUserPrincipalName = alias_theirdomain#EXT#@yourdomain."""
    assert {FAY, LEE}.isdisjoint(flagged(base, "original-upn-missing"))
    assert guest(base, LEE)["provisioning_upn"] == "lee_@partner.com"
    assert LEE not in flagged(base, "upn-mail-mismatch")
    assert base.whatif is not None
    assert "fabrikam.onmicrosoft.com and fabrikam.com" in base.whatif.precondition


def test_the_five_steps(base: AuditResult) -> None:
    """provision-on-demand's steps, for every guest."""
    eve = guest(base, EVE)
    assert eve["step_scope"] == (
        "in scope: assigned as a direct member of an assigned group; filter 'Sales' passes; "
        "filter 'Contractors' fails: extensionAttribute1 EQUALS contractor is false; "
        "filter 'Wingtip' fails: companyName Includes Wingtip is false"
    )
    assert eve["step_match"] == "userName = eve@tailspin.com"
    assert eve["match_value"] == "eve@tailspin.com"
    assert str(eve["step_action"]).startswith("create")
    assert eve["step_attributes"] == (
        'userName=eve@tailspin.com; active=True; emails[type eq "work"].value=eve@tailspin.com; '
        "name.givenName=Eve"
    )
    assert str(eve["step_result"]).startswith("blocked: duplicate-target-key")
    jon = guest(base, JON)
    assert 'emails[type eq "work"].value: not sent (null)' in str(jon["step_attributes"])


def test_findings_json_states_scope_and_quarantine(base: AuditResult, tmp_path: Path) -> None:
    from audit.render.json_out import write_findings_json

    data = orjson.loads(write_findings_json(base, tmp_path / "f.json").read_bytes())
    assert data["provisioning_scope"] == "assigned"
    forecast = data["quarantine_forecast"]
    assert forecast["would_quarantine"] is False
    assert forecast["failures"] == 2


def test_sync_all(tmp_path: Path) -> None:
    """With "Sync all users and groups" assignment does not decide scope; every in-scope user
    counts for collisions (the unassigned contractor account now collides with Ann)."""
    result = audit(tmp_path, provisioning_scope="all")
    got = outcomes(result)
    assert got[DEE] == ("ready", [])
    assert got[ANN] == ("blocked", ["duplicate-target-key"])
    assert not flagged(result, "not-in-scope")
    assert result.provisioning_scope == "all"
    assert any("Sync all" in note for note in result.engine_notes)


def test_partial_mapping(tmp_path: Path) -> None:
    """functions-for-customizing-application-data, Coalesce: "Returns the first source value that
    isn't NULL": decided for every guest with mail; Jon (no mail) reaches the uncollected extension."""
    result = audit(tmp_path, "partial")
    got = outcomes(result)
    assert got[JON][0] == "unknown"
    assert {"address-invalid", "mail-missing"} <= set(got[JON][1])  # the rules it leaves open
    assert got[ANN] == ("ready", [])
    app = result.findings[result.findings["rule_id"] == "mapping-not-evaluable"]
    assert list(app["level"]) == ["app"]
    assert (
        "extension_9d98c0f5a1b24c3d8e7f6a5b4c3d2e1f_altMail] was not collected"
        in app["detail"].iloc[0]
    )
    assert "2 of 12 guests affected" in app["detail"].iloc[0]  # Jon, and Hal (the filter)


@pytest.mark.parametrize("variant", ["no-add", "disabled-mapping"])
def test_a_user_mapping_that_creates_nobody(tmp_path: Path, variant: str) -> None:
    """objectMapping: "When false, this object mapping will be skipped"; flowTypes without Add
    creates nothing. Ann was provisioned before: without Add she is still updated."""
    result = audit(tmp_path, variant)
    got = outcomes(result)
    assert got[EVE][0] == "out_of_scope"
    assert "mapping-creates-nobody" in got[EVE][1]
    assert ("mapping-creates-nobody" in got[ANN][1]) == (variant == "disabled-mapping")
    app = result.findings[result.findings["rule_id"] == "mapping-creates-nobody"]
    assert list(app["level"]) == ["app"]


def test_matching_precedence(tmp_path: Path) -> None:
    """customize-application-attributes: matching attributes "are evaluated in the order defined
    by this field"; e-mail first here."""
    result = audit(tmp_path, "matching")
    eve = guest(result, EVE)
    assert eve["match_attribute"] == 'emails[type eq "work"].value'
    assert eve["step_match"] == 'emails[type eq "work"].value = eve@tailspin.com'
    jon = guest(result, JON)
    assert jon["step_match"] == (
        'emails[type eq "work"].value is empty; userName = jon@contoso.com'
    )
