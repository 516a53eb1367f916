"""address-non-ascii: an address needs SMTPUTF8, or its domain is not in normalised IDNA form."""

from __future__ import annotations

import pandas as pd

from audit import addresses as addr
from audit.analysis.engine import Context, DemoCase, Example, Rule
from audit.models import Severity
from audit.plans import suggest
from audit.rules._common import any_address, describe

_FIELDS = ("mail", "primary_smtp", "target_email")


def _check(frame: pd.DataFrame, ctx: Context) -> pd.Series:
    return any_address(frame, _FIELDS, addr.needs_smtputf8).any(axis=1).astype("boolean")


def _detail(frame: pd.DataFrame, ctx: Context) -> pd.Series:
    hits = any_address(frame, _FIELDS, addr.needs_smtputf8)
    return describe(hits, frame, "non-ASCII address (SMTPUTF8 or U-label domain)")


RULE = Rule(
    id="address-non-ascii",
    title="An address needs SMTPUTF8 or has a non-normalised IDN domain",
    severity=Severity.MEDIUM,
    columns=_FIELDS,
    rationale=(
        "Non-ASCII local parts need SMTPUTF8 (RFC 6531), which Entra's mail attributes and many targets "
        "do not accept. Domains written as Unicode (U-labels) compare unequal to the punycode A-label "
        "verified in the target, so a verified IDN domain can look unverified."
    ),
    remediation=(
        "Store the domain as its A-label (xn--…) and use an ASCII local part: "
        "Update-MgUser -UserId <id> -Mail '<ascii address>'."
    ),
    check=_check,
    detail=_detail,
    plan=suggest("Update-MgUser -UserId {id} -Mail '<corrected address>'"),
    demo=(
        DemoCase("non-ascii-local", "alias:non-ascii"),
        DemoCase("idn-u-label", "idn:u"),
        DemoCase(
            "idn-a-label", "idn:a", twin_of=frozenset({"address-non-ascii", "domain-unverified"})
        ),
    ),
    examples=(
        Example(
            rows=[
                {"mail": "jürgen@partner.de", "primary_smtp": None, "target_email": None},
                {"mail": "jo@bücher.de", "primary_smtp": None, "target_email": None},
                {"mail": "jo@xn--bcher-kva.de", "primary_smtp": None, "target_email": None},
                {"mail": "not-an-address", "primary_smtp": None, "target_email": None},
                {"mail": "jürgen", "primary_smtp": None, "target_email": None},
            ],
            expect=[True, True, False, False, True],
        ),
    ),
)
