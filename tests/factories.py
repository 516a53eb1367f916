"""Test data factories: a realistic, deterministic ``AuditResult`` without running the pipeline.

"Fake the data, not the code": renderers are tested against results shaped exactly like the
analysis produces them (see ``audit/result.py`` and ``audit/COLUMNS.md``), including the hostile
strings a tenant can hold in display names, addresses and error messages.
"""

from __future__ import annotations

from datetime import UTC, datetime

import numpy as np
import pandas as pd

from audit.analysis.result import AuditResult, WhatIf
from audit.models import Outcome, SourceState, SourceStatus

HOSTILE = (
    "<script>alert(1)</script>",
    '"><img src=x onerror=alert(1)>',
    "</script><script>alert(2)</script>",
    '=HYPERLINK("http://evil","x")',
    "+cmd|' /C calc'!A0",
    "-2+3",
    "@SUM(1)",
    "\t=1+1 tab-led",
    "\r=1+1 cr-led",
    "  =1+2 space-led",
    "#N/A",
    "A" * 10_000,
    "evil\u202egnp.exe",
    "zero\u200bwidth\u200djoin\ufeff",
    "nul\x00byte and \x07bell",
    "emoji 🧨👩‍💻 guest",
    "{{ 7*7 }} {% raw %}",
    "O'Brien & Söhne <b>GmbH</b>",
)
"""Display names every renderer must show as inert text."""

INITIAL_DOMAIN = "contoso.onmicrosoft.com"

# (id, severity, level, title, source it needs or ""), in catalogue order.
CATALOGUE: tuple[tuple[str, str, str, str, str], ...] = (
    ("domain-unverified", "high", "guest", "E-mail domain not verified in the target", ""),
    ("public-mail-domain", "medium", "guest", "Consumer mail provider domain", ""),
    ("original-upn-missing", "high", "guest", "No usable originalUserPrincipalName", ""),
    ("mail-missing", "high", "guest", "mail attribute is empty", ""),
    ("address-invalid", "high", "guest", "Invalid e-mail address", ""),
    ("address-too-long", "medium", "guest", "Address longer than RFC limits", ""),
    (
        "address-non-ascii",
        "medium",
        "guest",
        "Address needs SMTPUTF8 or is not IDNA-normalised",
        "",
    ),
    ("mail-domain-undeliverable", "high", "guest", "Mail domain cannot receive mail", "dns"),
    ("pending-acceptance", "medium", "guest", "Invitation never redeemed", ""),
    ("account-disabled", "low", "guest", "Account disabled", ""),
    ("upn-mail-mismatch", "medium", "guest", "De-mangled UPN differs from mail", ""),
    ("duplicate-target-key", "high", "guest", "Duplicate key or e-mail in the target", ""),
    ("nested-group-only", "medium", "guest", "Assigned only through a nested group", ""),
    ("not-in-scope", "info", "guest", "Not assigned to the app", ""),
    ("mapping-sends-external-address", "high", "app", "Mapping sends the external address", ""),
    ("primary-smtp-mismatch", "medium", "guest", "Primary SMTP proxy missing or differs", ""),
    ("exo-not-mail-enabled", "medium", "guest", "No GuestMailUser", "mailusers"),
    ("exo-forwarding-broken", "high", "guest", "MailUser forwarding broken", "mailusers"),
    (
        "domain-claimed-elsewhere",
        "medium",
        "guest",
        "Domain claimed by another organisation",
        "dns",
    ),
    ("prior-provisioning-failure", "high", "guest", "Last provisioning attempt failed", "prov"),
    ("upn-invalid", "low", "guest", "UPN breaks Entra rules", ""),
    ("guest-licensed", "low", "guest", "Guest holds licences", ""),
    ("external-member", "medium", "guest", "External account with userType Member", ""),
    ("stale-guest", "low", "guest", "No recent sign-in", "signin"),
)

_PROBABILITY = {
    "domain-unverified": 0.55,
    "public-mail-domain": 0.12,
    "original-upn-missing": 0.01,
    "mail-missing": 0.02,
    "address-invalid": 0.01,
    "address-too-long": 0.005,
    "address-non-ascii": 0.01,
    "mail-domain-undeliverable": 0.02,
    "pending-acceptance": 0.15,
    "account-disabled": 0.04,
    "upn-mail-mismatch": 0.05,
    "duplicate-target-key": 0.01,
    "nested-group-only": 0.04,
    "not-in-scope": 0.08,
    "primary-smtp-mismatch": 0.03,
    "domain-claimed-elsewhere": 0.02,
    "upn-invalid": 0.005,
    "guest-licensed": 0.02,
    "external-member": 0.01,
}

