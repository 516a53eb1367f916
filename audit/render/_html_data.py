"""The columnar data behind report.html's client-side tables (guests and domains).

Guests travel as parallel arrays; strings that repeat (rule ids, domains, outcomes, finding
details) are dictionary-encoded, and values the page can rebuild are sent as ``0``: a target
e-mail equal to ``mail``, and a UPN that is ``mail`` in Entra's ``#EXT#`` form
(``alias_domain#EXT#@<initial domain>``). That keeps 100,000 guests with every finding's details
well below the page's budget.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd

from audit._values import column, py_values
from audit.analysis.result import AuditResult
from audit.render._common import OUTCOMES, SEVERITIES, guest_view

__all__ = ["OUTCOME_LABELS", "payload"]

OUTCOME_LABELS = {
    "ready": "Ready",
    "unmanaged": "Unmanaged",
    "blocked": "Blocked",
    "out_of_scope": "Out of scope",
    "unknown": "Unknown",
}


def _as_is(value: Any) -> Any:
    """A column as it was built (plain Python data)."""
    return value


def payload(
    result: AuditResult,
    *,
    guests: AuditResult | None = None,
    domain_rows: np.ndarray | None = None,
    pack: Callable[[Any], Any] = _as_is,
) -> dict[str, Any]:
    """The columnar data behind the client-side Guests and Domains tables.

    ``guests``: the result narrowed to the guests to embed (None: every guest);
    ``domain_rows``: positions of the domains to embed (None: all). ``pack`` is applied to each
    guest column as soon as it is built (the HTML writer serialises it there, so the columns'
    Python values do not all exist at once: about 100 MB at 100,000 guests).
    """
    rules = _rule_dictionary(result)
    columns = _guest_columns(guests or result, rules, pack)  # may add ids the catalogue lacks
    domains = result.domains
    if domain_rows is not None:
        domains = domains.iloc[domain_rows]
    return {
        "rules": rules,
        "outcomes": list(OUTCOMES),
        "outcome_labels": OUTCOME_LABELS,
        "severities": list(SEVERITIES),
        "guests": columns,
        "domains": _domain_columns(domains),
    }


def _rule_dictionary(result: AuditResult) -> list[dict[str, Any]]:
    """Every rule id the tables can show, with its title, severity and fix: the catalogue, plus
    any id only findings mention."""
    rules = result.rules
    ids = py_values(column(rules, "rule_id"))
    titles = py_values(column(rules, "title"))
    severities = py_values(column(rules, "severity"))
    fixes = py_values(column(rules, "remediation"))
    out = [
        {"id": r, "title": t or r, "severity": s, "fix": f or ""}
        for r, t, s, f in zip(ids, titles, severities, fixes, strict=True)
    ]
    known = set(ids)
    extra = result.findings.drop_duplicates("rule_id")
    for rule_id, severity in zip(extra["rule_id"], extra["severity"], strict=True):
        if rule_id not in known:
            out.append({"id": rule_id, "title": rule_id, "severity": severity, "fix": ""})
    return out


def _guest_columns(
    result: AuditResult, rules: list[dict[str, Any]], pack: Callable[[Any], Any]
) -> dict[str, Any]:
    """Guests as parallel arrays; repeated strings as indexes into small dictionaries.

    Addresses are split at their last ``@``: the part after it (the tenant's initial domain in
    every ``#EXT#`` UPN, the guest's own domain in ``mail``) goes into the shared ``at``
    dictionary, which saves about a third of the payload. ``details`` holds each finding's
    detail text, ``fd``/``md`` index it per guest in the order of ``flagged``/``muted``.
    """
    view = guest_view(result)
    mail = py_values(column(view, "mail"))
    at: dict[str, int] = {}
    domain_codes, domains = _factorize(column(view, "mail_domain"))
    scope_codes, scopes = _factorize(column(view, "scope"))
    state_codes, states = _factorize(column(view, "external_user_state"))
    account_codes, accounts = _factorize(column(view, "target_account"))
    outcome_index = {o: i for i, o in enumerate(OUTCOMES)}
    upn_local, upn_at = _split_at(py_values(column(view, "user_principal_name")), at)
    mail_local, mail_at = _split_at(mail, at)
    ids = column(view, "object_id").tolist()
    columns: dict[str, Any] = {
        "id": pack(py_values(column(view, "object_id"))),
        "name": pack(py_values(column(view, "display_name"))),
        "upn": pack(_ext_form(upn_local, mail_local, mail_at, list(at))),
    }
    del upn_local
    columns |= {
        "upn_at": pack(upn_at),
        "mail": pack(mail_local),
        "mail_at": pack(mail_at),
        "at": list(at),
        "target": pack(_same_as(py_values(column(view, "target_email")), mail)),
        "key": pack(_same_as(py_values(column(view, "target_key")), mail)),
    }
    del upn_at, mail_local, mail_at, mail
    return columns | {
        "domain": pack(domain_codes),
        "domains": domains,
        "scope": pack(scope_codes),
        "scopes": scopes,
        "state": pack(state_codes),
        "states": states,
        "enabled": pack(py_values(column(view, "account_enabled"))),
        "account": pack(account_codes) if accounts else None,  # None: no target-side evidence
        "accounts": accounts,
        "outcome": pack(_codes(column(view, "outcome"), outcome_index)),
        "whatif": pack(_codes(column(view, "whatif_outcome"), outcome_index)),
        "reasons": pack(_rule_codes(column(view, "reasons"), rules)),
        "flagged": pack(_rule_codes(column(view, "flagged_rules"), rules)),
        "muted": pack(_rule_codes(column(view, "muted_rules"), rules)),
        **_details(result.findings, ids, pack),
        **_step_columns(view, pack),
    }


STEP_ATTRIBUTE_ROWS = 20_000
"""Up to this many guests the page carries each guest's attribute step (one text per guest);
past it the detail points to report.xlsx and guests.csv, to keep the page within its budget."""


def _step_columns(view: pd.DataFrame, pack: Callable[[Any], Any]) -> dict[str, Any]:
    """Provision on demand's steps per guest, dictionary-encoded (scope, action and result repeat).

    The match step is sent as ``0`` where it reads ``<match attribute> = <target key>``.
    """
    out: dict[str, Any] = {}
    for name in ("step_scope", "step_action", "step_result"):
        codes, uniques = _factorize(column(view, name))
        out[name], out[name + "s"] = pack(codes), uniques
    attribute = column(view, "match_attribute").astype("str")
    found = attribute.dropna()
    out["match_key"] = str(found.iloc[0]) if len(found) else ""
    standard = out["match_key"] + " = " + column(view, "target_key").astype("str")
    matches = py_values(column(view, "step_match"))
    out["step_match"] = pack(_same_as(matches, py_values(standard)))
    attributes = column(view, "step_attributes")
    out["step_attributes"] = (
        pack(py_values(attributes)) if len(view) <= STEP_ATTRIBUTE_ROWS else None
    )
    return out


def _details(findings: pd.DataFrame, ids: list[Any], pack: Callable[[Any], Any]) -> dict[str, Any]:
    """Finding details as one dictionary of texts (``details``) and, per guest, the codes of its
    open (``fd``) and muted (``md``) findings' details, in the order ``guest_view`` lists their
    rules (findings order, guest-level rows only)."""
    status = column(findings, "status")
    guest_level = (column(findings, "level") != "app").fillna(False).astype(bool)
    listed = (status.isin(["flagged", "muted"]).fillna(False).astype(bool) & guest_level).to_numpy()
    texts = column(findings, "detail")[listed].astype(object)
    codes, uniques = pd.factorize(texts.where(texts.map(lambda v: isinstance(v, str)), ""))
    by_status: dict[str, dict[Any, list[int]]] = {"flagged": {}, "muted": {}}
    rows = zip(
        findings["object_id"][listed].tolist(),
        status[listed].tolist(),
        codes.tolist(),
        strict=True,
    )
    for object_id, state, code in rows:
        by_status[state].setdefault(object_id, []).append(code)
    none: list[int] = []
    return {
        "fd": pack([by_status["flagged"].get(i, none) for i in ids]),
        "md": pack([by_status["muted"].get(i, none) for i in ids]),
        "details": pack([str(u) for u in uniques]),
    }


def _ext_form(
    upn_local: list[Any], mail_local: list[Any], mail_at: list[int], at: list[str]
) -> list[Any]:
    """UPN local parts, ``0`` where it is the mail's ``#EXT#`` form (``alias_domain#EXT#``),
    which the page rebuilds from ``mail``."""
    out: list[Any] = []
    for upn, local, code in zip(upn_local, mail_local, mail_at, strict=True):
        same = code >= 0 and isinstance(upn, str) and upn == f"{local}_{at[code]}#EXT#"
        out.append(0 if same else upn)
    return out


def _split_at(values: list[Any], at: dict[str, int]) -> tuple[list[Any], list[int]]:
    """Addresses as (part before the last ``@``, index of the part after it in ``at``).

    A value without ``@`` is kept whole with index -1; the page joins the parts back.
    """
    local: list[Any] = []
    codes: list[int] = []
    for value in values:
        head, sep, tail = value.rpartition("@") if isinstance(value, str) else ("", "", "")
        if sep:
            local.append(head)
            codes.append(at.setdefault(tail, len(at)))
        else:
            local.append(value)
            codes.append(-1)
    return local, codes


def _domain_columns(domains: pd.DataFrame) -> dict[str, list[Any]]:
    """The domains table as parallel arrays."""
    names = ("domain", "guests", "affected", "verified_in_target", "claimed_elsewhere")
    more = ("public_provider", "mail_state", "mx", "txt_state")
    return {name: py_values(column(domains, name)) for name in (*names, *more)}


def _factorize(series: pd.Series) -> tuple[list[int], list[Any]]:
    """Codes (-1 for NA) and the distinct values, in order of appearance."""
    codes, uniques = pd.factorize(series, use_na_sentinel=True)
    return codes.tolist(), [str(u) for u in uniques]


def _codes(series: pd.Series, index: dict[str, int]) -> list[int]:
    """Values as indexes into a fixed dictionary (-1 for NA or unknown values)."""
    return [index.get(v, -1) if isinstance(v, str) else -1 for v in py_values(series)]


def _rule_codes(series: pd.Series, rules: list[dict[str, Any]]) -> list[list[int]]:
    """Lists of rule ids as lists of indexes into ``rules`` (unknown ids are appended to it)."""
    index = {r["id"]: i for i, r in enumerate(rules)}
    out = []
    for value in series.tolist():
        ids = list(value) if isinstance(value, list | tuple | np.ndarray) else []
        codes = []
        for rule_id in ids:
            if rule_id not in index:
                index[rule_id] = len(rules)
                rules.append({"id": str(rule_id), "title": str(rule_id), "severity": "", "fix": ""})
            codes.append(index[rule_id])
        out.append(codes)
    return out


def _same_as(values: list[Any], reference: list[Any]) -> list[Any]:
    """``0`` where a value equals the reference value (the page shows the reference then)."""
    return [0 if v is not None and v == r else v for v, r in zip(values, reference, strict=True)]
