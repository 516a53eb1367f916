"""Benchmark the DNS collector: 5,000 domains, 1 % of them never answering, against real servers.

Builds a synthetic zone (MX domains, A-only domains that trigger the A/AAAA fallback, NXDOMAINs,
domains without TXT and a share of names that never answer) and serves it, outside this process
(as a real resolver would be: not sharing this process's GIL), by

- ``ours``: the project's ``DnsServer`` in a child process, with network-like latency per query;
- ``dnsmasq``: Debian's dnsmasq from a generated configuration (no added latency: it answers as
  fast as it can, so the client's own CPU sets the pace); silent names are forwarded to a socket
  nobody reads.

For each server it times, in the same run:

- ``resolve_domains`` (the collector) at each ``--concurrency``;
- the floor: dnspython's public resolver used plainly, the same queries (TXT and MX, A and AAAA
  when there is no MX) under a semaphore of the same size, nothing recorded. The collector's time
  is reported as a ratio to it (what the collector costs on top of the library);
- ``ours`` only: the sequential collector (concurrency 1) on a stratified sample (same share of
  silent names), extrapolated, because running it in full takes minutes; the output says so.

    .venv/bin/python bench/bench_dns.py                       # 5,000 domains, both servers
    .venv/bin/python bench/bench_dns.py --servers ours --concurrency 128
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import json
import multiprocessing
import os
import platform
import random
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

import dns.asyncresolver
import dns.exception
import dns.message
import dns.nameserver
import dns.query
import dns.resolver
import dns.version

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from a checkout without install

from audit.collectors.dns import DnsResult, resolve_domains
from audit.demo.dnsserver import DnsServer
from audit.demo.model import DnsZoneEntry

TARGET_SECONDS = 10.0
TARGET_DOMAINS = 5000
JSON = dict[str, Any]


def make_zone(count: int, unanswered: float, seed: int) -> dict[str, DnsZoneEntry]:
    """A deterministic zone of ``count`` domains; ``round(count * unanswered)`` never answer."""
    rng = random.Random(seed)
    names = [f"d{i:06d}.bench.test" for i in range(count)]
    silent = set(rng.sample(names, round(count * unanswered)))
    zone: dict[str, DnsZoneEntry] = {}
    for name in names:
        if name in silent:
            zone[name] = DnsZoneEntry(unanswered=True)
            continue
        roll = rng.random()
        txt = [f"atlassian-domain-verification={rng.getrandbits(128):032x}"] if roll < 0.9 else []
        if roll < 0.6:
            zone[name] = DnsZoneEntry(txt=txt, mx=[(10, f"mx1.{name}"), (20, f"mx2.{name}")])
        elif roll < 0.8:
            zone[name] = DnsZoneEntry(txt=txt, a=["192.0.2.10"])  # no MX: A/AAAA fallback
        else:
            zone[name] = DnsZoneEntry(nxdomain=True)
    return zone


def sample(zone: dict[str, DnsZoneEntry], size: int, seed: int) -> list[str]:
    """A sample of ``size`` names with the zone's share of unanswered names (at least one)."""
    rng = random.Random(seed + 1)
    silent = sorted(n for n, e in zone.items() if e.unanswered)
    loud = sorted(n for n, e in zone.items() if not e.unanswered)
    want_silent = min(len(silent), max(1 if silent else 0, round(size * len(silent) / len(zone))))
    return rng.sample(silent, want_silent) + rng.sample(loud, min(len(loud), size - want_silent))


def serve(count: int, unanswered: float, seed: int, latency: float, conn: Connection) -> None:
    """Child process: serve the zone until the parent sends anything on ``conn``."""
    with DnsServer(make_zone(count, unanswered, seed), latency=latency) as server:
        conn.send(server.address)
        conn.recv()
        conn.send((server.queries, time.process_time()))


