"""Pacing like Microsoft Graph: a latency per request and the documented throttling limits.

The ``graph`` profile (:func:`graph_pacing`) of the emulator and the benchmark:

- **Latency.** Microsoft documents no latency figure for Graph requests (research note B.5), so
  this is a model, stated as one: each request waits a log-normal time, median 300 ms and
  sigma 0.8 (mean 0.41 s; 90 % under 0.84 s, 99 % under 1.9 s, one in a thousand over 3.5 s),
  cut at 10 s. Seeded, so two runs draw the same times in the same order.
- **Identity and access service limits** (directory reads: users, groups, domains, organization,
  service principals and the rest of that list), per application and tenant, from
  https://learn.microsoft.com/graph/throttling-limits (``ms.date`` 2025-01-14): a token bucket
  of 3,500, 5,000 or 8,000 ResourceUnits per 10 seconds for tenants of under 50, 50 to 500, and
  over 500 users. A request costs its path's base cost (``GET users`` 2, ``GET
  groups/{id}/members`` 3, ``GET groups/{id}/transitiveMembers`` 5, ``GET
  servicePrincipals/{id}/appRoleAssignments`` 2, ``GET applications`` 2, any other path 1),
  minus 1 with ``$select``, plus 1 with ``$expand``, minus 1 with ``$top`` under 20, and never
  less than 1.
- **Identity and access reports service limits** (``auditLogs``: the provisioning logs), same
  page: 5 requests per 10 seconds per application per tenant.

A request over its budget gets ``429 Too Many Requests`` with ``Retry-After`` in whole seconds
(until its bucket can take it) and Graph's sample error body. It is charged all the same: "all
requests accrue against your usage limits" (https://learn.microsoft.com/graph/throttling), so a
client that retries early only waits longer.

Not modelled: the global per-application limits (130,000 requests per 10 s, 150,000
ResourceUnits per 20 s), which one audit of one tenant cannot reach; write quotas (the audit only
reads); and the reports table's row "GET signInActivity: 10 requests per minute", which the page
links to the signInActivity resource without saying whether listing users with
``$select=signInActivity`` counts against it (it says only that such a list "may cause stricter
throttling"). If it does, reading sign-in activity takes a minute per 5,000 guests at 500 per
page, whatever the client does.
"""

from __future__ import annotations

import math
import random
import re
import threading
import time
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl, urlsplit

__all__ = ["Budget", "Pacing", "graph_pacing", "request_cost"]

THROTTLING_LIMITS = "https://learn.microsoft.com/graph/throttling-limits"
DIRECTORY = "directory"
REPORTS = "reports"

# Base ResourceUnit costs of GET requests (identity and access service limits); any other: 1.
_BASE_COSTS: tuple[tuple[re.Pattern[str], int], ...] = tuple(
    (re.compile(pattern, re.IGNORECASE), cost)
    for pattern, cost in (
        (r"/users", 2),
        (r"/applications", 2),
        (r"/applications/[^/]+/extensionProperties", 2),
        (r"/contracts", 3),
        (r"/domains/[^/]+/domainNameReferences", 4),
        (r"/groups/[^/]+/members", 3),
        (r"/groups/[^/]+/transitiveMembers", 5),
        (r"/(me|users/[^/]+)/licenseDetails", 2),
        (r"/(me|users/[^/]+)/(memberOf|ownedObjects|transitiveMemberOf)", 2),
        (r"/oauth2PermissionGrants(/[^/]+)?", 2),
        (r"/servicePrincipals/[^/]+/appRoleAssignments", 2),
        (r"/subscribedSkus", 3),
    )
)


def request_cost(path: str, query: dict[str, str]) -> tuple[str, int]:
    """The budget a GET counts against and its cost there (see the module docstring).

    ``path`` is below ``/v1.0`` (``/users``, ``/groups/{id}/members``); ``query`` its parameters.
    """
    if path.lower().startswith("/auditlogs/"):
        return REPORTS, 1
    base = next((cost for pattern, cost in _BASE_COSTS if pattern.fullmatch(path)), 1)
    cost = base - ("$select" in query) + ("$expand" in query)
    top = query.get("$top", "").strip()
    if top.isdigit() and int(top) < 20:
        cost -= 1
    return DIRECTORY, max(1, cost)


@dataclass
class Budget:
    """A token bucket: ``capacity`` units refilled evenly over ``window`` seconds."""

    capacity: float
    window: float
    tokens: float = field(init=False)
    stamp: float = field(init=False, default_factory=time.monotonic)
    spent: float = 0.0
    passed: float = 0.0
    throttled: int = 0

    def __post_init__(self) -> None:
        self.tokens = self.capacity

    @property
    def rate(self) -> float:
        """Units per second."""
        return self.capacity / self.window

    def take(self, cost: float, now: float) -> float | None:
        """Charge ``cost``; None when the request may pass, else the seconds until it would."""
        self.tokens = min(self.capacity, self.tokens + max(0.0, now - self.stamp) * self.rate)
        self.stamp = max(self.stamp, now)
        passes = self.tokens >= cost
        self.tokens = max(-self.capacity, self.tokens - cost)  # a throttled request accrues too
        self.spent += cost
        if passes:
            self.passed += cost
            return None
        self.throttled += 1
        return (cost - self.tokens) / self.rate


