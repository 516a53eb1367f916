"""Pseudonymise guests' names and addresses, for reports and exports shared outside the organisation.

One :class:`Pseudonymiser` per run (:mod:`audit._pseudonym`) holds a random key (never written
anywhere, never printed) and maps every word of a name or an address to a keyed pseudonym of the
same length and character classes, so the same guest gets the same pseudonym in every table,
report and export of the run, and an address keeps its length, validity and (non-)ASCII-ness:
rules judge a redacted snapshot as they judged the original one. What stays is decided by whole
values in their place, never by words: the tenant's own domains (exactly, with their subdomains),
consumer mail providers (``gmail.com``), top-level domains, ``SMTP:``, ``#EXT#``. Free texts
(finding details, errors, provisioning-log reasons) get only the exact names and addresses the
pseudonymiser learned replaced, so the tool's own sentences stay readable.

What is redacted: in an :class:`~audit.analysis.result.AuditResult`, the guests' names and addresses in
``guests``, ``findings`` (with the words of those in ``detail``), ``domains`` (guest domains and
their MX hosts) and ``diff``; in a :class:`~audit.snapshot.Snapshot`, the same values in
``users``, ``mailusers``, ``group_members``, ``app_role_assignments``, ``provisioning_logs``,
``dns``, the target-side tables and the statuses' messages. Object ids, rule ids, outcomes and
counts are kept, so
findings, outcomes and diffs stay joinable by object id. In a Graph JSON export, the same
properties wherever they occur (:func:`redact_records`).

Use one pseudonymiser for everything written in one run::

    p = Pseudonymiser.for_snapshot(snapshot)
    render_all(redact_result(result, p), out)
    save(redact_snapshot(snapshot, p), out / "snapshot")
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterable, Mapping
from typing import TYPE_CHECKING, Any

import orjson
import pandas as pd

from audit._pseudonym import Pseudonymiser as _Core
from audit._redact_mailusers import redact_mailusers_csv

if TYPE_CHECKING:
    from audit.analysis.result import AuditResult
    from audit.snapshot import Snapshot

__all__ = [
    "Pseudonymiser",
    "redact_dns_document",
    "redact_mailusers_csv",
    "redact_records",
    "redact_result",
    "redact_snapshot",
]

#: Guests-frame (and findings/diff) columns holding guest names or addresses.
GUEST_COLUMNS = (
    "display_name", "given_name", "surname", "mail_nickname", "user_principal_name",
    "original_upn", "provisioning_upn", "mail", "mail_domain", "other_mails", "proxy_addresses",
    "primary_smtp", "mu_primary_smtp", "mu_external_email", "mu_email_addresses", "target_key",
    "target_key_normalised", "target_email", "target_email_domain", "whatif_target_key",
    "whatif_target_key_normalised", "whatif_target_email", "whatif_target_email_domain", "domain",
    "mx", "match_value", "whatif_match_value",
    # target side: the target users frame and the reconciliation
    "tu_user_name", "tu_display_name", "tu_email", "tu_email_domain", "tu_guest_email",
    "actual_email",
)  # fmt: skip
#: Free-text columns: only the names and addresses learned are replaced in them.
TEXT_COLUMNS = (
    "detail", "muted_by", "last_prov_error", "reason", "errorCode", "step_scope", "step_match",
    "step_attributes", "step_result", "engine_unknown",
)  # fmt: skip

#: Snapshot tables and their columns holding guest names or addresses.
SNAPSHOT_COLUMNS: dict[str, tuple[str, ...]] = {
    "users": ("displayName", "givenName", "surname", "userPrincipalName", "mail",
              "mailNickname", "otherMails", "proxyAddresses"),
    "member_users": ("displayName", "givenName", "surname", "userPrincipalName", "mail",
                     "mailNickname", "otherMails", "proxyAddresses"),
    "mailusers": ("DisplayName", "UserPrincipalName", "PrimarySmtpAddress",
                  "ExternalEmailAddress", "EmailAddresses"),
    "group_members": ("displayName", "userPrincipalName", "mail"),
    "app_role_assignments": ("principalDisplayName",),
    "dns": ("domain",),
    # target-side evidence tables (audit.target_tables), under the Atlassian source names
    "atlassian_domains": ("domain", "name"),
    "atlassian_users": ("email", "name"),
    "atlassian_directory_users": ("email", "name"),
    "atlassian_scim_users": ("user_name", "display_name", "email", "emails"),
}  # fmt: skip
_SNAPSHOT_TEXT: dict[str, tuple[str, ...]] = {"provisioning_logs": ("reason", "errorCode")}

#: Graph JSON properties holding names or addresses (anywhere in an object).
RECORD_KEYS = frozenset(
    {"displayName", "givenName", "surname", "userPrincipalName", "mail", "mailNickname",
     "otherMails", "proxyAddresses", "issuerAssignedId", "principalDisplayName"}
)  # fmt: skip


#: Raw sources written as they are: the app's service principal names the app, not a guest, and
#: ``--target auto`` reads its display name.
KEPT_RECORDS = frozenset({"service_principal"})


class Pseudonymiser(_Core):
    """Keyed, consistent pseudonyms for guest names and addresses (:mod:`audit._pseudonym`),
    with the constructors and the table helpers the redaction of one run uses."""

    @classmethod
    def for_snapshot(cls, snapshot: Snapshot, *, key: bytes | None = None) -> Pseudonymiser:
        """A pseudonymiser keeping ``snapshot``'s tenant domains, having learned its guests."""
        domains = snapshot.tables.get("domains")
        own = list(domains["id"].dropna()) if domains is not None and "id" in domains else []
        p = cls(key=key, keep=[*own, str(snapshot.tenant.get("initial_domain") or "")])
        for name, columns in SNAPSHOT_COLUMNS.items():
            table = snapshot.tables.get(name)
            if table is not None:
                p.learn_frame(table, columns)
        return p

    @classmethod
    def for_records(cls, records: Mapping[str, Any], *, key: bytes | None = None) -> Pseudonymiser:
        """A pseudonymiser for raw Graph records (``--save-raw``), keeping the tenant's domains.

        With the same ``key`` it gives the same pseudonyms as :meth:`for_snapshot` of the
        snapshot built from these records, so an export and the reports of one run agree.
        """
        own = [str(d.get("id")) for d in records.get("domains", []) if d.get("id")]
        p = cls(key=key, keep=own)
        for source, items in records.items():
            if source not in KEPT_RECORDS:
                _learn_records(items, p)
        return p

    @classmethod
    def for_result(cls, result: AuditResult, *, key: bytes | None = None) -> Pseudonymiser:
        """A pseudonymiser keeping ``result``'s initial domain, having learned its guests."""
        p = cls(key=key, keep=[str(result.tenant.get("initial_domain") or "")])
        p.learn_frame(result.guests, GUEST_COLUMNS)
        return p

    def learn_frame(self, frame: pd.DataFrame, columns: Iterable[str]) -> None:
        """:meth:`learn` every value of ``columns`` (those present) of ``frame``."""
        for column in columns:
            if column in frame.columns:
                for value in frame[column].dropna().tolist():
                    self.learn(value)

    def value(self, value: Any, *, free_text: bool = False) -> Any:
        """A cell redacted: strings and lists of strings; anything else unchanged."""
        change: Callable[[str], str] = self.known_text if free_text else self.text
        if isinstance(value, str):
            return change(value)
        if isinstance(value, list | tuple):
            return [change(v) if isinstance(v, str) else v for v in value]
        if hasattr(value, "tolist") and not isinstance(value, pd.Timestamp):
            return self.value(value.tolist(), free_text=free_text)
        return value

    def frame(
        self,
        frame: pd.DataFrame,
        columns: Iterable[str],
        free_text: Iterable[str] = TEXT_COLUMNS,
    ) -> pd.DataFrame:
        """A copy of ``frame`` with ``columns`` redacted and ``free_text`` columns' known values."""
        out = frame.copy()
        for names, free in ((columns, False), (free_text, True)):
            for column in names:
                if column in out.columns:
                    out[column] = self.series(out[column], free_text=free)
        return out

    def series(self, column: pd.Series, *, free_text: bool = False) -> pd.Series:
        """A column redacted cell by cell (see :meth:`value`), its dtype kept."""
        free = free_text
        redacted = column.map(lambda v: self.value(v, free_text=free), na_action="ignore")
        return redacted.astype(column.dtype) if column.dtype != object else redacted


