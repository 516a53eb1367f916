"""Tests of the demo tenant generator and its Graph JSON export folder.

Besides shapes and determinism, ``test_expected_matches_the_data`` re-derives each rule's verdict
from the generated JSON with a plain reference check per rule (under the conventions documented in
``audit/demo/tenant.py``) and compares it with ``expected``: the generator's oracle must agree with
its own data for every guest, clean twins included.
"""

from __future__ import annotations

import csv
import re
from collections import Counter
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from functools import cache
from pathlib import Path
from typing import Any

import orjson
import pytest
from email_validator import EmailNotValidError, validate_email

import audit.demo.tenant as tenant_module
from audit.demo.model import DemoTenant
from audit.demo.tenant import (
    APP_RULE_IDS,
    CASES,
    GUEST_RULE_IDS,
    generate_labelled,
    generate_tenant,
    write_export,
)
from audit.demo.tenant_domains import SPECIAL_DOMAINS, VENDOR_PREFIX
from audit.demo.tenant_users import MAILUSER_COLUMNS
from audit.demo.tenant_words import HOSTILE_NAMES, PUBLIC_DOMAINS

NOW = datetime(2025, 6, 1, 12, 0, tzinfo=UTC)
INITIAL = "contosodemo.onmicrosoft.com"
DEFAULT = "contoso-demo.com"
GUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}")
JSON = dict[str, Any]


@cache
def _default() -> tuple[DemoTenant, dict[str, str]]:
    return generate_labelled(500, 60, seed=0, now=NOW)


@pytest.fixture
def demo() -> DemoTenant:
    return _default()[0]


@pytest.fixture
def labels() -> dict[str, str]:
    return _default()[1]


def _guests(t: DemoTenant) -> list[JSON]:
    return [u for u in t.users if u["id"] in t.expected]


def _time(value: str) -> datetime:
    return datetime.strptime(value, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)


def test_same_arguments_give_the_same_tenant() -> None:
    assert generate_tenant(300, 40, seed=7, now=NOW) == generate_tenant(300, 40, seed=7, now=NOW)


def test_another_seed_gives_another_tenant() -> None:
    a, b = generate_tenant(300, 40, seed=1, now=NOW), generate_tenant(300, 40, seed=2, now=NOW)
    assert a.organization["id"] != b.organization["id"]
    assert {u["id"] for u in a.users}.isdisjoint(u["id"] for u in b.users)
    assert [u["mail"] for u in a.users] != [u["mail"] for u in b.users]


def test_default_now_is_the_start_of_the_utc_day() -> None:
    t = generate_tenant(100, 30)
    today = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    latest = max(
        _time(u["signInActivity"]["lastSignInDateTime"]) for u in t.users if "signInActivity" in u
    )
    assert today - timedelta(days=1) < latest <= today


@pytest.mark.parametrize(("guests", "domains"), [(500, 60), (1200, 80), (250, 30)])
def test_sizes(guests: int, domains: int) -> None:
    t = generate_tenant(guests, domains, now=NOW)
    assert len(t.expected) == guests
    external = set(t.dns) - {INITIAL, "contoso-demo.com"}
    assert len(external) == domains
    members = [u for u in t.users if u["id"] not in t.expected]
    assert 1 <= len(members) <= 10
    assert all(u["userType"] == "Member" and u["creationType"] is None for u in members)


def test_small_requests_still_hold_every_case() -> None:
    t, labels = generate_labelled(10, 5, now=NOW)
    assert {c.name for c in CASES} <= set(labels.values())
    assert len(t.dns) - 2 == 17


def test_every_rule_occurs_twice_and_has_a_clean_twin(demo: DemoTenant) -> None:
    counts = Counter(rule for found in demo.expected.values() for rule in found)
    assert set(counts) == GUEST_RULE_IDS
    assert min(counts.values()) >= 2
    twinned = {rule for case in CASES for rule in case.twin_of}
    assert twinned == GUEST_RULE_IDS
    assert APP_RULE_IDS.isdisjoint(counts)


def test_cases_trip_their_rules_and_twins_stay_clean(
    demo: DemoTenant, labels: dict[str, str]
) -> None:
    by_case: dict[str, list[str]] = {}
    for uid, label in labels.items():
        by_case.setdefault(label, []).append(uid)
    for case in CASES:
        uids = by_case[case.name]
        assert len(uids) >= 2, case.name
        for uid in uids:
            assert case.rules <= demo.expected[uid], case.name
            assert not case.twin_of & demo.expected[uid], case.name