class Pacing:
    """Latency per request and throttling budgets, shared by the emulator's request threads."""

    def __init__(
        self,
        *,
        median: float = 0.3,
        sigma: float = 0.8,
        cap: float = 10.0,
        budgets: dict[str, Budget] | None = None,
        seed: int = 0,
    ) -> None:
        self.median, self.sigma, self.cap = median, sigma, cap
        self.budgets = budgets or {}
        self._rng = random.Random(seed)
        self._lock = threading.Lock()
        self.latencies: list[float] = []
        self.chains: dict[str, float] = {}
        """Seconds of latency of the answered requests of each chain (see :func:`chain_of`)."""

    def latency(self) -> float:
        """The next request's latency in seconds (recorded)."""
        with self._lock:
            seconds = 0.0 if self.median <= 0 else self._rng.lognormvariate(0.0, self.sigma)
            seconds = min(self.cap, self.median * seconds)
            self.latencies.append(seconds)
        return seconds

    def record(self, target: str, seconds: float, status: int) -> None:
        """Add an answered request's latency to its chain (a refused one is the client's loss,
        not part of the shortest possible run)."""
        if status == 429:
            return
        key = chain_of(target)
        with self._lock:
            self.chains[key] = self.chains.get(key, 0.0) + seconds

    def admit(self, path: str, query: dict[str, str]) -> int | None:
        """None when the request may be answered, else its ``Retry-After`` in whole seconds."""
        budget_name, cost = request_cost(path, query)
        budget = self.budgets.get(budget_name)
        if budget is None:
            return None
        with self._lock:
            wait = budget.take(cost, time.monotonic())
        return None if wait is None else max(1, math.ceil(wait))

    def budget_floor(self) -> float:
        """The shortest time the requests answered so far could have taken under the budgets:
        what each budget's answered requests cost beyond its initial burst, the largest."""
        return max(
            (max(0.0, b.passed - b.capacity) / b.rate for b in self.budgets.values()), default=0.0
        )

    def chain_floor(self) -> float:
        """The latency of the longest chain of answered requests: pages of one ``nextLink``
        chain follow one another, so no client could finish them sooner, however many requests
        it had in flight."""
        with self._lock:
            return max(self.chains.values(), default=0.0)

    def floor_seconds(self) -> float:
        """The shortest time these requests could have taken: the budgets' or the longest
        chain's, whichever is longer."""
        return max(self.budget_floor(), self.chain_floor())

    def summary(self) -> dict[str, Any]:
        """What the pacing did so far: each budget's spending and refusals, the latencies drawn
        and :meth:`floor_seconds`."""
        with self._lock:
            drawn = sorted(self.latencies)
            budgets = {
                name: {
                    "per_10_s": b.capacity * 10 / b.window,
                    "spent": b.spent,
                    "passed": b.passed,
                    "throttled": b.throttled,
                }
                for name, b in self.budgets.items()
            }
        latency = {"requests": len(drawn), "sum_s": round(sum(drawn), 2)}
        if drawn:
            latency |= {
                "median_s": round(drawn[len(drawn) // 2], 3),
                "mean_s": round(sum(drawn) / len(drawn), 3),
                "p99_s": round(drawn[min(len(drawn) - 1, int(len(drawn) * 0.99))], 3),
                "max_s": round(drawn[-1], 3),
            }
        return {
            "floor_s": round(self.floor_seconds(), 2),
            "budget_floor_s": round(self.budget_floor(), 2),
            "chain_floor_s": round(self.chain_floor(), 2),
            "chains": len(self.chains),
            "budgets": budgets,
            "latency": latency,
        }


def chain_of(target: str) -> str:
    """The chain a request belongs to: its path and query without the ``$skiptoken`` that
    moves along it."""
    parts = urlsplit(target)
    query = sorted((k, v) for k, v in parse_qsl(parts.query) if k != "$skiptoken")
    return parts.path.lower() + "?" + "&".join(f"{k}={v}" for k, v in query)


def directory_budget(users: int) -> Budget:
    """The identity and access budget of an application in a tenant of ``users`` users."""
    capacity = 3_500 if users < 50 else 5_000 if users <= 500 else 8_000
    return Budget(capacity, 10.0)


def graph_pacing(users: int, *, seed: int = 0) -> Pacing:
    """The ``graph`` profile for a tenant of ``users`` users (see the module docstring)."""
    budgets = {DIRECTORY: directory_budget(users), REPORTS: Budget(5, 10.0)}
    return Pacing(budgets=budgets, seed=seed)
