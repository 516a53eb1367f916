"""``evolve_tenant``: the demo tenant some months later, for monthly-compliance examples and tests.

A month is 30 days. Each month the clock moves on (provisioning-log entries and the job's last cycle
move with it, active guests sign in again, the others age towards ``stale-guest``) and the tenant
changes the way real ones do:

- **added**: new guests invited on domains already in use, a third of them not yet redeemed;
- **removed**: a few guests leave (their MailUser row, memberships and log entries go too);
- **fixed**: about a quarter of each kind of open problem an operations team can fix (account
  enabled, invitation redeemed, ``mail`` set, Exchange forwarding repaired, guest assigned to the
  app, licence removed, external member turned back into a guest, provisioning retried
  successfully) and a fifth of the stale guests sign in again;
- **broken**: accounts disabled, a guest invited twice under another alias (a new duplicate),
  ``mail`` changed to a new alias, Exchange forwarding pointed at the guest's own ``#EXT#`` address.

Month ``i``'s changes are drawn from ``random.Random(f"{seed}:{i}")``, so
``evolve_tenant(t, 2, seed=s)`` is ``evolve_tenant(t, 1, seed=s)`` plus one more month: consecutive
months form one consistent history. ``expected`` (user id -> rule ids that must flag the guest, see
:mod:`audit.demo.tenant`) is kept true: each change states which rule ids it adds or removes, and
``stale-guest`` is re-derived from the new clock. Changes only touch guests whose other findings they
cannot disturb (no address shared with another guest, for instance), so the oracle stays exact.
"""

from __future__ import annotations

import calendar
import copy
import math
import random
import time
from collections import Counter
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

from audit.demo.model import DemoTenant
from audit.demo.tenant_spec import DAY
from audit.demo.tenant_users import ts
from audit.demo.tenant_words import FIRST_NAMES, LAST_NAMES

__all__ = ["DOMAIN_RULES", "MONTH", "evolve_tenant", "tenant_clock"]

JSON = dict[str, Any]
MONTH = timedelta(days=30)
#: Rule ids decided by the guest's mail domain alone: every guest with mail on a domain shares them.
DOMAIN_RULES = frozenset(
    {
        "domain-unverified",
        "public-mail-domain",
        "domain-claimed-elsewhere",
        "mail-domain-undeliverable",
    }
)
_STALE_DAYS = 90
_JOB_LAG = 600  # the demo job's last cycle began ten minutes before the tenant's "now"


def evolve_tenant(tenant: DemoTenant, months: int, *, seed: int) -> DemoTenant:
    """A deterministic copy of ``tenant`` ``months`` months (of 30 days) later; the input is untouched.

    Collect and analyse the copy with ``now=tenant_clock(copy)`` so sign-in ages, exception
    expiry and the provisioning-log window mean what they say.
    """
    if months < 0:
        raise ValueError(f"months must be >= 0, got {months}")
    evolved = copy.deepcopy(tenant)
    start = int(tenant_clock(tenant).timestamp())
    for month in range(1, months + 1):
        now = start + month * int(MONTH.total_seconds())
        _Month(evolved, now, random.Random(f"{seed}:{month}")).run()
    return evolved


def tenant_clock(tenant: DemoTenant) -> datetime:
    """The moment the tenant describes (``generate_tenant``'s ``now``), read from its provisioning job."""
    for jobs in tenant.sync_jobs.values():
        for job in jobs:
            began = job["status"]["lastExecution"]["timeBegan"]
            return datetime.fromtimestamp(_epoch(began) + _JOB_LAG, UTC)
    raise ValueError("the tenant has no provisioning job to read its clock from")


def _epoch(stamp: str) -> int:
    return calendar.timegm(time.strptime(stamp, "%Y-%m-%dT%H:%M:%SZ"))


def _demangle(upn: str) -> str:
    """The provisioning service's ``userPrincipalName`` of a guest: ``alias@theirdomain``."""
    prefix, ext, _ = upn.partition("#EXT#")
    return prefix[::-1].replace("_", "@", 1)[::-1] if ext else upn