def redact_result(result: AuditResult, pseudonymiser: Pseudonymiser | None = None) -> AuditResult:
    """A copy of ``result`` with guests' names and addresses pseudonymised (see the module).

    Findings, outcomes, rule statuses and counts are the original analysis': only texts change.
    """
    p = pseudonymiser or Pseudonymiser.for_result(result)
    p.learn_frame(result.guests, GUEST_COLUMNS)
    for frame in _diff_frames(result.diff).values():  # removed guests are only named there
        p.learn_frame(frame, GUEST_COLUMNS)
    for target_side in (result.target_users, result.reconciliation):
        if target_side is not None:
            p.learn_frame(target_side, GUEST_COLUMNS)
    findings = result.findings
    guest_rows = findings["level"] != "app" if "level" in findings else None
    redacted = p.frame(findings, GUEST_COLUMNS)
    if guest_rows is not None:  # an app-level row names the app, not a guest
        for column in ("display_name", "user_principal_name", "mail", "domain"):
            if column in findings:
                redacted.loc[~guest_rows, column] = findings.loc[~guest_rows, column]
    return dataclasses.replace(
        result,
        guests=p.frame(result.guests, GUEST_COLUMNS),
        findings=redacted,
        domains=p.frame(result.domains, ("domain", "mx")),
        sources=[_status(s, p) for s in result.sources],
        diff=_diff(result.diff, p),
        target_users=_maybe_frame(result.target_users, p),
        reconciliation=_maybe_frame(result.reconciliation, p),
        target_domains=_target_domains(result.target_domains, p),
    )


