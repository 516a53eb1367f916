"""Benchmark the DNS collector against the loopback DNS server with network-like latency.

Builds a synthetic zone (MX domains, A-only domains that trigger the A/AAAA fallback, NXDOMAINs,
domains without TXT and a share of names that never answer), serves it with ``DnsServer`` in a child
process (as a real resolver would be: not sharing this process's GIL), and times
``resolve_domains`` sequentially (concurrency 1) and at the configured concurrency.

The sequential baseline is timed on a stratified sample (same share of unanswered names) and
extrapolated to the full domain count, because running it in full takes minutes; the output says so.

    .venv/bin/python bench/bench_dns.py --domains 5000 --latency-ms 20 --unanswered 0.01
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
import sys
import time
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from a checkout without install

from audit.collectors.dns import DnsResult, resolve_domains
from audit.demo.dnsserver import DnsServer
from audit.demo.model import DnsZoneEntry

TARGET_SECONDS = 10.0
TARGET_DOMAINS = 5000


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


def measure(
    names: list[str], address: str, args: argparse.Namespace, concurrency: int
) -> dict[str, Any]:
    """Time one ``resolve_domains`` run and summarise it."""
    started = time.perf_counter()
    result: DnsResult = asyncio.run(
        resolve_domains(
            names,
            nameservers=[address],
            timeout=args.timeout,
            deadline=None,
            concurrency=concurrency,
        )
    )
    wall = time.perf_counter() - started
    queries = int(result.status.detail["queries"])
    return {
        "concurrency": concurrency,
        "domains": len(names),
        "wall_s": round(wall, 3),
        "queries": queries,
        "queries_per_s": round(queries / wall, 1),
        "unknown": int(result.status.detail["unknown"]),
        "state": result.status.state.value,
    }


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark, print a table and write ``bench/results/dns-<date>.json``."""
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("--domains", type=int, default=TARGET_DOMAINS)
    parser.add_argument("--latency-ms", type=float, default=20.0, help="server delay per query")
    parser.add_argument("--unanswered", type=float, default=0.01, help="share of silent domains")
    parser.add_argument("--timeout", type=float, default=2.0, help="per-query timeout (s)")
    parser.add_argument("--concurrency", type=int, nargs="+", default=[64, 128])
    parser.add_argument("--baseline-sample", type=int, default=200, help="0 = full sequential run")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--out", type=Path, default=Path(__file__).parent / "results")
    args = parser.parse_args(argv)
    args.loadavg_before = list(os.getloadavg())  # other work on the machine skews the figures

    context = multiprocessing.get_context("spawn")
    parent, child = context.Pipe()
    latency = args.latency_ms / 1000
    proc = context.Process(
        target=serve, args=(args.domains, args.unanswered, args.seed, latency, child), daemon=True
    )
    proc.start()
    try:
        address = str(parent.recv())
        zone = make_zone(args.domains, args.unanswered, args.seed)
        rows = run_all(zone, address, args)
        parent.send("stop")
        served, server_cpu = parent.recv()
    finally:
        proc.join(timeout=10)
        if proc.is_alive():
            proc.terminate()
    report(rows, served, server_cpu, args)
    return 0


def run_all(
    zone: dict[str, DnsZoneEntry], address: str, args: argparse.Namespace
) -> list[dict[str, Any]]:
    """The sequential baseline (sampled and extrapolated, or full) and the concurrent run."""
    names = sorted(zone)
    size = args.baseline_sample if 0 < args.baseline_sample < len(names) else len(names)
    base = measure(sample(zone, size, args.seed) if size < len(names) else names, address, args, 1)
    factor = len(names) / base["domains"]
    base.update(
        mode="sequential" + (f" (sample of {size}, extrapolated)" if factor != 1 else ""),
        wall_s=round(base["wall_s"] * factor, 3),
        queries=round(base["queries"] * factor),
        unknown=round(base["unknown"] * factor),
        domains=len(names),
        measured_domains=size,
    )
    rows = [base]
    for concurrency in args.concurrency:
        row = measure(names, address, args, concurrency)
        row.update(mode=f"concurrency {concurrency}", measured_domains=len(names))
        rows.append(row)
    for row in rows:
        row["speedup"] = round(base["wall_s"] / row["wall_s"], 1)
    return rows


def report(
    rows: list[dict[str, Any]], served: int, server_cpu: float, args: argparse.Namespace
) -> None:
    """Print the table and the verdict, and write the JSON results."""
    header = (
        f"{'mode':<42} {'domains':>7} {'wall s':>8} {'queries':>8} {'q/s':>8} "
        f"{'unknown':>7} {'speedup':>7}"
    )
    print(header)
    print("-" * len(header))
    for r in rows:
        print(
            f"{r['mode']:<42} {r['domains']:>7} {r['wall_s']:>8.2f} {r['queries']:>8} "
            f"{r['queries_per_s']:>8.0f} {r['unknown']:>7} {r['speedup']:>7.1f}"
        )
    expected_unknown = round(args.domains * args.unanswered)
    budget = TARGET_SECONDS * args.domains / TARGET_DOMAINS
    for row in rows[1:]:
        row["target_met"] = row["wall_s"] < budget
    load = ", ".join(f"{x:.2f}" for x in os.getloadavg())
    print(
        f"load average {load}; "
        f"server: {served} queries answered or dropped, {server_cpu:.1f} s CPU; "
        f"client CPU {time.process_time():.1f} s; unknown expected {expected_unknown}"
    )
    for row in rows[1:]:
        verdict = "PASS" if row["target_met"] else "FAIL"
        print(f"target {TARGET_DOMAINS} domains < {TARGET_SECONDS:.0f} s, {row['mode']}: {verdict}")
    args.out.mkdir(parents=True, exist_ok=True)
    path = args.out / f"dns-{dt.date.today().isoformat()}.json"
    payload = {
        "when": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "machine": {
            "python": platform.python_version(),
            "cpus": multiprocessing.cpu_count(),
            "loadavg_before": args.loadavg_before,
            "loadavg_after": list(os.getloadavg()),
        },
        "args": {
            k: (str(v) if isinstance(v, Path) else v)
            for k, v in vars(args).items()
            if k != "loadavg_before"
        },
        "rows": rows,
        "expected_unknown": expected_unknown,
        "target": f"{TARGET_DOMAINS} domains in < {TARGET_SECONDS:.0f} s (scaled: {budget:.1f} s)",
        "server_queries": served,
        "server_cpu_s": round(server_cpu, 2),
        "client_cpu_s": round(time.process_time(), 2),
    }
    path.write_text(json.dumps(payload, indent=2) + "\n")
    print(f"wrote {path}")


if __name__ == "__main__":
    raise SystemExit(main())
