"""Benchmark report.xlsx's writer against baselines measured in the same run.

The machine is shared (two cores, other work on them), so a writer's seconds alone say little
from one run to the next. This script times, alternately and each in a forked child of the same
process (so every run starts from the same memory and its peak RSS is its own):

- ``xlsx``: ``audit.render.write_xlsx`` of this checkout;
- ``xlsx_baseline``: the writer of an earlier revision (``--baseline-rev``, by default the one
  before the writer was rewritten on zipfile alone), its three modules loaded from git;
- ``csv``: ``write_guests_csv`` + ``write_findings_csv`` of the same result, a stable yardstick
  of the same data.

and records medians of wall and CPU seconds (the zip compressor thread's CPU included), the
extra peak RSS over the parent at fork, and the ratios ``xlsx / xlsx_baseline`` and
``xlsx / csv``. The result is the demo tenant (``--guests``, ``--domains``, ``--seed``)
collected over loopback (Graph emulator and DNS server in this process) and analysed, as
``b2b-preflight demo`` does.
With ``--soffice`` it also times LibreOffice converting the workbook to CSV, every sheet (the
CI test's cost). Figures merge into ``bench/results/excel-<date>.json`` under the guest count.

    .venv/bin/python bench/bench_excel.py                     # 100,000 guests, 3 rounds
    .venv/bin/python bench/bench_excel.py --guests 20000 --repeat 5 --soffice
"""

from __future__ import annotations

import argparse
import datetime as dt
import importlib.util
import json
import os
import platform
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import traceback
import types
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # run from a checkout without install

JSON = dict[str, Any]
BASELINE_REV = "d4ef57c"  # the last revision whose writer used openpyxl's StyleArray skeleton
BASELINE_MODULES = ("xlsx_sheet", "xlsx_package", "excel")  # in import order


def build_result(guests: int, domains: int, seed: int, work: Path) -> Any:
    """The demo tenant collected over loopback (Graph emulator, DNS server) and analysed (the
    demo also writes its reports once, into ``work``)."""
    from audit.demo.run import run_demo

    result, _ = run_demo(guests=guests, domains=domains, seed=seed, out=work / "demo")
    return result


def baseline_writer(rev: str, work: Path) -> Callable[[Any, Path], Any] | None:
    """``write_xlsx`` of revision ``rev``: its Excel modules loaded under another package name."""
    package = "_xlsx_baseline"
    folder = work / package
    folder.mkdir(exist_ok=True)
    try:
        for name in BASELINE_MODULES:
            text = subprocess.run(
                ["git", "-C", str(ROOT), "show", f"{rev}:audit/render/{name}.py"],
                check=True,
                capture_output=True,
                text=True,
            ).stdout
            for other in BASELINE_MODULES:  # its own modules, not this checkout's
                text = text.replace(f"audit.render.{other} ", f"{package}.{other} ")
            (folder / f"{name}.py").write_text(text)
    except (OSError, subprocess.CalledProcessError) as error:
        print(f"no baseline writer at {rev}: {error}", file=sys.stderr)
        return None
    sys.modules[package] = types.ModuleType(package)
    for name in BASELINE_MODULES:
        spec = importlib.util.spec_from_file_location(f"{package}.{name}", folder / f"{name}.py")
        assert spec is not None
        assert spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        sys.modules[spec.name] = module
        spec.loader.exec_module(module)
    writer: Callable[[Any, Path], Any] = sys.modules[f"{package}.excel"].write_xlsx
    return writer


def in_child(job: Callable[[], Any]) -> JSON:
    """Run ``job`` in a forked child: wall and CPU seconds, and its peak RSS over the RSS it
    started with (the child's own ``VmHWM``, reset at the start, sent back through a pipe)."""
    read, write = os.pipe()
    started = time.perf_counter()
    pid = os.fork()
    if pid == 0:  # the child: only the job, then leave without cleanup handlers
        os.close(read)
        code = 0
        try:
            Path("/proc/self/clear_refs").write_text("5")  # VmHWM := VmRSS
            before = _status_mb("VmRSS")
            job()
            os.write(write, str(_status_mb("VmHWM") - before).encode())
        except BaseException:  # reported by the exit code
            traceback.print_exc()
            code = 1
        os._exit(code)
    os.close(write)
    with os.fdopen(read) as pipe:
        extra = pipe.read()
    _, status, usage = os.wait4(pid, 0)
    wall = time.perf_counter() - started
    if os.waitstatus_to_exitcode(status) != 0:
        raise RuntimeError("the benchmarked writer failed (traceback above)")
    return {
        "wall_s": round(wall, 3),
        "cpu_s": round(usage.ru_utime + usage.ru_stime, 3),
        "extra_rss_mb": round(float(extra), 1),
    }


def _status_mb(field: str) -> float:
    """A memory figure of this process from ``/proc/self/status``, in MB."""
    found = re.search(rf"{field}:\s+(\d+) kB", Path("/proc/self/status").read_text())
    return int(found.group(1)) / 1024 if found else 0.0


