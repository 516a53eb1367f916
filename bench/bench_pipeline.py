"""Benchmark the whole pipeline at tenant scale, against the Graph emulator and DNS server on loopback.

A child process (not sharing this one's GIL or memory) generates a demo tenant of ``--guests``
guests over ``--domains`` mail domains and serves it: the Graph emulator (latency settable while it
runs) and the DNS server. This process then times, for the same tenant:

- the collection floor: plain httpx + orjson paging the guest queries (no SDK, no middleware);
- the collector (msgraph-sdk request adapter + orjson), sequential and partitioned;
- ``b2b-preflight run`` itself in a child process (``cli``: the end-to-end figure of the targets),
  wall time, CPU and peak RSS;
- the same steps one by one in this process, so each is timed (``e2e``): collect, DNS, mailusers,
  snapshot build, save and load, frame + rules, and the reports (a forked child starts on
  report.xlsx and shares the rest), with the peak RSS of this process and of the child;
- an incremental run (``/users/delta``) after 1 % of the guests changed, checked equal to a full
  read; the cost of checkpointing every page;
- sequential vs partitioned collection at ``--latency-ms`` per request;
- the typed-SDK path (``client.users.get()``, kiota models) on a ``--typed-sample`` guest sample;
- ``b2b-preflight --help`` start-up time.

It prints a table and merges its results into ``bench/results/<date>.json`` (keyed by guest count).

    .venv/bin/python bench/bench_pipeline.py                      # 100,000 guests
    .venv/bin/python bench/bench_pipeline.py --guests 1000000 --skip latency typed
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import datetime as dt
import gc
import itertools
import json
import multiprocessing
import os
import platform
import re
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import zipfile
from collections.abc import Callable
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any
from urllib.parse import quote

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from a checkout without install

JSON = dict[str, Any]
GUESTS_FILTER = "userType eq 'Guest'"
MEMBERS_FILTER = "creationType eq 'Invitation' and userType eq 'Member'"
TARGETS = {
    "e2e_s_100k": 30.0,
    "rss_mb_100k": 600.0,
    "floor_ratio": 1.5,
    "latency_speedup": 5.0,
    "e2e_s_1m": 300.0,
    "rss_mb_1m": 3072.0,
    "html_mb": 25.0,
    "help_s": 1.0,
    "graph_ratio": 1.25,
}


# ---- the child: tenant generation and the two servers ---------------------------------------------


def serve(guests: int, domains: int, seed: int, work: str, conn: Connection) -> None:
    """Child process: generate, serve, obey commands until told to stop."""
    from audit.demo.dnsserver import DnsServer
    from audit.demo.emulator import GraphEmulator
    from audit.demo.run import write_mailusers_csv
    from audit.demo.tenant import generate_tenant

    started = time.perf_counter()
    tenant = generate_tenant(guests, domains, seed=seed)
    generated = time.perf_counter() - started
    mailusers = write_mailusers_csv(tenant, Path(work) / "mailusers.csv")
    gc.collect()
    gc.freeze()  # the tenant lives as long as the servers: keep full collections from rescanning
    # it (they stall every request thread for most of a second at 100,000 guests)
    with GraphEmulator(tenant) as graph, DnsServer(tenant.dns) as dns:
        conn.send(
            {
                "graph_url": graph.base_url,
                "nameserver": dns.address,
                "verified": list(tenant.verified_in_target),
                "tokens": list(tenant.verification_tokens),
                "mailusers": str(mailusers),
                "users": len(tenant.users),
                "guests": sum(u.get("userType") == "Guest" for u in tenant.users),
                "zone": len(tenant.dns),
                "generate_s": round(generated, 2),
            }
        )
        _obey(graph, tenant.users, conn)


def _obey(graph: Any, users: list[JSON], conn: Connection) -> None:
    while True:
        command, value = conn.recv()
        if command == "latency":
            graph.latency = float(value)
            conn.send(None)
        elif command == "pacing":
            from audit.demo.emulator_pacing import graph_pacing

            graph.pacing = graph_pacing(len(users)) if value == "graph" else None
            conn.send(None)
        elif command == "pacing_report":
            conn.send(graph.pacing.summary() if graph.pacing is not None else None)
        elif command == "mutate":
            conn.send(_mutate(graph, users, int(value)))
        else:
            conn.send(round(time.process_time(), 1))
            return


def _mutate(graph: Any, users: list[JSON], count: int) -> JSON:
    """Change ``count`` guests: most renamed, a tenth deleted, a tenth added (copies)."""
    guests = [u for u in users if u.get("userType") == "Guest"][: count + count // 5]
    renamed, deleted, template = guests[:count], guests[count : count + count // 10], guests[-1]
    for user in renamed:
        graph.update_user(user["id"], {"displayName": f"{user.get('displayName')} (renamed)"})
    for user in deleted:
        graph.delete_user(user["id"])
    for n in range(count // 10):
        graph.add_user({**template, "id": f"00000000-0000-4000-8000-{n:012d}"})
    return {"renamed": len(renamed), "deleted": len(deleted), "added": count // 10}


class Server:
    """This process's handle on the child."""

    def __init__(self, args: argparse.Namespace, work: Path) -> None:
        context = multiprocessing.get_context("spawn")
        self.conn, child = context.Pipe()
        params = (args.guests, args.domains, args.seed, str(work), child)
        self.process = context.Process(target=serve, args=params, daemon=True)
        self.process.start()
        self.info: JSON = self.conn.recv()

    def call(self, command: str, value: Any = None) -> Any:
        self.conn.send((command, value))
        return self.conn.recv()

    def stop(self) -> float:
        cpu = float(self.call("stop"))
        self.process.join(timeout=30)
        return cpu