def test_clean_guests_exist(demo: DemoTenant, labels: dict[str, str]) -> None:
    clean = [uid for uid, found in demo.expected.items() if not found]
    assert len(clean) > 40
    hostile = [uid for uid, label in labels.items() if label == "hostile-name"]
    assert all(not demo.expected[uid] for uid in hostile)
    names = {u["displayName"] for u in demo.users if u["id"] in hostile}
    assert names == set(HOSTILE_NAMES)


def test_docstring_table_names_every_case(labels: dict[str, str]) -> None:
    doc = tenant_module.__doc__ or ""
    for label in set(labels.values()):
        assert re.search(rf"^{re.escape(label)}\s", doc, re.MULTILINE), label


def test_users_have_graph_shapes(demo: DemoTenant) -> None:
    required = {
        "id",
        "displayName",
        "userPrincipalName",
        "userType",
        "mail",
        "accountEnabled",
        "createdDateTime",
        "creationType",
        "identities",
        "otherMails",
        "proxyAddresses",
        "assignedLicenses",
        "mailNickname",
        "externalUserState",
    }
    ids = [u["id"] for u in demo.users]
    assert len(set(ids)) == len(ids)
    upns = [u["userPrincipalName"].lower() for u in demo.users]
    assert len(set(upns)) == len(upns)
    for user in demo.users:
        assert required <= user.keys()
        assert GUID.fullmatch(user["id"])
        assert _time(user["createdDateTime"]) < NOW
        assert user["mailNickname"] == user["userPrincipalName"].rpartition("@")[0]
        for identity in user["identities"]:
            assert identity.keys() == {"signInType", "issuer", "issuerAssignedId"}
        activity = user.get("signInActivity")
        if activity is not None:
            assert _time(activity["lastSignInDateTime"]) <= NOW
            assert GUID.fullmatch(activity["lastSignInRequestId"])


def test_guests_look_invited(demo: DemoTenant) -> None:
    for user in _guests(demo):
        assert user["creationType"] == "Invitation"
        assert user["userType"] in ("Guest", "Member")
        assert user["externalUserState"] in ("Accepted", "PendingAcceptance")
        changed = _time(user["externalUserStateChangeDateTime"])
        assert _time(user["createdDateTime"]) <= changed < NOW
        if user["externalUserState"] == "PendingAcceptance":
            assert "signInActivity" not in user
            assert [i["issuer"] for i in user["identities"]] == [INITIAL]


def test_bulk_guests_follow_the_invitation_pattern(
    demo: DemoTenant, labels: dict[str, str]
) -> None:
    for user in demo.users:
        if labels.get(user["id"]) != "bulk":
            continue
        mail = user["mail"]
        alias, _, domain = mail.rpartition("@")
        assert user["userPrincipalName"] == f"{alias}_{domain}#EXT#@{INITIAL}"
        assert user["otherMails"] == [mail]
        assert user["proxyAddresses"] == [f"SMTP:{mail}"]
        assert user["accountEnabled"] is True
        assert user["assignedLicenses"] == []
        last = _time(user["signInActivity"]["lastSignInDateTime"])
        assert NOW - timedelta(days=31) < last


def _address_domains(user: JSON) -> set[str]:
    upn = user["userPrincipalName"]
    prefix, ext, _ = upn.partition("#EXT#")
    addresses = [user["mail"] or "", *user["otherMails"], *(p[5:] for p in user["proxyAddresses"])]
    addresses.append(prefix[::-1].replace("_", "@", 1)[::-1] if ext else upn)
    return {a.rpartition("@")[2].encode("idna").decode().lower() for a in addresses if "@" in a}


def test_every_address_domain_has_a_zone_entry(demo: DemoTenant) -> None:
    used = set().union(*(_address_domains(u) for u in demo.users))
    assert used <= demo.dns.keys()
    assert used >= set(demo.dns) - {INITIAL}  # every external domain is used at the default size
    assert all(name == name.lower() and name.isascii() for name in demo.dns)
    special_use = (".example", ".test", ".invalid", ".local", ".localhost")
    assert not [d for d in demo.dns if d.endswith(special_use)]


