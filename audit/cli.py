"""The ``b2b-preflight`` command line: thin commands over the library (heavy imports are lazy)."""

from __future__ import annotations

import functools
import logging
import os
import sys
from collections.abc import Callable
from typing import Any, TypeVar

import click

from audit._process import opt_in
from audit._version import __version__

F = TypeVar("F", bound=Callable[..., Any])
SEVERITIES = ["info", "low", "medium", "high"]
AUTH_MODES = ["default", "secret", "certificate", "managed-identity", "azure-cli", "device-code"]
AUTH_MODES += ["workload-identity", "none"]


def _errors(func: F) -> F:
    """Turn AuditError into a one-line message and its exit code; never a traceback. Every
    message is scrubbed of secrets and printed as one terminal-safe line (:func:`_say_error`)."""

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        from audit.errors import AuditError

        try:
            return func(*args, **kwargs)
        except AuditError as exc:
            _say_error(f"error: {exc}")
            sys.exit(exc.exit_code)
        except KeyboardInterrupt as exc:
            said = f": {exc}" if str(exc) else ""
            _say_error(f"interrupted{said}")
            sys.exit(130)
        except (click.exceptions.Exit, click.ClickException, SystemExit):
            raise
        except Exception as exc:  # a bug: one line (and the trace only when asked), exit code 4
            if os.environ.get("B2B_PREFLIGHT_DEBUG"):
                raise
            _say_error(f"internal error: {type(exc).__name__}: {str(exc)[:300]}")
            click.echo("rerun with B2B_PREFLIGHT_DEBUG=1 for the traceback", err=True)
            sys.exit(4)

    return wrapper  # type: ignore[return-value]


def _say_error(message: str) -> None:
    """One line on stderr: secrets scrubbed (third-party texts too), control characters, line
    breaks and escape sequences shown as escapes, so nothing in it can forge or hide a line."""
    from audit._terminal import terminal
    from audit.errors import scrub

    click.echo(terminal(scrub(message)), err=True)


def analysis_options(func: F) -> F:
    """Flags that shape the analysis (shared by run, report, analyze and diff)."""
    opts = [
        click.option("--config", "config_file", type=click.Path(dir_okay=False), help="TOML config file (see the README); replaces the settings a snapshot recorded."),
        click.option("--target", default=None,
                     help="Target profile, any case (b2b-preflight targets), or auto (default): picked from the app."),
        click.option("--verified-domain", multiple=True, metavar="DOMAIN[,DOMAIN...]",
                     help="Domain verified in the target: a bare domain (contoso.com, any case), or a comma-separated list; repeatable."),
        click.option("--no-verified-domains", is_flag=True, default=None,
                     help="Say on purpose that the target has no verified domain yet (the report states it); without it, no verified domain is an error."),
        click.option("--verification-token", multiple=True, metavar="TOKEN[,TOKEN...]",
                     help="Your own DNS verification record's value (google-site-verification=abc123) or the token alone; comma-separated list; repeatable."),
        click.option("--stale-days", type=click.IntRange(1, None), default=None, help="Days without sign-in (default 90)."),
        click.option("--fail-on", type=click.Choice(SEVERITIES), default=None,
                     help="Exit 1 when an open finding is at or above this severity."),
        click.option("--provisioning-scope", type=click.Choice(["assigned", "all"]), default=None,
                     help="The job's scope: Sync only assigned users and groups (default) or Sync all "
                     "users and groups (Graph does not return it)."),
    ]  # fmt: skip
    return _apply(func, opts)


def signin_options(func: F) -> F:
    """Flags that say where Graph is and how to sign in (run, collect and doctor)."""
    opts = [
        click.option("--graph-url", help="Graph base URL (default: the cloud's, e.g. https://graph.microsoft.com/v1.0)."),
        click.option("--cloud", type=click.Choice(["global", "usgov", "usgov-dod", "china"]), default="global"),
        click.option("--auth", type=click.Choice(AUTH_MODES), default="default",
                     help="Credential type; the client secret comes only from AZURE_CLIENT_SECRET."),
        click.option("--tenant-id", envvar="AZURE_TENANT_ID", help="Directory (tenant) ID GUID or primary domain (or AZURE_TENANT_ID)."),
        click.option("--client-id", envvar="AZURE_CLIENT_ID", help="Application (client) ID of your app registration (or AZURE_CLIENT_ID)."),
        click.option("--certificate", envvar="AZURE_CLIENT_CERTIFICATE_PATH", help="PEM/PFX file with the private key (or AZURE_CLIENT_CERTIFICATE_PATH)."),
        click.option("--app", default=None, help="The target's enterprise app: display name or appId (default: the profile's, e.g. \"Atlassian Cloud\")."),
    ]  # fmt: skip
    return _apply(func, opts)


