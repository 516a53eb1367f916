"""mail-domain-undeliverable: the guest's mail domain does not exist or accepts no mail."""

from __future__ import annotations

import pandas as pd

from audit.analysis.engine import Context, DemoCase, Example, Rule
from audit.models import Severity
from audit.plans import suggest

_BAD = {"nxdomain": "does not exist (NXDOMAIN)", "null_mx": "publishes a null MX (RFC 7505)"}
_BAD |= {"no_mail_host": "has neither MX nor A/AAAA records"}


def _check(frame: pd.DataFrame, ctx: Context) -> pd.Series:
    state = frame["mail_state"].astype("str")
    flag = state.isin(list(_BAD)).astype("boolean")
    return flag.mask(~state.isin([*_BAD, "deliverable"]), pd.NA)


def _detail(frame: pd.DataFrame, ctx: Context) -> pd.Series:
    return frame["mail_domain"] + " " + frame["mail_state"].map(_BAD)


# Guests whose domain never answers: every DNS-based rule leaves them not evaluated.
_DNS_UNKNOWN_TWINS = frozenset(
    {"mail-domain-undeliverable", "domain-claimed-elsewhere", "domain-unverified"}
)


RULE = Rule(
    id="mail-domain-undeliverable",
    title="The guest's mail domain accepts no mail",
    severity=Severity.HIGH,
    columns=("mail_domain", "mail_state"),
    sources=("dns",),
    rationale=(
        "Mail to a domain that does not exist, publishes a null MX, or has neither MX nor A/AAAA records "
        "bounces (556 5.1.10 for null MX): invitations, SaaS notifications and Exchange forwarding all fail. "
        "DNS timeouts and SERVFAIL are not evaluated, never counted as bad."
    ),
    remediation=(
        "Confirm the guest's current address with the partner; update it with Update-MgUser -UserId <id> "
        "-Mail '<address>' or remove the guest if the organisation no longer exists."
    ),
    check=_check,
    detail=_detail,
    plan=suggest(
        "Update-MgUser -UserId {id} -Mail '<corrected address>'",
        note="Confirm the address with the partner, or remove the guest.",
    ),
    demo=(
        DemoCase("nxdomain", "on:nxdomain"),
        DemoCase("null-mx", "on:null_mx"),
        DemoCase("no-mail-host", "on:no_mail"),
        DemoCase(
            "a-record-fallback",
            "on:a_only",
            trips=frozenset({"domain-unverified"}),
            twin_of=frozenset({"mail-domain-undeliverable"}),
        ),
        DemoCase("dns-unanswered", "on:unanswered", twin_of=_DNS_UNKNOWN_TWINS),
        DemoCase("dns-servfail", "on:servfail", twin_of=_DNS_UNKNOWN_TWINS),
    ),
    examples=(
        Example(
            rows=[
                {"mail_domain": "gone.com", "mail_state": "nxdomain"},
                {"mail_domain": "nomail.com", "mail_state": "null_mx"},
                {"mail_domain": "bare.com", "mail_state": "no_mail_host"},
                {"mail_domain": "partner.com", "mail_state": "deliverable"},
                {"mail_domain": "slow.com", "mail_state": "unknown"},
                {"mail_domain": None, "mail_state": None},
            ],
            expect=[True, True, True, False, None, None],
        ),
    ),
)