def _guid(rng: random.Random) -> str:
    h = f"{rng.getrandbits(128):032x}"
    return f"{h[:8]}-{h[8:12]}-4{h[13:16]}-{'89ab'[int(h[16], 16) % 4]}{h[17:20]}-{h[20:]}"


class _Month:
    """One month of changes applied in place to an already copied tenant."""

    def __init__(self, tenant: DemoTenant, now: int, rng: random.Random) -> None:
        self.t, self.now, self.rng = tenant, now, rng
        self.initial = tenant.initial_domain

    def run(self) -> None:
        """Move the clock, then remove, fix, break and add guests, then re-derive staleness."""
        self._advance_clock()
        self._sign_ins()
        self._remove(max(1, len(self.t.expected) // 50))
        for rule_id, fix, share in _FIXES:
            self._fix(rule_id, fix, share)
        self._break_plain(max(1, len(self.t.expected) // 100))
        self._duplicate(max(1, len(self.t.expected) // 200))
        self._add(max(2, len(self.t.expected) // 25))
        self._restale()
        self.t.provisioning_logs.sort(key=lambda e: str(e["activityDateTime"]), reverse=True)

    # ---- views -------------------------------------------------------------------------------

    def guests(self) -> list[JSON]:
        """Guests in the tenant's order (never a set: the order keeps draws deterministic)."""
        return [u for u in self.t.users if u["id"] in self.t.expected]

    def keys(self) -> Counter[str]:
        """How many guests use each address as ``mail`` or de-mangled UPN (case-insensitive),
        counting the addresses the target organization holds too: a guest whose address is
        there is never changed or copied, so no target-side finding appears or vanishes."""
        counts = Counter(k for u in self.guests() for k in _keys(u))
        counts.update(_target_keys(self.t))
        return counts

    def unique(self, user: JSON, keys: Counter[str]) -> bool:
        """No other guest shares this guest's addresses (so duplicates cannot appear or vanish)."""
        return all(keys[k] == 1 for k in _keys(user))

    def plain(self, user: JSON, keys: Counter[str]) -> bool:
        """A guest whose only findings come from its domain and whose addresses are its own."""
        mail = user["mail"]
        return (
            bool(mail)
            and mail.isascii()
            and self.t.expected[user["id"]] <= DOMAIN_RULES
            and mail.lower() == _demangle(user["userPrincipalName"]).lower()
            and user["userType"] == "Guest"
            and user["accountEnabled"]
            and self.unique(user, keys)
        )

    def scope(self) -> tuple[set[str], list[str]]:
        """Users in scope of the app (directly or through an assigned security-enabled group) and
        those groups (a Microsoft 365 group grants no scope)."""
        direct: set[str] = set()
        groups: list[str] = []
        for entries in self.t.app_role_assignments.values():
            for entry in entries:
                if entry["principalType"] == "Group":
                    group = self.t.groups.get(entry["principalId"], {})
                    if group.get("securityEnabled", True):
                        groups.append(entry["principalId"])
                else:
                    direct.add(entry["principalId"])
        members = {
            m["id"]
            for g in groups
            for m in self.t.group_members.get(g, [])
            if m.get("@odata.type") == "#microsoft.graph.user"
        }
        return direct | members, groups

    def mailuser(self, uid: str) -> dict[str, str] | None:
        return next((r for r in self.t.mailusers if r["ExternalDirectoryObjectId"] == uid), None)

    def pick(self, items: list[JSON], count: int) -> list[JSON]:
        return self.rng.sample(items, min(count, len(items)))

    def stamp(self, low: float, high: float) -> str:
        """A time between ``low`` and ``high`` days before now."""
        return ts(self.now - self.rng.uniform(low, high) * DAY)

    # ---- the clock ---------------------------------------------------------------------------

    def _advance_clock(self) -> None:
        """Log entries recur with every cycle, so they keep their age; the job ran ten minutes ago."""
        shift = int(MONTH.total_seconds())
        for entry in self.t.provisioning_logs:
            entry["activityDateTime"] = ts(_epoch(entry["activityDateTime"]) + shift)
        began = self.now - _JOB_LAG
        for jobs in self.t.sync_jobs.values():
            for job in jobs:
                _set_job_time(job, began)

    def _sign_ins(self) -> None:
        """Nine in ten guests who signed in during the last 90 days sign in again this month."""
        last_month = self.now - MONTH.total_seconds()
        for user in self.guests():
            activity = user.get("signInActivity")
            if not activity or last_month - _epoch(activity["lastSignInDateTime"]) > 90 * DAY:
                continue
            if self.rng.random() < 0.9:
                user["signInActivity"] = self._sign_in()

    def _sign_in(self, within: float = 28.0) -> JSON:
        """signInActivity with a last sign-in between 0.2 and ``within`` days ago."""
        request, when = _guid(self.rng), self.stamp(0.2, within)
        return {
            "lastSignInDateTime": when,
            "lastSignInRequestId": request,
            "lastNonInteractiveSignInDateTime": when,
            "lastNonInteractiveSignInRequestId": _guid(self.rng),
            "lastSuccessfulSignInDateTime": when,
            "lastSuccessfulSignInRequestId": request,
        }

    def _restale(self) -> None:
        """``stale-guest``: last sign-in (or creation, never signed in) more than 90 days ago."""
        for user in self.guests():
            activity = user.get("signInActivity") or {}
            last = _epoch(activity.get("lastSignInDateTime") or user["createdDateTime"])
            found = self.t.expected[user["id"]]
            if self.now - last > _STALE_DAYS * DAY:
                found.add("stale-guest")
            else:
                found.discard("stale-guest")

    # ---- removed -----------------------------------------------------------------------------

    def _remove(self, count: int) -> None:
        keys = self.keys()
        gone = {
            u["id"] for u in self.pick([u for u in self.guests() if self.unique(u, keys)], count)
        }
        t = self.t
        t.users = [u for u in t.users if u["id"] not in gone]
        t.mailusers = [r for r in t.mailusers if r["ExternalDirectoryObjectId"] not in gone]
        t.provisioning_logs = [
            e for e in t.provisioning_logs if e["sourceIdentity"]["id"] not in gone
        ]
        for group, members in t.group_members.items():
            t.group_members[group] = [m for m in members if m["id"] not in gone]
        for sp, entries in t.app_role_assignments.items():
            t.app_role_assignments[sp] = [e for e in entries if e["principalId"] not in gone]
        for uid in gone:
            del t.expected[uid]

    # ---- fixed -------------------------------------------------------------------------------

    def _fix(self, rule_id: str, fix: Callable[[_Month, JSON], bool], share: float) -> None:
        """Fix ``share`` of the guests ``rule_id`` flags (rounded up); ``fix`` may decline one."""
        flagged = [u for u in self.guests() if rule_id in self.t.expected[u["id"]]]
        for user in self.pick(flagged, math.ceil(len(flagged) * share)):
            if fix(self, user):
                self.t.expected[user["id"]].discard(rule_id)

    def enable(self, user: JSON) -> bool:
        """Enable the guest, unless a twin shares its addresses (enabled, it would collide)."""
        if not self.unique(user, self.keys()):
            return False
        user["accountEnabled"] = True
        return True

    def accept(self, user: JSON) -> bool:
        user["externalUserState"] = "Accepted"
        user["externalUserStateChangeDateTime"] = self.stamp(1.0, 25.0)
        home = {"signInType": "federated", "issuer": "ExternalAzureAD", "issuerAssignedId": None}
        user["identities"] = [home, *user["identities"]]
        user["signInActivity"] = self._sign_in()
        return True

    def set_mail(self, user: JSON) -> bool:
        """Set ``mail`` to the invited address, with proxy and MailUser; its domain's rules apply."""
        address = _demangle(user["userPrincipalName"])
        domain = address.rpartition("@")[2].lower()
        rules = self._domain_rules(domain)
        if rules is None or not address.isascii() or self.keys()[address.lower()] > 1:
            return False
        uid = user["id"]
        user["mail"] = address
        user["proxyAddresses"] = ["SMTP:" + address]
        self.t.mailusers = [r for r in self.t.mailusers if r["ExternalDirectoryObjectId"] != uid]
        self.t.mailusers.append(_mailuser_row(user))
        fixed = {"exo-not-mail-enabled", "primary-smtp-mismatch"}
        self.t.expected[uid] = (self.t.expected[uid] - fixed) | rules
        return True

    def _domain_rules(self, domain: str) -> set[str] | None:
        """The domain rules of any guest with mail on ``domain`` (None: no such guest to learn from)."""
        for user in self.guests():
            mail = user["mail"]
            if mail and mail.rpartition("@")[2].lower() == domain:
                return self.t.expected[user["id"]] & DOMAIN_RULES
        return None

    def repair_forwarding(self, user: JSON) -> bool:
        row = self.mailuser(user["id"])
        if row is None or not user["mail"]:
            return False
        upn = user["userPrincipalName"]
        addresses = [a for a in row["EmailAddresses"].split(";") if a]
        if not any(a.split(":", 1)[-1].lower() == upn.lower() for a in addresses):
            addresses.append("smtp:" + upn)
        row["EmailAddresses"] = ";".join(addresses)
        row["ExternalEmailAddress"] = "SMTP:" + user["mail"]
        return True

    def assign(self, user: JSON) -> bool:
        """Add the guest to the first assigned group (unless that would create a duplicate)."""
        _, groups = self.scope()
        if not groups or not self.unique(user, self.keys()):
            return False
        self.t.group_members.setdefault(groups[0], []).append(_user_ref(user))
        self.t.expected[user["id"]] -= {"not-in-scope", "nested-group-only"}
        return True

    def unlicense(self, user: JSON) -> bool:
        user["assignedLicenses"] = []
        return True

    def make_guest(self, user: JSON) -> bool:
        user["userType"] = "Guest"
        return True

    def retry_provisioning(self, user: JSON) -> bool:
        """A newer successful entry after the failure or skip (the retry worked)."""
        mine = [e for e in self.t.provisioning_logs if e["sourceIdentity"]["id"] == user["id"]]
        if not mine:
            return False
        entry = copy.deepcopy(max(mine, key=lambda e: str(e["activityDateTime"])))
        latest = _epoch(entry["activityDateTime"])
        entry |= {"id": _guid(self.rng), "cycleId": _guid(self.rng), "changeId": _guid(self.rng)}
        entry["activityDateTime"] = ts(latest + (self.now - latest) * self.rng.uniform(0.3, 0.9))
        entry["provisioningAction"] = "update"
        entry["provisioningStatusInfo"] = {"status": "success", "errorInformation": None}
        entry["targetIdentity"] |= {"id": _guid(self.rng), "displayName": user["displayName"]}
        for step in entry["provisioningSteps"]:
            step["status"] = "success"
        self.t.provisioning_logs.append(entry)
        return True

    def sign_in_again(self, user: JSON) -> bool:
        if user["externalUserState"] != "Accepted":
            return False
        user["signInActivity"] = self._sign_in()
        return True  # _restale recomputes stale-guest; discarding it here agrees

    # ---- broken ------------------------------------------------------------------------------

    def _break_plain(self, count: int) -> None:
        """Disable some clean guests, change others' mail, point others' forwarding at a loop."""
        for rule_id, breaker in (
            ("account-disabled", _Month.disable),
            ("upn-mail-mismatch", _Month.change_mail),
            ("exo-forwarding-broken", _Month.loop_forwarding),
        ):
            keys = self.keys()
            for user in self.pick([u for u in self.guests() if self.plain(u, keys)], count):
                if breaker(self, user):
                    self.t.expected[user["id"]].add(rule_id)

    def disable(self, user: JSON) -> bool:
        user["accountEnabled"] = False
        return True

    def change_mail(self, user: JSON) -> bool:
        """A new alias (a changed surname), with proxies, MailUser and memberships following it."""
        old = user["mail"]
        local, _, domain = old.partition("@")
        new = f"{local}.{self.rng.choice(LAST_NAMES)[1]}@{domain}"
        if self.keys()[new.lower()] or len(new.partition("@")[0]) > 64:
            return False
        user["mail"], user["otherMails"] = new, [new]
        user["proxyAddresses"] = ["SMTP:" + new, "smtp:" + old]
        row = self.mailuser(user["id"])
        if row is not None:
            rest = [a for a in row["EmailAddresses"].split(";") if a and not a.startswith("SMTP:")]
            row["EmailAddresses"] = ";".join(["SMTP:" + new, "smtp:" + old, *rest])
            row["PrimarySmtpAddress"], row["ExternalEmailAddress"] = new, "SMTP:" + new
        for ref in self._refs(user["id"]):
            ref["mail"] = new
        return True

    def loop_forwarding(self, user: JSON) -> bool:
        row = self.mailuser(user["id"])
        if row is None:
            return False
        row["ExternalEmailAddress"] = "SMTP:" + user["userPrincipalName"]
        return True

    def _refs(self, uid: str) -> Iterator[JSON]:
        for members in self.t.group_members.values():
            yield from (m for m in members if m["id"] == uid)

    def _duplicate(self, count: int) -> None:
        """Invite an in-scope guest again under another alias with the same mail (other case)."""
        keys = self.keys()
        in_scope, groups = self.scope()
        pool = [u for u in self.guests() if u["id"] in in_scope and self.plain(u, keys)]
        for original in self.pick(pool, count if groups else 0):
            local, _, domain = original["mail"].partition("@")
            alias = self._free_alias(local, domain)  # invited again as local2@domain
            mail = local[:1].swapcase() + local[1:] + "@" + domain
            rules = self.t.expected[original["id"]] & DOMAIN_RULES
            user = self._new_guest(alias, domain, mail=mail, accepted=True, source=original)
            self._enrol(user, groups[-1], rules | {"duplicate-target-key", "upn-mail-mismatch"})
            self.t.expected[original["id"]].add("duplicate-target-key")

    # ---- added -------------------------------------------------------------------------------

    def _add(self, count: int) -> None:
        """New guests on the domains of clean guests; every third has not redeemed yet."""
        keys = self.keys()
        _, groups = self.scope()
        templates = [u for u in self.guests() if self.plain(u, keys)]
        for n, template in enumerate(self.pick(templates, count if groups else 0)):
            domain = template["mail"].partition("@")[2].lower()
            given, g = self.rng.choice(FIRST_NAMES)
            surname, s = self.rng.choice(LAST_NAMES)
            alias = self._free_alias(f"{g}.{s}", domain)
            accepted = n % 3 != 2
            user = self._new_guest(alias, domain, accepted=accepted, source=template)
            user |= {"displayName": f"{given} {surname}", "givenName": given, "surname": surname}
            rules = self.t.expected[template["id"]] & DOMAIN_RULES
            pending = set() if accepted else {"pending-acceptance"}
            self._enrol(user, groups[n % len(groups)], rules | pending)

    def _free_alias(self, alias: str, domain: str) -> str:
        keys = self.keys()
        candidate, n = alias, 2
        while keys[f"{candidate}@{domain}".lower()]:
            candidate, n = f"{alias}{n}", n + 1
        return candidate

    def _new_guest(
        self, alias: str, domain: str, *, accepted: bool, source: JSON, mail: str | None = None
    ) -> JSON:
        """A guest invited this month as ``alias@domain`` (names copied from ``source``)."""
        address = f"{alias}@{domain}"
        mail = mail or address
        upn = f"{alias}_{domain}#EXT#@{self.initial}"
        created = self.now - self.rng.uniform(1.0, 28.0) * DAY
        host = {"signInType": "userPrincipalName", "issuer": self.initial, "issuerAssignedId": upn}
        home = {"signInType": "federated", "issuer": "ExternalAzureAD", "issuerAssignedId": None}
        user: JSON = {
            "id": _guid(self.rng),
            "businessPhones": [],
            "displayName": source["displayName"],
            "givenName": source["givenName"],
            "jobTitle": None,
            "mail": mail,
            "mobilePhone": None,
            "officeLocation": None,
            "preferredLanguage": None,
            "surname": source["surname"],
            "userPrincipalName": upn,
            "accountEnabled": True,
            "assignedLicenses": [],
            "createdDateTime": ts(created),
            "creationType": "Invitation",
            "externalUserState": "Accepted" if accepted else "PendingAcceptance",
            "externalUserStateChangeDateTime": ts(created + (DAY / 2 if accepted else 0)),
            "identities": [home, host] if accepted else [host],
            "mailNickname": upn.rpartition("@")[0],
            "otherMails": [mail],
            "proxyAddresses": ["SMTP:" + mail],
            "userType": "Guest",
        }
        if accepted:  # signed in after redeeming
            user["signInActivity"] = self._sign_in((self.now - created) / DAY - 0.6)
        return user

    def _enrol(self, user: JSON, group: str, expected: set[str]) -> None:
        """Add a new guest to the tenant: user, MailUser row, group membership, oracle."""
        self.t.users.append(user)
        self.t.mailusers.append(_mailuser_row(user))
        self.t.group_members.setdefault(group, []).append(_user_ref(user))
        self.t.expected[user["id"]] = set(expected)


def _keys(user: JSON) -> set[str]:
    """The addresses a guest would send to the target as key or e-mail (lower-case)."""
    keys = {_demangle(user["userPrincipalName"]).lower()}
    if user["mail"]:
        keys.add(user["mail"].lower())
    return keys


def _mailuser_row(user: JSON) -> dict[str, str]:
    """A healthy GuestMailUser row for ``user`` (as ``Get-MailUser | Export-Csv`` writes it)."""
    mail, upn = user["mail"], user["userPrincipalName"]
    return {
        "DisplayName": user["displayName"],
        "UserPrincipalName": upn,
        "ExternalDirectoryObjectId": user["id"],
        "PrimarySmtpAddress": mail,
        "ExternalEmailAddress": "SMTP:" + mail,
        "EmailAddresses": f"SMTP:{mail};smtp:{upn}",
        "HiddenFromAddressListsEnabled": "True",
        "RecipientTypeDetails": "GuestMailUser",
    }


def _user_ref(user: JSON) -> JSON:
    """The guest as a member entry of ``/groups/{id}/members``."""
    keys = ("id", "displayName", "mail", "userPrincipalName")
    return {"@odata.type": "#microsoft.graph.user", **{k: user[k] for k in keys}}


def _set_job_time(job: JSON, began: int) -> None:
    status = job["status"]
    for name in ("lastExecution", "lastSuccessfulExecution", "lastSuccessfulExecutionWithExports"):
        execution = status.get(name)
        if execution:
            execution["timeBegan"], execution["timeEnded"] = ts(began), ts(began + 95)
            execution["activityIdentifier"] = f"{job['id']}.{began}"
    status["steadyStateLastAchievedTime"] = ts(began + 95)


_FIXES: tuple[tuple[str, Callable[[_Month, JSON], bool], float], ...] = (
    ("account-disabled", _Month.enable, 0.25),
    ("pending-acceptance", _Month.accept, 0.25),
    ("mail-missing", _Month.set_mail, 0.25),
    ("exo-forwarding-broken", _Month.repair_forwarding, 0.25),
    ("nested-group-only", _Month.assign, 0.25),
    ("not-in-scope", _Month.assign, 0.1),
    ("guest-licensed", _Month.unlicense, 0.25),
    ("external-member", _Month.make_guest, 0.25),
    ("prior-provisioning-failure", _Month.retry_provisioning, 0.25),
    ("stale-guest", _Month.sign_in_again, 0.2),
)


def _target_keys(tenant: DemoTenant) -> list[str]:
    """Every address the tenant's Atlassian organization holds (SCIM users, accounts)."""
    org = tenant.atlassian
    if org is None:
        return []
    found = [u.get("userName") for u in org.scim_users]
    found += [e.get("value") for u in org.scim_users for e in u.get("emails") or []]
    found += [a.get("email") for a in (*org.managed, *org.directory_users)]
    return [str(k).lower() for k in found if k]