def soffice_csv(path: Path, work: Path) -> JSON:
    """LibreOffice converting the workbook to CSV, every sheet to its own file."""
    soffice = shutil.which("soffice")
    if soffice is None:
        return {"skipped": "soffice not installed"}
    out = work / "soffice"
    every_sheet = "csv:Text - txt - csv (StarCalc):44,34,76,1,,0,false,true,false,false,false,-1"
    started = time.perf_counter()
    subprocess.run(
        [soffice, f"-env:UserInstallation={(work / 'profile').as_uri()}", "--headless",
         "--convert-to", every_sheet, "--outdir", str(out), str(path)],
        check=True, capture_output=True, timeout=900,
    )  # fmt: skip
    return {"wall_s": round(time.perf_counter() - started, 2), "files": len(list(out.iterdir()))}


def measure(args: argparse.Namespace, work: Path) -> JSON:
    from audit.render import write_findings_csv, write_guests_csv, write_xlsx

    results: JSON = {"loadavg_before": [round(x, 2) for x in os.getloadavg()]}
    started = time.perf_counter()
    result = build_result(args.guests, args.domains, args.seed, work)
    results["build_s"] = round(time.perf_counter() - started, 1)
    results["rows"] = {"guests": len(result.guests), "findings": len(result.findings)}
    baseline = baseline_writer(args.baseline_rev, work) if args.baseline_rev else None
    jobs: dict[str, Callable[[], Any]] = {
        "xlsx": lambda: write_xlsx(result, work / "report.xlsx"),
        "csv": lambda: (
            write_guests_csv(result, work / "guests.csv"),
            write_findings_csv(result, work / "findings.csv"),
        ),
    }
    if baseline is not None:
        jobs["xlsx_baseline"] = lambda: baseline(result, work / "baseline.xlsx")
    runs: dict[str, list[JSON]] = {name: [] for name in jobs}
    for _ in range(args.repeat):
        for name, job in jobs.items():
            runs[name].append(in_child(job))
    results["writers"] = {name: _medians(rows) for name, rows in runs.items()}
    results["runs"] = runs
    results["ratios"] = _ratios(results["writers"])
    sizes = {"xlsx": "report.xlsx", "xlsx_baseline": "baseline.xlsx"}
    results["file_mb"] = {
        k: round((work / n).stat().st_size / 2**20, 1) for k, n in sizes.items() if k in jobs
    }
    if args.soffice:
        results["soffice_csv"] = soffice_csv(work / "report.xlsx", work)
    results["loadavg_after"] = [round(x, 2) for x in os.getloadavg()]
    return results


def _medians(rows: list[JSON]) -> JSON:
    return {key: round(statistics.median(r[key] for r in rows), 3) for key in rows[0]}


def _ratios(writers: JSON) -> JSON:
    out: JSON = {}
    xlsx = writers["xlsx"]
    for other in ("xlsx_baseline", "csv"):
        if other in writers:
            for key in ("wall_s", "cpu_s"):
                out[f"xlsx_vs_{other}_{key[:-2]}"] = round(xlsx[key] / writers[other][key], 2)
    return out


def save(results: JSON, args: argparse.Namespace) -> Path:
    """Merge into ``bench/results/excel-<date>.json`` under the guest count."""
    today = dt.datetime.now(dt.UTC)
    path = args.out / f"excel-{today:%Y-%m-%d}.json"
    doc = json.loads(path.read_text()) if path.exists() else {"runs": {}}
    doc["runs"][str(args.guests)] = {
        "when": today.isoformat(timespec="seconds"),
        "machine": {"python": platform.python_version(), "cpus": os.cpu_count()},
        "args": {k: (str(v) if isinstance(v, Path) else v) for k, v in vars(args).items()},
        **results,
    }
    args.out.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(doc, indent=2) + "\n")
    return path


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("--guests", type=int, default=100_000)
    parser.add_argument("--domains", type=int, default=5_000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--repeat", type=int, default=3, help="alternating rounds (medians)")
    parser.add_argument("--baseline-rev", default=BASELINE_REV, help="'' for none")
    parser.add_argument("--soffice", action="store_true", help="also time LibreOffice's import")
    parser.add_argument("--out", type=Path, default=Path(__file__).parent / "results")
    args = parser.parse_args(argv)
    work = Path(tempfile.mkdtemp(prefix="b2b-bench-excel-"))
    try:
        results = measure(args, work)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    path = save(results, args)
    for name, figures in results["writers"].items():
        print(f"{name:14} {figures}")
    print(f"ratios {results['ratios']}; files MB {results['file_mb']}")
    if "soffice_csv" in results:
        print(f"LibreOffice to CSV {results['soffice_csv']}")
    print(f"load {results['loadavg_before']} -> {results['loadavg_after']}; saved to {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