@contextmanager
def our_server(args: argparse.Namespace) -> Iterator[tuple[str, JSON]]:
    """The project's DNS server in a child process: its address, then what it saw (on exit)."""
    context = multiprocessing.get_context("spawn")
    parent, child = context.Pipe()
    latency = args.latency_ms / 1000
    server_args = (args.domains, args.unanswered, args.seed, latency, child)
    proc = context.Process(target=serve, args=server_args, daemon=True)
    proc.start()
    seen: JSON = {}
    try:
        yield str(parent.recv()), seen
        parent.send("stop")
        seen["queries"], seen["cpu_s"] = parent.recv()
    finally:
        proc.join(timeout=10)
        if proc.is_alive():
            proc.terminate()


def dnsmasq_conf(zone: dict[str, DnsZoneEntry], port: int, blackhole: int) -> str:
    """A dnsmasq configuration serving ``zone`` on 127.0.0.1:``port``; silent names are forwarded
    to ``blackhole`` (a socket nobody reads)."""
    lines = [
        "no-resolv", "no-hosts", "bind-interfaces", "listen-address=127.0.0.1", f"port={port}",
        "cache-size=0", "log-facility=-", "dns-forward-max=1000", "local=/bench.test/",
    ]  # fmt: skip
    for name, entry in zone.items():
        lines += [f"txt-record={name},{value}" for value in entry.txt]
        lines += [f"mx-host={name},{host},{pref}" for pref, host in entry.mx]
        lines += [f"host-record={name},{address}" for address in entry.a + entry.aaaa]
        if entry.nxdomain:
            lines.append(f"address=/{name}/")
        if entry.unanswered:
            lines.append(f"server=/{name}/127.0.0.1#{blackhole}")
    return "\n".join(lines) + "\n"


@contextmanager
def dnsmasq_server(zone: dict[str, DnsZoneEntry]) -> Iterator[tuple[str, JSON]]:
    """dnsmasq serving ``zone`` on a free loopback port: its address, then its CPU time (on exit)."""
    binary = shutil.which(
        "dnsmasq", path=os.pathsep.join([os.environ.get("PATH", ""), "/usr/sbin"])
    )
    if binary is None:
        raise SystemExit("dnsmasq is not installed (apt-get install -y dnsmasq-base)")
    with (
        socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as blackhole,
        tempfile.TemporaryDirectory() as folder,
    ):
        blackhole.bind(("127.0.0.1", 0))
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
            probe.bind(("127.0.0.1", 0))
            port = probe.getsockname()[1]
        conf = Path(folder) / "dnsmasq.conf"
        conf.write_text(dnsmasq_conf(zone, port, blackhole.getsockname()[1]))
        args = [binary, "--no-daemon", f"--conf-file={conf}", "--pid-file"]
        proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        seen: JSON = {}
        try:
            wait_ready(proc, port, next(iter(zone)))
            yield f"127.0.0.1:{port}", seen
            seen["cpu_s"] = process_cpu(proc.pid)
        finally:
            proc.terminate()
            proc.wait(timeout=5)


def wait_ready(proc: subprocess.Popen[bytes], port: int, name: str) -> None:
    """Wait until dnsmasq answers (it reads a 5,000-domain configuration first)."""
    query = dns.message.make_query(name, "MX")
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline and proc.poll() is None:
        try:
            dns.query.udp(query, "127.0.0.1", timeout=0.2, port=port)
        except (dns.exception.Timeout, ConnectionRefusedError):
            continue
        return
    raise SystemExit(f"dnsmasq did not start (exit code {proc.poll()})")


