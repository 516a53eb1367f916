"""Domains and verification tokens as people type them: checked, normalised, or refused with the
corrected form.

``--verified-domain`` takes one domain or a comma-separated list (the form ``demo --serve``
prints), in any case; the TOML key takes a list. A URL, an address, ``@domain``, a path, a port,
a wildcard or a space is a mistake that would silently verify nothing, so it is a
:class:`~audit.errors.ConfigError` whose message shows exactly what to type instead.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Iterable
from urllib.parse import urlsplit

from audit.addresses import a_label
from audit.errors import ConfigError

__all__ = ["domain_list", "nameserver_address", "nameserver_list", "token_list"]

_SPACE = re.compile(r"\s")
_TOKEN = re.compile(r"[A-Za-z0-9._~+/=:-]+")


def domain_list(values: Iterable[str], name: str) -> tuple[str, ...]:
    """Domains from flag values or a TOML list ``name``, lower-case, each once, in order.

    ``name`` is the flag (``--verified-domain``) or the TOML key (``verified_domains``) the
    values came from; an error message shows the corrected form in the same place.
    """
    raw = _items(values)
    fixed = [_fixed_domain(item) for item in raw]
    for item, (domains, mistake) in zip(raw, fixed, strict=True):
        if mistake is None and all(a_label(d) is not None for d in domains):
            continue
        good = [d for ds, _ in fixed for d in ds if a_label(d) is not None]
        what = f"is {mistake}, not a domain" if mistake else "is not a domain name"
        hint = f"; type {_form(name, list(dict.fromkeys(good)))}" if good else ""
        raise ConfigError(f"{_shown(name)} {item!r} {what}{hint}")
    return tuple(dict.fromkeys(d for domains, _ in fixed for d in domains))


def token_list(values: Iterable[str], name: str) -> tuple[str, ...]:
    """Verification tokens, bare (``abc123``) or as the whole TXT value
    (``atlassian-domain-verification=abc123``), each once, in order; quotes are dropped."""
    raw = _items(values)
    tokens = []
    for item in raw:
        token = item.strip().strip("\"'")
        mistake = _token_mistake(token)
        if mistake is not None:
            guess = _token_guess(token)
            hint = f"; type {_form(name, [guess])}" if guess else _TOKEN_HINT.format(_shown(name))
            raise ConfigError(f"{_shown(name)} {item!r} is {mistake}{hint}")
        tokens.append(token)
    return tuple(dict.fromkeys(tokens))


_TOKEN_HINT = "; give the value of your TXT record, e.g. {} <vendor prefix>=<token>"


def _items(values: Iterable[str]) -> list[str]:
    """The values split at commas, each stripped; empty pieces (``a,,b``, ``a,``) dropped."""
    if isinstance(values, str):
        values = [values]
    return [piece.strip() for value in values for piece in str(value).split(",") if piece.strip()]


def _fixed_domain(item: str) -> tuple[list[str], str | None]:
    """The domains ``item`` most likely means, and what was wrong with it (None: nothing)."""
    text = item.strip()
    if _SPACE.search(text) and "://" not in text:
        parts = [_fixed_domain(p)[0] for p in text.split()]
        return [d for ds in parts for d in ds], "several values separated by spaces"
    if "://" in text:
        return [_clean(urlsplit(text).hostname or "")], "a URL"
    if text.startswith("@"):
        return [_clean(text[1:])], "an address suffix"
    if "@" in text:
        return [_clean(text.rpartition("@")[2])], "an e-mail address"
    if "/" in text or "\\" in text:
        return [_clean(re.split(r"[/\\]", text)[0])], "a path"
    if text.startswith("*."):
        return [_clean(text[2:])], "a wildcard"
    if ":" in text:
        return [_clean(text.partition(":")[0])], "a host and port"
    return [_clean(text)], None


def _clean(domain: str) -> str:
    return domain.strip().lower().rstrip(".")


def _token_mistake(token: str) -> str | None:
    """Why ``token`` cannot be a verification token (None when it can)."""
    if "://" in token:
        return "a URL, not a verification token"
    if _SPACE.search(token):
        return "more than a token (it has a space)"
    if "@" in token:
        return "an e-mail address, not a verification token"
    if not token or not _TOKEN.fullmatch(token):
        return "not a verification token"
    return None


def _token_guess(token: str) -> str | None:
    """The token a pasted record line most likely holds: its part with ``=``, quotes dropped."""
    parts = [p.strip("\"'") for p in token.split()]
    candidates = [p for p in parts if "=" in p and _TOKEN.fullmatch(p)]
    return candidates[-1] if candidates else None


def _shown(name: str) -> str:
    """How the place a value came from is named in a message."""
    return name if name.startswith("--") else f"config {name}"


def _form(name: str, values: list[str]) -> str:
    """The corrected form: ``--flag a,b`` or ``key = ["a", "b"]``."""
    if name.startswith("--"):
        return f"{name} {','.join(values)}"
    return f"{name} = [{', '.join(chr(34) + v + chr(34) for v in values)}]"


_BRACKETED = re.compile(r"\[([^\]]+)\](?::(\d+))?")


def nameserver_list(values: Iterable[str]) -> tuple[str, ...]:
    """``--nameserver`` values, each checked by :func:`nameserver_address` (comma lists too).

    A host name is refused here, before anything is collected: the resolver needs an address.
    """
    values = tuple(_items(values))
    for value in values:
        nameserver_address(value)
    return values


def nameserver_address(value: str) -> tuple[str, int | None]:
    """``IP``, ``IP:PORT``, ``IPv6`` or ``[IPv6]:PORT`` as (address, port or None)."""
    text = value.strip() if isinstance(value, str) else ""
    bracketed = _BRACKETED.fullmatch(text)
    if bracketed:
        host, port = bracketed.group(1), bracketed.group(2)
    elif text.count(":") == 1:
        host, port = text.split(":")
    else:
        host, port = text, None
    try:
        ipaddress.ip_address(host)
    except ValueError:
        raise ConfigError(
            f"--nameserver {value!r} is not an IP address; give the DNS server's address, "
            "e.g. --nameserver 8.8.8.8 or --nameserver 127.0.0.1:5353"
        ) from None
    if port is not None and not (port.isdigit() and 0 < int(port) < 65536):
        raise ConfigError(f"--nameserver {value!r}: the port must be 1-65535")
    return host, None if port is None else int(port)