# ---- collection: the floor, the collector, the typed SDK --------------------------------------------


def timed(fn: Callable[[], Any]) -> tuple[float, Any]:
    started = time.perf_counter()
    value = fn()
    return round(time.perf_counter() - started, 3), value


def warm(base_url: str) -> float:
    """Ask every user query once so the emulator's per-filter caches are built before timing (as
    ``demo --serve`` does), and send one request through the SDK (its first request imports and
    sets up a lot)."""
    from audit.collectors.graph import close_graph_client, make_graph_client
    from audit.collectors.graph_io import _Graph
    from audit.demo.run import warm_filters

    async def first_request() -> None:
        client = make_graph_client(base_url=base_url, credential=None)
        try:
            await _Graph(client).pages(client.organization.to_get_request_information())
        finally:
            await close_graph_client(client)

    started = time.perf_counter()
    warm_filters(base_url)
    asyncio.run(first_request())
    return round(time.perf_counter() - started, 2)


def floor(base_url: str) -> tuple[float, int]:
    """Plain httpx + orjson paging of the two guest queries, one after the other."""
    import httpx
    import orjson

    from audit.collectors.graph import GUEST_SELECT

    def run() -> int:
        found: dict[str, JSON] = {}
        with httpx.Client(timeout=600) as client:
            for f in (GUESTS_FILTER, MEMBERS_FILTER):
                url: str | None = (
                    f"{base_url}/users?$filter={quote(f)}&$select={','.join(GUEST_SELECT)}&$top=999"
                )
                while url:
                    doc = orjson.loads(client.get(url).content)
                    for user in doc["value"]:
                        found.setdefault(user["id"], user)
                    url = doc.get("@odata.nextLink")
        return len(found)

    gc.disable()  # as the collector does while parsing: fair to the floor
    try:
        return timed(run)
    finally:
        gc.enable()


def collector(base_url: str, **kw: Any) -> tuple[float, Any]:
    """One ``collect_graph`` run with a fresh client (users only unless ``app`` is given)."""
    from audit.collectors.graph import close_graph_client, collect_graph, make_graph_client

    async def run() -> Any:
        client = make_graph_client(base_url=base_url, credential=None)
        try:
            return await collect_graph(client, **{"app": None, **kw})
        finally:
            await close_graph_client(client)

    return timed(lambda: asyncio.run(run()))


def typed_sample(base_url: str, sample: int, guests: int) -> JSON:
    """The naive path: typed kiota models via ``client.users.get()``, on ``sample`` guests."""
    from kiota_abstractions.base_request_configuration import RequestConfiguration

    from audit.collectors.graph import GUEST_SELECT, close_graph_client, make_graph_client

    async def run() -> int:
        client = make_graph_client(base_url=base_url, credential=None)
        try:
            query = client.users.UsersRequestBuilderGetQueryParameters(
                filter=GUESTS_FILTER, select=list(GUEST_SELECT), top=min(999, sample)
            )
            page = await client.users.get(RequestConfiguration(query_parameters=query))
            count = len(page.value or []) if page else 0
            while page and page.odata_next_link and count < sample:
                page = await client.users.with_url(page.odata_next_link).get()
                count += len(page.value or []) if page else 0
            return count
        finally:
            await close_graph_client(client)

    seconds, count = timed(lambda: asyncio.run(run()))
    return {
        "sample": count,
        "s": seconds,
        "users_per_s": round(count / seconds),
        "extrapolated_s": round(seconds * guests / count, 1),
    }


# ---- the end-to-end run -------------------------------------------------------------------------


