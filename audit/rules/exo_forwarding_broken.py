"""exo-forwarding-broken: the initial-domain address or the external forwarding of the mail user is wrong."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from audit._text import list_items, list_objects, numpy_bools, text_array
from audit.analysis.engine import Context, DemoCase, Example, Rule
from audit.models import Severity
from audit.plans import Ctx, Finding, Guest, Plan, mail_user_identity, scripted
from audit.powershell import is_address, ps_quote
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
    lists = [v if isinstance(v, list) else [] for v in list_objects(addresses).to_numpy()]
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


def _plan(finding: Finding, guest: Guest, ctx: Ctx) -> Plan:
    """Add the #EXT# alias and point ExternalEmailAddress at mail."""
    plan = Plan()
    if guest.mu_present is False:
        plan.notes.append("No GuestMailUser in the export: fix exo-not-mail-enabled first.")
        return plan
    ident = mail_user_identity(guest)
    if ident is None:
        plan.notes.append("The guest has no usable UPN to name its mail user; fix its UPN first.")
        return plan
    alias = guest.original_upn
    have = {a.split(":", 1)[-1].lower() for a in guest.mu_email_addresses}
    if not is_address(alias):
        plan.notes.append("The #EXT# UPN is not a usable address; fix original-upn-missing first.")
    elif alias.lower() not in have:
        add = ps_quote("smtp:" + alias)
        plan.commands.append(f"Set-MailUser -Identity {ident} -EmailAddresses @{{add={add}}}")
    _forward_target(plan, ident, guest)
    if not plan.commands and not plan.notes:
        plan.notes.append("The export shows no change to make; re-check with Get-MailUser.")
    return plan


def _forward_target(plan: Plan, ident: str, guest: Guest) -> None:
    """Point ExternalEmailAddress at mail when it differs (a suggestion when mail is unusable)."""
    mail = guest.mail
    if not is_address(mail):
        plan.notes.append(
            "mail is empty or not a valid address: decide where mail should go, then:"
        )
        target = ps_quote("SMTP:<address>")
        plan.suggestions.append(f"Set-MailUser -Identity {ident} -ExternalEmailAddress {target}")
    elif (guest.mu_external_email or "").lower() != "smtp:" + mail.lower():
        target = ps_quote("SMTP:" + mail)
        plan.commands.append(f"Set-MailUser -Identity {ident} -ExternalEmailAddress {target}")


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
        "Set-MailUser -Identity '<#EXT# UPN>' -EmailAddresses @{add='smtp:<#EXT# UPN>'} and "
        "Set-MailUser -Identity '<#EXT# UPN>' -ExternalEmailAddress 'SMTP:<real address>'."
    ),
    check=_check,
    detail=_detail,
    plan=scripted(_plan),
    demo=(
        DemoCase(
            "mu-missing-upn-address",
            "mailuser:missing-upn-address",
            flags=frozenset({"exo-forwarding-broken"}),
        ),
        DemoCase(
            "mu-external-stale",
            "mailuser:external-stale",
            flags=frozenset({"exo-forwarding-broken"}),
        ),
        DemoCase(
            "mu-external-upn", "mailuser:external-upn", flags=frozenset({"exo-forwarding-broken"})
        ),
    ),
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
