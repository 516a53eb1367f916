"""``doctor`` probes each source once against the emulator and names missing permissions."""

from __future__ import annotations

import asyncio
import dataclasses
import logging
from pathlib import Path

import pytest
from azure.core.exceptions import ClientAuthenticationError
from azure.identity.aio import ClientSecretCredential
from click.testing import CliRunner

from audit.cli import cli
from audit.collectors.pipeline import CollectOptions
from audit.collectors.signin import sign_in, sign_in_problem
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


def test_doctor_refuses_flags_it_does_not_use() -> None:
    for flag in (["--from-export", "export"], ["--mailusers", "m.csv"], ["--no-dns"]):
        result = CliRunner().invoke(cli, ["doctor", *flag])
        assert result.exit_code == 2
        assert f"No such option '{flag[0]}'" in result.output


def test_doctor_names_a_malformed_tenant_id_in_one_line() -> None:
    result = CliRunner().invoke(
        cli,
        ["doctor", "--auth", "secret", "--tenant-id", "not a tenant!", "--client-id", "c"],
        env={"AZURE_CLIENT_SECRET": "canary-secret-value"},
    )
    assert result.exit_code == 2
    lines = result.output.strip().splitlines()
    assert len(lines) == 1
    assert "--tenant-id / AZURE_TENANT_ID 'not a tenant!' is not a tenant id" in lines[0]
    assert "canary-secret-value" not in result.output


def test_doctor_names_a_missing_secret() -> None:
    result = CliRunner().invoke(
        cli,
        ["doctor", "--auth", "secret", "--tenant-id", TENANT, "--client-id", "c"],
        env={"AZURE_CLIENT_SECRET": ""},
    )
    assert result.exit_code == 2
    assert "needs AZURE_CLIENT_SECRET" in result.output


TENANT = "11111111-2222-3333-4444-555555555555"
_OPTIONS = CollectOptions(auth="secret", tenant_id=TENANT, client_id="c", certificate_path="c.pem")


@pytest.mark.parametrize(
    ("code", "credential", "fix"),
    [
        ("90002", "the tenant was not found", "--tenant-id / AZURE_TENANT_ID"),
        ("900023", "neither a tenant GUID", "--tenant-id / AZURE_TENANT_ID"),
        ("700016", "no application with this client id", "--client-id / AZURE_CLIENT_ID"),
        ("7000215", "the client secret is wrong", "the secret's Value, not its Secret ID"),
        ("7000222", "the client secret has expired", "create a new client secret"),
        ("700027", "the certificate is not registered", "upload its public key"),
    ],
)
def test_sign_in_failures_name_the_credential_and_the_fix(
    code: str, credential: str, fix: str
) -> None:
    """Entra's answers as azure-identity raises them (the text after the code is Entra's)."""
    exc = ClientAuthenticationError(
        message=f"ClientSecretCredential.get_token failed: AADSTS{code}: message from Entra.\r\n"
        "Trace ID: 0000aaaa-11bb-cccc-dd22-eeeeee333333"
    )
    problem = sign_in_problem(exc, _OPTIONS)
    assert problem.exit_code == 2
    assert credential in problem.message
    assert fix in problem.message
    assert "\n" not in problem.message


def test_an_unreachable_sign_in_service_is_a_network_problem() -> None:
    """A real failed token request (nothing listens on port 1), classified: exit 3."""

    async def fail() -> BaseException:
        credential = ClientSecretCredential(TENANT, "c", "s", authority="https://127.0.0.1:1")
        try:
            await credential.get_token("https://graph.microsoft.com/.default")
        except BaseException as exc:
            return exc
        finally:
            await credential.close()
        raise AssertionError("a token from nowhere")

    logging.getLogger("azure").setLevel(logging.CRITICAL)
    problem = sign_in_problem(asyncio.run(fail()), _OPTIONS)
    assert problem.exit_code == 3
    assert problem.message.startswith("sign-in: cannot reach login.microsoftonline.com")
    assert "check the network" in problem.message


def test_an_unreadable_certificate_is_named(tmp_path: Path) -> None:
    pem = tmp_path / "app.pem"
    pem.write_text("not a certificate")
    options = dataclasses.replace(_OPTIONS, auth="certificate", certificate_path=str(pem))
    problem = asyncio.run(sign_in(options))
    assert problem is not None
    assert problem.exit_code == 2
    assert f"the certificate {str(pem)!r} cannot be read" in problem.message


def test_no_token_is_needed_for_the_loopback_emulator() -> None:
    options = CollectOptions(auth="none", graph_url="http://127.0.0.1:1/v1.0")
    assert asyncio.run(sign_in(options)) is None
