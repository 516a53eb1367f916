"""DNS answers as the collector records them: answer states, the per-domain table, the source
status and the ``dns.json`` document that replays them.

Every answer is tri-state: ``found``, ``absent`` (NXDOMAIN or no records of that type: a
definitive "no") or ``unknown`` (timeout, SERVFAIL, REFUSED, network error, deadline); A and AAAA
are ``not_queried`` unless the domain exists without MX. The recorded answers (``dns.json``)
rebuild exactly the same table offline, so a re-analysis never depends on the DNS of the day.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from audit.errors import InputError
from audit.models import SourceState, SourceStatus

__all__ = [
    "ABSENT",
    "COLUMNS",
    "FOUND",
    "INVALID_DOMAIN",
    "JSON_FORMAT",
    "NOT_QUERIED",
    "NOT_QUERIED_ANSWER",
    "TYPES",
    "UNKNOWN",
    "Answer",
    "DnsResult",
    "DomainAnswers",
    "answers_json",
    "answers_to_json",
    "dns_status",
    "dns_table",
    "result_from_json",
    "table_from_json",
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

# Answer states in the table and in dns.json.
FOUND, ABSENT, UNKNOWN, NOT_QUERIED = "found", "absent", "unknown", "not_queried"
TYPES = ("TXT", "MX", "A", "AAAA")
_STATES = frozenset({FOUND, ABSENT, UNKNOWN, NOT_QUERIED})
_INVALID = "invalid domain"


@dataclass(frozen=True)
class Answer:
    """The answer to one (domain, type) query."""

    state: str
    records: tuple[str, ...] = ()
    error: str | None = None
    nxdomain: bool = False


@dataclass(frozen=True)
class DomainAnswers:
    """Everything recorded for one domain: its four answers and whether the name exists."""

    answers: Mapping[str, Answer]
    nxdomain: bool

    @classmethod
    def of(cls, answers: Mapping[str, Answer]) -> DomainAnswers:
        """From fresh answers: NXDOMAIN if any query said so."""
        return cls(answers, any(answer.nxdomain for answer in answers.values()))


NOT_QUERIED_ANSWER = Answer(NOT_QUERIED)
_BAD = Answer(UNKNOWN, error=_INVALID)
# What a value that cannot be a DNS name records: unknown, never queried.
INVALID_DOMAIN = DomainAnswers(
    {"TXT": _BAD, "MX": _BAD, "A": NOT_QUERIED_ANSWER, "AAAA": NOT_QUERIED_ANSWER}, False
)


@dataclass
class DnsResult:
    """Resolved DNS facts: one row per domain (``table``), the source status, the recorded answers.

    ``answers`` maps each domain to its recorded answers, the ``domains`` part of ``dns.json``
    (see :func:`answers_to_json`).
    """

    table: pd.DataFrame
    status: SourceStatus
    answers: dict[str, Any] = field(default_factory=dict)


def answers_json(domain: DomainAnswers) -> dict[str, Any]:
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


def dns_table(resolved: Mapping[str, DomainAnswers]) -> pd.DataFrame:
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


def _row(name: str, domain: DomainAnswers) -> dict[str, Any]:
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


def _address_state(a: Answer, aaaa: Answer) -> tuple[str, str | None]:
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


def dns_status(
    table: pd.DataFrame, queries: int, seconds: float, deadline_hit: bool
) -> SourceStatus:
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
    table = dns_table(resolved)
    answers = {name: answers_json(resolved[name]) for name in sorted(resolved)}
    status = dns_status(table, 0, 0.0, deadline_hit=False)
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


def _domain_from_json(name: str, raw: object, where: object) -> DomainAnswers:
    """One domain's answers from ``dns.json``."""
    if not isinstance(raw, dict):
        raise InputError(where, f"{name}: expected an object")
    nxdomain = raw.get("nxdomain", False)
    if not isinstance(nxdomain, bool):
        raise InputError(where, f"{name}: nxdomain must be true or false")
    answers = {rdtype: _answer_from_json(name, rdtype, raw.get(rdtype), where) for rdtype in TYPES}
    return DomainAnswers(answers, nxdomain)


def _answer_from_json(name: str, rdtype: str, raw: object, where: object) -> Answer:
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
    return Answer(str(state), tuple(records), error)