def reset_peak_rss() -> None:
    """Reset the kernel's peak-RSS mark of this process (VmHWM) so the end-to-end run is measured
    alone."""
    with contextlib.suppress(OSError):
        Path("/proc/self/clear_refs").write_text("5")


def rss_mb(field: str) -> float:
    """``VmRSS`` (now) or ``VmHWM`` (peak since the last reset) of this process, in MB."""
    found = re.search(rf"{field}:\s+(\d+) kB", Path("/proc/self/status").read_text())
    kb = int(found.group(1)) if found else resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return round(kb / 1024, 1)


class Stages:
    """Seconds per stage, and this process's RSS and peak RSS (MB) after each."""

    def __init__(self) -> None:
        self.seconds: dict[str, float] = {}
        self.memory: dict[str, tuple[float, float]] = {}

    def run(self, name: str, fn: Callable[[], Any]) -> Any:
        seconds, value = timed(fn)
        self.seconds[name] = seconds
        self.memory[name] = (rss_mb("VmRSS"), rss_mb("VmHWM"))
        return value


def end_to_end(info: JSON, args: argparse.Namespace, work: Path) -> tuple[JSON, Any]:
    """collect → DNS → mailusers → snapshot → save/load → frame + rules → every report."""
    from audit import snapshot as snap
    from audit.analysis.analyzer import analyze
    from audit.config import AuditConfig
    from audit.render import render_all

    config = AuditConfig(
        verified_domains=tuple(info["verified"]), verification_tokens=tuple(info["tokens"])
    )
    stages = Stages()
    gc.collect()
    reset_peak_rss()
    snapshot, domains = collect_to_snapshot(info, args, config, stages)
    folder = stages.run("snapshot save", lambda: snap.save(snapshot, work / "snapshot"))
    result = stages.run("frame + rules", lambda: analyze(snapshot, config))
    timings: dict[str, float] = {}
    paths = stages.run(
        "reports (wall)", lambda: render_all(result, work / "reports", timings=timings)
    )
    rss = rss_mb("VmHWM")
    child_rss = round(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024, 1)
    total = round(sum(stages.seconds.values()), 2)
    stages.run("snapshot load (not in total)", lambda: snap.load(folder))
    out: JSON = {
        "stages_s": stages.seconds,
        "rss_after_stage_mb": {k: {"rss": r, "peak": p} for k, (r, p) in stages.memory.items()},
        "reports_s": timings,
        "total_s": total,
        "peak_rss_mb": rss,
        "excel_child_peak_rss_mb": child_rss,
        "guests_in_frame": len(result.guests),
        "findings": len(result.findings),
        "domains_resolved": domains,
        "dns_state": snapshot.sources["dns"].state.value,
        "users_detail": snapshot.sources["users"].detail,
        "files_mb": {k: round(p.stat().st_size / 2**20, 2) for k, p in paths.items()},
        "xlsx_sheets": xlsx_sheets(paths["xlsx"]),
    }
    return out, snapshot


def collect_to_snapshot(
    info: JSON, args: argparse.Namespace, config: Any, stages: Stages
) -> tuple[Any, int]:
    """The steps of ``audit.collectors.pipeline.collect``, each timed (the users, group members
    and logs become tables while they are read)."""
    from audit.collectors import dns
    from audit.collectors.build import build_snapshot, guest_domains
    from audit.collectors.delta import DELTA_LINK, DELTA_SELECT
    from audit.collectors.graph import GUEST_SELECT
    from audit.collectors.mailusers import read_mailusers

    data = stages.run(
        "collect",
        lambda: collector(
            info["graph_url"],
            app="Atlassian Cloud",
            include_sign_in=True,
            partitions=args.partitions,
            track_changes=True,
        )[1],
    )
    records, statuses = data.records, dict(data.statuses)
    users = data.tables["users"]
    domains = guest_domains(users)
    resolved = stages.run(
        "dns",
        lambda: asyncio.run(
            dns.resolve_domains(
                domains, nameservers=[info["nameserver"]], timeout=1.0, concurrency=128
            )
        ),
    )
    mailusers = stages.run("mailusers", lambda: read_mailusers(info["mailusers"]))
    statuses["dns"], statuses["mailusers"] = resolved.status, mailusers.status
    extra = {DELTA_LINK: data.delta_link, DELTA_SELECT: list(GUEST_SELECT), "mode": "live"}
    tables = {**data.tables, "dns": resolved.table, "mailusers": mailusers.table}
    snapshot = stages.run(
        "snapshot build",
        lambda: build_snapshot(
            records,
            statuses,
            collected_at=dt.datetime.now(dt.UTC),
            extra_tables=tables,
            config=config.to_dict(),
            extra=extra,
        ),
    )
    return snapshot, len(domains)


