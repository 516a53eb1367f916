"""address-too-long: an address has a local part over 64 or is over 254 characters."""

from __future__ import annotations

import pandas as pd

from audit import addresses as addr
from audit.analysis.engine import Context, DemoCase, Example, Rule
from audit.models import Outcome, Severity
from audit.plans import suggest
from audit.rules._common import any_address, describe, known

_FIELDS = ("mail", "primary_smtp", "target_email")


def _check(frame: pd.DataFrame, ctx: Context) -> pd.Series:
    return any_address(frame, _FIELDS, addr.too_long).any(axis=1).astype("boolean")


def _detail(frame: pd.DataFrame, ctx: Context) -> pd.Series:
    return describe(any_address(frame, _FIELDS, addr.too_long), frame, "too long for SMTP")


def _target_too_long(frame: pd.DataFrame, ctx: Context) -> pd.Series:
    """The target e-mail itself is too long: the target rejects it."""
    email = frame["target_email"]
    return (known(email) & addr.too_long(email).fillna(False)).astype("boolean")


RULE = Rule(
    id="address-too-long",
    title="An address is longer than SMTP allows",
    severity=Severity.MEDIUM,
    columns=_FIELDS,
    rationale=(
        "RFC 5321 limits the local part to 64 octets and a path to 256 (an address to 254 characters). "
        "Longer addresses are rejected by mail servers and many SaaS targets."
    ),
    remediation=(
        "Use a shorter address for the guest (re-invite with a shorter alias), or map the target e-mail "
        "from another attribute."
    ),
    check=_check,
    detail=_detail,
    outcome=Outcome.BLOCKED,
    outcome_when=_target_too_long,
    outcome_columns=("target_email",),
    plan=suggest("Update-MgUser -UserId {id} -Mail '<corrected address>'"),
    demo=(
        DemoCase("too-long-local", "long:local"),
        DemoCase("too-long-upn", "long:upn", trips=frozenset({"address-too-long", "upn-invalid"})),
        DemoCase(
            "long-but-valid",
            "long_but_valid",
            twin_of=frozenset({"address-too-long", "upn-invalid"}),
        ),
    ),
    examples=(
        Example(
            rows=[
                {"mail": "a" * 65 + "@partner.com", "primary_smtp": None, "target_email": None},
                {"mail": "a" * 64 + "@partner.com", "primary_smtp": None, "target_email": None},
                {
                    "mail": "jo@" + ".".join(c * 60 for c in "defgh") + ".com",
                    "primary_smtp": None,
                    "target_email": None,
                },
            ],
            expect=[True, False, True],
        ),
    ),
)