def process_cpu(pid: int) -> float:
    """CPU seconds (user + system) a process has used so far, from /proc (Linux)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def measure(names: list[str], address: str, timeout: float, concurrency: int) -> JSON:
    """Time one ``resolve_domains`` run and summarise it."""
    cpu, started = time.process_time(), time.perf_counter()
    result: DnsResult = asyncio.run(
        resolve_domains(
            names, nameservers=[address], timeout=timeout, deadline=None, concurrency=concurrency
        )
    )
    wall = time.perf_counter() - started
    queries = int(result.status.detail["queries"])
    return {
        "concurrency": concurrency,
        "domains": len(names),
        "wall_s": round(wall, 3),
        "cpu_s": round(time.process_time() - cpu, 3),
        "queries": queries,
        "queries_per_s": round(queries / wall, 1),
        "unknown": int(result.status.detail["unknown"]),
        "state": result.status.state.value,
    }


async def plain_dnspython(names: list[str], address: str, timeout: float, concurrency: int) -> JSON:
    """The floor: dnspython's resolver asked the collector's queries, nothing else done."""
    host, port = address.rsplit(":", 1)
    resolver = dns.asyncresolver.Resolver(configure=False)
    resolver.nameservers = [dns.nameserver.Do53Nameserver(host, int(port))]
    resolver.timeout = resolver.lifetime = timeout
    resolver.cache = None
    limit = asyncio.Semaphore(concurrency)
    counts = {"queries": 0, "timeouts": 0}

    async def ask(name: str, rdtype: str) -> object:
        async with limit:
            counts["queries"] += 1
            try:
                return await resolver.resolve(name, rdtype, search=False)
            except dns.exception.Timeout as exc:
                counts["timeouts"] += 1
                return exc
            except dns.exception.DNSException as exc:
                return exc

    async def one(name: str) -> None:
        _, mx = await asyncio.gather(ask(name, "TXT"), ask(name, "MX"))
        if isinstance(mx, dns.resolver.NoAnswer):
            await asyncio.gather(ask(name, "A"), ask(name, "AAAA"))

    await asyncio.gather(*(one(name) for name in names))
    return counts


def measure_floor(names: list[str], address: str, timeout: float, concurrency: int) -> JSON:
    """Time :func:`plain_dnspython` and summarise it like :func:`measure`."""
    cpu, started = time.process_time(), time.perf_counter()
    counts = asyncio.run(plain_dnspython(names, address, timeout, concurrency))
    wall = time.perf_counter() - started
    return {
        "concurrency": concurrency,
        "domains": len(names),
        "wall_s": round(wall, 3),
        "cpu_s": round(time.process_time() - cpu, 3),
        "queries": counts["queries"],
        "queries_per_s": round(counts["queries"] / wall, 1),
        "timeouts": counts["timeouts"],
    }


def sequential(zone: dict[str, DnsZoneEntry], address: str, args: argparse.Namespace) -> JSON:
    """The collector at concurrency 1 (on a sample, extrapolated, unless the sample is 0)."""
    names = sorted(zone)
    size = args.baseline_sample if 0 < args.baseline_sample < len(names) else len(names)
    row = measure(
        sample(zone, size, args.seed) if size < len(names) else names, address, args.timeout, 1
    )
    factor = len(names) / row["domains"]
    row.update(
        mode="sequential" + (f" (sample of {size}, extrapolated)" if factor != 1 else ""),
        wall_s=round(row["wall_s"] * factor, 3),
        queries=round(row["queries"] * factor),
        unknown=round(row["unknown"] * factor),
        domains=len(names),
        measured_domains=size,
    )
    return row


def run_server(
    server: str, zone: dict[str, DnsZoneEntry], address: str, args: argparse.Namespace
) -> list[JSON]:
    """Every measurement against one server; the floor and the collector alternate."""
    names = sorted(zone)
    rows: list[JSON] = []
    for concurrency in args.concurrency:
        floor = measure_floor(names, address, args.timeout, concurrency)
        collector = measure(names, address, args.timeout, concurrency)
        floor.update(server=server, mode=f"plain dnspython, {concurrency} in flight")
        collector.update(
            server=server,
            mode=f"collector, {concurrency} in flight",
            vs_floor=round(collector["wall_s"] / floor["wall_s"], 2),
        )
        rows += [floor, collector]
    if server == "ours" and args.baseline_sample >= 0:
        base = sequential(zone, address, args)
        base["server"] = server
        for row in rows:
            if row["mode"].startswith("collector"):
                row["speedup_vs_sequential"] = round(base["wall_s"] / row["wall_s"], 1)
        rows.append(base)
    return rows


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark, print a table and write ``bench/results/dns-<date>.json``."""
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("--domains", type=int, default=TARGET_DOMAINS)
    parser.add_argument("--latency-ms", type=float, default=20.0, help="our server's delay")
    parser.add_argument("--unanswered", type=float, default=0.01, help="share of silent domains")
    parser.add_argument("--timeout", type=float, default=2.0, help="per-query timeout (s)")
    parser.add_argument("--concurrency", type=int, nargs="+", default=[64, 128])
    parser.add_argument(
        "--servers", nargs="+", choices=["ours", "dnsmasq"], default=["ours", "dnsmasq"]
    )
    parser.add_argument(
        "--baseline-sample", type=int, default=200, help="0 = full sequential run, -1 = none"
    )
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--date", default=dt.date.today().isoformat(), help="results file date")
    parser.add_argument("--out", type=Path, default=Path(__file__).parent / "results")
    args = parser.parse_args(argv)
    loadavg_before = list(os.getloadavg())  # other work on the machine skews the figures

    zone = make_zone(args.domains, args.unanswered, args.seed)
    rows: list[JSON] = []
    servers: JSON = {}
    for server in args.servers:
        serving = our_server(args) if server == "ours" else dnsmasq_server(zone)
        with serving as (address, seen):
            rows += run_server(server, zone, address, args)
        servers[server] = seen
    report(rows, servers, loadavg_before, args)
    return 0