_FIRST = ("Anna", "Björn", "Chen", "Dana", "Émile", "Fatima", "Gustav", "Hiro", "Ines", "José")
_LAST = ("Smith", "Müller", "Okafor", "Nakamura", "García", "Kowalski", "Dubois", "Ng", "Rossi")
_PUBLIC = ("gmail.com", "outlook.com", "yahoo.com", "gmx.de")
_BLOCKERS = ("mail-missing", "address-invalid", "duplicate-target-key", "original-upn-missing")


def make_result(n_guests: int = 50, seed: int = 0, hostile: bool = True) -> AuditResult:
    """A realistic ``AuditResult`` of ``n_guests`` guests (deterministic for a seed).

    With ``hostile`` the first guests carry the :data:`HOSTILE` display names and the tenant,
    app, a finding detail and a source error carry markup and formula payloads too.
    """
    rng = np.random.default_rng(seed)
    guests = _guests(n_guests, rng, hostile)
    findings = _findings(guests, rng, hostile)
    outcomes = _outcomes(guests, findings)
    rules = _rules(findings, len(guests))
    return AuditResult(
        tool_version="0.1.0",
        tenant={
            "id": "11111111-2222-3333-4444-555555555555",
            "name": "Contoso <img src=x onerror=alert(3)>" if hostile else "Contoso Ltd",
            "initial_domain": INITIAL_DOMAIN,
        },
        target="atlassian",
        app={
            "display_name": "Atlassian Cloud </script>" if hostile else "Atlassian Cloud",
            "app_id": "aaaaaaaa-0000-0000-0000-000000000001",
            "service_principal_id": "bbbbbbbb-0000-0000-0000-000000000002",
        },
        generated_at=datetime(2025, 3, 14, 9, 26, 53, tzinfo=UTC),
        collected_at=datetime(2025, 3, 14, 9, 20, 0, tzinfo=UTC),
        sources=_sources(len(guests), hostile),
        guests=guests,
        findings=findings,
        rules=rules,
        outcomes=outcomes,
        domains=_domains(guests, findings),
        whatif=_whatif(outcomes),
        mapping={'emails[type eq "work"].value': "[mail]", "userName": "[userPrincipalName]"},
    )


