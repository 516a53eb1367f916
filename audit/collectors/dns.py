"""DNS facts of guest mail domains: TXT (vendor verification), MX (null MX), A/AAAA fallback.

One query per distinct domain and type, never per user, through dnspython's asyncio resolver logic
(over a few shared UDP sockets, see :mod:`audit.collectors._dns_transport`) with bounded concurrency,
a per-query timeout and an overall deadline. Every answer is tri-state:
``found``, ``absent`` (NXDOMAIN or no records of that type: a definitive "no") or ``unknown``
(timeout, SERVFAIL, REFUSED, network error, deadline). Unknown is never turned into absent: rules
that need it report the guest as *not evaluated* instead of flagging it.

The recorded answers (``dns.json``) rebuild exactly the same table offline, so a re-analysis never
depends on the DNS of the day.
"""

from __future__ import annotations

import asyncio
import copy
import ipaddress
import re
import time
from collections.abc import Awaitable, Callable, Coroutine, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import dns.asyncresolver
import dns.exception
import dns.name
import dns.nameserver
import dns.rdata
import dns.rdatatype
import dns.resolver
import idna
import pandas as pd

from audit.collectors._dns_transport import StubResolver, cut_off_after
from audit.errors import ConfigError, InputError
from audit.models import SourceState, SourceStatus
from audit.tokens import normalise_token, verification_tokens

__all__ = [
    "ABSENT",
    "COLUMNS",
    "FOUND",
    "JSON_FORMAT",
    "NOT_QUERIED",
    "UNKNOWN",
    "VENDOR_PREFIXES",
    "DnsResult",
    "answers_to_json",
    "normalise_domain",
    "normalise_token",
    "resolve_domains",
    "resolve_domains_sync",
    "result_from_json",
    "table_from_json",
    "verification_tokens",
]

JSON_FORMAT = 1

COLUMNS = (
    "domain",
    "txt_state",
    "txt",
    "txt_error",
    "mx_state",
    "mx",
    "null_mx",
    "mx_error",
    "a_state",
    "a_error",
    "nxdomain",
    "mail_state",
)

VENDOR_PREFIXES: dict[str, str] = {
    "atlassian": "atlassian-domain-verification=",
    "google": "google-site-verification=",
    "slack": "slack-domain-verification=",
    "dropbox": "dropbox-domain-verification=",
    "notion": "notion-domain-verification=",
    "miro": "miro-verification=",
    "zoom": "ZOOM_verify_",
    "microsoft": "MS=",
}

# Answer states in the table and in dns.json.
FOUND, ABSENT, UNKNOWN, NOT_QUERIED = "found", "absent", "unknown", "not_queried"
_TYPES = ("TXT", "MX", "A", "AAAA")
_STATES = frozenset({FOUND, ABSENT, UNKNOWN, NOT_QUERIED})
_INVALID = "invalid domain"
_DEADLINE = "deadline"
_GRACE = 0.5  # seconds beyond the resolver's own lifetime before we cut a query off ourselves
_LDH = re.compile(r"(?!-)[a-z0-9-]{1,63}(?<!-)")
_BRACKETED = re.compile(r"\[([^\]]+)\](?::(\d+))?")
_RDTYPES = {name: dns.rdatatype.RdataType.make(name) for name in _TYPES}

# Resolves (name, type, lifetime) to the answer's records or raises what dnspython's resolver raises.
_Resolve = Callable[
    [dns.name.Name, dns.rdatatype.RdataType, float], Awaitable[Iterable[dns.rdata.Rdata]]
]


@dataclass(frozen=True)
class _Answer:
    """The answer to one (domain, type) query."""

    state: str
    records: tuple[str, ...] = ()
    error: str | None = None
    nxdomain: bool = False


_NOT_QUERIED = _Answer(NOT_QUERIED)


@dataclass(frozen=True)
class _Domain:
    """Everything recorded for one domain: its four answers and whether the name exists."""

    answers: Mapping[str, _Answer]
    nxdomain: bool

    @classmethod
    def of(cls, answers: Mapping[str, _Answer]) -> _Domain:
        """From fresh answers: NXDOMAIN if any query said so."""
        return cls(answers, any(answer.nxdomain for answer in answers.values()))


@dataclass
class DnsResult:
    """Resolved DNS facts: one row per domain (``table``), the source status, the recorded answers.

    ``answers`` maps each domain to its recorded answers, the ``domains`` part of ``dns.json``
    (see :func:`answers_to_json`).
    """

    table: pd.DataFrame
    status: SourceStatus
    answers: dict[str, Any] = field(default_factory=dict)