def cli_section(info: JSON, args: argparse.Namespace, work: Path) -> JSON:
    """The ``cli`` run of this checkout; with ``--baseline-rev``, alternating with that revision's
    CLI (``--cli-repeat`` rounds): each side's medians, the ratios this/baseline and which output
    files are byte-identical (apart from the run's own time stamps: see ``same_outputs``)."""
    if not args.baseline_rev:
        return cli_run(info, args, work)
    base_src = work / "baseline-src"
    shutil.rmtree(base_src, ignore_errors=True)
    base_src.mkdir(parents=True)
    archive = subprocess.run(
        ["git", "archive", args.baseline_rev], check=True, capture_output=True,
        cwd=Path(__file__).resolve().parents[1],
    ).stdout  # fmt: skip
    subprocess.run(["tar", "-x", "-C", str(base_src)], input=archive, check=True)
    runs: dict[str, list[JSON]] = {"this": [], "baseline": []}
    for _ in range(args.cli_repeat):
        runs["this"].append(cli_run(info, args, work, out_name="cli-run"))
        runs["baseline"].append(cli_run(info, args, work, out_name="cli-base", source=base_src))
    medians = {
        side: {
            k: statistics.median(r[k] for r in rows) for k in ("total_s", "cpu_s", "peak_rss_mb")
        }
        for side, rows in runs.items()
    }
    this = dict(min(runs["this"], key=lambda r: abs(r["total_s"] - medians["this"]["total_s"])))
    this.update(medians["this"])
    this["runs"] = [{k: r[k] for k in ("total_s", "cpu_s", "peak_rss_mb")} for r in runs["this"]]
    this["baseline"] = {
        "rev": args.baseline_rev,
        **medians["baseline"],
        "runs": [{k: r[k] for k in ("total_s", "cpu_s", "peak_rss_mb")} for r in runs["baseline"]],
        "stages": runs["baseline"][-1]["stages"],
    }
    this["ratios"] = {
        k: round(medians["this"][k] / medians["baseline"][k], 3) for k in medians["this"]
    }
    this["same_outputs"] = same_outputs(work / "cli-run", work / "cli-base")
    return this


# What differs from one run to the next, not with the result: time stamps (ISO, and the workbook's
# date serials), durations, the output folder, and how many DNS queries were sent (a timeout that
# fell due while the loop was held is asked again).
_RUN_DEPENDENT = re.compile(
    rb'("(generated|generated_at|collected_at|started|finished|when|duration_s|seconds|queries|out|path)"'
    rb"\s*:\s*[^,}\n]*)|(\d{4}-\d\d-\d\d[T ]\d\d:\d\d(:\d\d(\.\d+)?)?([+-]\d\d:?\d\d|Z| UTC)?)"
    rb"|(<v>\d{5}\.\d+</v>)"
)


def same_outputs(ours: Path, theirs: Path) -> JSON:
    """Per report file of the two runs: ``identical`` (bytes), ``same_but_stamps`` (equal once
    what depends on the moment of the run is blanked: ``_RUN_DEPENDENT``), or ``different``.
    report.xlsx is compared part by part (its zip entries carry their own times); only parts
    whose CRCs differ are read, and only files that differ are searched for stamps."""
    out: JSON = {}
    for path in sorted(p for p in ours.iterdir() if p.is_file()):
        other = theirs / path.name
        if not other.exists():
            out[path.name] = "missing in baseline"
        elif path.suffix == ".xlsx":
            out[path.name] = _same_workbook(path, other)
        elif _digest(path) == _digest(other):
            out[path.name] = "identical"
        else:
            same = _RUN_DEPENDENT.sub(b"~", path.read_bytes()) == _RUN_DEPENDENT.sub(
                b"~", other.read_bytes()
            )
            out[path.name] = "same_but_stamps" if same else "different"
    for path in sorted(p for p in theirs.iterdir() if p.is_file()):
        out.setdefault(path.name, "missing in this run")
    return out


def _digest(path: Path) -> str:
    import hashlib

    with path.open("rb") as handle:
        return hashlib.file_digest(handle, "sha256").hexdigest()


def _same_workbook(ours: Path, theirs: Path) -> str:
    with zipfile.ZipFile(ours) as a, zipfile.ZipFile(theirs) as b:
        crcs = [{i.filename: i.CRC for i in z.infolist()} for z in (a, b)]
        if crcs[0].keys() != crcs[1].keys():
            return "different"
        changed = [name for name, crc in crcs[0].items() if crcs[1][name] != crc]
        for name in changed:
            if _RUN_DEPENDENT.sub(b"~", a.read(name)) != _RUN_DEPENDENT.sub(b"~", b.read(name)):
                return "different"
    return "same_but_stamps" if changed else "identical"