def _guests(n: int, rng: np.random.Generator, hostile: bool) -> pd.DataFrame:
    """The guests frame with every column of ``audit/COLUMNS.md``."""
    idx = np.arange(n)
    n_domains = max(8, n // 10)
    company = np.array([f"partner{i:05d}.example" for i in range(n_domains)], dtype=object)
    is_public = rng.random(n) < _PROBABILITY["public-mail-domain"]
    domain = np.where(
        is_public,
        rng.choice(np.array(_PUBLIC, dtype=object), n),
        company[rng.integers(0, n_domains, n)],
    )
    first = np.array(_FIRST, dtype=object)[idx % len(_FIRST)]
    last = np.array(_LAST, dtype=object)[(idx // len(_FIRST)) % len(_LAST)]
    names = [f"{f} {s}" for f, s in zip(first, last, strict=True)]
    local = [f"{f}.{s}{i}".lower() for i, (f, s) in enumerate(zip(first, last, strict=True))]
    mail = [f"{lp}@{d}" for lp, d in zip(local, domain, strict=True)]
    if hostile:
        for i, text in enumerate(HOSTILE[: min(n, len(HOSTILE))]):
            names[i] = text
    upn = [f"{m.replace('@', '_')}#EXT#@{INITIAL_DOMAIN}" for m in mail]
    no_mail = rng.random(n) < _PROBABILITY["mail-missing"]
    mail_col = pd.Series(mail, dtype="str").mask(pd.Series(no_mail), None)
    if hostile and n > 3:
        mail_col.iloc[3] = '=HYPERLINK("http://evil","x")@evil.example'
    created = pd.Timestamp("2021-01-01", tz="UTC") + pd.to_timedelta(
        rng.integers(0, 1500, n), unit="D"
    )
    pending = rng.random(n) < _PROBABILITY["pending-acceptance"]
    scope = rng.choice(
        np.array(["direct", "group", "nested_only", "none"], dtype=object),
        n,
        p=[0.6, 0.28, 0.04, 0.08],
    )
    frame = pd.DataFrame(
        {
            "object_id": pd.Series(
                [f"{i:08x}-0000-4000-8000-{_guid_tail(i)}" for i in range(n)], dtype="str"
            ),
            "display_name": pd.Series(names, dtype="str"),
            "given_name": pd.Series(first, dtype="str"),
            "surname": pd.Series(last, dtype="str"),
            "mail_nickname": pd.Series([u.split("#")[0] for u in upn], dtype="str"),
            "user_type": pd.Series(np.where(rng.random(n) < 0.01, "Member", "Guest"), dtype="str"),
            "creation_type": pd.Series(["Invitation"] * n, dtype="str"),
            "external_user_state": pd.Series(
                np.where(pending, "PendingAcceptance", "Accepted"), dtype="str"
            ),
            "external_user_state_changed": created + pd.Timedelta(hours=2),
            "account_enabled": pd.Series(rng.random(n) >= 0.04, dtype="boolean"),
            "created": created,
            "license_count": pd.Series(rng.integers(0, 2, n), dtype="Int64"),
            "last_sign_in": pd.Series(pd.NaT, index=idx, dtype="datetime64[us, UTC]"),
            "is_external_member": rng.random(n) < 0.01,
            "user_principal_name": pd.Series(upn, dtype="str"),
            "original_upn": pd.Series(upn, dtype="str"),
            "original_upn_ok": np.ones(n, dtype=bool),
            "provisioning_upn": pd.Series(mail, dtype="str"),
            "mail": mail_col,
            "mail_domain": pd.Series(domain, dtype="str").mask(pd.Series(no_mail), None),
            "other_mails": pd.Series([[m] if i % 7 == 0 else [] for i, m in enumerate(mail)]),
            "proxy_addresses": pd.Series([[f"SMTP:{m}"] for m in mail]),
            "primary_smtp": pd.Series(mail, dtype="str"),
            "mail_domain_public": is_public,
            "mail_state": pd.Series(
                rng.choice(
                    np.array(["deliverable", "nxdomain", "null_mx", "unknown"], dtype=object),
                    n,
                    p=[0.95, 0.02, 0.01, 0.02],
                ),
                dtype="str",
            ),
            "domain_claimed_elsewhere": pd.Series(rng.random(n) < 0.02, dtype="boolean"),
            "target_key": pd.Series(mail, dtype="str"),
            "target_email": mail_col.copy(),
            "target_email_domain": pd.Series(domain, dtype="str"),
            "target_domain_verified": pd.Series(rng.random(n) >= 0.55, dtype="boolean"),
            "whatif_target_key": pd.Series(mail, dtype="str"),
            "whatif_target_email": pd.Series(upn, dtype="str"),
            "whatif_target_email_domain": pd.Series([INITIAL_DOMAIN] * n, dtype="str"),
            "whatif_domain_verified": pd.Series([pd.NA] * n, dtype="boolean"),
            "scope": pd.Series(scope, dtype="str"),
            "mu_present": pd.Series([pd.NA] * n, dtype="boolean"),
            "mu_primary_smtp": pd.Series([None] * n, dtype="str"),
            "mu_external_email": pd.Series([None] * n, dtype="str"),
            "mu_email_addresses": pd.Series([[] for _ in idx]),
            "last_prov_status": pd.Series([None] * n, dtype="str"),
            "last_prov_action": pd.Series([None] * n, dtype="str"),
            "last_prov_error": pd.Series([None] * n, dtype="str"),
            "last_prov_time": pd.Series(pd.NaT, index=idx, dtype="datetime64[us, UTC]"),
        }
    )
    return frame


def _guid_tail(i: int) -> str:
    """The last group of a fake GUID."""
    return f"{(i * 2654435761) % (16**12):012x}"


def _findings(guests: pd.DataFrame, rng: np.random.Generator, hostile: bool) -> pd.DataFrame:
    """Flagged and muted findings: each guest-level rule hits a random share of guests."""
    n = len(guests)
    parts = []
    for rule_id, severity, _level, _title, _source in CATALOGUE:
        share = _PROBABILITY.get(rule_id)
        if share is None:
            continue
        hit = np.flatnonzero(rng.random(n) < share)
        if rule_id == "not-in-scope":
            hit = np.flatnonzero((guests["scope"] == "none").to_numpy())
        if rule_id == "mail-missing":
            hit = np.flatnonzero(guests["mail"].isna().to_numpy())
        sub = guests.iloc[hit]
        muted = rng.random(len(hit)) < 0.05
        parts.append(
            pd.DataFrame(
                {
                    "rule_id": rule_id,
                    "severity": severity,
                    "status": np.where(muted, "muted", "flagged"),
                    "object_id": sub["object_id"].to_numpy(),
                    "user_principal_name": sub["user_principal_name"].to_numpy(),
                    "display_name": sub["display_name"].to_numpy(),
                    "mail": sub["mail"].to_numpy(),
                    "domain": sub["mail_domain"].to_numpy(),
                    "detail": [f"{rule_id}: mail={m}" for m in sub["mail"].fillna("")],
                    "level": "guest",
                    "muted_by": np.where(
                        muted, "Approved by J. Doe (CHG-1234) until 2026-01-31", ""
                    ),
                }
            )
        )
    parts.append(_app_finding())
    findings = pd.concat(parts, ignore_index=True)
    for name in (
        "rule_id",
        "severity",
        "status",
        "object_id",
        "user_principal_name",
        "display_name",
        "mail",
        "domain",
        "detail",
        "level",
        "muted_by",
    ):
        findings[name] = findings[name].astype("str")
    if hostile and len(findings) > 1:
        findings.loc[0, "detail"] = "-1+1 <script>alert('detail')</script> =SUM(A1)"
    return findings


def _app_finding() -> pd.DataFrame:
    """The tenant-level finding on the app object."""
    return pd.DataFrame(
        {
            "rule_id": ["mapping-sends-external-address"],
            "severity": ["high"],
            "status": ["flagged"],
            "object_id": ["bbbbbbbb-0000-0000-0000-000000000002"],
            "user_principal_name": [None],
            "display_name": ["Atlassian Cloud"],
            "mail": [None],
            "domain": [None],
            "detail": ['emails[type eq "work"].value = [mail]'],
            "level": ["app"],
            "muted_by": [""],
        }
    )


def _outcomes(guests: pd.DataFrame, findings: pd.DataFrame) -> pd.DataFrame:
    """Outcomes derived from the open guest findings, the way the analysis decides them."""
    open_ = findings[(findings["status"] == "flagged") & (findings["level"] == "guest")]
    by_guest = open_.groupby("object_id")["rule_id"].agg(list)
    reasons = guests["object_id"].map(by_guest)
    outcome, why, w_outcome, w_why = [], [], [], []
    for rules, state in zip(reasons, guests["mail_state"], strict=True):
        rules = rules if isinstance(rules, list) else []
        o, r = _decide(rules, state)
        outcome.append(o)
        why.append(r)
        wr = [x for x in rules if x not in ("domain-unverified", "public-mail-domain")]
        wo, wr2 = _decide(wr, state)
        w_outcome.append(wo)
        w_why.append(wr2)
    return pd.DataFrame(
        {
            "object_id": guests["object_id"],
            "outcome": pd.Series(outcome, dtype="str"),
            "reasons": why,
            "whatif_outcome": pd.Series(w_outcome, dtype="str"),
            "whatif_reasons": w_why,
        }
    )


def _decide(rules: list[str], mail_state: str) -> tuple[str, list[str]]:
    """Outcome and deciding rules for one guest."""
    if "not-in-scope" in rules:
        return Outcome.OUT_OF_SCOPE.value, ["not-in-scope"]
    blockers = [r for r in rules if r in _BLOCKERS]
    if blockers:
        return Outcome.BLOCKED.value, blockers
    if "domain-unverified" in rules:
        return Outcome.UNMANAGED.value, ["domain-unverified"]
    if mail_state == "unknown":
        return Outcome.UNKNOWN.value, ["mail-domain-undeliverable"]
    return Outcome.READY.value, []


def _rules(findings: pd.DataFrame, n: int) -> pd.DataFrame:
    """One row per catalogue rule with counts; rules needing a failed source are skipped."""
    rows = []
    skipped = {
        "prov": "source provisioning_logs failed: 403, missing AuditLog.Read.All",
        "mailusers": "source mailusers not requested (no Get-MailUser export given)",
        "signin": "signInActivity not collected (needs AuditLog.Read.All)",
    }
    counts = findings.groupby(["rule_id", "status"]).size()
    for rule_id, severity, level, title, source in CATALOGUE:
        reason = skipped.get(source, "")
        flagged = int(counts.get((rule_id, "flagged"), 0))
        muted = int(counts.get((rule_id, "muted"), 0))
        total = 1 if level == "app" else n
        not_eval = (
            0 if reason else int(total * 0.01) if rule_id == "mail-domain-undeliverable" else 0
        )
        rows.append(
            {
                "rule_id": rule_id,
                "title": title,
                "severity": severity,
                "level": level,
                "state": "skipped" if reason else "ran",
                "reason": reason,
                "flagged": 0 if reason else flagged,
                "passed": 0 if reason else max(total - flagged - muted - not_eval, 0),
                "not_evaluated": not_eval,
                "muted": 0 if reason else muted,
                "rationale": f"Why {rule_id} matters: the target needs a working address <b>.",
                "remediation": f"Fix {rule_id}: Update-MgUser -UserId <id> -Mail 'x@y' & re-run.",
            }
        )
    frame = pd.DataFrame(rows)
    for name in ("flagged", "passed", "not_evaluated", "muted"):
        frame[name] = frame[name].astype("int64")
    return frame


def _domains(guests: pd.DataFrame, findings: pd.DataFrame) -> pd.DataFrame:
    """One row per mail domain: guests, affected guests and DNS facts."""
    affected_ids = set(findings.loc[findings["status"] == "flagged", "object_id"])
    g = guests.assign(affected=guests["object_id"].isin(affected_ids))
    agg = g.groupby("mail_domain").agg(
        guests=("object_id", "size"),
        affected=("affected", "sum"),
        public_provider=("mail_domain_public", "first"),
        mail_state=("mail_state", "first"),
    )
    agg = agg.reset_index().rename(columns={"mail_domain": "domain"})
    n = len(agg)
    verified = pd.Series([pd.NA] * n, dtype="boolean")
    verified.iloc[: n // 3] = True
    verified.iloc[n // 3 : 2 * n // 3] = False
    agg["verified_in_target"] = verified
    agg["claimed_elsewhere"] = pd.Series([False] * n, dtype="boolean")
    agg["mx"] = pd.Series([f"mx1.{d}" for d in agg["domain"]], dtype="str")
    agg["txt_state"] = pd.Series(["found"] * n, dtype="str")
    agg["guests"] = agg["guests"].astype("int64")
    agg["affected"] = agg["affected"].astype("int64")
    cols = [
        "domain",
        "guests",
        "affected",
        "verified_in_target",
        "claimed_elsewhere",
        "public_provider",
        "mail_state",
        "mx",
        "txt_state",
    ]
    return agg[cols]


def _sources(n: int, hostile: bool) -> list[SourceStatus]:
    """Source statuses: one failed with a missing permission, one not requested."""
    error = "403 Forbidden <script>alert('err')</script>" if hostile else "403 Forbidden"
    return [
        SourceStatus("organization", SourceState.OK, rows=1),
        SourceStatus("domains", SourceState.OK, rows=3),
        SourceStatus("users", SourceState.OK, rows=n),
        SourceStatus("service_principal", SourceState.OK, rows=1),
        SourceStatus("app_role_assignments", SourceState.OK, rows=12),
        SourceStatus("group_members", SourceState.OK, rows=max(n // 2, 1)),
        SourceStatus("synchronization_schema", SourceState.OK, rows=1),
        SourceStatus(
            "provisioning_logs",
            SourceState.FAILED,
            error=error,
            missing_permission="AuditLog.Read.All",
            detail={"status": 403},
        ),
        SourceStatus("mailusers", SourceState.NOT_REQUESTED),
        SourceStatus(
            "dns", SourceState.PARTIAL, rows=max(n // 10, 1), error="12 lookups timed out"
        ),
    ]


def _whatif(outcomes: pd.DataFrame) -> WhatIf:
    """The recommended-mapping re-evaluation summary."""
    before = {o.value: int((outcomes["outcome"] == o.value).sum()) for o in Outcome}
    after = {o.value: int((outcomes["whatif_outcome"] == o.value).sum()) for o in Outcome}
    return WhatIf(
        description=f"send originalUserPrincipalName on {INITIAL_DOMAIN} as the work e-mail",
        precondition=f"{INITIAL_DOMAIN} is verified in Atlassian",
        precondition_met=None,
        before=before,
        after=after,
        newly_ready=after["ready"] - before["ready"],
    )