@dataclass
class _Run:
    """Shared state of one resolution run."""

    resolve: _Resolve
    timeout: float
    end: float | None  # loop time of the deadline
    semaphore: asyncio.Semaphore
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
    resolver. A query costs at most ``timeout`` seconds; after ``deadline`` seconds the remaining
    queries are recorded as unknown ("deadline"). ``progress(done, total)`` is called per domain.
    Non-string and empty values in ``domains`` (pandas NA) are ignored: they are no domain at all.
    """
    _check_limits(timeout, deadline, concurrency)
    if resolver is None:
        resolver = _make_resolver(nameservers, timeout)
    elif nameservers is not None:
        raise ConfigError("pass either nameservers or resolver to resolve_domains, not both")
    valid, invalid = _distinct(domains)
    loop = asyncio.get_running_loop()
    end = None if deadline is None else loop.time() + deadline
    stub = StubResolver.of(resolver)
    run = _Run(_resolve_with(stub or resolver), timeout, end, asyncio.Semaphore(concurrency))
    started = time.perf_counter()
    try:
        resolved = await _resolve_all(run, valid, concurrency, progress)
    finally:
        if stub is not None:
            await stub.aclose()
    seconds = time.perf_counter() - started
    for name in invalid:
        resolved[name] = _invalid_domain()
    answers = {name: _answers_json(resolved[name]) for name in sorted(resolved)}
    table = _table(resolved)
    return DnsResult(table, _status(table, run.queries, seconds, run.deadline_hit), answers)


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


def _resolve_with(resolver: StubResolver | dns.asyncresolver.Resolver) -> _Resolve:
    """The query function of a run: the stub resolver's, or a custom resolver's own ``resolve``."""
    if isinstance(resolver, StubResolver):
        return resolver.resolve

    async def resolve(
        name: dns.name.Name, rdtype: dns.rdatatype.RdataType, lifetime: float
    ) -> Iterable[dns.rdata.Rdata]:
        answer = await resolver.resolve(name, rdtype, lifetime=lifetime, search=False)
        return answer.rrset or ()

    return resolve


def _nameserver(value: str) -> dns.nameserver.Nameserver:
    """Parse ``HOST``, ``HOST:PORT``, ``IPv6`` or ``[IPv6]:PORT`` into a Do53 nameserver."""
    text = value.strip() if isinstance(value, str) else ""
    bracketed = _BRACKETED.fullmatch(text)
    if bracketed:
        host, port = bracketed.group(1), bracketed.group(2)
    elif text.count(":") == 1:
        host, port = text.split(":")
    else:
        host, port = text, None
    try:
        ipaddress.ip_address(host)
    except ValueError:
        raise ConfigError(f"DNS nameserver must be an IP address[:port], got {value!r}") from None
    if port is None:
        return dns.nameserver.Do53Nameserver(host)
    if not port.isdigit() or not 0 < int(port) < 65536:
        raise ConfigError(f"DNS nameserver port must be 1-65535, got {value!r}")
    return dns.nameserver.Do53Nameserver(host, int(port))


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


def _invalid_domain() -> _Domain:
    """What a domain that cannot be a DNS name records: unknown, never queried."""
    bad = _Answer(UNKNOWN, error=_INVALID)
    return _Domain({"TXT": bad, "MX": bad, "A": _NOT_QUERIED, "AAAA": _NOT_QUERIED}, False)


async def _resolve_all(
    run: _Run,
    names: list[str],
    concurrency: int,
    progress: Callable[[int, int], None] | None,
) -> dict[str, _Domain]:
    """Resolve every name with a pool of workers, so memory stays bounded for 100,000 domains."""
    results: dict[str, _Domain] = {}
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


async def _resolve_one(run: _Run, domain: str) -> _Domain:
    """TXT and MX of one domain; A and AAAA only when the domain exists but has no MX (RFC 5321)."""
    name = dns.name.Name([*(label.encode() for label in domain.split(".")), b""])  # LDH labels
    txt, mx = await _both(_query(run, name, "TXT"), _query(run, name, "MX"))
    a = aaaa = _NOT_QUERIED
    if mx.state == ABSENT and not mx.nxdomain:
        a, aaaa = await _both(_query(run, name, "A"), _query(run, name, "AAAA"))
    return _Domain.of({"TXT": txt, "MX": mx, "A": a, "AAAA": aaaa})


async def _both(
    first: Awaitable[_Answer], second: Coroutine[Any, Any, _Answer]
) -> tuple[_Answer, _Answer]:
    """Two queries at once: the second in a task, the first in this one (cheaper than gather)."""
    task = asyncio.ensure_future(second)
    try:
        answer = await first
    except BaseException:
        task.cancel()
        raise
    return answer, await task


async def _query(run: _Run, name: dns.name.Name, rdtype: str) -> _Answer:
    """One query under the concurrency bound, its outcome mapped to found / absent / unknown."""
    async with run.semaphore:
        lifetime = run.lifetime()
        if lifetime is None:
            return _Answer(UNKNOWN, error=_DEADLINE)
        clipped = lifetime < run.timeout
        run.queries += 1
        try:
            async with cut_off_after(lifetime + _GRACE):
                records = await run.resolve(name, _RDTYPES[rdtype], lifetime)
        except (dns.exception.DNSException, OSError, EOFError) as exc:
            return _failure(exc, clipped)
    return _Answer(FOUND, _records(rdtype, records))


def _failure(exc: BaseException, clipped: bool) -> _Answer:
    """Map a resolver exception to a tri-state answer."""
    if isinstance(exc, dns.resolver.NXDOMAIN):
        return _Answer(ABSENT, nxdomain=True)
    if isinstance(exc, dns.resolver.NoAnswer):
        return _Answer(ABSENT)
    if isinstance(exc, dns.exception.Timeout | TimeoutError):
        return _Answer(UNKNOWN, error=_DEADLINE if clipped else "timeout")
    if isinstance(exc, dns.resolver.NoNameservers):
        return _Answer(UNKNOWN, error=_server_errors(exc))
    if isinstance(exc, OSError | EOFError):
        return _Answer(UNKNOWN, error=f"network error: {exc}")
    return _Answer(UNKNOWN, error=f"{type(exc).__name__}: {exc}")


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


def _answers_json(domain: _Domain) -> dict[str, Any]:
    """One domain's answers as recorded in ``dns.json``."""
    data: dict[str, Any] = {
        rdtype: {
            "state": answer.state,
            "records": list(answer.records),
            "error": answer.error,
        }
        for rdtype, answer in domain.answers.items()
    }
    data["nxdomain"] = domain.nxdomain
    return data


