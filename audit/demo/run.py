"""``b2b-preflight demo``: the real pipeline against a synthetic tenant served on loopback."""

from __future__ import annotations

import contextlib
import csv
import tempfile
import threading
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import click

from audit.demo.model import DemoTenant
from audit.progress import Progress
from audit.targets import AUTO, DEFAULT_TARGET, get_target

MAILUSER_COLUMNS = [
    "DisplayName",
    "UserPrincipalName",
    "ExternalDirectoryObjectId",
    "PrimarySmtpAddress",
    "ExternalEmailAddress",
    "EmailAddresses",
    "HiddenFromAddressListsEnabled",
    "RecipientTypeDetails",
]


def write_mailusers_csv(tenant: DemoTenant, path: Path) -> Path:
    """The tenant's mail users as ``Export-Csv -NoTypeInformation -Encoding UTF8`` writes them."""
    with path.open("w", encoding="utf-8-sig", newline="") as fh:
        writer = csv.DictWriter(fh, MAILUSER_COLUMNS, quoting=csv.QUOTE_ALL, lineterminator="\r\n")
        writer.writeheader()
        for row in tenant.mailusers:
            writer.writerow({c: row.get(c, "") for c in MAILUSER_COLUMNS})
    return path


@contextlib.contextmanager
def serve(
    tenant: DemoTenant, *, latency: float = 0.0, pacing: str = "none"
) -> Iterator[tuple[str, str]]:
    """Run the Graph emulator and the DNS server; yields (graph base URL, nameserver host:port).

    ``pacing="graph"``: Graph-like latency and throttling (:mod:`audit.demo.emulator_pacing`).
    """
    from audit.demo.dnsserver import DnsServer
    from audit.demo.emulator import GraphEmulator
    from audit.demo.emulator_pacing import graph_pacing

    paced = graph_pacing(len(tenant.users)) if pacing == "graph" else None
    with (
        GraphEmulator(tenant, latency=latency, pacing=paced) as graph,
        DnsServer(tenant.dns) as dns,
    ):
        yield graph.base_url, dns.address


@contextlib.contextmanager
def serve_target(tenant: DemoTenant) -> Iterator[dict[str, str]]:
    """Run the tenant's Atlassian organization emulator (when it has one); yields the
    ``ATLASSIAN_*`` settings a run needs (URL, ids and the demo's dummy keys), else nothing."""
    org = tenant.atlassian
    if org is None:
        yield {}
        return
    from audit.demo.atlassian_emulator import AtlassianEmulator

    with AtlassianEmulator(org) as emulator:
        yield {
            "ATLASSIAN_URL": emulator.base_url,
            "ATLASSIAN_ORG": org.org_id,
            "ATLASSIAN_DIRECTORY": org.directory_id,
            "ATLASSIAN_API_KEY": org.api_key,
            "ATLASSIAN_SCIM_KEY": org.scim_key,
        }


def run_demo(
    *,
    guests: int = 500,
    domains: int = 60,
    seed: int = 0,
    out: Path | None = None,
    target: str = "atlassian",
    progress: Progress | None = None,
) -> tuple[Any, Path]:
    """Generate the tenant, collect it over HTTP and DNS, save, analyse and render into ``out``.

    ``target`` is the profile whose gallery app the demo tenant provisions into; the analysis
    runs with ``--target auto`` and so picks it from the app, as a real run would.
    """
    from audit import snapshot as snap
    from audit._process import keep_from_gc
    from audit.collectors.pipeline import CollectOptions, collect_sync, require_core
    from audit.config import AuditConfig
    from audit.demo.tenant import generate_tenant
    from audit.job import analyze_and_render

    profile = get_target(target)
    progress = progress or Progress(False)
    with progress.stage(f"generating a demo tenant of {guests:,} guests"):
        tenant = generate_tenant(guests, domains, seed=seed, target=profile.name)
    keep_from_gc()  # the tenant lives unchanged behind the servers (the CLI's process only)
    out = out or default_out()
    out.mkdir(parents=True, exist_ok=True)
    mailusers = write_mailusers_csv(tenant, out / "mailusers.csv")
    config = AuditConfig(
        target=AUTO,
        verified_domains=tuple(tenant.verified_in_target),
        verification_tokens=demo_tokens(tenant, profile.name),
    )
    with (
        serve(tenant) as (graph_url, nameserver),
        serve_target(tenant) as side,
        progress.stage("collecting") as stage,
    ):
        options = CollectOptions(
            graph_url=graph_url,
            auth="none",
            app=profile.app_display_name,
            include_sign_in=True,
            nameservers=(nameserver,),
            dns_timeout=1.0,
            mailusers=str(mailusers),
            atlassian_url=side.get("ATLASSIAN_URL"),
            atlassian_org=side.get("ATLASSIAN_ORG"),
            atlassian_directory=side.get("ATLASSIAN_DIRECTORY"),
            atlassian_api_key=side.get("ATLASSIAN_API_KEY"),
            atlassian_scim_key=side.get("ATLASSIAN_SCIM_KEY"),
        )
        snapshot = collect_sync(options, config=config)
        stage["note"] = f"{guests:,} guests from the Graph emulator, DNS from the loopback server"
    del tenant  # served and collected: let it go before the analysis
    require_core(snapshot)
    snapshot.config = config.to_dict() | {"app": options.app}
    with progress.stage("saving the snapshot"):
        snap.save(snapshot, out / "snapshot")
    # the snapshot is saved and not returned: the analysis may let go of its tables as it goes
    result, _ = analyze_and_render(snapshot, config, out, progress=progress, keep_tables=False)
    return result, out


