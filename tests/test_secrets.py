"""Canary secrets: client secrets, private keys and access tokens never reach any output byte.

A real ``b2b-preflight run`` (a subprocess, as users run it) signs in with azure-identity's
managed-identity credential against a token endpoint on loopback that hands out a canary access
token, collects from the Graph emulator (which requires the token), and writes the snapshot, every
report and a ``--save-raw`` export. Canary values are also planted where a careless tool would
leak them: ``AZURE_CLIENT_SECRET`` and a private key given to runs whose sign-in fails. Every byte
of stdout, stderr, DEBUG-level logs and every file written is scanned for every canary.
Output files must be owner-only (``0o600``; folders the run creates ``0o700``).
"""

from __future__ import annotations

import json
import logging
import os
import stat
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID

from audit.cli import cli
from audit.demo.emulator import GraphEmulator
from audit.demo.tenant import generate_tenant
from tests._fault_proxy import Fault, FaultProxy

TOKEN = "eyJ0eXAiOiJKV1QiLCJhbGciOiJSUzI1NiJ9.eyJjYW5hcnkiOiJ0b2tlbiJ9.CANARY-ACCESS-TOKEN-7f3a"
IDENTITY_HEADER = "CANARY-IDENTITY-HEADER-91c2"
CLIENT_SECRET = "CANARY~CLIENT~SECRET~4b8e.d0"


class _TokenEndpoint(BaseHTTPRequestHandler):
    """App Service's managed-identity endpoint: hands out TOKEN to callers with the header."""

    calls = 0

    def do_GET(self) -> None:
        if self.headers.get("X-IDENTITY-HEADER") != IDENTITY_HEADER:
            self.send_response(401)
            self.end_headers()
            return
        type(self).calls += 1
        expires = str(int(time.time()) + 3600)
        body = json.dumps({"access_token": TOKEN, "expires_on": expires,
                           "resource": "https://graph.microsoft.com", "token_type": "Bearer"})  # fmt: skip
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body.encode())

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet."""


@pytest.fixture(scope="module")
def token_endpoint() -> Iterator[str]:
    server = HTTPServer(("127.0.0.1", 0), _TokenEndpoint)
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/msi/token"
    server.shutdown()
    server.server_close()


@pytest.fixture(scope="module")
def emulator() -> Iterator[GraphEmulator]:
    with GraphEmulator(generate_tenant(60, 20, seed=3), require_auth=True) as em:
        yield em


@pytest.fixture(scope="module")
def key_pem(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[str]]:
    """A certificate with its private key (PEM), and the key's base64 lines (the canaries)."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "b2b-preflight canary")])
    now = datetime.now(UTC)
    cert = (
        x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
        .serial_number(1).not_valid_before(now).not_valid_after(now + timedelta(days=1))
        .sign(key, hashes.SHA256())
    )  # fmt: skip
    pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    path = tmp_path_factory.mktemp("cert") / "app.pem"
    path.write_bytes(pem + cert.public_bytes(serialization.Encoding.PEM))
    lines = [ln for ln in pem.decode().splitlines() if ln and not ln.startswith("-----")]
    return path, lines


def _canaries(extra: list[str] = ()) -> list[bytes]:  # type: ignore[assignment]
    words = [TOKEN, TOKEN.split(".")[2], IDENTITY_HEADER, CLIENT_SECRET, *extra]
    return [w.encode() for w in words]


def _leaks(blobs: dict[str, bytes], canaries: list[bytes]) -> list[str]:
    return [f"{name}: {c[:12]!r}" for name, blob in blobs.items() for c in canaries if c in blob]


def _tree(*folders: Path) -> dict[str, bytes]:
    return {
        str(p): p.read_bytes() for f in folders if f.exists() for p in f.rglob("*") if p.is_file()
    }


def _env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AZURE_", "IDENTITY_", "MSI_"))}
    env |= {"AZURE_CLIENT_SECRET": CLIENT_SECRET, "PYTHONWARNINGS": "default", **extra}
    return env


def _audit(args: list[str], env: dict[str, str]) -> subprocess.Popen[bytes]:
    return subprocess.Popen([sys.executable, "-m", "audit", *args], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)  # fmt: skip