def _table(resolved: Mapping[str, _Domain]) -> pd.DataFrame:
    """The per-domain table (columns :data:`COLUMNS`), sorted by domain, with stable dtypes."""
    rows = [_row(name, resolved[name]) for name in sorted(resolved)]
    columns = {name: [row[name] for row in rows] for name in COLUMNS}
    data: dict[str, pd.Series[Any]] = {}
    for name, values in columns.items():
        if name in ("txt", "mx"):
            data[name] = pd.Series(values, dtype=object)
        elif name in ("null_mx", "nxdomain"):
            data[name] = pd.Series(values, dtype=bool)
        else:
            data[name] = pd.Series(values, dtype="str")
    return pd.DataFrame(data, columns=list(COLUMNS))


def _row(name: str, domain: _Domain) -> dict[str, Any]:
    """One table row from a domain's four answers."""
    answers, nxdomain = domain.answers, domain.nxdomain
    txt, mx = answers["TXT"], answers["MX"]
    a_state, a_error = _address_state(answers["A"], answers["AAAA"])
    null_mx = mx.state == FOUND and mx.records == ("0 .",)
    return {
        "domain": name,
        "txt_state": txt.state,
        "txt": list(txt.records),
        "txt_error": txt.error,
        "mx_state": mx.state,
        "mx": list(mx.records),
        "null_mx": null_mx,
        "mx_error": mx.error,
        "a_state": a_state,
        "a_error": a_error,
        "nxdomain": nxdomain,
        "mail_state": _mail_state(mx.state, null_mx, a_state, nxdomain),
    }


def _address_state(a: _Answer, aaaa: _Answer) -> tuple[str, str | None]:
    """A and AAAA combined: found if either is, absent if both are, else unknown."""
    states = {a.state, aaaa.state}
    if NOT_QUERIED in states:
        return NOT_QUERIED, None
    if FOUND in states:
        return FOUND, None
    if states == {ABSENT}:
        return ABSENT, None
    errors = dict.fromkeys(answer.error for answer in (a, aaaa) if answer.error)
    return UNKNOWN, "; ".join(e for e in errors if e) or None


def _mail_state(mx_state: str, null_mx: bool, a_state: str, nxdomain: bool) -> str:
    """Whether mail to the domain can be delivered, per RFC 5321 §5.1 and RFC 7505."""
    if nxdomain:
        return "nxdomain"
    if mx_state == FOUND:
        return "null_mx" if null_mx else "deliverable"
    if mx_state == ABSENT and a_state == FOUND:
        return "deliverable"
    if mx_state == ABSENT and a_state == ABSENT:
        return "no_mail_host"
    return UNKNOWN


