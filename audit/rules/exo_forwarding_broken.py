"""exo-forwarding-broken: the initial-domain address or the external forwarding of the mail user is wrong."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from audit._text import list_items, numpy_bools, text_array
from audit.analysis.engine import Context, Example, Rule
from audit.models import Severity
from audit.rules._common import known, tri


def _no_alias(addresses: pd.Series, upn: pd.Series) -> pd.Series:
    """True where no mail-user address (``smtp:`` prefix dropped, lower-cased) equals ``upn``."""
    listed = list_items(addresses)
    items, owner = listed if listed is not None else _stringified_items(addresses)
    folded = _lower(pc.replace_substring_regex(items, r"^[^:]*:", ""))
    same = pc.equal(folded, pc.take(text_array(upn), pa.array(owner)))
    found = np.zeros(len(addresses), dtype=bool)
    found[owner[numpy_bools(same)]] = True
    return pd.Series(~found, index=addresses.index)


def _stringified_items(addresses: pd.Series) -> tuple[Any, np.ndarray]:
    """Items of the list cells as ``str()`` gives them (other cells hold none), with their rows."""
    lists = [v if isinstance(v, list) else [] for v in addresses.to_numpy()]
    sizes = np.fromiter(map(len, lists), dtype=np.int64, count=len(lists))
    items = pa.array([str(v) for cell in lists for v in cell], pa.large_string())
    return items, np.repeat(np.arange(len(lists)), sizes)


def _lower(texts: Any) -> Any:
    """Python's ``str.lower`` of each text: Arrow's for ASCII, Python's own for the rest."""
    other = pc.invert(pc.string_is_ascii(texts))
    python = [text.lower() for text in texts.filter(other).to_pylist()]
    return pc.replace_with_mask(pc.utf8_lower(texts), other, pa.array(python, pa.large_string()))


def _problems(frame: pd.DataFrame) -> tuple[pd.Series, pd.Series]:
    upn = frame["original_upn"].astype("str").str.lower()
    no_alias = _no_alias(frame["mu_email_addresses"], upn.fillna(""))
    real = frame["mail"].fillna(frame["provisioning_upn"]).astype("str").str.lower()
    external = frame["mu_external_email"].astype("str").str.lower()
    bad_target = (external != "smtp:" + real).fillna(True).astype(bool)
    return no_alias, bad_target


def _check(frame: pd.DataFrame, ctx: Context) -> pd.Series:
    no_alias, bad_target = _problems(frame)
    present = frame["mu_present"].astype("boolean").fillna(False).astype(bool)
    return tri(no_alias | bad_target, present & known(frame["original_upn"]))


def _detail(frame: pd.DataFrame, ctx: Context) -> pd.Series:
    no_alias, bad_target = _problems(frame)
    alias = ("EmailAddresses lacks smtp:" + frame["original_upn"]).where(no_alias, "")
    target = ("ExternalEmailAddress is " + frame["mu_external_email"].fillna("(empty)")).where(
        bad_target, ""
    )
    return (alias + "; " + target).str.strip("; ")


RULE = Rule(
    id="exo-forwarding-broken",
    title="Mail to the initial-domain address would not reach the guest",
    severity=Severity.HIGH,
    columns=(
        "mu_present",
        "mu_email_addresses",
        "mu_external_email",
        "original_upn",
        "mail",
        "provisioning_upn",
    ),
    sources=("mailusers",),
    rationale=(
        "With the recommended mapping the target sends notifications to the guest's #EXT# address on the "
        "initial domain. Exchange delivers them only if that address is one of the mail user's "
        "EmailAddresses, and forwards them only if ExternalEmailAddress is SMTP:<the guest's real address>."
    ),
    remediation=(
        "Set-MailUser -Identity <id> -EmailAddresses @{add='smtp:<#EXT# UPN>'} and "
        "Set-MailUser -Identity <id> -ExternalEmailAddress 'SMTP:<real address>'."
    ),
    check=_check,
    detail=_detail,
    examples=(
        Example(
            rows=[
                {
                    "mu_present": True,
                    "original_upn": "jo_p.com#EXT#@t.onmicrosoft.com",
                    "mu_email_addresses": ["SMTP:jo@p.com", "smtp:jo_p.com#EXT#@t.onmicrosoft.com"],
                    "mu_external_email": "SMTP:jo@p.com",
                    "mail": "jo@p.com",
                    "provisioning_upn": "jo@p.com",
                },
                {
                    "mu_present": True,
                    "original_upn": "jo_p.com#EXT#@t.onmicrosoft.com",
                    "mu_email_addresses": ["SMTP:jo@p.com"],
                    "mu_external_email": "SMTP:jo@p.com",
                    "mail": "jo@p.com",
                    "provisioning_upn": "jo@p.com",
                },
                {
                    "mu_present": True,
                    "original_upn": "jo_p.com#EXT#@t.onmicrosoft.com",
                    "mu_email_addresses": ["smtp:jo_p.com#EXT#@t.onmicrosoft.com"],
                    "mu_external_email": "SMTP:old@p.com",
                    "mail": "jo@p.com",
                    "provisioning_upn": "jo@p.com",
                },
                {
                    "mu_present": False,
                    "original_upn": "x",
                    "mu_email_addresses": [],
                    "mu_external_email": None,
                    "mail": "jo@p.com",
                    "provisioning_upn": "jo@p.com",
                },
            ],
            expect=[False, True, True, None],
        ),
    ),
)