def test_a_signed_in_run_writes_no_secret_anywhere(
    token_endpoint: str, emulator: GraphEmulator, tmp_path: Path
) -> None:
    out, raw = tmp_path / "out", tmp_path / "raw"
    env = _env(IDENTITY_ENDPOINT=token_endpoint, IDENTITY_HEADER=IDENTITY_HEADER)
    proc = _audit(["run", "--auth", "managed-identity", "--graph-url", emulator.base_url,
                   "--no-dns", "--sign-in", "--save-raw", str(raw), "--no-verified-domains",
                   "--out", str(out)], env)  # fmt: skip
    stdout, stderr = proc.communicate(timeout=120)
    assert proc.returncode == 0, stderr.decode()
    assert _TokenEndpoint.calls >= 1
    requests = emulator.requests
    assert requests
    assert all(r.authorized for r in requests)
    blobs = {"stdout": stdout, "stderr": stderr, **_tree(out, raw)}
    assert len(blobs) > 10
    assert _leaks(blobs, _canaries()) == []
    _owner_only(out, raw)


def _owner_only(*folders: Path) -> None:
    for folder in folders:
        assert stat.S_IMODE(folder.stat().st_mode) == 0o700, folder
        for path in folder.rglob("*"):
            mode = stat.S_IMODE(path.stat().st_mode)
            assert mode == (0o700 if path.is_dir() else 0o600), (path, oct(mode))


def test_failed_sign_ins_print_no_secret_and_no_traceback(
    emulator: GraphEmulator, key_pem: tuple[Path, list[str]], tmp_path: Path
) -> None:
    pem, key_lines = key_pem
    ids = ["--tenant-id", "00000000-0000-4000-8000-000000000001",
           "--client-id", "00000000-0000-4000-8000-000000000002"]  # fmt: skip
    env = _env(HTTPS_PROXY="http://127.0.0.1:9", https_proxy="http://127.0.0.1:9", NO_PROXY="")
    runs = {
        mode: _audit(
            [
                "run",
                "--auth",
                mode,
                *ids,
                *extra,
                "--graph-url",
                emulator.base_url,
                "--no-dns",
                "--no-verified-domains",
                "--save-raw",
                str(tmp_path / mode / "raw"),
                "--out",
                str(tmp_path / mode / "out"),
            ],
            env,
        )
        for mode, extra in (("secret", []), ("certificate", ["--certificate", str(pem)]))
    }
    for mode, proc in runs.items():
        stdout, stderr = proc.communicate(timeout=120)
        assert proc.returncode == 3, (mode, stderr.decode())
        text = (stdout + stderr).decode()
        assert "Traceback" not in text
        last = text.strip().splitlines()[-1]  # azure-identity also logs a warning line
        assert last.startswith("error: organization: cannot get an access token"), text
        blobs = {"stdout": stdout, "stderr": stderr, **_tree(tmp_path / mode)}
        assert _leaks(blobs, _canaries(key_lines)) == [], mode
        assert not (tmp_path / mode / "raw").exists()
        assert not (tmp_path / mode / "out" / "snapshot").exists()


