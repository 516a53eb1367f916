"""Credential construction: modes, environment fallback, clouds, and secrets that never leak."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest

from audit.collectors.auth import CLOUDS, MODES, is_loopback, make_credential
from audit.errors import ConfigError

SECRET = "s3cr3t-Value~that.must.never.print"
ENV = (
    "AZURE_TENANT_ID",
    "AZURE_CLIENT_ID",
    "AZURE_CLIENT_SECRET",
    "AZURE_CLIENT_CERTIFICATE_PATH",
    "AZURE_CLIENT_CERTIFICATE_PASSWORD",
    "AZURE_FEDERATED_TOKEN_FILE",
)


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ENV:
        monkeypatch.delenv(name, raising=False)


def close(credential: Any) -> None:
    result = credential.close()
    if asyncio.iscoroutine(result):
        asyncio.run(result)


def test_clouds_point_at_their_graph_and_authority() -> None:
    expected = {
        "global": ("graph.microsoft.com", "login.microsoftonline.com"),
        "usgov": ("graph.microsoft.us", "login.microsoftonline.us"),
        "usgov-dod": ("dod-graph.microsoft.us", "login.microsoftonline.us"),
        "china": ("microsoftgraph.chinacloudapi.cn", "login.chinacloudapi.cn"),
    }
    assert {k: (c.graph_host, c.authority_host) for k, c in CLOUDS.items()} == expected
    assert CLOUDS["usgov"].graph_scope == "https://graph.microsoft.us/.default"
    assert CLOUDS["global"].graph_base_url == "https://graph.microsoft.com/v1.0"


@pytest.mark.parametrize(
    ("url", "loopback"),
    [
        ("http://127.0.0.1:8080/v1.0", True),
        ("http://localhost/v1.0", True),
        ("http://[::1]:9/v1.0", True),
        ("https://graph.microsoft.com/v1.0", False),
        ("http://127.0.0.1.example.com/v1.0", False),
    ],
)
def test_is_loopback(url: str, loopback: bool) -> None:
    assert is_loopback(url) is loopback


def test_none_is_only_for_loopback() -> None:
    assert make_credential("none", base_url="http://127.0.0.1:1234/v1.0") is None
    with pytest.raises(ConfigError, match="loopback"):
        make_credential("none", base_url="https://graph.microsoft.com/v1.0")
    with pytest.raises(ConfigError, match="loopback"):
        make_credential("none")


def test_unknown_mode_and_cloud() -> None:
    with pytest.raises(ConfigError, match="unknown auth mode 'password'"):
        make_credential("password")
    with pytest.raises(ConfigError, match="unknown cloud 'mars'"):
        make_credential("secret", cloud="mars")


def test_secret_mode_names_missing_variables_never_values() -> None:
    with pytest.raises(ConfigError) as caught:
        make_credential("secret", client_secret=SECRET)
    message = str(caught.value)
    assert "AZURE_TENANT_ID" in message
    assert "AZURE_CLIENT_ID" in message
    assert "AZURE_CLIENT_SECRET" not in message
    assert SECRET not in message


def test_secret_mode_from_environment_keeps_the_secret_out_of_repr(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("AZURE_TENANT_ID", "contoso.onmicrosoft.com")
    monkeypatch.setenv("AZURE_CLIENT_ID", "00000000-0000-0000-0000-000000000001")
    monkeypatch.setenv("AZURE_CLIENT_SECRET", SECRET)
    credential = make_credential("secret", cloud="usgov")
    try:
        inner = credential.wrapped  # type: ignore[union-attr]
        assert type(inner).__name__ == "ClientSecretCredential"
        assert type(inner).__module__.startswith("azure.identity.aio")
        assert SECRET not in repr(credential)
        assert SECRET not in str(credential)
    finally:
        close(credential)


def test_certificate_mode_checks_the_file(tmp_path: Path) -> None:
    args = {"tenant_id": "t", "client_id": "c", "certificate_password": SECRET}
    with pytest.raises(ConfigError, match="certificate file not found") as caught:
        make_credential("certificate", certificate_path=str(tmp_path / "missing.pem"), **args)
    assert SECRET not in str(caught.value)
    with pytest.raises(ConfigError, match="AZURE_CLIENT_CERTIFICATE_PATH"):
        make_credential("certificate", **args)


def test_workload_identity_needs_the_token_file() -> None:
    with pytest.raises(ConfigError, match="AZURE_FEDERATED_TOKEN_FILE"):
        make_credential("workload-identity", tenant_id="t", client_id="c")


@pytest.mark.parametrize("mode", ["managed-identity", "azure-cli", "device-code", "default"])
def test_interactive_and_ambient_modes_build_without_network(mode: str) -> None:
    credential = make_credential(mode, tenant_id="t", client_id="c")
    assert credential is not None
    assert hasattr(credential, "get_token")
    close(credential)


def test_every_mode_is_known() -> None:
    assert set(MODES) == {
        "none",
        "secret",
        "certificate",
        "managed-identity",
        "azure-cli",
        "device-code",
        "workload-identity",
        "default",
    }