def cli_run(
    info: JSON,
    args: argparse.Namespace,
    work: Path,
    *,
    out_name: str = "cli-run",
    source: Path | None = None,
) -> JSON:
    """``b2b-preflight run`` itself, in a child process: imports, the overlapped collection of
    ``audit.collectors.pipeline.collect`` (DNS while the Get-MailUser CSV parses), page checkpoints, snapshot
    save, analysis and every report. Wall time and the peak RSS of the largest process.

    ``source``: run the ``audit`` package of that folder instead (a baseline revision), with this
    interpreter and its installed dependencies."""
    import json as json_module

    config = work / "bench.toml"
    config.write_text(
        "verified_domains = " + json_module.dumps(info["verified"]) + "\n"
        "verification_tokens = " + json_module.dumps(info["tokens"]) + "\n"
    )
    out = work / out_name
    shutil.rmtree(out, ignore_errors=True)
    script = Path(sys.executable).with_name("b2b-preflight")
    command = (
        [str(script)] if script.exists() and source is None else [sys.executable, "-m", "audit"]
    )
    command += ["run", "--graph-url", info["graph_url"], "--auth", "none", "--sign-in"]
    command += ["--nameserver", info["nameserver"], "--dns-timeout", "1"]
    command += ["--mailusers", info["mailusers"], "--config", str(config), "--out", str(out)]
    command += ["--partitions", str(args.cli_partitions), "--json", "--progress"]
    env = None if source is None else {**os.environ, "PYTHONPATH": str(source)}
    watched = Watched(command, env=env, cwd=source)
    seconds = watched.seconds
    if watched.returncode not in (0, 1):
        raise RuntimeError(f"b2b-preflight run exited {watched.returncode}: {watched.err[-2000:]}")
    files = {p.name: round(p.stat().st_size / 2**20, 2) for p in out.iterdir() if p.is_file()}
    return {
        "command": "b2b-preflight " + " ".join(command[1:]),
        "total_s": seconds,
        "cpu_s": watched.cpu_s,
        "peak_rss_mb": watched.peak_rss_mb,
        "stages": watched.stages(),
        "exit": watched.returncode,
        "files_mb": files,
        "xlsx_sheets": xlsx_sheets(out / "report.xlsx"),
        "dns": _dns_status(out / "snapshot" / "manifest.json"),
    }


class Watched:
    """A command run to its end while the RSS of its process and of its children (the report
    writer it forks) is sampled every 0.1 s; its ``--progress`` lines mark the stages."""

    def __init__(
        self, command: list[str], env: dict[str, str] | None = None, cwd: Path | None = None
    ) -> None:
        import threading

        started = time.perf_counter()
        process = subprocess.Popen(
            command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, env=env, cwd=cwd
        )
        self.samples: list[tuple[float, float]] = []
        done = threading.Event()

        def sample() -> None:
            while not done.wait(0.1):
                tree = [process.pid, *_children(process.pid)]
                self.samples.append((time.perf_counter() - started, max(map(_rss_of, tree))))

        sampler = threading.Thread(target=sample, daemon=True)
        sampler.start()
        assert process.stderr is not None
        self.lines = [(time.perf_counter() - started, line.rstrip()) for line in process.stderr]
        _, status, usage = os.wait4(process.pid, 0)  # this run's own peak, not all children's
        process.returncode = self.returncode = os.waitstatus_to_exitcode(status)
        self.peak_rss_mb = round(usage.ru_maxrss / 1024, 1)
        self.cpu_s = round(usage.ru_utime + usage.ru_stime, 1)
        self.seconds = round(time.perf_counter() - started, 2)
        done.set()
        sampler.join()
        self.err = "\n".join(line for _, line in self.lines)

    def stages(self) -> dict[str, JSON]:
        """Per stage (from its "name …" line to the next stage's): seconds and peak RSS (MB) of
        the largest process."""
        starts = [(t, line[: -len(" …")]) for t, line in self.lines if line.endswith(" …")]
        marks = [*starts, (self.seconds, "")]
        out: dict[str, JSON] = {}
        for (begin, name), (end, _) in itertools.pairwise(marks):
            window = [mb for t, mb in self.samples if begin <= t <= end] or [0.0]
            key = "writing reports" if name.startswith("writing reports") else name
            out[key] = {"s": round(end - begin, 2), "peak_rss_mb": round(max(window), 1)}
        return out


def _children(pid: int) -> list[int]:
    try:
        text = Path(f"/proc/{pid}/task/{pid}/children").read_text()
    except OSError:
        return []
    return [int(p) for p in text.split()]