def _status(table: pd.DataFrame, queries: int, seconds: float, deadline_hit: bool) -> SourceStatus:
    """``ok`` if every answer is known, ``failed`` if no query got any answer, else ``partial``."""
    states = table[["txt_state", "mx_state", "a_state"]]
    unknown_rows = int((states == UNKNOWN).any(axis=1).sum())
    known = int(states.isin([FOUND, ABSENT]).to_numpy().sum())
    detail = {
        "domains": len(table),
        "queries": queries,
        "unknown": unknown_rows,
        "seconds": round(seconds, 3),
        "deadline_hit": deadline_hit,
    }
    if unknown_rows == 0:
        return SourceStatus("dns", SourceState.OK, rows=len(table), detail=detail)
    reasons = _top_reasons(table)
    if queries > 0 and known == 0:
        error = f"no DNS answer for any of {len(table)} domains ({reasons})"
        return SourceStatus("dns", SourceState.FAILED, len(table), error=error, detail=detail)
    error = f"DNS answers unknown for {unknown_rows} of {len(table)} domains ({reasons})"
    return SourceStatus("dns", SourceState.PARTIAL, len(table), error=error, detail=detail)


def _top_reasons(table: pd.DataFrame) -> str:
    """The most frequent reasons for unknown answers, for the status message."""
    errors = pd.concat([table["txt_error"], table["mx_error"], table["a_error"]]).dropna()
    counts = errors.value_counts().head(3)
    return ", ".join(f"{reason}: {count}" for reason, count in counts.items())


def merge_results(results: Sequence[DnsResult], domains: Iterable[str]) -> DnsResult:
    """One result for exactly ``domains`` from results that resolved them in parts (and maybe
    more): the table, status and answers :func:`resolve_domains` of ``domains`` would give, with
    the queries and seconds of every part counted. Each domain must be in one of the parts."""
    valid, invalid = _distinct(domains)
    wanted = set(valid) | set(invalid)
    frames = [r.table for r in results if len(r.table)]
    table = pd.concat(frames, ignore_index=True) if frames else _table({})
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
    return DnsResult(table, _status(table, queries, seconds, hit), dict(sorted(answers.items())))


def answers_to_json(result: DnsResult) -> dict[str, Any]:
    """The ``dns.json`` document of a result: ``{"format": 1, "domains": {...}}``."""
    return {"format": JSON_FORMAT, "domains": copy.deepcopy(result.answers)}


def result_from_json(data: object, *, path: object = None) -> DnsResult:
    """A :class:`DnsResult` replayed from a ``dns.json`` document; raises :class:`InputError`."""
    where = path if path is not None else "dns.json"
    if not isinstance(data, dict) or data.get("format") != JSON_FORMAT:
        raise InputError(where, f"not a dns.json document of format {JSON_FORMAT}")
    domains = data.get("domains")
    if not isinstance(domains, dict):
        raise InputError(where, '"domains" must be an object')
    resolved = {
        _json_key(name, where): _domain_from_json(name, raw, where) for name, raw in domains.items()
    }
    table = _table(resolved)
    answers = {name: _answers_json(resolved[name]) for name in sorted(resolved)}
    status = _status(table, 0, 0.0, deadline_hit=False)
    status.detail["replayed"] = True
    return DnsResult(table, status, answers)


def table_from_json(data: object, *, path: object = None) -> pd.DataFrame:
    """The per-domain table rebuilt from a ``dns.json`` document (see :func:`answers_to_json`)."""
    return result_from_json(data, path=path).table


def _json_key(name: object, where: object) -> str:
    """A domain key of ``dns.json``, which must be a non-empty string."""
    if not isinstance(name, str) or not name:
        raise InputError(where, f"domain keys must be non-empty strings, got {name!r}")
    return name


def _domain_from_json(name: str, raw: object, where: object) -> _Domain:
    """One domain's answers from ``dns.json``."""
    if not isinstance(raw, dict):
        raise InputError(where, f"{name}: expected an object")
    nxdomain = raw.get("nxdomain", False)
    if not isinstance(nxdomain, bool):
        raise InputError(where, f"{name}: nxdomain must be true or false")
    answers = {rdtype: _answer_from_json(name, rdtype, raw.get(rdtype), where) for rdtype in _TYPES}
    return _Domain(answers, nxdomain)


def _answer_from_json(name: str, rdtype: str, raw: object, where: object) -> _Answer:
    """One recorded answer: ``{"state": ..., "records": [...], "error": ...}``."""
    if not isinstance(raw, dict):
        raise InputError(where, f"{name} {rdtype}: expected an object")
    state, records, error = raw.get("state"), raw.get("records", []), raw.get("error")
    if state not in _STATES:
        raise InputError(where, f"{name} {rdtype}: unknown state {state!r}")
    if not isinstance(records, list) or not all(isinstance(r, str) for r in records):
        raise InputError(where, f"{name} {rdtype}: records must be a list of strings")
    if error is not None and not isinstance(error, str):
        raise InputError(where, f"{name} {rdtype}: error must be a string or null")
    return _Answer(str(state), tuple(records), error)