def collect_options(func: F) -> F:
    """Flags that say where and how to collect (shared by run and collect)."""
    opts = [
        click.option("--from-export", type=click.Path(file_okay=False), help="Read a Graph JSON export folder instead of calling Graph."),
        click.option("--sign-in/--no-sign-in", default=False, help="Collect signInActivity (P1, AuditLog.Read.All)."),
        click.option("--log-days", type=click.IntRange(0, None), default=30, help="Days of provisioning logs to read (0: none)."),
        click.option("--nameserver", multiple=True, metavar="IP[:PORT]",
                     help="DNS server by IP address, not host name (8.8.8.8, 127.0.0.1:5353, [::1]:53); repeatable. Default: the system's."),
        click.option("--no-dns", is_flag=True, help="Skip DNS lookups (DNS rules are then skipped)."),
        click.option("--dns-timeout", type=click.FloatRange(0.1, 60), default=2.0, help="Seconds per DNS query."),
        click.option("--mailusers", type=click.Path(dir_okay=False), help="Get-MailUser CSV export (see the README)."),
        click.option("--save-raw", type=click.Path(file_okay=False), help="Also write a Graph JSON export folder."),
        click.option("--partitions", type=click.IntRange(0, 64), default=16, show_default=True,
                     help="Guest pages read in parallel partitions, at most N requests in flight (0: sequential)."),
        click.option("--track-changes/--no-track-changes", default=True, show_default=True,
                     help="Store a /users/delta link so a later --incremental run reads only changes."),
        click.option("--incremental", type=click.Path(exists=True, file_okay=False),
                     help="Earlier snapshot or run folder: read only the guests changed since it."),
        click.option("--checkpoint-dir", type=click.Path(file_okay=False),
                     help="Page log of the guest read (default: next to the output); a rerun resumes it."),
        click.option("--resume/--no-resume", default=True, show_default=True,
                     help="Resume an interrupted collection from its checkpoint."),
        click.option("--max-retry-wait", type=click.FloatRange(0, 3600), default=120.0, show_default=True,
                     help="Longest wait (s) honoured for a throttling Retry-After; capped waits are reported."),
    ]  # fmt: skip
    return signin_options(_apply(target_side_options(func), opts))


def target_side_options(func: F) -> F:
    """Flags that read the target itself (run, collect and doctor); keys only from the environment."""
    opts = [
        click.option("--atlassian-org", metavar="ORG_ID",
                     help="Atlassian organization id: read its domains and accounts (key: ATLASSIAN_API_KEY)."),
        click.option("--atlassian-directory", metavar="DIR_ID",
                     help="Atlassian SCIM directory id: read its users (key: ATLASSIAN_SCIM_KEY)."),
        click.option("--atlassian-url", help="Atlassian API base URL (default https://api.atlassian.com)."),
    ]  # fmt: skip
    return _apply(func, opts)


def _apply(func: F, opts: list[Callable[[Any], Any]]) -> F:
    """Decorate ``func`` with ``opts`` so they appear in --help in list order."""
    for opt in reversed(opts):
        func = opt(func)
    return func