def test_debug_logs_and_error_messages_hold_no_token(
    token_endpoint: str,
    emulator: GraphEmulator,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    monkeypatch.setenv("IDENTITY_ENDPOINT", token_endpoint)
    monkeypatch.setenv("IDENTITY_HEADER", IDENTITY_HEADER)
    monkeypatch.setenv("AZURE_CLIENT_SECRET", CLIENT_SECRET)
    echo = Fault(lambda s: s.source("/users"), "status", times=99, status=401,
                 code="InvalidAuthenticationToken")  # fmt: skip
    caplog.set_level(logging.DEBUG)
    with FaultProxy(emulator.base_url, [echo]) as proxy:
        proxy_echo = _EchoingProxy(proxy)
        result = CliRunner().invoke(cli, ["run", "--auth", "managed-identity", "--graph-url",
                                          proxy.base_url, "--no-dns", "--no-verified-domains",
                                          "--out", str(tmp_path)])  # fmt: skip
    assert proxy_echo.echoed  # the server put the Authorization header into its error message
    assert result.exit_code == 3, result.output
    assert "users" in result.output
    assert "[token]" in result.output
    logs = "\n".join(f"{r.getMessage()} {r.args!r}" for r in caplog.records)
    assert len(caplog.records) > 20  # DEBUG logging was really on
    blobs = {"output": result.output.encode(), "logs": logs.encode(), **_tree(tmp_path)}
    assert _leaks(blobs, _canaries()) == []


class _EchoingProxy:
    """Makes the proxy's 401 answers echo the request's Authorization header, as a careless
    gateway might, so the test proves our messages mask it."""

    def __init__(self, proxy: FaultProxy) -> None:
        self.echoed = False
        fault = proxy.faults[0]

        def on_fire(seen: Any) -> None:
            fault.code = f"InvalidAuthenticationToken: got {seen.headers.get('authorization')}"
            self.echoed = TOKEN in fault.code

        fault.on_fire = on_fire


class _EchoingTokenEndpoint(BaseHTTPRequestHandler):
    """A managed-identity endpoint that fails and echoes the request, headers and all, into its
    error body (as a misconfigured proxy or a debugging endpoint does)."""

    def do_GET(self) -> None:
        echo = "".join(f"{k}: {v}\n" for k, v in self.headers.items())
        body = json.dumps({"error": "invalid_request", "error_description":
                           f"bad request {self.path}\n{echo}secret={IDENTITY_HEADER}"})  # fmt: skip
        self.send_response(400)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body.encode())

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet."""


def test_an_identity_endpoint_echoing_its_headers_leaks_nothing(
    emulator: GraphEmulator, tmp_path: Path
) -> None:
    server = HTTPServer(("127.0.0.1", 0), _EchoingTokenEndpoint)
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        endpoint = f"http://127.0.0.1:{server.server_address[1]}/msi/token"
        env = _env(IDENTITY_ENDPOINT=endpoint, IDENTITY_HEADER=IDENTITY_HEADER)
        out = tmp_path / "out"
        proc = _audit(["run", "--auth", "managed-identity", "--graph-url", emulator.base_url,
                       "--no-dns", "--no-verified-domains", "--out", str(out)], env)  # fmt: skip
        stdout, stderr = proc.communicate(timeout=120)
    finally:
        server.shutdown()
        server.server_close()
    assert proc.returncode == 3, stderr.decode()
    text = (stdout + stderr).decode()
    assert "Traceback" not in text
    assert "error: organization:" in text
    blobs = {"stdout": stdout, "stderr": stderr, **_tree(tmp_path)}
    assert _leaks(blobs, _canaries()) == []


@pytest.mark.parametrize(
    ("said", "kept"),
    [
        (f"X-IDENTITY-HEADER: {IDENTITY_HEADER}\nUser-Agent: azsdk", "User-Agent: azsdk"),
        (f"{{'x-identity-header': '{IDENTITY_HEADER}', 'Metadata': 'true'}}", "'Metadata': 'true'"),
        (f"Authorization: Bearer {TOKEN}", "Authorization: "),
        (f"authorization=Bearer%20{TOKEN}", "authorization="),
        (f"grant_type=client_credentials&client_secret={CLIENT_SECRET}&scope=x", "&scope=x"),
        (f'{{"password": "{CLIENT_SECRET}", "user": "u"}}', '"user": "u"'),
        (f"got {TOKEN} back", "got [secret] back"),
        (f"the secret is {CLIENT_SECRET} (from the environment)", "the secret is "),
        ("-----BEGIN PRIVATE KEY-----\nMIIEv...\n-----END PRIVATE KEY-----", ""),
        ("HTTP 400 error code: AADSTS700016, status code=401", "AADSTS700016, status code=401"),
    ],
)
def test_scrub_masks_secrets_and_keeps_the_rest(
    said: str, kept: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    from audit.errors import AuditError, scrub

    monkeypatch.setenv("AZURE_CLIENT_SECRET", CLIENT_SECRET)
    text = scrub(said)
    assert kept in text
    assert _leaks({"text": text.encode()}, _canaries(["MIIEv"])) == []
    assert str(AuditError(said)) == text  # every error of ours is scrubbed when it is made


def test_an_internal_error_quoting_a_secret_prints_none(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """A bug whose exception quotes a header (a library's text) still prints no secret."""
    import audit.cli_commands

    def broken(flags: Any) -> int:
        raise RuntimeError(f"request failed: Authorization: Bearer {TOKEN}\x1b]0;title\x07")

    monkeypatch.setattr(audit.cli_commands, "analyze_command", broken)
    result = CliRunner().invoke(cli, ["analyze", str(tmp_path)])
    assert result.exit_code == 4
    assert TOKEN.split(".")[2] not in result.output
    assert "\x1b" not in result.output
    assert "internal error: RuntimeError: request failed: Authorization: [secret]" in result.output
