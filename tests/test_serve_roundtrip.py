"""``demo --serve`` + ``run --graph-url ... --save-raw`` + ``run --from-export`` give the same findings."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import orjson


def _serve() -> tuple[subprocess.Popen[str], dict[str, str]]:
    cmd = [sys.executable, "-m", "audit", "demo", "--serve", "--guests", "150", "--seed", "4"]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    values: dict[str, str] = {}
    assert proc.stdout is not None
    while len(values) < 5:
        line = proc.stdout.readline()
        assert line, proc.stderr.read() if proc.stderr else "server exited"
        key, _, value = line.strip().partition("=")
        values[key] = value
    return proc, values


def _run(*args: str) -> subprocess.CompletedProcess[str]:
    cmd = [sys.executable, "-m", "audit", "run", *args]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=120, check=False)


def _findings(folder: Path) -> list[tuple[str, str, str]]:
    data = orjson.loads((folder / "findings.json").read_bytes())
    return sorted((f["rule_id"], f["object_id"], f["status"]) for f in data["findings"])


def test_live_then_offline_give_the_same_findings(tmp_path: Path) -> None:
    proc, env = _serve()
    try:
        flags = [f"--verified-domain={d}" for d in env["VERIFIED_DOMAINS"].split(",")]
        flags += [f"--verification-token={t}" for t in env["VERIFICATION_TOKENS"].split(",")]
        live = _run(
            "--graph-url", env["GRAPH_URL"], "--auth", "none", "--nameserver", env["NAMESERVER"],
            "--mailusers", env["MAILUSERS"], "--sign-in", *flags,
            "--save-raw", str(tmp_path / "raw"), "--out", str(tmp_path / "live"),
        )  # fmt: skip
        assert live.returncode == 0, live.stderr
    finally:
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=20)
        assert proc.returncode == 0, err
    raw = tmp_path / "raw"
    for name in ("organization.json", "domains.json", "users.json", "dns.json", "mailusers.csv"):
        assert (raw / name).is_file(), name
    assert (raw / "synchronizationSchema.json").is_file()
    offline = _run("--from-export", str(raw), *flags, "--out", str(tmp_path / "offline"))
    assert offline.returncode == 0, offline.stderr
    assert _findings(tmp_path / "offline") == _findings(tmp_path / "live")
    assert os.listdir(tmp_path / "live" / "snapshot")