def demo_tokens(tenant: DemoTenant, target: str) -> tuple[str, ...]:
    """The demo's own verification records, for the target whose records the demo DNS holds."""
    return tuple(tenant.verification_tokens) if target == DEFAULT_TARGET else ()


def default_out() -> Path:
    """``reports/demo/<UTC timestamp>``."""
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    return Path("reports") / "demo" / stamp


def demo_command(kw: dict[str, Any]) -> None:
    """CLI entry: run the demo, or only serve it with ``--serve``."""
    from audit.cli_output import print_summary

    if kw.get("serve"):
        _serve_forever(kw)
        return
    out = Path(kw["out"]) if kw.get("out") else None
    target = kw.get("target") or DEFAULT_TARGET
    result, folder = run_demo(
        guests=kw["guests"],
        domains=kw["domains"],
        seed=kw["seed"],
        out=out,
        target=target,
        progress=Progress.for_command(kw),
    )
    print_summary(result, folder)


def _serve_forever(kw: dict[str, Any]) -> None:
    from audit._process import keep_from_gc
    from audit.demo.tenant import generate_tenant

    target = get_target(kw.get("target") or DEFAULT_TARGET).name
    tenant = generate_tenant(kw["guests"], kw["domains"], seed=kw["seed"], target=target)
    keep_from_gc()  # served unchanged until Ctrl-C
    with tempfile.TemporaryDirectory(prefix="b2b-preflight-demo-") as tmp:
        mailusers = write_mailusers_csv(tenant, Path(tmp) / "mailusers.csv")
        with (
            serve(tenant, pacing=kw.get("pacing") or "none") as (graph_url, nameserver),
            serve_target(tenant) as side,
        ):
            warm_filters(graph_url)
            click.echo(f"GRAPH_URL={graph_url}")
            click.echo(f"NAMESERVER={nameserver}")
            click.echo("VERIFIED_DOMAINS=" + ",".join(tenant.verified_in_target))
            click.echo("VERIFICATION_TOKENS=" + ",".join(demo_tokens(tenant, target)))
            click.echo(f"MAILUSERS={mailusers}", nl=True)
            for name, value in side.items():  # the keys are the demo's dummies
                click.echo(f"{name}={value}")
            click.echo("Serving until Ctrl-C.", err=True)
            _wait_for_interrupt()


def warm_filters(graph_url: str) -> None:
    """Ask the emulator once for each user query the collector sends (every partition included),
    before the URL is printed: the emulator builds each ``$filter``'s user list on its first
    request (about 16 s for all of them at 100,000 guests, in Python on the same cores), a cost of
    the stand-in, not of Graph or the tool, which a run against ``demo --serve`` would otherwise
    measure. The benchmark does the same before timing."""
    import httpx

    from audit.collectors.graph import USER_FILTERS
    from audit.collectors.partition import catch_all_filters, partition_filters

    guests = USER_FILTERS[0]
    filters = [*USER_FILTERS, *partition_filters(guests), *catch_all_filters(guests)]
    with httpx.Client(timeout=None) as client:
        for text in filters:
            params = {"$filter": text, "$select": "id", "$top": "1"}
            client.get(f"{graph_url}/users", params=params).raise_for_status()


def _wait_for_interrupt() -> None:
    """Block until Ctrl-C or SIGTERM; the servers then shut down through their context managers."""
    import signal

    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    try:
        while not stop.wait(0.5):
            pass
    except KeyboardInterrupt:
        pass
    click.echo("stopped", err=True)
