"""DNS facts of guest mail domains: TXT (vendor verification), MX (null MX), A/AAAA fallback.

One lookup per distinct domain and type, never per user, through dnspython's public asyncio
resolver (``dns.asyncresolver.Resolver.resolve`` with a per-query ``lifetime``), at most
``concurrency`` queries in flight, and an overall deadline. Every answer is tri-state (see
:mod:`audit.collectors.dns_record`): ``found``, ``absent`` (NXDOMAIN or no records of that type)
or ``unknown`` (timeout, SERVFAIL, REFUSED, network error, deadline). Unknown is never turned into
absent: rules that need it report the guest as *not evaluated* instead of flagging it.

A timeout that overlapped a held-up event loop (a long synchronous step elsewhere in the
process) is not believed: the answer may have been waiting in its socket when the timer fell due
in the same loop pass. Such a query is asked again (:mod:`audit.collectors.loop_watch`).
"""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import Awaitable, Callable, Coroutine, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import dns.asyncresolver
import dns.exception
import dns.name
import dns.nameserver
import dns.rdatatype
import dns.resolver
import idna
import pandas as pd

from audit._inputs import nameserver_address
from audit.collectors.dns_record import (
    ABSENT,
    COLUMNS,
    FOUND,
    INVALID_DOMAIN,
    JSON_FORMAT,
    NOT_QUERIED,
    NOT_QUERIED_ANSWER,
    UNKNOWN,
    Answer,
    DnsResult,
    DomainAnswers,
    answers_json,
    answers_to_json,
    dns_status,
    dns_table,
    result_from_json,
    table_from_json,
)
from audit.collectors.loop_watch import LoopWatch, watching
from audit.errors import ConfigError
from audit.tokens import normalise_token, verification_tokens

__all__ = [
    "ABSENT",
    "COLUMNS",
    "FOUND",
    "JSON_FORMAT",
    "NOT_QUERIED",
    "UNKNOWN",
    "DnsResult",
    "answers_to_json",
    "merge_results",
    "normalise_domain",
    "normalise_token",
    "resolve_domains",
    "resolve_domains_sync",
    "result_from_json",
    "table_from_json",
    "verification_tokens",
]

_DEADLINE = "deadline"
_ATTEMPTS = 3  # asks of one query at most: the first and two after a held-up loop
_LDH = re.compile(r"(?!-)[a-z0-9-]{1,63}(?<!-)")
_RDTYPES = {name: dns.rdatatype.RdataType.make(name) for name in ("TXT", "MX", "A", "AAAA")}


@dataclass
class _Run:
    """Shared state of one resolution run."""

    resolver: dns.asyncresolver.Resolver
    timeout: float
    end: float | None  # loop time of the deadline
    semaphore: asyncio.Semaphore
    watch: LoopWatch
    queries: int = 0
    deadline_hit: bool = False

    def lifetime(self) -> float | None:
        """Time a query may take now: ``timeout``, clipped to the deadline; None once it passed."""
        if self.end is None:
            return self.timeout
        remaining = self.end - asyncio.get_running_loop().time()
        if remaining <= 0:
            self.deadline_hit = True
            return None
        return min(self.timeout, remaining)


def normalise_domain(value: str) -> str | None:
    """The lower-case IDNA A-label form of a domain, or None when it cannot be a DNS name.

    Strips blanks and one trailing dot; non-ASCII names go through IDNA 2008 with UTS #46 mapping
    (as browsers and mail software do), so ``Bücher.example`` becomes ``xn--bcher-kva.example``.
    """
    name = value.strip().lower()
    name = name[:-1] if name.endswith(".") else name
    if not name:
        return None
    if not name.isascii():
        try:
            name = idna.encode(name, uts46=True).decode("ascii")
        except (idna.IDNAError, UnicodeError):
            return None
    labels = name.split(".")
    if len(name) > 253 or not all(_LDH.fullmatch(label) for label in labels):
        return None
    if any(label.startswith("xn--") for label in labels) and not _valid_alabels(name):
        return None
    return name