def _rss_of(pid: int) -> float:
    try:
        found = re.search(r"VmRSS:\s+(\d+) kB", Path(f"/proc/{pid}/status").read_text())
    except OSError:
        return 0.0
    return int(found.group(1)) / 1024 if found else 0.0


def _dns_status(manifest: Path) -> JSON:
    """The DNS source's state and detail as the run recorded them (unknown answers included)."""
    sources = json.loads(manifest.read_text())["sources"]
    found = [s for s in sources if s.get("name") == "dns"]
    return {"state": found[0]["state"], **found[0]["detail"]} if found else {}


def xlsx_sheets(path: Path) -> list[str]:
    """Sheet names, read from the workbook's XML (opening a million-row workbook takes minutes)."""
    with zipfile.ZipFile(path) as archive:
        text = archive.read("xl/workbook.xml").decode()
    return re.findall(r'<sheet[^>]* name="([^"]+)"', text)


# ---- incremental, checkpoints, latency, start-up ------------------------------------------------


def incremental(server: Server, snapshot: Any, changed: int) -> JSON:
    """Change some guests, then read only the changes and compare with a full read."""
    import pandas as pd

    from audit.collectors.delta import DeltaState, apply_changes

    counts = server.call("mutate", changed)
    state = DeltaState.from_snapshot(snapshot)
    url = server.info["graph_url"]
    seconds, data = collector(url, delta=state)
    merge_s, merged = timed(lambda: apply_changes(snapshot.tables["users"], data.changes))
    full_s, full = collector(url)
    expected = full.tables["users"]

    def key(df: pd.DataFrame) -> pd.DataFrame:
        return df.drop(columns="lastSignInDateTime").sort_values("id").reset_index(drop=True)

    return {
        "changes": counts,
        "delta_collect_s": seconds,
        "apply_s": merge_s,
        "full_collect_s": full_s,
        "requests": data.requests,
        "equal_to_full_read": key(merged).equals(key(expected)),
    }


def checkpointed(url: str, work: Path) -> JSON:
    from audit.collectors.checkpoint import Checkpoint

    folder = work / ".checkpoint"
    seconds, data = collector(url, checkpoint=Checkpoint(folder, resume=False))
    return {"s": seconds, "users": len(data.tables["users"]), "cleared": not folder.exists()}


def latency_runs(server: Server, args: argparse.Namespace) -> list[JSON]:
    url = server.info["graph_url"]
    rows = []
    for ms in args.latency_ms:
        server.call("latency", ms / 1000)
        base, data = collector(url)
        row: JSON = {"latency_ms": ms, "sequential_s": base, "requests": data.requests}
        for n in args.latency_partitions:
            seconds, part = collector(url, partitions=n)
            assert len(part.tables["users"]) == len(data.tables["users"])
            row[f"partitions_{n}_s"] = seconds
            row[f"partitions_{n}_speedup"] = round(base / seconds, 2)
            row[f"partitions_{n}_requests"] = part.requests
        rows.append(row)
    server.call("latency", 0.0)
    return rows


def graph_paced(server: Server, args: argparse.Namespace) -> JSON:
    """The collection under the emulator's ``graph`` pacing (Graph-like latency, the documented
    throttling; ``audit.demo.emulator_pacing``): every source, as ``b2b-preflight run --sign-in``
    collects them, then the guests alone. Each run is compared with the shortest time the
    budgets allow for the requests it had answered (``floor_s``)."""
    url = server.info["graph_url"]
    out: JSON = {}
    runs: dict[str, JSON] = {
        "collection": {"app": "Atlassian Cloud", "track_changes": True},
        "guests_only": {"app": None},
    }
    for name, extra in runs.items():
        server.call("pacing", "graph")
        try:
            seconds, data = collector(
                url, include_sign_in=True, partitions=args.cli_partitions, **extra
            )
            paced: JSON = server.call("pacing_report")
        finally:
            server.call("pacing", None)
        floor_s = paced["floor_s"]
        out[name] = {
            "s": seconds,
            "requests": data.requests,
            "throttled": data.throttled,
            "users": len(data.tables["users"]),
            **paced,
            "ratio_to_floor": round(seconds / floor_s, 3) if floor_s else None,
        }
        del data
    return out


def help_time() -> JSON:
    """``b2b-preflight --help``: a warm-up run, then the median of three."""
    script = Path(sys.executable).with_name("b2b-preflight")
    command = [str(script)] if script.exists() else [sys.executable, "-m", "audit"]
    runs = []
    for _ in range(4):
        started = time.perf_counter()
        subprocess.run([*command, "--help"], check=True, capture_output=True)
        runs.append(time.perf_counter() - started)
    return {"median_s": round(statistics.median(runs[1:]), 3), "cold_s": round(runs[0], 3)}


