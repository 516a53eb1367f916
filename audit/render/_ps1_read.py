"""What ``remediation.ps1`` reads from an audit result: findings as columns, the guest values
its plans need, the tenant context and the rules' texts, each read once and defensively (any
value may be missing or of the wrong type)."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from itertools import compress
from typing import Any, NamedTuple

import numpy as np
import pandas as pd

from audit._values import column, py_values
from audit.analysis.result import AuditResult
from audit.plans import Ctx, Finding, Guest, is_scripted
from audit.powershell import HOST, as_text, as_texts, is_guid
from audit.rules import all_rules
from audit.targets import all_targets

__all__ = [
    "SCRIPTED_RULES",
    "Findings",
    "read_context",
    "read_findings",
    "read_guests",
    "rule_groups",
    "rule_info",
    "rule_infos",
]

SCRIPTED_RULES = tuple(rule.id for rule in all_rules() if is_scripted(rule.plan))
"""Rules whose fixes the script runs (catalogue order); all others get commented suggestions."""

_LISTED = ("flagged", "muted")


class Texts:
    """A findings column of texts kept in Arrow (``as_text(v) or ""`` per value, as
    :func:`_strings`), made into Python strings only for the rows asked for: a million findings'
    object ids, UPNs and names as strings were most of a gigabyte."""

    def __init__(self, series: pd.Series) -> None:
        self.series = series.fillna("").reset_index(drop=True)

    def __len__(self) -> int:
        return len(self.series)

    def __getitem__(self, row: int) -> str:
        return str(self.series.iat[row])

    def take(self, rows: Sequence[int]) -> list[str]:
        """The texts at ``rows``."""
        return self.series.take(list(rows)).tolist()


Column = list[str] | Texts


def take(values: Column, rows: Sequence[int]) -> list[str]:
    """The texts of a findings column at ``rows``."""
    return values.take(rows) if isinstance(values, Texts) else [values[i] for i in rows]


class Findings(NamedTuple):
    """Findings as columns, one per :class:`Finding` field (and the guest's mail domain) and one
    row per finding.

    Most findings of a large tenant are only counted per section (by rule, note and domain); the
    others are made into records for their blocks. Texts that repeat are shared; the others stay
    in Arrow (:class:`Texts`) until their rows are written.
    """

    rule_id: list[str]
    object_id: Column
    upn: Column
    display_name: Column
    detail: Column
    level: list[str]
    muted_by: list[str]
    domain: list[str]  # the guest's mail domain (for counts; not part of a Finding)

    def records(self, rows: Iterable[int]) -> list[Finding]:
        """The findings at ``rows``, as records."""
        rows = list(rows)
        fields = self[: len(Finding._fields)]
        return list(map(Finding, *(take(values, rows) for values in fields)))


def read_findings(frame: pd.DataFrame) -> Findings:
    """Flagged and muted findings, first occurrence of each (rule, object) only.

    ``muted_by`` is "" when open (and never empty when muted), ``level`` "guest" when empty.
    """
    rule_id, level, status, muted_by, domain = (
        _strings(column(frame, n), shared=True) for n in _REPEATED
    )
    object_id, upn, name, detail = (_texts(column(frame, n)) for n in _UNIQUE)
    levels = [value or "guest" for value in level]
    reasons = [
        (by or "muted by an exception") if state == "muted" else ""
        for state, by in zip(status, muted_by, strict=True)
    ]
    keep = _first_listed(rule_id, take(object_id, range(len(object_id))), status)
    return Findings(
        list(compress(rule_id, keep)),
        _kept(object_id, keep),
        _kept(upn, keep),
        _kept(name, keep),
        _kept(detail, keep),
        list(compress(levels, keep)),
        list(compress(reasons, keep)),
        list(compress(domain, keep)),
    )


def _texts(series: pd.Series) -> Column:
    """A column of texts that rarely repeat: kept in Arrow when it is a string column."""
    if isinstance(series.dtype, pd.StringDtype) and series.dtype.storage == "pyarrow":
        return Texts(series)
    return _strings(series)


def _kept(values: Column, keep: list[bool]) -> Column:
    """The rows of ``values`` that ``keep`` marks."""
    if isinstance(values, Texts):
        return Texts(values.series[np.asarray(keep, dtype=bool)])
    return list(compress(values, keep))


def _first_listed(rule_ids: list[str], object_ids: list[str], statuses: list[str]) -> list[bool]:
    """Per row: flagged or muted, and the first such row of its (rule, object) pair (found by
    hashing the two columns, not a set of a million pairs)."""
    listed = pd.Series(statuses, dtype=object).isin(_LISTED).to_numpy()
    pairs = pd.DataFrame({"rule": rule_ids, "object": object_ids}, dtype=object)[listed]
    keep = np.zeros(len(statuses), dtype=bool)
    keep[np.flatnonzero(listed)[~pairs.duplicated().to_numpy()]] = True
    return keep.tolist()


_REPEATED = ("rule_id", "level", "status", "muted_by", "domain")
"""Finding columns whose values repeat: read as one text object per distinct value."""
_UNIQUE = ("object_id", "user_principal_name", "display_name", "detail")
"""Finding columns whose values rarely repeat: kept in Arrow (:class:`Texts`)."""


def _strings(series: pd.Series, *, shared: bool = False) -> list[str]:
    """A column as texts: ``as_text(v) or ""`` for each of its :func:`py_values`.

    String columns (the normal case) are read as one list, ``shared`` ones with one text object
    per distinct value (a million findings repeat a few rule ids, levels and details); anything
    else takes the general path.
    """
    values: list[object] = []
    if isinstance(series.dtype, pd.StringDtype):
        texts = series.fillna("")
        if shared:
            codes, uniques = pd.factorize(texts)
            return list(map(uniques.tolist().__getitem__, codes.tolist()))
        values = texts.tolist()
    elif series.dtype == object:
        values = series.tolist()
    if len(values) == len(series) and set(map(type, values)) <= {str}:
        return values  # type: ignore[return-value]  # checked just above
    return [as_text(v) or "" for v in py_values(series)]


def read_guests(frame: pd.DataFrame, ids: set[str]) -> dict[str, Guest]:
    """The needed guest columns for the guests ``ids``, by object id (an id's last row wins)."""
    rows = {
        object_id: position
        for position, object_id in enumerate(column(frame, "object_id").tolist())
        if isinstance(object_id, str) and object_id in ids
    }
    positions = sorted(rows.values())

    def values(name: str) -> list[Any]:
        return py_values(column(frame, name).iloc[positions])

    names = ("mail", "original_upn", "provisioning_upn", "mu_external_email")
    cols = {n: values(n) for n in names}
    lists = {n: values(n) for n in ("other_mails", "mu_email_addresses")}
    present = values("mu_present")
    out: dict[str, Guest] = {}
    for i, object_id in enumerate(values("object_id")):
        mu = present[i]
        out[str(object_id)] = Guest(
            mail=as_text(cols["mail"][i]),
            original_upn=as_text(cols["original_upn"][i]),
            provisioning_upn=as_text(cols["provisioning_upn"][i]),
            other_mails=as_texts(lists["other_mails"][i]),
            mu_present=None if mu is None else bool(mu),
            mu_external_email=as_text(cols["mu_external_email"][i]),
            mu_email_addresses=as_texts(lists["mu_email_addresses"][i]),
        )
    return out


def read_context(result: AuditResult) -> Ctx:
    """Initial domain and service principal id, kept only when well-formed."""
    domain = as_text(result.tenant.get("initial_domain"))
    sp_id = as_text(result.app.get("service_principal_id") or result.app.get("id"))
    name = as_text(result.app.get("display_name") or result.app.get("displayName")) or "the app"
    target = all_targets().get(result.target)
    words = (
        {"email_attribute": target.email_attribute, "recommended_email": target.recommended_email}
        if target is not None
        else {}
    )
    return Ctx(
        initial_domain=domain if domain and HOST.fullmatch(domain) else None,
        sp_id=sp_id if is_guid(sp_id) else None,
        app_name=name,
        **words,
    )


def rule_infos(rules: pd.DataFrame) -> dict[str, dict[str, str]]:
    """Title, severity and remediation ("" when unknown) by rule id; a rule's first row wins."""
    keys = ("title", "severity", "remediation")
    values = zip(*(py_values(column(rules, key)) for key in keys), strict=True)
    infos: dict[str, dict[str, str]] = {}
    for rule_id, row in zip(py_values(column(rules, "rule_id")), values, strict=True):
        if isinstance(rule_id, str) and rule_id not in infos:
            infos[rule_id] = {key: as_text(v) or "" for key, v in zip(keys, row, strict=True)}
    return infos


def rule_info(infos: dict[str, dict[str, str]], rule_id: str) -> dict[str, str]:
    """Title, severity and remediation of one rule ("" when unknown)."""
    return infos.get(rule_id) or {"title": "", "severity": "", "remediation": ""}


def rule_groups(
    rules: pd.DataFrame, rule_ids: list[str], rows: list[int]
) -> Iterator[tuple[str, list[int]]]:
    """Open guest findings' rows grouped by rule: scripted rules first, then the catalogue order."""
    by_rule: dict[str, list[int]] = {}
    for row in rows:
        by_rule.setdefault(rule_ids[row], []).append(row)
    order = [*SCRIPTED_RULES, *(str(r) for r in py_values(column(rules, "rule_id")))]
    order += sorted(by_rule)
    for rule_id in dict.fromkeys(order):
        if rule_id in by_rule:
            yield rule_id, by_rule[rule_id]
