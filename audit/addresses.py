"""Vectorised address handling: UPN de-mangling, domain A-labels, syntax and length checks.

Syntax follows RFC 5321/5322 dot-atoms as Graph and the SaaS targets accept them (no quoted local parts,
no domain literals). Work on domains is done once per distinct domain, never per address.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

import idna
import pandas as pd

# RFC 5322 atext, plus non-ASCII (RFC 6531 SMTPUTF8; flagged separately by address-non-ascii).
_ATOM = r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~\-\u0080-\U0010ffff]+"
_LOCAL_RE = re.compile(rf"^{_ATOM}(?:\.{_ATOM})*$")
_LABEL_RE = re.compile(r"^(?!-)[a-z0-9-]{1,63}(?<!-)$")
_TLD_RE = re.compile(r"^(?:[a-z]{2,63}|xn--[a-z0-9-]{1,59})$")
_EXT = "#EXT#"

MAX_LOCAL = 64
MAX_ADDRESS = 254


def split(addresses: pd.Series) -> pd.DataFrame:
    """Columns ``local`` and ``domain`` split at the last ``@``; NA where there is no ``@``."""
    parts = addresses.astype("str").str.extract(r"(?s)^(?P<local>.*)@(?P<domain>[^@]*)\Z")
    return parts.astype("str")


def a_label(domain: str | None) -> str | None:
    """The lower-case IDNA A-label of ``domain``, or None when it is not a valid host name."""
    if domain is None or domain == "" or domain != domain.strip() or domain.endswith("."):
        return None
    try:
        ascii_name = idna.encode(domain, uts46=True).decode("ascii")
    except (idna.IDNAError, UnicodeError, ValueError):
        return None
    return ascii_name.lower() if _valid_host(ascii_name.lower()) else None


def _valid_host(name: str) -> bool:
    labels = name.split(".")
    if len(name) > 253 or len(labels) < 2 or not _TLD_RE.match(labels[-1]):
        return False
    return all(_LABEL_RE.match(label) for label in labels)


def domains_a_label(domains: pd.Series) -> pd.Series:
    """:func:`a_label` of every value, computed once per distinct domain."""
    distinct = domains.dropna().unique()
    table = {d: a_label(d) for d in distinct}
    return domains.map(table).astype("str")


def domain_of(addresses: pd.Series) -> pd.Series:
    """The A-label domain of each address (NA when the address or its domain is not valid)."""
    return domains_a_label(split(addresses)["domain"])


def is_valid(addresses: pd.Series) -> pd.Series:
    """True where the address is a syntactically valid mailbox (length is checked separately)."""
    parts = split(addresses)
    local_ok = parts["local"].str.match(_LOCAL_RE.pattern).fillna(False).astype(bool)
    domain_ok = domains_a_label(parts["domain"]).notna()
    no_space = ~addresses.astype("str").str.contains(r"\s", regex=True).fillna(False).astype(bool)
    return (local_ok & domain_ok & no_space).astype(bool)


def too_long(addresses: pd.Series) -> pd.Series:
    """True where the local part exceeds 64 or the whole address 254 characters (RFC 5321)."""
    parts = split(addresses)
    local_len = parts["local"].str.len().fillna(0)
    total = addresses.astype("str").str.len().fillna(0)
    return ((local_len > MAX_LOCAL) | (total > MAX_ADDRESS)).astype(bool)


def needs_smtputf8(addresses: pd.Series) -> pd.Series:
    """True where the local part is not ASCII, or the domain is not given in its A-label form."""
    parts = split(addresses)
    local_utf8 = _flag(parts["local"].str.contains(r"[^\x00-\x7f]", regex=True))
    domain = parts["domain"]
    # A U-label where mail systems and targets compare A-labels, or text that is not NFC.
    u_label = _flag(domain.str.contains(r"[^\x00-\x7f]", regex=True))
    not_nfc = _flag(domain.str.normalize("NFC") != domain)
    return local_utf8 | u_label | not_nfc


def _flag(values: pd.Series) -> pd.Series:
    """A plain bool Series with NA read as False."""
    return values.astype("boolean").fillna(False).astype(bool)


def demangle_upn(upns: pd.Series) -> pd.Series:
    """The provisioning service's view of a guest UPN: ``alias_dom#EXT#@t`` becomes ``alias@dom``.

    The prefix before ``#EXT#`` has its last ``_`` turned into ``@`` (host names cannot hold ``_``).
    UPNs without ``#EXT#`` are returned unchanged.
    """
    text = upns.astype("str")
    prefix = text.str.extract(r"^(.*?)#EXT#", flags=re.IGNORECASE | re.DOTALL)[0]
    demangled = prefix.str.replace(r"_(?=[^_]*$)", "@", regex=True)
    demangled = demangled.where(prefix.str.contains("_", regex=False).fillna(False), prefix)
    return demangled.where(prefix.notna(), text).astype("str")


def is_ext_upn(upns: pd.Series, initial_domain: str | None) -> pd.Series:
    """True where the UPN has the guest form ``alias_domain#EXT#@<initial domain>``."""
    if not initial_domain:
        return pd.Series(False, index=upns.index)
    pattern = rf"^[^@#]*[^@#_]_[^@#_]+#EXT#@{re.escape(initial_domain)}\Z"
    matched = upns.astype("str").str.match(pattern, case=False)
    return matched.fillna(False).astype(bool)


def primary_smtp(proxies: pd.Series) -> pd.Series:
    """The address of the upper-case ``SMTP:`` proxy of each list (the primary), else NA."""
    return proxies.map(_primary, na_action="ignore").astype("str")


def _primary(values: Iterable[str]) -> str | None:
    for value in values:
        if isinstance(value, str) and value.startswith("SMTP:"):
            return value[5:]
    return None


def lower(series: pd.Series) -> pd.Series:
    """Case-folded text for case-insensitive comparisons (NA stays NA)."""
    return series.astype("str").str.lower()