# ---- main ---------------------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("--guests", type=int, default=100_000)
    parser.add_argument("--domains", type=int, default=5_000, help="distinct guest mail domains")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--partitions", type=int, default=8, help="for the end-to-end collect")
    parser.add_argument("--latency-ms", type=float, nargs="+", default=[500.0])
    parser.add_argument("--latency-partitions", type=int, nargs="+", default=[8, 16])
    parser.add_argument("--typed-sample", type=int, default=5_000)
    parser.add_argument("--repeat", type=int, default=3, help="floor comparison runs (median)")
    parser.add_argument("--changed", type=float, default=0.01, help="share changed for delta")
    parser.add_argument(
        "--skip",
        nargs="*",
        default=[],
        choices=[
            "floor",
            "e2e",
            "cli",
            "graph",
            "incremental",
            "checkpoint",
            "latency",
            "typed",
            "help",
        ],
    )
    parser.add_argument(
        "--cli-partitions", type=int, default=16, help="for the cli run (its default: 16)"
    )
    parser.add_argument(
        "--baseline-rev",
        default=None,
        help="cli section: also run this git revision's CLI, alternating; ratios and same outputs",
    )
    parser.add_argument("--cli-repeat", type=int, default=1, help="cli rounds with --baseline-rev")
    parser.add_argument("--out", type=Path, default=Path(__file__).parent / "results")
    parser.add_argument("--date", default=None, help="results file date (default: today, UTC)")
    parser.add_argument("--work", type=Path, default=None, help="default: a temporary folder")
    args = parser.parse_args(argv)
    from audit import _process

    _process.opt_in()  # the in-process sections run as the CLI does (audit._process)
    work = args.work or Path(tempfile.mkdtemp(prefix="b2b-bench-"))
    work.mkdir(parents=True, exist_ok=True)
    try:
        results = run_all(args, work)
    finally:
        if args.work is None:
            shutil.rmtree(work, ignore_errors=True)
    report(results, args)
    return 0


def run_all(args: argparse.Namespace, work: Path) -> JSON:
    results: JSON = {"loadavg_before": list(os.getloadavg())}
    server = Server(args, work)
    try:
        info = server.info
        results["tenant"] = {k: info[k] for k in ("users", "guests", "zone", "generate_s")}
        results["warm_s"] = warm(info["graph_url"])
        if "floor" not in args.skip:
            results["floor"] = compare_with_floor(info["graph_url"], args)
        if "latency" not in args.skip:
            results["latency"] = latency_runs(server, args)
        if "graph" not in args.skip:
            results["graph"] = graph_paced(server, args)
        snapshot = None
        if "cli" not in args.skip:
            results["cli"] = cli_section(info, args, work)
        if "e2e" not in args.skip:
            results["e2e"], snapshot = end_to_end(info, args, work)
        if "checkpoint" not in args.skip:
            results["checkpoint"] = checkpointed(info["graph_url"], work)
        if snapshot is not None and "incremental" not in args.skip:  # last: clears emulator caches
            results["incremental"] = incremental(server, snapshot, int(args.guests * args.changed))
        del snapshot
        gc.collect()
        if "typed" not in args.skip:
            results["typed"] = typed_sample(info["graph_url"], args.typed_sample, args.guests)
    finally:
        results["emulator_cpu_s"] = server.stop()
    if "help" not in args.skip:
        results["help"] = help_time()
    results["loadavg_after"] = list(os.getloadavg())
    return results


def compare_with_floor(url: str, args: argparse.Namespace) -> JSON:
    """Floor, sequential and partitioned collection, alternating, ``--repeat`` times (medians)."""
    runs: dict[str, list[float]] = {"floor": [], "sequential": [], "partitioned": []}
    for _ in range(args.repeat):
        floor_s, floor_users = floor(url)
        seq_s, seq = collector(url)
        part_s, part = collector(url, partitions=args.partitions)
        users = len(seq.tables["users"])
        assert users == len(part.tables["users"]) == floor_users, (users, floor_users)
        for key, value in zip(runs, (floor_s, seq_s, part_s), strict=True):
            runs[key].append(value)
        del seq, part
    floor_s, seq_s, part_s = (statistics.median(v) for v in runs.values())
    return {
        "runs_s": runs,
        "users": users,
        "floor_s": floor_s,
        "sequential_s": seq_s,
        "partitioned_s": part_s,
        "sequential_ratio": round(seq_s / floor_s, 2),
        "partitioned_ratio": round(part_s / floor_s, 2),
        "floor_users_per_s": round(users / floor_s),
        "sequential_users_per_s": round(users / seq_s),
    }