def test_dns_pathologies(demo: DemoTenant) -> None:
    zone = demo.dns
    assert zone[SPECIAL_DOMAINS["nxdomain"]].nxdomain
    assert zone[SPECIAL_DOMAINS["null_mx"]].mx == [(0, ".")]
    no_mail = zone[SPECIAL_DOMAINS["no_mail"]]
    assert not no_mail.mx
    assert not no_mail.a
    assert not no_mail.aaaa
    assert not no_mail.nxdomain
    fallback = zone[SPECIAL_DOMAINS["a_only"]]
    assert not fallback.mx
    assert fallback.a
    assert fallback.aaaa
    assert zone[SPECIAL_DOMAINS["unanswered"]].unanswered
    assert zone[SPECIAL_DOMAINS["servfail"]].servfail
    assert "xn--bcher-partner-wob.de" in zone
    assert "xn--bcher-partner-wob.de" in demo.verified_in_target


def test_verification_records(demo: DemoTenant) -> None:
    (ours,) = demo.verification_tokens
    assert demo.verified_in_target[:2] == [INITIAL, "contoso-demo.com"]
    for name in demo.verified_in_target[1:]:
        assert ours in demo.dns[name].txt, name
    claimed = [
        n
        for n, e in demo.dns.items()
        if any(t.startswith(VENDOR_PREFIX) and t != ours for t in e.txt)
    ]
    assert len(claimed) >= 2
    assert not set(claimed) & set(demo.verified_in_target)
    others = [
        n
        for n, e in demo.dns.items()
        if any(t.startswith("google-site-verification=") for t in e.txt)
    ]
    assert others


# ---- the oracle, re-derived from the data -------------------------------------------------------


class _View:
    """Per-guest facts read back from the generated JSON, for the reference checks."""

    def __init__(self, t: DemoTenant) -> None:
        self.t = t
        self.mailusers = {r["ExternalDirectoryObjectId"]: r for r in t.mailusers}
        sp = t.service_principals[0]["id"]
        direct = {
            a["principalId"] for a in t.app_role_assignments[sp] if a["principalType"] == "User"
        }
        groups = {
            a["principalId"]
            for a in t.app_role_assignments[sp]
            if a["principalType"] == "Group" and t.groups[a["principalId"]]["securityEnabled"]
        }
        in_groups = {
            m["id"]
            for g in groups
            for m in t.group_members[g]
            if m["@odata.type"] == "#microsoft.graph.user"
        }
        nested = {
            m["id"]
            for g in groups
            for m in t.group_members[g]
            if m["@odata.type"] == "#microsoft.graph.group"
        }
        in_nested = {m["id"] for g in nested for m in t.group_members[g]}
        self.in_scope = direct | in_groups
        self.nested_only = in_nested - self.in_scope
        latest: dict[str, JSON] = {}
        for entry in t.provisioning_logs:
            uid = entry["sourceIdentity"]["id"]
            if uid not in latest or entry["activityDateTime"] > latest[uid]["activityDateTime"]:
                latest[uid] = entry
        self.latest = latest
        mails = Counter(u["mail"].lower() for u in t.users if u["mail"] and self.provisioned(u))
        self.duplicated = {m for m, n in mails.items() if n > 1}
        self.public = {d for d, _, _ in PUBLIC_DOMAINS}
        self.held_by_other = _held_by_others(t)

    def provisioned(self, user: JSON) -> bool:
        """In scope for the engine: assigned, enabled, and let in by the scoping filter."""
        return user["id"] in self.in_scope and user["accountEnabled"] and not _filtered(user)


def _held_by_others(t: DemoTenant) -> set[str]:
    """Guests' mails a SCIM user of the target holds that is not that guest (by externalId or
    userName = the de-mangled UPN): the mails ``target-email-conflict`` must flag."""
    org = t.atlassian
    if org is None:
        return set()
    guests = {u["id"]: u for u in _guests(t)}
    names = {_demangled(u["userPrincipalName"]).lower(): uid for uid, u in guests.items()}
    taken = set()
    for user in org.scim_users:
        holds = user.get("externalId") if user.get("externalId") in guests else None
        holds = holds or names.get(user["userName"].lower())
        for email in user["emails"]:
            for uid, guest in guests.items():
                if uid != holds and (guest["mail"] or "").lower() == email["value"].lower():
                    taken.add(uid)
    return taken


def _filtered(user: JSON) -> bool:
    """The demo job's scoping filter: ``displayName NOT REGEX MATCH ^TEST-.*$``."""
    return re.fullmatch(r"TEST-.*", user["displayName"] or "") is not None