def _valid_alabels(name: str) -> bool:
    """True when every ``xn--`` label decodes to a valid U-label."""
    try:
        idna.decode(name)
    except (idna.IDNAError, UnicodeError):
        return False
    return True


async def resolve_domains(
    domains: Iterable[str],
    *,
    nameservers: Sequence[str] | None = None,
    timeout: float = 2.0,
    deadline: float | None = 120.0,
    concurrency: int = 64,
    resolver: dns.asyncresolver.Resolver | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> DnsResult:
    """Resolve TXT and MX (and A/AAAA when there is no MX) once per distinct domain.

    ``nameservers`` are ``HOST`` or ``HOST:PORT`` (``[::1]:5353`` for IPv6); None uses the system
    resolver. A query costs at most ``timeout`` seconds (its ``lifetime``); after ``deadline``
    seconds the remaining queries are recorded as unknown ("deadline"). ``progress(done, total)``
    is called per domain. Non-string and empty values in ``domains`` (pandas NA) are ignored: they
    are no domain at all. A ``resolver`` passed in is used as configured (nameservers, cache,
    retries); each query's lifetime is still ``timeout``.
    """
    _check_limits(timeout, deadline, concurrency)
    if resolver is None:
        resolver = _make_resolver(nameservers, timeout)
    elif nameservers is not None:
        raise ConfigError("pass either nameservers or resolver to resolve_domains, not both")
    valid, invalid = _distinct(domains)
    loop = asyncio.get_running_loop()
    end = None if deadline is None else loop.time() + deadline
    started = time.perf_counter()
    async with watching() as watch:
        run = _Run(resolver, timeout, end, asyncio.Semaphore(concurrency), watch)
        resolved = await _resolve_all(run, valid, concurrency, progress)
    seconds = time.perf_counter() - started
    for name in invalid:
        resolved[name] = INVALID_DOMAIN
    answers = {name: answers_json(resolved[name]) for name in sorted(resolved)}
    table = dns_table(resolved)
    return DnsResult(table, dns_status(table, run.queries, seconds, run.deadline_hit), answers)


def resolve_domains_sync(
    domains: Iterable[str],
    *,
    nameservers: Sequence[str] | None = None,
    timeout: float = 2.0,
    deadline: float | None = 120.0,
    concurrency: int = 64,
    resolver: dns.asyncresolver.Resolver | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> DnsResult:
    """:func:`resolve_domains` for scripts, via ``asyncio.run``.

    In a notebook (or any code already inside an event loop) ``await resolve_domains(...)``
    instead: this function refuses to run there rather than block the running loop.
    """
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        pass
    else:
        raise RuntimeError("an event loop is running (Jupyter?): use `await resolve_domains(...)`")
    return asyncio.run(
        resolve_domains(
            domains,
            nameservers=nameservers,
            timeout=timeout,
            deadline=deadline,
            concurrency=concurrency,
            resolver=resolver,
            progress=progress,
        )
    )


def _check_limits(timeout: float, deadline: float | None, concurrency: int) -> None:
    """Reject limits that would hang or never query."""
    if not timeout > 0:
        raise ConfigError(f"DNS timeout must be positive, got {timeout!r}")
    if deadline is not None and not deadline > 0:
        raise ConfigError(f"DNS deadline must be positive or None, got {deadline!r}")
    if concurrency < 1:
        raise ConfigError(f"DNS concurrency must be at least 1, got {concurrency!r}")


def _make_resolver(nameservers: Sequence[str] | None, timeout: float) -> dns.asyncresolver.Resolver:
    """A resolver without cache whose single attempt per query is bounded by ``timeout``."""
    if nameservers is None:
        try:
            resolver = dns.asyncresolver.Resolver(configure=True)
        except (dns.resolver.NoResolverConfiguration, OSError) as exc:
            message = f"no system DNS resolver configured; pass a nameserver ({exc})"
            raise ConfigError(message) from exc
    else:
        values = [nameservers] if isinstance(nameservers, str) else list(nameservers)
        if not values:
            raise ConfigError("the list of DNS nameservers is empty")
        resolver = dns.asyncresolver.Resolver(configure=False)
        resolver.nameservers = [_nameserver(value) for value in values]
    resolver.timeout = timeout
    resolver.lifetime = timeout
    resolver.cache = None
    return resolver


def _nameserver(value: str) -> dns.nameserver.Nameserver:
    """Parse ``HOST``, ``HOST:PORT``, ``IPv6`` or ``[IPv6]:PORT`` into a Do53 nameserver."""
    host, port = nameserver_address(value)
    if port is None:
        return dns.nameserver.Do53Nameserver(host)
    return dns.nameserver.Do53Nameserver(host, port)


def _distinct(domains: Iterable[str]) -> tuple[list[str], list[str]]:
    """Distinct normalised domains (sorted) and the distinct inputs that are not valid domains."""
    valid: set[str] = set()
    invalid: set[str] = set()
    for value in domains:
        if not isinstance(value, str) or not value.strip():
            continue
        name = normalise_domain(value)
        if name is None:
            invalid.add(value.strip().lower())
        else:
            valid.add(name)
    return sorted(valid), sorted(invalid - valid)


async def _resolve_all(
    run: _Run,
    names: list[str],
    concurrency: int,
    progress: Callable[[int, int], None] | None,
) -> dict[str, DomainAnswers]:
    """Resolve every name with a pool of workers, so memory stays bounded for 100,000 domains."""
    results: dict[str, DomainAnswers] = {}
    pending = iter(names)

    async def worker() -> None:
        for name in pending:
            results[name] = await _resolve_one(run, name)
            if progress is not None:
                progress(len(results), len(names))

    async with asyncio.TaskGroup() as group:
        for _ in range(min(concurrency, len(names))):
            group.create_task(worker())
    return results


async def _resolve_one(run: _Run, domain: str) -> DomainAnswers:
    """TXT and MX of one domain; A and AAAA only when the domain exists but has no MX (RFC 5321)."""
    name = dns.name.from_text(domain)  # LDH labels (normalise_domain), absolute
    txt, mx = await _both(_query(run, name, "TXT"), _query(run, name, "MX"))
    a = aaaa = NOT_QUERIED_ANSWER
    if mx.state == ABSENT and not mx.nxdomain:
        a, aaaa = await _both(_query(run, name, "A"), _query(run, name, "AAAA"))
    return DomainAnswers.of({"TXT": txt, "MX": mx, "A": a, "AAAA": aaaa})


async def _both(
    first: Awaitable[Answer], second: Coroutine[Any, Any, Answer]
) -> tuple[Answer, Answer]:
    """Two queries at once: the second in a task, the first in this one (cheaper than gather)."""
    task = asyncio.ensure_future(second)
    try:
        answer = await first
    except BaseException:
        task.cancel()
        raise
    return answer, await task


async def _query(run: _Run, name: dns.name.Name, rdtype: str) -> Answer:
    """One query under the concurrency bound, its outcome mapped to found / absent / unknown.

    A timeout is asked again (up to :data:`_ATTEMPTS` in all, each within the deadline) when the
    loop was held at a moment a timer of the query fell due: its answer may have come in unread
    (:class:`LoopWatch`). A hold that ended before then only delayed the query.
    """
    loop = asyncio.get_running_loop()
    asks = 0
    async with run.semaphore:
        while (lifetime := run.lifetime()) is not None:
            run.queries += 1
            asks += 1
            asked = loop.time()
            try:
                answer = await run.resolver.resolve(
                    name, _RDTYPES[rdtype], lifetime=lifetime, search=False
                )
            except dns.exception.Timeout as exc:
                # No timer of the query fell due before its first one (timeout or lifetime).
                first_due = asked + min(run.resolver.timeout, lifetime)
                if asks < _ATTEMPTS and run.watch.held_since(first_due):
                    continue
                return _failure(exc, clipped=lifetime < run.timeout)
            except (dns.exception.DNSException, OSError, EOFError) as exc:
                return _failure(exc, clipped=lifetime < run.timeout)
            return Answer(FOUND, _records(rdtype, answer.rrset or ()))
    return Answer(UNKNOWN, error=_DEADLINE)


def _failure(exc: BaseException, clipped: bool) -> Answer:
    """Map a resolver exception to a tri-state answer."""
    if isinstance(exc, dns.resolver.NXDOMAIN):
        return Answer(ABSENT, nxdomain=True)
    if isinstance(exc, dns.resolver.NoAnswer):
        return Answer(ABSENT)
    if isinstance(exc, dns.exception.Timeout):
        return Answer(UNKNOWN, error=_DEADLINE if clipped else "timeout")
    if isinstance(exc, dns.resolver.NoNameservers):
        return Answer(UNKNOWN, error=_server_errors(exc))
    if isinstance(exc, OSError | EOFError):
        return Answer(UNKNOWN, error=f"network error: {exc}")
    return Answer(UNKNOWN, error=f"{type(exc).__name__}: {exc}")


def _server_errors(exc: dns.resolver.NoNameservers) -> str:
    """What the servers said, e.g. ``SERVFAIL`` or ``REFUSED`` (duplicates removed)."""
    errors = exc.kwargs.get("errors") or []
    texts = dict.fromkeys(str(error[3]) for error in errors)
    return "; ".join(texts) or str(exc)


def _records(rdtype: str, rrset: Iterable[Any]) -> tuple[str, ...]:
    """The records of an answer as sorted text: TXT strings joined, MX ``pref exchange.``."""
    if rdtype == "TXT":
        return tuple(sorted(_txt_value(rdata.strings) for rdata in rrset))
    if rdtype == "MX":
        pairs = sorted((rdata.preference, rdata.exchange.to_text().lower()) for rdata in rrset)
        return tuple(f"{pref} {host}" for pref, host in pairs)
    return tuple(sorted(rdata.to_text() for rdata in rrset))


def _txt_value(strings: Iterable[bytes]) -> str:
    """One TXT record as text: its character-strings concatenated (RFC 7208 §3.3 style)."""
    return b"".join(strings).decode("utf-8", errors="backslashreplace")


def merge_results(results: Sequence[DnsResult], domains: Iterable[str]) -> DnsResult:
    """One result for exactly ``domains`` from results that resolved them in parts (and maybe
    more): the table, status and answers :func:`resolve_domains` of ``domains`` would give, with
    the queries and seconds of every part counted. Each domain must be in one of the parts."""
    valid, invalid = _distinct(domains)
    wanted = set(valid) | set(invalid)
    frames = [r.table for r in results if len(r.table)]
    table = pd.concat(frames, ignore_index=True) if frames else dns_table({})
    table = table[table["domain"].isin(wanted)].drop_duplicates("domain")
    missing = wanted - set(table["domain"])
    if missing:
        raise ValueError(f"merge_results: {len(missing)} domains were never resolved")
    table = table.sort_values("domain", ignore_index=True)
    answers: dict[str, Any] = {}
    for result in results:
        answers |= {k: v for k, v in result.answers.items() if k in wanted and k not in answers}
    detail = [r.status.detail for r in results]
    queries = sum(int(d.get("queries", 0)) for d in detail)
    seconds = sum(float(d.get("seconds", 0.0)) for d in detail)
    hit = any(bool(d.get("deadline_hit")) for d in detail)
    table_status = dns_status(table, queries, seconds, hit)
    return DnsResult(table, table_status, dict(sorted(answers.items())))