@click.group(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.version_option(__version__, prog_name="b2b-preflight")
def cli() -> None:
    """Pre-flight audit of Entra ID B2B guests before SCIM provisioning (Atlassian Cloud first).

    \b
    Try it:  b2b-preflight demo
    Real:    b2b-preflight run --auth secret --out reports/contoso --verified-domain contoso.com
    """


@cli.command()
@collect_options
@analysis_options
@click.option("--out", type=click.Path(file_okay=False), help="Output folder (or --history).")
@click.option(
    "--history",
    type=click.Path(file_okay=False),
    help="History folder: write into ROOT/<tenant>/<UTC time>/ unless --out is given.",
)
@click.option(
    "--compare-with",
    type=click.Path(),
    help="Earlier snapshot or run folder to diff against, or 'latest' (from --history).",
)
@click.option("--redact", is_flag=True, help="Pseudonymise guest names and addresses in what is written.")  # fmt: skip
@click.option("--progress/--no-progress", default=None, help="Stage lines on stderr (default: when it is a terminal).")  # fmt: skip
@click.option("--quiet", is_flag=True, help="Print only the output folder.")
@click.option("--json", "as_json", is_flag=True, help="Print a JSON summary instead of text.")
@_errors
def run(**kw: Any) -> None:
    """Collect, analyse and write every report into --out (or a new run folder in --history).

    \b
    Example:
      b2b-preflight run --auth secret --tenant-id T --client-id C \\
        --verified-domain contoso.com --mailusers mailusers.csv --out reports/contoso
    Monthly:
      b2b-preflight run --auth secret --history reports --compare-with latest --fail-on high
    """
    if not kw.get("out") and not kw.get("history"):
        raise click.UsageError("give --out DIR or --history ROOT")
    from audit.cli_commands import run_command

    sys.exit(run_command(kw))


@cli.command()
@collect_options
@click.option(
    "--out", type=click.Path(file_okay=False), required=True, help="Snapshot folder to write."
)
@click.option("--redact", is_flag=True, help="Pseudonymise guest names and addresses in what is written.")  # fmt: skip
@_errors
def collect(**kw: Any) -> None:
    """Collect every source into a snapshot folder (no analysis).

    \b
    Example:
      b2b-preflight collect --auth azure-cli --out snapshots/2026-11 --save-raw export/2026-11
    """
    from audit.cli_commands import collect_command

    collect_command(kw)


@cli.command()
@click.argument("snapshot", type=click.Path(exists=True, file_okay=False))
@analysis_options
@click.option("--json", "as_json", is_flag=True, help="Print a JSON summary.")
@_errors
def analyze(**kw: Any) -> None:
    """Analyse a saved snapshot and print the summary.

    \b
    Example:
      b2b-preflight analyze snapshots/2026-11 --verified-domain contoso.com
    """
    from audit.cli_commands import analyze_command

    sys.exit(analyze_command(kw))


@cli.command()
@click.argument("snapshot", type=click.Path(exists=True, file_okay=False))
@analysis_options
@click.option("--out", type=click.Path(file_okay=False), required=True, help="Output folder.")
@click.option("--progress/--no-progress", default=None, help="Stage lines on stderr (default: when it is a terminal).")  # fmt: skip
@click.option("--redact", is_flag=True, help="Pseudonymise guest names and addresses in what is written.")  # fmt: skip
@_errors
def report(**kw: Any) -> None:
    """Write the reports for a saved snapshot.

    \b
    Example:
      b2b-preflight report snapshots/2026-11 --verified-domain contoso.com --out reports/2026-11
    """
    from audit.cli_commands import report_command

    sys.exit(report_command(kw))


@cli.command()
@click.argument("old", type=click.Path(exists=True, file_okay=False))
@click.argument("new", type=click.Path(exists=True, file_okay=False))
@analysis_options
@click.option("--out", type=click.Path(file_okay=False), help="Write diff.json and NEW's reports.")
@click.option("--json", "as_json", is_flag=True, help="Print the counts as JSON.")
@_errors
def diff(**kw: Any) -> None:
    """Compare two snapshots (or run folders): new, fixed and still-open findings, outcomes.

    Both are analysed with the same flags, each as of its own collection time.

    \b
    Example:
      b2b-preflight diff reports/T/20261001T060000Z reports/T/20261101T060000Z \\
        --verified-domain contoso.com --out reports/changes-2026-11
    """
    from audit.cli_commands import diff_command

    sys.exit(diff_command(kw))


@cli.command()
@click.argument("root", required=False, type=click.Path(file_okay=False))
@click.option("--tenant", help="Only runs of this tenant (id, name or folder).")
@click.option("--json", "as_json", is_flag=True, help="Print the runs as JSON.")
@_errors
def history(**kw: Any) -> None:
    """List the runs in a history folder (default: reports) with headline figures.

    \b
    Example:
      b2b-preflight history reports --tenant 84841066-274d-4ec0-a5c1-276be684bdd3
    """
    from audit.cli_commands import history_command

    sys.exit(history_command(kw))


@cli.command()
@click.option("--guests", type=click.IntRange(1, 2_000_000), default=500, help="Number of guests.")
@click.option("--domains", type=click.IntRange(10, 100_000), default=60, help="Distinct domains.")
@click.option("--seed", type=int, default=0, help="Seed of the synthetic tenant.")
@click.option("--out", type=click.Path(file_okay=False), default=None,
              help="Output folder (default reports/demo/<timestamp>).")  # fmt: skip
@click.option("--serve", is_flag=True, help="Only serve the emulator and DNS server until Ctrl-C.")
@click.option("--target", default="atlassian", show_default=True,
              help="The gallery app the demo tenant provisions into (b2b-preflight targets).")  # fmt: skip
@click.option("--progress/--no-progress", default=None, help="Stage lines on stderr (default: when it is a terminal).")  # fmt: skip
@click.option("--pacing", type=click.Choice(["none", "graph"]), default="none", show_default=True,
              help="graph: Graph-like latency and documented throttling (429 + Retry-After).")  # fmt: skip
@_errors
def demo(**kw: Any) -> None:
    """Run the whole pipeline on a synthetic tenant served on loopback.

    The demo's app is the target's gallery app (its display name and job schema), with guests for
    the target's documented constraints; the analysis picks the profile from it (--target auto).

    \b
    Example:
      b2b-preflight demo --guests 2000 --seed 7
      b2b-preflight demo --target github-emu --out reports/demo-github
    """
    from audit.demo.run import demo_command

    demo_command(kw)


@cli.command()
@signin_options
@target_side_options
@_errors
def doctor(**kw: Any) -> None:
    """Check sign-in, connectivity and permissions: sign in, then call each Graph source once.

    A sign-in failure (tenant, client id, secret, certificate, network) is one line naming the
    credential and the fix (exit 2 for a setting, 3 when the service cannot be reached); then one
    line per source: ok, or the application permission it lacks (exit 3). Only the sign-in flags
    and the --atlassian-* flags apply (with them, the first page of each Atlassian source and the
    key scope a failing one lacks): doctor never reads export folders, CSVs or DNS.

    \b
    Example:
      b2b-preflight doctor --auth secret --app "Atlassian Cloud"
    """
    from audit.cli_commands import doctor_command

    sys.exit(doctor_command(kw))


@cli.command()
@click.option("--markdown", is_flag=True, help="Print the catalogue as a Markdown table.")
@click.option("--target", default=None, help="Show which rules run for this target profile, in its words.")  # fmt: skip
@_errors
def rules(markdown: bool, target: str | None) -> None:
    """List the rule catalogue (ids are stable).

    \b
    Example:
      b2b-preflight rules --markdown
      b2b-preflight rules --target github-emu
    """
    from audit.cli_commands import rules_command

    rules_command(markdown, target)


@cli.command()
@click.argument("name", required=False)
@click.option("--markdown", is_flag=True, help="Print the README's table of targets.")
@click.option("--json", "as_json", is_flag=True, help="Print the profiles as JSON.")
@_errors
def targets(name: str | None, markdown: bool, as_json: bool) -> None:
    """List the target profiles with their documented facts and sources (or one: NAME).

    Facts the vendor does not document are shown as such; the rules that need them are not
    evaluated for that target. `--target auto` (the default) picks the profile from the app.

    \b
    Example:
      b2b-preflight targets
      b2b-preflight targets slack
    """
    from audit.cli_commands import targets_command

    targets_command(name, markdown=markdown, as_json=as_json)


def main() -> None:
    """Entry point of the ``b2b-preflight`` command.

    Files it creates are owner-only (umask 077: reports name guests), and the Azure SDK's own
    loggers stay quiet below errors (their request logs can carry headers and URLs).
    """
    os.umask(0o077)
    logging.getLogger("azure").setLevel(logging.ERROR)
    opt_in()  # this process is ours: fork report writers, pause the GC, trim the heap
    cli(prog_name="b2b-preflight")