def _domain(user: JSON) -> str:
    return str(user["mail"]).rpartition("@")[2].encode("idna").decode().lower()


def _primary(user: JSON) -> str | None:
    return next((p[5:] for p in user["proxyAddresses"] if p.startswith("SMTP:")), None)


def _addresses(user: JSON) -> list[str]:
    primary = _primary(user)
    return [a for a in [user["mail"], *user["otherMails"], primary] if a is not None]


def _invalid(address: str) -> bool:
    try:
        validate_email(address, check_deliverability=False, allow_smtputf8=True)
    except EmailNotValidError:
        return True
    return False


def _too_long(address: str) -> bool:
    return len(address.rpartition("@")[0]) > 64 or len(address) > 254


def _undeliverable(v: _View, user: JSON) -> bool:
    entry = v.t.dns[_domain(user)]
    if entry.unanswered or entry.servfail:
        return False
    return entry.nxdomain or entry.mx == [(0, ".")] or not (entry.mx or entry.a or entry.aaaa)


def _dns_unknown(v: _View, user: JSON) -> bool:
    entry = v.t.dns[_domain(user)]
    return entry.unanswered or entry.servfail


def _claimed(v: _View, user: JSON) -> bool:
    entry = v.t.dns[_domain(user)]
    if entry.unanswered or entry.servfail or entry.nxdomain:
        return False
    ours = set(v.t.verification_tokens)
    return any(t.startswith(VENDOR_PREFIX) and t not in ours for t in entry.txt)


def _demangled(upn: str) -> str:
    prefix, ext, _ = upn.partition("#EXT#")
    return prefix[::-1].replace("_", "@", 1)[::-1] if ext else upn


def _forwarding_broken(v: _View, user: JSON) -> bool:
    row = v.mailusers.get(user["id"])
    if row is None or user["mail"] is None:
        return False
    addresses = {a.split(":", 1)[1].lower() for a in row["EmailAddresses"].split(";")}
    upn_missing = user["userPrincipalName"].lower() not in addresses
    return upn_missing or row["ExternalEmailAddress"] != f"SMTP:{user['mail']}"


def _stale(user: JSON) -> bool:
    activity = user.get("signInActivity") or {}
    last = activity.get("lastSignInDateTime") or user["createdDateTime"]
    return NOW - _time(last) > timedelta(days=90)


_UPN_OK = re.compile(r"[A-Za-z0-9'.\-_!#^~]+@[A-Za-z0-9'.\-_!#^~]+")
Check = Callable[[_View, JSON], bool]
CHECKS: dict[str, Check] = {
    "domain-unverified": lambda v, u: (
        bool(u["mail"]) and _domain(u) not in v.t.verified_in_target and not _dns_unknown(v, u)
    ),
    "public-mail-domain": lambda v, u: bool(u["mail"]) and _domain(u) in v.public,
    "original-upn-missing": lambda v, u: (
        not re.fullmatch(
            rf"[^@#]+_[^@#_]+#EXT#@({re.escape(INITIAL)}|{re.escape(DEFAULT)})",
            u["userPrincipalName"],
            re.IGNORECASE,
        )
    ),
    "mail-missing": lambda v, u: not u["mail"],
    "address-invalid": lambda v, u: any(_invalid(a) for a in _addresses(u)),
    "address-too-long": lambda v, u: any(_too_long(a) for a in _addresses(u)),
    "address-non-ascii": lambda v, u: any(not a.isascii() for a in _addresses(u)),
    "mail-domain-undeliverable": lambda v, u: bool(u["mail"]) and _undeliverable(v, u),
    "pending-acceptance": lambda v, u: u["externalUserState"] == "PendingAcceptance",
    "account-disabled": lambda v, u: u["accountEnabled"] is False,
    "upn-mail-mismatch": lambda v, u: (
        bool(u["mail"]) and _demangled(u["userPrincipalName"]).lower() != u["mail"].lower()
    ),
    "duplicate-target-key": lambda v, u: (
        v.provisioned(u) and bool(u["mail"]) and u["mail"].lower() in v.duplicated
    ),
    "scoping-filter": lambda v, u: _filtered(u),
    "nested-group-only": lambda v, u: u["id"] in v.nested_only,
    "not-in-scope": lambda v, u: u["id"] not in v.in_scope and u["id"] not in v.nested_only,
    "primary-smtp-mismatch": lambda v, u: (
        _primary(u) is None or (bool(u["mail"]) and str(_primary(u)).lower() != u["mail"].lower())
    ),
    "exo-not-mail-enabled": lambda v, u: u["id"] not in v.mailusers,
    "exo-forwarding-broken": _forwarding_broken,
    "domain-claimed-elsewhere": lambda v, u: bool(u["mail"]) and _claimed(v, u),
    "prior-provisioning-failure": lambda v, u: (
        u["id"] in v.latest
        and v.latest[u["id"]]["provisioningStatusInfo"]["status"] in ("failure", "skipped")
    ),
    "upn-invalid": lambda v, u: (
        len(u["userPrincipalName"]) > 113
        or len(u["userPrincipalName"].rpartition("@")[0]) > 64
        or not _UPN_OK.fullmatch(u["userPrincipalName"])
    ),
    "guest-licensed": lambda v, u: bool(u["assignedLicenses"]),
    "external-member": lambda v, u: u["userType"] == "Member",
    "stale-guest": lambda v, u: _stale(u),
    "target-email-conflict": lambda v, u: u["id"] in v.held_by_other,
}


