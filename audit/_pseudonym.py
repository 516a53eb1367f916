"""Keyed pseudonyms for guest names and addresses, decided by exact values, never by words.

A :class:`Pseudonymiser` holds a random key (HMAC-SHA256; never written anywhere, never printed)
and replaces every word of a name or an address (:meth:`Pseudonymiser.text`) with a keyed
pseudonym of the same length and character classes: ASCII letters stay ASCII letters (case kept),
digits stay digits, other letters become other non-ASCII letters, and everything else
(``@ . _ - #``, quotes, spaces, bidi and zero-width characters) stays. A word maps to one
pseudonym whatever its case, so ``john@contoso.com``, its UPN
``john_contoso.com#EXT#@tenant.onmicrosoft.com`` and ``SMTP:JOHN@CONTOSO.COM`` stay consistent,
and an address keeps its length, validity and (non-)ASCII-ness.

What is kept is decided by *whole values in their place*, never by a word that happens to occur
in them: the domain of an address (after ``@``, or before ``#EXT#`` in a UPN, or a value that is
a host name) is kept when it, or a parent domain of it, is exactly one of the tenant's domains, a
consumer mail provider (``gmail.com``) or ``onmicrosoft.com``, and its top-level label is kept when
it is a known top-level domain; an address type before ``:`` (``SMTP:``) and the ``#EXT#`` marker
are kept. So with the tenant domain ``bob-adatum-alliance.com``, ``bob@adatum.com`` is still fully
pseudonymised.

Free text (finding details, error texts, provisioning-log reasons) is never redacted word by word
either, which garbled the tool's own sentences: :meth:`Pseudonymiser.known_text` replaces only
occurrences of the exact values it has learned (:meth:`Pseudonymiser.learn`) — whole names and
addresses, case-insensitively, or a single-word value with its exact case; one-character values
are never looked for. A guest named "A Address" leaves "not a valid address" as it is, and a long
value cut short in a text (a detail shows 300 characters) is still found by its start.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from collections.abc import Iterable
from typing import Any

import idna

from audit.guests import public_domains

__all__ = ["Pseudonymiser"]

_WORD = re.compile(r"[^\W_]+")
_TOKEN = re.compile(r"(?i)\bxn--[a-z0-9-]*[a-z0-9]|[^\W_]+")  # an IDNA A-label is one token
_LABEL = r"[^\W_]++(?:-++[^\W_]++)*+"  # possessive: a long word without dots fails at once
_HOST = re.compile(rf"(?<![^\W_-]){_LABEL}(?:\.{_LABEL})++\.?")
_ADDRESS_TYPE = re.compile(r"(?i)(?:smtp|sip|x400|x500|eum|spo|fax|sms|ms)(?=:)")
_EXT = re.compile(r"(?i)#ext#")
_LOWER_POOL = "àáâãäåæçèéêëìíîïðñòóôõöøùúûüýþ"
_UPPER_POOL = _LOWER_POOL.upper()
_SERVICE_DOMAINS = frozenset({"onmicrosoft.com", "onmicrosoft.us", "partner.onmschina.cn"})
_GENERIC_TLDS = frozenset(
    {"com", "net", "org", "edu", "gov", "mil", "int", "info", "biz", "io", "co", "example",
     "test", "invalid", "localhost", "local", "arpa", "online", "app", "dev", "cloud"}
)  # fmt: skip
_LONG = 48
"""Values longer than this are also found by their first characters (a text may cut them)."""
_MAX_TOKENS = 64
"""Values of more words than this are found by their start only."""
_TEXTS_CACHED = 1 << 19
"""Most redacted values remembered at once (the cache starts again when it is full)."""


class Pseudonymiser:
    """Keyed, consistent pseudonyms for guest names and addresses (see the module docstring).

    ``keep`` names domains that stay as they are (the tenant's own), with their subdomains.
    """

    def __init__(self, *, key: bytes | None = None, keep: Iterable[str] = ()) -> None:
        self._key = key if key is not None else secrets.token_bytes(32)
        self._domains = set(_SERVICE_DOMAINS) | public_domains()  # they identify nobody
        for domain in keep:
            self._domains |= _domain_forms(domain)
        self._tlds = _GENERIC_TLDS | {d.rpartition(".")[2] for d in self._domains}
        self._cache: dict[str, str] = {}
        self._exact: set[int] = set()  # hashes of learned one-word values, as written
        self._folded: set[int] = set()  # hashes of learned longer values, case-folded
        self._firsts: dict[str, int] = {}  # first word (folded) -> most words of such a value
        self._long: dict[str, list[str]] = {}  # first _LONG characters (folded) -> long values
        self._learned: set[int] = set()  # hashes of the texts learned (each is learned once)
        self._texts: dict[str, str] = {}  # redacted values (names repeat across tables)

    def __repr__(self) -> str:
        learned = len(self._exact) + len(self._folded)
        return f"Pseudonymiser(keeping {len(self._domains)} domains, {learned} values learned)"

    def word(self, word: str) -> str:
        """The pseudonym of one word (a run of letters and digits)."""
        cached = self._cache.get(word)
        if cached is None:
            cached = self._cache[word] = _substitute(word, self._stream(word))
        return cached

    def text(self, value: str) -> str:
        """``value`` (a name or an address) with every word replaced but those its structure
        keeps: an address type, ``#EXT#``, a kept domain, a top-level domain."""
        done = self._texts.get(value)
        if done is not None:
            return done
        pieces, at = [], 0
        for start, end in self._kept(value):
            pieces += [_TOKEN.sub(self._replace, value[at:start]), value[start:end]]
            at = end
        done = "".join(pieces) + _TOKEN.sub(self._replace, value[at:])
        if len(self._texts) >= _TEXTS_CACHED:
            self._texts.clear()
        self._texts[value] = done
        return done

    def _replace(self, match: re.Match[str]) -> str:
        word = match.group()
        cached = self._cache.get(word)
        return cached if cached is not None else self._token(word)

    def known_text(self, value: str) -> str:
        """``value`` (free text) with each learned value in it replaced as :meth:`text` does."""
        if not self._firsts or not value:
            return value
        tokens = [(m.start(), m.end(), m.group().casefold()) for m in _TOKEN.finditer(value)]
        out, done, i = [], 0, 0
        while i < len(tokens):
            found = self._value_at(value, tokens, i)
            if found is None:
                i += 1
                continue
            start, end, i = found
            out += [value[done:start], self.text(value[start:end])]
            done = end
        return "".join(out) + value[done:] if out else value

    def learn(self, value: Any) -> None:
        """Remember a guest's name or address (strings, lists of strings) as values that
        :meth:`known_text` replaces; an address also teaches its domain."""
        for text in _strings(value):
            key = hash(text)
            if key in self._learned:
                continue
            self._learned.add(key)
            self._learn(text)
            at = text.rfind("@")
            if at >= 0 and "." in text[at:]:
                self._learn(text[at + 1 :])

    def _learn(self, text: str) -> None:
        tokens = list(_TOKEN.finditer(text))
        if not tokens:
            return
        core = text[tokens[0].start() : tokens[-1].end()]
        if len(core) < 2:
            return
        if len(tokens) == 1:
            self._exact.add(hash(core))
        else:
            self._folded.add(hash(core.casefold()))
        first = tokens[0].group().casefold()
        self._firsts[first] = max(self._firsts.get(first, 0), min(len(tokens), _MAX_TOKENS))
        if len(core) > _LONG:
            self._long.setdefault(core[:_LONG].casefold(), []).append(core)

    def _value_at(
        self, value: str, tokens: list[tuple[int, int, str]], i: int
    ) -> tuple[int, int, int] | None:
        """The longest learned value starting at token ``i``: its span and the next token."""
        start, _, first = tokens[i]
        most = self._firsts.get(first, 0)
        for n in range(min(most, len(tokens) - i), 0, -1):
            end = tokens[i + n - 1][1]
            piece = value[start:end]
            known = (
                (hash(piece) in self._exact) if n == 1 else (hash(piece.casefold()) in self._folded)
            )
            if known:
                return start, end, i + n
        return self._long_value_at(value, tokens, i) if self._long else None

    def _long_value_at(
        self, value: str, tokens: list[tuple[int, int, str]], i: int
    ) -> tuple[int, int, int] | None:
        """A long learned value starting at token ``i``, whole or cut short."""
        start = tokens[i][0]
        candidates = self._long.get(value[start : start + _LONG].casefold())
        if not candidates:
            return None
        end = start + max(_common_prefix(value[start:], c) for c in candidates)
        after = next((k for k in range(i, len(tokens)) if tokens[k][0] >= end), len(tokens))
        return start, end, after

    def _kept(self, value: str) -> list[tuple[int, int]]:
        """Spans of ``value`` its structure keeps (see :meth:`text`), in order, not overlapping."""
        kept = [m.span() for m in _EXT.finditer(value)] if "#" in value else []
        prefix = _ADDRESS_TYPE.match(value) if ":" in value else None
        if prefix:
            kept.append(prefix.span())
        body = prefix.end() + 1 if prefix else 0
        for host in _HOST.finditer(value) if "." in value else ():
            if _is_domain(value, host.start(), host.end(), body):
                kept += self._kept_labels(value, host.start(), host.end())
        return sorted(kept)

    def _kept_labels(self, value: str, start: int, end: int) -> list[tuple[int, int]]:
        """Within the domain at ``start:end``: a kept (parent) domain, else a top-level label."""
        name = value[start:end].rstrip(".")
        labels = name.split(".")
        offset = start
        for k in range(len(labels)):
            if ".".join(labels[k:]).casefold() in self._domains:
                return [(offset, start + len(name))]
            offset += len(labels[k]) + 1
        last = labels[-1].casefold()
        if last in self._tlds or (len(last) == 2 and last.isascii() and last.isalpha()):
            return [(start + len(name) - len(last), start + len(name))]
        return []

    def _token(self, token: str) -> str:
        if token[:4].lower() != "xn--":
            return self.word(token)
        try:  # an A-label: redact its Unicode form, so it matches the U-label written elsewhere
            return idna.encode(self.text(idna.decode(token)), uts46=True).decode("ascii")
        except (idna.IDNAError, UnicodeError, ValueError):
            return _WORD.sub(lambda m: self.word(m.group()), token)

    def _stream(self, word: str) -> bytes:
        seed = hmac.new(self._key, word.casefold().encode("utf-8", "surrogatepass"), "sha256")
        digest = seed.digest()
        return digest if len(word) <= len(digest) else hashlib.shake_256(digest).digest(len(word))


def _is_domain(value: str, start: int, end: int, body: int) -> bool:
    """Is the host-shaped text at ``start:end`` in a domain's place: after ``@``, before
    ``#EXT#`` after ``_`` (a guest UPN), or the whole value (after an address type)?"""
    before = value[start - 1] if start > 0 else ""
    if before == "@":
        return True
    if before == "_" and value[end : end + 5].casefold() == "#ext#":
        return True
    return not value[body:start].strip() and not value[end:].strip()


def _domain_forms(domain: str) -> set[str]:
    """A domain as kept: case-folded, without a trailing dot, as A-label and as U-label."""
    name = domain.strip().rstrip(".").casefold()
    forms = {name} if name else set()
    for convert in (idna.encode, idna.decode):
        try:
            other = convert(name, uts46=True) if convert is idna.encode else convert(name)
        except (idna.IDNAError, UnicodeError, ValueError):
            continue
        forms.add(other.decode("ascii") if isinstance(other, bytes) else str(other))
    return forms


def _common_prefix(a: str, b: str) -> int:
    """How many characters ``a`` and ``b`` share at their start, case-insensitively."""
    size = 0
    for x, y in zip(a, b, strict=False):
        if x != y and x.casefold() != y.casefold():
            break
        size += 1
    return size


def _substitute(word: str, stream: bytes) -> str:
    """``word`` with each character replaced by one of its class, chosen by ``stream``."""
    out = []
    for char, byte in zip(word, stream, strict=False):
        if "a" <= char <= "z":
            out.append(chr(97 + byte % 26))
        elif "A" <= char <= "Z":
            out.append(chr(65 + byte % 26))
        elif "0" <= char <= "9":
            out.append(chr(48 + byte % 10))
        else:
            out.append((_UPPER_POOL if char.isupper() else _LOWER_POOL)[byte % len(_LOWER_POOL)])
    return "".join(out)


def _strings(value: Any) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, list | tuple):
        return [v for v in value if isinstance(v, str)]
    if hasattr(value, "tolist"):
        return _strings(value.tolist())
    return []