def _maybe_frame(frame: pd.DataFrame | None, p: Pseudonymiser) -> pd.DataFrame | None:
    return None if frame is None else p.frame(frame, GUEST_COLUMNS)


def _target_domains(value: Any, p: Pseudonymiser) -> Any:
    """The organization's domains against the configured ones: every domain name redacted
    (the tenant's own are kept by the pseudonymiser)."""
    if isinstance(value, str):
        return p.text(value)
    if isinstance(value, Mapping):
        keep = ("status", "claim_type")
        return {k: v if k in keep else _target_domains(v, p) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_target_domains(v, p) for v in value]
    return value


def redact_snapshot(snapshot: Snapshot, pseudonymiser: Pseudonymiser | None = None) -> Snapshot:
    """A copy of ``snapshot`` with guests' names and addresses pseudonymised (see the module)."""
    p = pseudonymiser or Pseudonymiser.for_snapshot(snapshot)
    for name, columns in SNAPSHOT_COLUMNS.items():
        table = snapshot.tables.get(name)
        if table is not None:
            p.learn_frame(table, columns)
    tables = {}
    for name, table in snapshot.tables.items():
        columns = SNAPSHOT_COLUMNS.get(name, ())
        tables[name] = p.frame(table, columns, _SNAPSHOT_TEXT.get(name, ()))
    if "dns" in tables:
        tables["dns"] = _dns_table(tables["dns"], p)
    if "users" in tables and "identities" in tables["users"]:
        tables["users"]["identities"] = tables["users"]["identities"].map(
            lambda v: _identities(v, p), na_action="ignore"
        )
    return dataclasses.replace(
        snapshot,
        tables=tables,
        sources={k: _status(s, p) for k, s in snapshot.sources.items()},
        config=_walk(snapshot.config, p),
        extra=_walk(snapshot.extra, p),
        path=None,
    )


def redact_records(records: Mapping[str, Any], pseudonymiser: Pseudonymiser) -> dict[str, Any]:
    """Raw Graph records (as ``collect --save-raw`` writes them) with names and addresses redacted.

    Values of :data:`RECORD_KEYS` are redacted wherever they occur; other strings (provisioning log
    reasons, ...) get the words of learned names and addresses replaced. Ids are kept.
    """
    for source, items in records.items():
        if source not in KEPT_RECORDS:
            _learn_records(items, pseudonymiser)
    return {
        source: items if source in KEPT_RECORDS else _record(items, pseudonymiser)
        for source, items in records.items()
    }


def redact_dns_document(
    document: Mapping[str, Any], pseudonymiser: Pseudonymiser
) -> dict[str, Any]:
    """A ``dns.json`` document with guest domains (its keys) and their records redacted."""
    p = pseudonymiser
    domains = document.get("domains")
    if not isinstance(domains, Mapping):
        return dict(document)
    out = {p.text(name): _dns_answers(answers, p) for name, answers in domains.items()}
    return {**document, "domains": out}