def test_checks_cover_the_catalogue() -> None:
    assert set(CHECKS) == GUEST_RULE_IDS


@pytest.mark.parametrize("guests", [500, 2600])
def test_expected_matches_the_data(guests: int) -> None:
    t = _default()[0] if guests == 500 else generate_tenant(guests, 70, seed=3, now=NOW)
    view = _View(t)
    wrong = []
    for user in _guests(t):
        derived = {rule for rule, check in CHECKS.items() if check(view, user)}
        if derived != t.expected[user["id"]]:
            wrong.append((user["userPrincipalName"], derived ^ t.expected[user["id"]]))
    assert not wrong, wrong[:5]


# ---- app side ----------------------------------------------------------------------------------


def test_service_principal_and_assignments(demo: DemoTenant) -> None:
    (sp,) = demo.service_principals
    assert sp["displayName"] == "Atlassian Cloud"
    assert sp["servicePrincipalType"] == "Application"
    user_role = next(r for r in sp["appRoles"] if r["displayName"] == "User")
    assigned = demo.app_role_assignments[sp["id"]]
    assert {a["principalType"] for a in assigned} == {"User", "Group"}
    assert all(a["appRoleId"] == user_role["id"] and a["resourceId"] == sp["id"] for a in assigned)
    groups = [a["principalId"] for a in assigned if a["principalType"] == "Group"]
    assert len(groups) == 3
    assert set(groups) < demo.groups.keys()
    assert demo.group_members.keys() == demo.groups.keys()
    nested = [
        m
        for g in groups
        for m in demo.group_members[g]
        if m["@odata.type"] == "#microsoft.graph.group"
    ]
    assert len(nested) == 1
    assert nested[0]["id"] not in groups
    assert demo.group_members[nested[0]["id"]]
    security = [g for g in demo.groups.values() if g["securityEnabled"]]
    assert all(not g["mailEnabled"] for g in security)
    (m365,) = [g for g in demo.groups.values() if not g["securityEnabled"]]
    assert m365["groupTypes"] == ["Unified"]
    assert m365["mailEnabled"]


def test_job_and_default_mapping(demo: DemoTenant) -> None:
    sp = demo.service_principals[0]["id"]
    (job,) = demo.sync_jobs[sp]
    assert job["templateId"]
    assert job["status"]["code"] == "Active"
    schema = demo.sync_schemas[job["id"]]
    user_mapping = schema["synchronizationRules"][0]["objectMappings"][0]
    assert user_mapping["sourceObjectName"] == "User"
    by_target = {m["targetAttributeName"]: m for m in user_mapping["attributeMappings"]}
    assert by_target['emails[type eq "work"].value']["source"]["expression"] == "[mail]"
    assert by_target["userName"]["source"]["expression"] == "[userPrincipalName]"
    assert by_target["userName"]["matchingPriority"] == 1
    assert by_target["active"]["source"]["expression"] == (
        'Switch([IsSoftDeleted], , "False", "True", "True", "False")'
    )
    assert by_target["name.givenName"]["source"]["expression"] == "[givenName]"
    assert by_target["name.familyName"]["source"]["expression"] == "[surname]"
    group_mapping = schema["synchronizationRules"][0]["objectMappings"][1]
    assert group_mapping["sourceObjectName"] == "Group"


