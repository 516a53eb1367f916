"""address-too-long: an address has a local part over 64 or is over 254 characters."""

from __future__ import annotations

import pandas as pd

from audit import addresses as addr
from audit.analysis.engine import Context, Example, Rule
from audit.models import Severity
from audit.rules._common import any_address, describe

_FIELDS = ("mail", "primary_smtp", "target_email")


def _check(frame: pd.DataFrame, ctx: Context) -> pd.Series:
    return any_address(frame, _FIELDS, addr.too_long).any(axis=1).astype("boolean")


def _detail(frame: pd.DataFrame, ctx: Context) -> pd.Series:
    return describe(any_address(frame, _FIELDS, addr.too_long), frame, "too long for SMTP")


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
