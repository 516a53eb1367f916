"""Vectorised address handling: UPN de-mangling, domain A-labels, syntax and length checks.

Syntax follows RFC 5321/5322 dot-atoms as Graph and the SaaS targets accept them (no quoted local parts,
no domain literals). Work on domains is done once per distinct domain, never per address.

Text is processed with Arrow's kernels, RE2 patterns written to match exactly what Python's ``re``
would (``\\s`` spelled out, ``$`` allowing a final newline). Python runs only for the few values the
kernels cannot settle: IDNA for non-ASCII domains, odd spellings of ``#EXT#``, malformed list cells.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

import idna
import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from audit._text import bool_series, list_items, numpy_bools, text_array, text_series

_LABEL_RE = re.compile(r"^(?!-)[a-z0-9-]{1,63}(?<!-)$")
_TLD_RE = re.compile(r"^(?:[a-z]{2,63}|xn--[a-z0-9-]{1,59})$")
_EXT = "#EXT#"

# RFC 5322 atext, plus non-ASCII (RFC 6531 SMTPUTF8; flagged separately by address-non-ascii).
# A dot-atom local part; the final ``\n?`` keeps Python's ``$``, which also matches before it.
_ATOM_RE2 = r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~\-\x{80}-\x{10FFFF}]+"
_LOCAL_RE2 = rf"^{_ATOM_RE2}(?:\.{_ATOM_RE2})*\n?$"
# Python's ``\s`` on text: exactly the characters for which ``str.isspace()`` is true.
_SPACE_RE2 = (
    r"[\t\n\x0b\x0c\r\x1c-\x1f \x{85}\x{a0}\x{1680}\x{2000}-\x{200a}"
    r"\x{2028}\x{2029}\x{202f}\x{205f}\x{3000}]"
)
# Host names whose IDNA A-label is simply their lower-case form (see ``_plain_hosts``).
_PLAIN_HOST_RE2 = r"^(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)+[A-Za-z]{2,63}$"
_HYPHENS_3_4_RE2 = r"(?:^|\.)[A-Za-z0-9-]{2}--"

MAX_LOCAL = 64
MAX_ADDRESS = 254


def split(addresses: pd.Series) -> pd.DataFrame:
    """Columns ``local`` and ``domain`` split at the last ``@``; NA where there is no ``@``."""
    parts = _split_arrays(text_array(addresses))
    index = addresses.index
    return pd.DataFrame(
        {"local": text_series(parts[0], index), "domain": text_series(parts[1], index)}
    )


def _split_arrays(text: Any) -> tuple[Any, Any]:
    """Local part and domain at the last ``@`` (both null without one), as Arrow arrays."""
    with_at = pc.if_else(pc.match_substring(text, "@"), text, pa.scalar(None, pa.large_string()))
    parts = pc.split_pattern(with_at, "@", max_splits=1, reverse=True)
    return pc.list_element(parts, 0), pc.list_element(parts, 1)


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
    return text_series(_a_label_array(text_array(domains)), domains.index, domains.name)


def _a_label_array(domains: Any) -> Any:
    """:func:`a_label` of an Arrow string array: once per distinct value, then taken back."""
    encoded = pc.dictionary_encode(domains)
    labels = _a_labels_of_distinct(encoded.dictionary)
    return pc.take(labels, encoded.indices)


def _a_labels_of_distinct(domains: Any) -> Any:
    """A-labels of distinct domains: plain ASCII host names in bulk, the rest through ``idna``."""
    other = ~_plain_hosts(domains)
    labels = [a_label(d) for d in domains.filter(pa.array(other)).to_pylist()]
    return pc.replace_with_mask(
        pc.utf8_lower(domains), pa.array(other), pa.array(labels, pa.large_string())
    )


def _plain_hosts(domains: Any) -> np.ndarray:
    """Domains made of LDH labels (no ``xn--``-like hyphens) with a letter TLD, at most 253 long.

    For these, ``idna.encode(uts46=True)`` only lower-cases ASCII letters and every check in
    :func:`a_label` passes, so the A-label is the lower-case form: no per-domain Python is needed.
    """
    shaped = pc.fill_null(pc.match_substring_regex(domains, _PLAIN_HOST_RE2), False)
    hyphens = pc.fill_null(pc.match_substring_regex(domains, _HYPHENS_3_4_RE2), False)
    short = pc.fill_null(pc.less_equal(pc.utf8_length(domains), 253), False)
    return numpy_bools(pc.and_(pc.and_(shaped, pc.invert(hyphens)), short))


def domain_of(addresses: pd.Series) -> pd.Series:
    """The A-label domain of each address (NA when the address or its domain is not valid)."""
    _, domain = _split_arrays(text_array(addresses))
    return text_series(_a_label_array(domain), addresses.index, "domain")


def is_valid(addresses: pd.Series) -> pd.Series:
    """True where the address is a syntactically valid mailbox (length is checked separately)."""
    text = text_array(addresses)
    local, domain = _split_arrays(text)
    local_ok = pc.fill_null(pc.match_substring_regex(local, _LOCAL_RE2), False)
    domain_ok = pc.is_valid(_a_label_array(domain))
    space = pc.fill_null(pc.match_substring_regex(text, _SPACE_RE2), False)
    return bool_series(pc.and_(pc.and_(local_ok, domain_ok), pc.invert(space)), addresses.index)


def too_long(addresses: pd.Series) -> pd.Series:
    """True where the local part exceeds 64 or the whole address 254 characters (RFC 5321)."""
    text = text_array(addresses)
    local, _ = _split_arrays(text)
    local_long = pc.greater(pc.fill_null(pc.utf8_length(local), 0), MAX_LOCAL)
    total_long = pc.greater(pc.fill_null(pc.utf8_length(text), 0), MAX_ADDRESS)
    return bool_series(pc.or_(local_long, total_long), addresses.index)


def needs_smtputf8(addresses: pd.Series) -> pd.Series:
    """True where the local part is not ASCII, or the domain is not given in its A-label form.

    A value without ``@`` (address-invalid flags it) has neither part: it counts when it holds
    non-ASCII text, so ``jürgen`` is flagged here too, and plain ``jurgen`` is not.
    """
    text = text_array(addresses)
    local, domain = _split_arrays(text)
    local_utf8 = pc.fill_null(pc.invert(pc.string_is_ascii(local)), False)
    # A U-label where mail systems and targets compare A-labels, or text that is not NFC.
    u_label = pc.fill_null(pc.invert(pc.string_is_ascii(domain)), False)
    not_nfc = pc.fill_null(pc.not_equal(pc.utf8_normalize(domain, "NFC"), domain), False)
    parts = pc.or_(pc.or_(local_utf8, u_label), not_nfc)
    whole = pc.fill_null(pc.invert(pc.string_is_ascii(text)), False)
    return bool_series(pc.if_else(pc.is_null(domain), whole, parts), addresses.index)


def demangle_upn(upns: pd.Series) -> pd.Series:
    """The provisioning service's view of a guest UPN: ``alias_dom#EXT#@t`` becomes ``alias@dom``.

    The prefix before ``#EXT#`` has its last ``_`` turned into ``@`` (host names cannot hold ``_``).
    UPNs without ``#EXT#`` are returned unchanged.
    """
    text = text_array(upns)
    prefix = _before_ext(text)
    parts = pc.split_pattern(prefix, "_", max_splits=1, reverse=True)
    demangled = pc.binary_join(parts, pa.scalar("@", pa.large_string()))
    return text_series(pc.coalesce(demangled, text), upns.index, 0)


def _before_ext(text: Any) -> Any:
    """The text before the first ``#EXT#`` in any case; null without one.

    Cut at the first upper-case ``#EXT#`` in bulk; only texts with another spelling at or before it
    go through the (slower) case-insensitive regular expression.
    """
    exact = pc.split_pattern(text, _EXT, max_splits=1)
    found = pc.fill_null(pc.equal(pc.list_value_length(exact), 2), False)
    prefix = pc.if_else(found, pc.list_element(exact, 0), pa.scalar(None, pa.large_string()))
    other = pc.fill_null(pc.match_substring(prefix, _EXT, ignore_case=True), False)
    anywhere = pc.fill_null(pc.match_substring(text, _EXT, ignore_case=True), False)
    redo = pc.or_(other, pc.and_(anywhere, pc.invert(found)))
    if not pc.any(redo).as_py():
        return prefix
    again = pc.extract_regex(text.filter(redo), r"(?is)^(?P<prefix>.*?)#EXT#")
    return pc.replace_with_mask(prefix, redo, pc.struct_field(again, "prefix"))


def is_ext_upn(upns: pd.Series, domains: str | Iterable[str] | None) -> pd.Series:
    """True where the UPN has the guest form ``alias_domain#EXT#@<one of domains>``.

    ``domains`` are the tenant's domains a guest UPN may sit on (its initial domain, or verified
    custom domains). The alias may itself end in ``_`` (``lee__partner.com#EXT#@...`` is
    ``lee_@partner.com``): the last ``_`` before ``#EXT#`` separates alias and domain, and domain
    names hold no ``_``.
    """
    names = [domains] if isinstance(domains, str) else list(domains or ())
    names = [d for d in names if d]
    if not names:
        return pd.Series(False, index=upns.index)
    suffix = "|".join(re.escape(d) for d in sorted(set(names), key=len, reverse=True))
    pattern = rf"^[^@#]+_[^@#_]+#EXT#@(?:{suffix})\Z"
    matched = upns.astype("str").str.match(pattern, case=False)
    return matched.fillna(False).astype(bool)


def primary_smtp(proxies: pd.Series) -> pd.Series:
    """The address of the upper-case ``SMTP:`` proxy of each list (the primary), else NA."""
    items = list_items(proxies)
    if items is None:  # not plain lists of strings: look at each cell as it is
        return proxies.map(_primary, na_action="ignore").astype("str")
    texts, owners = items
    primary = numpy_bools(pc.starts_with(texts, "SMTP:"))
    rows, first = np.unique(owners[primary], return_index=True)
    addresses = pc.utf8_slice_codeunits(texts, 5)
    found = np.full(len(proxies), -1, dtype=np.int64)
    found[rows] = np.flatnonzero(primary)[first]
    picked = pc.take(addresses, pa.array(found, mask=found < 0))
    return text_series(picked, proxies.index, proxies.name)


def _primary(values: Iterable[str]) -> str | None:
    for value in values:
        if isinstance(value, str) and value.startswith("SMTP:"):
            return value[5:]
    return None


def lower(series: pd.Series) -> pd.Series:
    """Case-folded text for case-insensitive comparisons (NA stays NA)."""
    return series.astype("str").str.lower()