def test_provisioning_logs(demo: DemoTenant, labels: dict[str, str]) -> None:
    logs = demo.provisioning_logs
    assert {e["provisioningStatusInfo"]["status"] for e in logs} == {
        "success",
        "failure",
        "skipped",
    }
    for entry in logs:
        assert NOW - timedelta(days=30) <= _time(entry["activityDateTime"]) <= NOW
        assert entry["sourceIdentity"]["id"] in demo.expected
        failed = entry["provisioningStatusInfo"]["status"] == "failure"
        assert (entry["provisioningStatusInfo"]["errorInformation"] is not None) == failed
    times = [e["activityDateTime"] for e in logs]
    assert times == sorted(times, reverse=True)
    recovered = [u for u, label in labels.items() if label == "prov-recovered"]
    history = [
        e["provisioningStatusInfo"]["status"]
        for e in reversed(logs)
        if e["sourceIdentity"]["id"] == recovered[0]
    ]
    assert history == ["failure", "success"]


def test_mailuser_rows(demo: DemoTenant) -> None:
    users = {u["id"]: u for u in demo.users}
    for row in demo.mailusers:
        assert tuple(row) == MAILUSER_COLUMNS
        user = users[row["ExternalDirectoryObjectId"]]
        assert row["UserPrincipalName"] == user["userPrincipalName"]
        assert row["RecipientTypeDetails"] == "GuestMailUser"
        assert row["HiddenFromAddressListsEnabled"] == "True"


# ---- export ------------------------------------------------------------------------------------


def _read(path: Path) -> Any:
    return orjson.loads(path.read_bytes())


def test_write_export_pages_users(demo: DemoTenant, tmp_path: Path) -> None:
    write_export(demo, tmp_path, page_size=200)
    pages = sorted(tmp_path.glob("users.*.json"))
    assert [p.name for p in pages] == ["users.0001.json", "users.0002.json", "users.0003.json"]
    bodies = [_read(p) for p in pages]
    assert [u["id"] for b in bodies for u in b["value"]] == [u["id"] for u in demo.users]
    assert "@odata.nextLink" in bodies[0]
    assert "@odata.nextLink" not in bodies[-1]
    assert not (tmp_path / "users.json").exists()


def test_write_export_folder(demo: DemoTenant, tmp_path: Path) -> None:
    write_export(demo, tmp_path)
    assert _read(tmp_path / "users.json")["value"] == demo.users
    assert _read(tmp_path / "organization.json")["value"] == [demo.organization]
    assert _read(tmp_path / "domains.json")["value"] == demo.domains
    assert _read(tmp_path / "servicePrincipal.json")["value"] == demo.service_principals
    sp = demo.service_principals[0]["id"]
    assigned = _read(tmp_path / "appRoleAssignedTo.json")["value"]
    assert assigned == demo.app_role_assignments[sp]
    for group_id, members in demo.group_members.items():
        assert _read(tmp_path / "groupMembers" / f"{group_id}.json")["value"] == members
    schema = _read(tmp_path / "synchronizationSchema.json")
    assert schema == demo.sync_schemas[demo.sync_jobs[sp][0]["id"]]
    assert "value" not in schema
    assert _read(tmp_path / "provisioningLogs.json")["value"] == demo.provisioning_logs
    assert not (tmp_path / "dns.json").exists()


def test_mailusers_csv_is_written_like_export_csv(demo: DemoTenant, tmp_path: Path) -> None:
    write_export(demo, tmp_path)
    raw = (tmp_path / "mailusers.csv").read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf")
    lines = raw[3:].split(b"\r\n")
    assert lines[-1] == b""
    assert all(b"\n" not in line for line in lines)
    assert lines[0] == b",".join(b'"%s"' % c.encode() for c in MAILUSER_COLUMNS)
    assert all(line.startswith(b'"') and line.endswith(b'"') for line in lines[:-1])
    with (tmp_path / "mailusers.csv").open(encoding="utf-8-sig", newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert rows == demo.mailusers
    assert {r["DisplayName"] for r in rows} >= set(HOSTILE_NAMES)
    assert any(";" in r["EmailAddresses"] for r in rows)


def test_write_export_rejects_bad_page_sizes(demo: DemoTenant, tmp_path: Path) -> None:
    for size in (0, 1000):
        with pytest.raises(ValueError, match="page_size"):
            write_export(demo, tmp_path, page_size=size)