def verdicts(results: JSON, guests: int) -> dict[str, bool]:
    big = guests >= 1_000_000
    out: dict[str, bool] = {}
    if "e2e" in results:
        e2e = results["e2e"]
        seconds, mb = (
            TARGETS["e2e_s_1m" if big else "e2e_s_100k"],
            TARGETS["rss_mb_1m" if big else "rss_mb_100k"],
        )
        out[f"end to end < {seconds:.0f} s"] = e2e["total_s"] < seconds
        out[f"peak RSS < {mb:.0f} MB"] = e2e["peak_rss_mb"] < mb
        out[f"report.html < {TARGETS['html_mb']:.0f} MB"] = (
            e2e["files_mb"]["html"] < TARGETS["html_mb"]
        )
    if "cli" in results:
        cli = results["cli"]
        seconds = TARGETS["e2e_s_1m" if big else "e2e_s_100k"]
        mb = TARGETS["rss_mb_1m" if big else "rss_mb_100k"]
        out[f"b2b-preflight run < {seconds:.0f} s"] = cli["total_s"] < seconds
        out[f"b2b-preflight run peak RSS < {mb:.0f} MB"] = cli["peak_rss_mb"] < mb
    if "floor" in results:
        ratio = results["floor"]["sequential_ratio"]
        out[f"collect within {TARGETS['floor_ratio']}x of the floor"] = (
            ratio <= TARGETS["floor_ratio"]
        )
    for row in results.get("latency", []):
        for key, value in row.items():
            if key.endswith("_speedup"):
                out[f"{row['latency_ms']:.0f} ms/page: {key} >= 5x"] = value >= 5.0
    if "graph" in results:
        ratio = results["graph"]["collection"]["ratio_to_floor"]
        limit = TARGETS["graph_ratio"]
        out[f"collection under graph pacing within {limit}x of its floor"] = (
            ratio is not None and ratio <= limit
        )
    if "help" in results:
        out["--help < 1 s"] = results["help"]["median_s"] < TARGETS["help_s"]
    return out


def report(results: JSON, args: argparse.Namespace) -> None:
    """Print the table and the verdicts; merge into ``bench/results/<date>.json``."""
    print(f"\n{args.guests:,} guests, {args.domains:,} domains; tenant {results['tenant']}")
    if "e2e" in results:
        print_e2e(results["e2e"])
    for key in ("cli", "graph", "floor", "incremental", "checkpoint", "latency", "typed", "help"):
        if key in results:
            print(f"{key}: {results[key]}")
    results["verdicts"] = verdicts(results, args.guests)
    for name, ok in results["verdicts"].items():
        print(f"{'PASS' if ok else 'FAIL'}  {name}")
    save(results, args)


def print_e2e(e2e: JSON) -> None:
    print(f"{'stage':<30} {'seconds':>9} {'RSS MB':>8} {'peak MB':>8}")
    for name, seconds in e2e["stages_s"].items():
        memory = e2e["rss_after_stage_mb"].get(name, {})
        rss, peak = memory.get("rss", 0.0), memory.get("peak", 0.0)
        print(f"{name:<30} {seconds:>9.2f} {rss:>8.0f} {peak:>8.0f}")
    for name, seconds in e2e["reports_s"].items():
        print(f"  {name:<28} {seconds:>9.2f}")
    print(f"{'END TO END':<30} {e2e['total_s']:>9.2f}")
    print(
        f"peak RSS {e2e['peak_rss_mb']:.0f} MB (Excel child {e2e['excel_child_peak_rss_mb']:.0f} MB)"
    )
    print(f"files MB {e2e['files_mb']}; sheets {e2e['xlsx_sheets']}")


def save(results: JSON, args: argparse.Namespace) -> None:
    """Merge this run into ``bench/results/<date>.json``, keyed by guest count."""
    args.out.mkdir(parents=True, exist_ok=True)
    path = args.out / f"{args.date or dt.datetime.now(dt.UTC).date().isoformat()}.json"
    payload = json.loads(path.read_text()) if path.exists() else {"runs": {}}
    run = payload["runs"].setdefault(str(args.guests), {})
    sections = [k for k in results if k not in ("loadavg_before", "loadavg_after", "verdicts")]
    run.update(  # a run that skipped sections keeps the earlier figures of those
        {
            "when": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
            "machine": {"python": platform.python_version(), "cpus": multiprocessing.cpu_count()},
            "args": {k: (str(v) if isinstance(v, Path) else v) for k, v in vars(args).items()},
            "sections_of_this_run": sections,
            **results,
        }
    )
    run["verdicts"] = verdicts(run, args.guests)
    path.write_text(json.dumps(payload, indent=2, default=str) + "\n")
    print(f"wrote {path}")


if __name__ == "__main__":
    raise SystemExit(main())