def _dns_answers(answers: Any, p: Pseudonymiser) -> Any:
    """One domain's answers: MX hosts fully, other records only where they name guests; the
    answer states, errors and flags as they are (the replay must read them)."""
    if not isinstance(answers, Mapping):
        return answers
    out: dict[str, Any] = {}
    for rtype, answer in answers.items():
        if isinstance(answer, Mapping) and isinstance(answer.get("records"), list):
            if str(rtype).upper() == "MX":
                records = [_mx_records(r, p) for r in answer["records"]]
            else:
                records = [_walk(r, p) for r in answer["records"]]
            out[rtype] = {**answer, "records": records}
        else:
            out[rtype] = answer
    return out


def _learn_records(value: Any, p: Pseudonymiser, key: str | None = None) -> None:
    if isinstance(value, Mapping):
        for k, v in value.items():
            _learn_records(v, p, str(k))
    elif isinstance(value, list):
        for item in value:
            _learn_records(item, p, key)
    elif isinstance(value, str) and key in RECORD_KEYS:
        p.learn(value)


def _record(value: Any, p: Pseudonymiser, key: str | None = None) -> Any:
    if isinstance(value, Mapping):
        return {k: _record(v, p, str(k)) for k, v in value.items()}
    if isinstance(value, list):
        return [_record(item, p, key) for item in value]
    if isinstance(value, str):
        if key in RECORD_KEYS:
            return p.text(value)
        if key is None or key == "id" or key.endswith(("Id", "@odata.type")) or key[0] == "@":
            return value
        return p.known_text(value)
    return value


def _walk(value: Any, p: Pseudonymiser, *, known_only: bool = True) -> Any:
    """Strings anywhere in a JSON-like value: learned words (or every word) replaced."""
    if isinstance(value, str):
        return p.known_text(value) if known_only else p.text(value)
    if isinstance(value, Mapping):
        return {k: _walk(v, p, known_only=known_only) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_walk(v, p, known_only=known_only) for v in value]
    return value


def _status(status: Any, p: Pseudonymiser) -> Any:
    error = p.known_text(status.error) if status.error else status.error
    return dataclasses.replace(status, error=error, detail=_walk(status.detail, p))


def _dns_table(table: pd.DataFrame, p: Pseudonymiser) -> pd.DataFrame:
    """MX hosts fully, other record texts (TXT: SPF includes, tokens) only where they name guests."""
    out = table.copy()
    if "mx" in out:
        out["mx"] = out["mx"].map(lambda v: _mx_records(v, p), na_action="ignore")
    if "txt" in out:
        out["txt"] = p.series(out["txt"], free_text=True)
    return out


def _mx_records(value: Any, p: Pseudonymiser) -> Any:
    """MX records (``"<preference> <host>"``): the host redacted, the preference kept (a null MX
    is preference 0 with host ``.``)."""
    if isinstance(value, str):
        preference, space, host = value.partition(" ")
        if space and preference.isdigit():
            return f"{preference} {p.text(host)}"
        return p.text(value)
    if hasattr(value, "tolist"):
        value = value.tolist()
    if isinstance(value, list | tuple):
        return [_mx_records(v, p) for v in value]
    return value


def _identities(value: Any, p: Pseudonymiser) -> Any:
    """The ``identities`` JSON text with each ``issuerAssignedId`` redacted."""
    if not isinstance(value, str):
        return value
    try:
        items = orjson.loads(value)
    except orjson.JSONDecodeError:
        return p.known_text(value)
    return orjson.dumps(_record(items, p)).decode()


def _diff(diff: Any, p: Pseudonymiser) -> Any:
    """A diff with each of its frames redacted like findings (object ids kept)."""
    frames = _diff_frames(diff)
    if not frames:
        return diff
    return dataclasses.replace(diff, **{k: p.frame(v, GUEST_COLUMNS) for k, v in frames.items()})


def _diff_frames(diff: Any) -> dict[str, pd.DataFrame]:
    """The frames of a diff by field name (none for anything that is not a diff)."""
    if diff is None or not dataclasses.is_dataclass(diff) or isinstance(diff, type):
        return {}
    fields = {f.name: getattr(diff, f.name) for f in dataclasses.fields(diff)}
    return {name: value for name, value in fields.items() if isinstance(value, pd.DataFrame)}