def report(
    rows: list[JSON], servers: JSON, loadavg_before: list[float], args: argparse.Namespace
) -> None:
    """Print the table and the verdict, and write the JSON results."""
    header = (
        f"{'server':<8} {'mode':<42} {'wall s':>8} {'cpu s':>7} {'queries':>8} {'q/s':>7} "
        f"{'unknown':>7} {'vs floor':>8}"
    )
    print(header)
    print("-" * len(header))
    for r in rows:
        unknown = r.get("unknown", "")
        ratio = f"{r['vs_floor']:.2f}x" if "vs_floor" in r else ""
        print(
            f"{r['server']:<8} {r['mode']:<42} {r['wall_s']:>8.2f} {r['cpu_s']:>7.2f} "
            f"{r['queries']:>8} {r['queries_per_s']:>7.0f} {unknown!s:>7} {ratio:>8}"
        )
    expected_unknown = round(args.domains * args.unanswered)
    budget = TARGET_SECONDS * args.domains / TARGET_DOMAINS
    collector_rows = [r for r in rows if r["mode"].startswith("collector")]
    for row in collector_rows:  # every silent domain unknown, and nothing else
        row["target_met"] = row["wall_s"] < budget and row["unknown"] == expected_unknown
    loadavg_after = list(os.getloadavg())
    print(
        f"load average before {', '.join(f'{x:.2f}' for x in loadavg_before)}, "
        f"after {', '.join(f'{x:.2f}' for x in loadavg_after)}; servers: {servers}; "
        f"unknown expected {expected_unknown}"
    )
    for row in collector_rows:
        verdict = "PASS" if row["target_met"] else "FAIL"
        print(
            f"target {args.domains} domains < {budget:.1f} s, {row['server']}, {row['mode']}: {verdict}"
        )
    args.out.mkdir(parents=True, exist_ok=True)
    path = args.out / f"dns-{args.date}.json"
    payload = {
        "when": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "machine": {
            "python": platform.python_version(),
            "dnspython": dns.version.version,
            "cpus": multiprocessing.cpu_count(),
            "loadavg_before": loadavg_before,
            "loadavg_after": loadavg_after,
        },
        "args": {k: (str(v) if isinstance(v, Path) else v) for k, v in vars(args).items()},
        "rows": rows,
        "expected_unknown": expected_unknown,
        "target": f"{TARGET_DOMAINS} domains in < {TARGET_SECONDS:.0f} s (scaled: {budget:.1f} s)",
        "servers": servers,
    }
    path.write_text(json.dumps(payload, indent=2) + "\n")
    print(f"wrote {path}")


if __name__ == "__main__":
    raise SystemExit(main())
