"""``doctor`` probes each source once against the emulator and names missing permissions."""

from __future__ import annotations

from click.testing import CliRunner

from audit.cli import cli
from audit.demo.emulator import Faults, GraphEmulator
from audit.demo.tenant import generate_tenant


def _doctor(faults: Faults | None = None) -> tuple[int, str, int]:
    tenant = generate_tenant(80, 17, seed=2)
    with GraphEmulator(tenant, faults=faults) as graph:
        result = CliRunner().invoke(
            cli, ["doctor", "--graph-url", graph.base_url, "--auth", "none"]
        )
        verbs = {r.method for r in graph.requests}
        count = len(graph.requests)
    assert verbs == {"GET"}
    return result.exit_code, result.output, count


def test_doctor_all_sources_ok() -> None:
    code, output, requests = _doctor()
    assert code == 0, output
    for source in ("organization", "users", "app_role_assignments", "group_members", "sync_schema"):
        assert f"{source:22} ok" in output
    assert requests <= 12  # one call per source: quick on any tenant size


def test_doctor_names_the_missing_permission_and_disabled_rules() -> None:
    code, output, _ = _doctor(Faults(forbidden={"provisioning_logs", "group_members"}))
    assert code == 3
    assert "provisioning_logs      FAILED" in output
    assert "needs AuditLog.Read.All" in output
    assert "needs GroupMember.Read.All" in output
    assert "disabled: prior-provisioning-failure (needs provisioning_logs)" in output
    assert "disabled: nested-group-only (needs group_members)" in output
