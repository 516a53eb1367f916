"""OData pieces of the Graph emulator: errors, ``$filter``, ``$select``, ``$top``, skip tokens.

Kept apart from the HTTP server so the query language can be tested with plain values. The
``$filter`` subset mirrors what Graph accepts *without* advanced queries (``eq``, ``startswith``,
``and``/``or``, parentheses) plus the advanced-only operators (``ne``, ``not``, ``endswith``),
which are refused with Graph's own message unless the request carries ``ConsistencyLevel:
eventual`` and ``$count=true``.
"""

from __future__ import annotations

import base64
import binascii
import operator
import re
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import orjson

JSON = dict[str, Any]
Predicate = Callable[[JSON], bool]

JSON_TYPE = "application/json;odata.metadata=minimal;odata.streaming=true;IEEE754Compatible=false"
JSON_HEADERS = {"Content-Type": JSON_TYPE + ";charset=utf-8"}
MAX_TOP = 999
ADVANCED_HINT = (
    "is not supported because the required parameters might be missing. Try adding $count=true"
    " query parameter and ConsistencyLevel:eventual header. Refer to"
    " https://aka.ms/graph-docs/advanced-queries for more information"
)


@dataclass(frozen=True)
class Reply:
    """One HTTP answer: status, encoded body and extra headers."""

    status: int
    body: bytes
    headers: Mapping[str, str] = field(default_factory=lambda: dict(JSON_HEADERS))


class ODataFault(Exception):
    """A request Graph would refuse; becomes a Graph error body with this status and code."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message

    def reply(self) -> Reply:
        """The Graph-shaped error response for this fault."""
        return error_reply(self.status, self.code, self.message)


def error_body(code: str, message: str) -> bytes:
    """Graph's error envelope, ``innerError`` included (date, request-id, client-request-id)."""
    inner = {
        "date": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S"),
        "request-id": str(uuid.uuid4()),
        "client-request-id": str(uuid.uuid4()),
    }
    return orjson.dumps({"error": {"code": code, "message": message, "innerError": inner}})


def error_reply(status: int, code: str, message: str, **headers: str) -> Reply:
    """An error :class:`Reply`; keyword arguments become extra headers (e.g. ``Retry_After``)."""
    extra = {name.replace("_", "-"): value for name, value in headers.items()}
    return Reply(status, error_body(code, message), {**JSON_HEADERS, **extra})


def json_reply(document: Any) -> Reply:
    """A 200 answer with ``document`` encoded by orjson."""
    return Reply(200, orjson.dumps(document))


def page_size(query: Mapping[str, str], default: int = 100) -> int:
    """``$top`` as Graph validates it (1..999), or ``default`` when absent."""
    raw = query.get("$top")
    if raw is None:
        return default
    top = int(raw) if raw.strip().isdigit() else 0
    if not 1 <= top <= MAX_TOP:
        message = f"Invalid page size specified: '{raw}'. Must be between 1 and 999 inclusive."
        raise ODataFault(400, "Request_UnsupportedQuery", message)
    return top


def encode_token(state: JSON) -> str:
    """An opaque, stateless skip/delta token (the paging position lives in the link itself)."""
    return base64.urlsafe_b64encode(orjson.dumps(state)).decode().rstrip("=")


def decode_token(token: str) -> JSON:
    """Inverse of :func:`encode_token`; a tampered token is refused like an expired one."""
    try:
        state = orjson.loads(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)))
    except (binascii.Error, ValueError):
        state = None
    if not isinstance(state, dict):
        raise expired_token()
    return state


def expired_token() -> ODataFault:
    """Graph's answer to a skip token it no longer accepts."""
    message = (
        "The specified page token value has expired and can no longer be included in your request."
    )
    return ODataFault(400, "Directory_ExpiredPageToken", message)


def parse_select(query: Mapping[str, str]) -> tuple[str, ...] | None:
    """The ``$select`` names in order, or None when the request has no ``$select``."""
    raw = query.get("$select")
    if raw is None:
        return None
    names = tuple(dict.fromkeys(n.strip() for n in raw.split(",") if n.strip()))
    return names or None


def select_generic(obj: JSON, select: tuple[str, ...] | None) -> JSON:
    """``$select`` for non-user resources: the named keys, plus ``id`` and ``@odata.type``."""
    if select is None:
        return obj
    keep = {"id", "@odata.type", *select}
    return {k: v for k, v in obj.items() if k in keep}


@dataclass(frozen=True)
class FilterSpec:
    """Which properties of one resource support which ``$filter`` operators."""

    resource: str
    eq: frozenset[str] = frozenset()
    ranges: frozenset[str] = frozenset()
    starts: frozenset[str] = frozenset()
    ends: frozenset[str] = frozenset()  # endswith: advanced queries only
    case_sensitive: bool = False


def compile_filter(text: str, spec: FilterSpec, *, advanced: bool) -> Predicate:
    """Compile ``$filter`` text into a predicate over raw Graph objects; refuse what Graph does."""
    parser = _Parser(_tokenize(text), spec, advanced)
    predicate = parser.expression()
    if parser.peek() is not None:
        raise _syntax(f"unexpected '{parser.peek()}'")
    return predicate


_TOKEN = re.compile(
    r"""\s*(?:
      (?P<str>'(?:[^']|'')*')
    | (?P<dt>\d{4}-\d{2}-\d{2}T[0-9:.]+(?:Z|[+-]\d{2}:\d{2})?)
    | (?P<num>-?\d+(?:\.\d+)?)
    | (?P<name>[A-Za-z_$][A-Za-z0-9_./$]*)
    | (?P<punct>[(),])
    )""",
    re.VERBOSE,
)
_COMPARE: dict[str, Callable[[Any, Any], bool]] = {
    "eq": operator.eq,
    "ne": operator.ne,
    "gt": operator.gt,
    "ge": operator.ge,
    "lt": operator.lt,
    "le": operator.le,
}
_WORDS = {"true": True, "false": False, "null": None}
_Token = tuple[str, str]


def _tokenize(text: str) -> list[_Token]:
    tokens: list[_Token] = []
    pos = 0
    text = text.rstrip()
    while pos < len(text):
        match = _TOKEN.match(text, pos)
        if match is None or match.end() == pos:
            raise _syntax(f"unexpected character at position {pos}")
        kind = str(match.lastgroup)
        tokens.append((kind, match.group(kind)))
        pos = match.end()
    return tokens


def _syntax(detail: str) -> ODataFault:
    return ODataFault(400, "BadRequest", f"Invalid filter clause: {detail}.")


def _unsupported(prop: str, spec: FilterSpec) -> ODataFault:
    message = (
        f"Unsupported or invalid query filter clause specified for property '{prop}'"
        f" of resource '{spec.resource}'."
    )
    return ODataFault(400, "Request_UnsupportedQuery", message)


class _Parser:
    """Recursive descent over ``or`` < ``and`` < ``not`` < comparison / function / parentheses."""

    def __init__(self, tokens: list[_Token], spec: FilterSpec, advanced: bool) -> None:
        self.tokens = tokens
        self.pos = 0
        self.spec = spec
        self.advanced = advanced

    def peek(self) -> str | None:
        return self.tokens[self.pos][1] if self.pos < len(self.tokens) else None

    def take(self) -> _Token:
        if self.pos >= len(self.tokens):
            raise _syntax("unexpected end of expression")
        self.pos += 1
        return self.tokens[self.pos - 1]

    def expect(self, value: str) -> None:
        if self.take()[1] != value:
            raise _syntax(f"expected '{value}'")

    def keyword(self, word: str) -> bool:
        if (self.peek() or "").lower() == word:
            self.pos += 1
            return True
        return False

    def expression(self) -> Predicate:
        parts = [self.conjunction()]
        while self.keyword("or"):
            parts.append(self.conjunction())
        return parts[0] if len(parts) == 1 else (lambda o: any(p(o) for p in parts))

    def conjunction(self) -> Predicate:
        parts = [self.unary()]
        while self.keyword("and"):
            parts.append(self.unary())
        return parts[0] if len(parts) == 1 else (lambda o: all(p(o) for p in parts))

    def unary(self) -> Predicate:
        if self.keyword("not"):
            self.require_advanced("not")
            inner = self.unary()
            return lambda o: not inner(o)
        if self.peek() == "(":
            self.take()
            inner = self.expression()
            self.expect(")")
            return inner
        return self.comparison()

    def require_advanced(self, op: str) -> None:
        if not self.advanced:
            raise ODataFault(400, "Request_UnsupportedQuery", f"Operator '{op}' {ADVANCED_HINT}")

    def comparison(self) -> Predicate:
        kind, name = self.take()
        if kind != "name":
            raise _syntax(f"expected a property name, found '{name}'")
        if name.lower() in ("startswith", "endswith"):
            return self.function(name.lower())
        op = self.take()[1].lower()
        if op not in _COMPARE:
            raise _syntax(f"unknown operator '{op}'")
        self.check_property(name, op)
        return _comparison(name, op, self.literal(), self.spec.case_sensitive)

    def check_property(self, prop: str, op: str) -> None:
        allowed = self.spec.eq | self.spec.ranges if op == "eq" else self.spec.ranges
        if op == "ne" and prop in self.spec.eq:
            self.require_advanced("ne")
            return
        if prop not in allowed:
            raise _unsupported(prop, self.spec)

    def function(self, func: str) -> Predicate:
        self.expect("(")
        kind, prop = self.take()
        self.expect(",")
        value = self.literal()
        self.expect(")")
        if func == "endswith" and prop in self.spec.ends:
            self.require_advanced("endsWith")
        elif func != "startswith" or prop not in self.spec.starts or kind != "name":
            raise _unsupported(prop, self.spec)
        if not isinstance(value, str):
            raise _syntax(f"{func} needs a string")
        return _affix(prop, func, value, self.spec.case_sensitive)

    def literal(self) -> Any:
        kind, text = self.take()
        if kind == "str":
            return text[1:-1].replace("''", "'")
        if kind == "dt":
            return datetime.fromisoformat(text.replace("Z", "+00:00"))
        if kind == "num":
            return float(text) if "." in text else int(text)
        if kind == "name" and text.lower() in _WORDS:
            return _WORDS[text.lower()]
        raise _syntax(f"expected a literal, found '{text}'")


def lookup(obj: JSON, path: str) -> Any:
    """The value at a ``/``-separated property path (``servicePrincipal/id``), None when absent."""
    value: Any = obj
    for part in path.split("/"):
        value = value.get(part) if isinstance(value, dict) else None
    return value


def _comparison(prop: str, op: str, right: Any, case_sensitive: bool) -> Predicate:
    compare = _COMPARE[op]
    if isinstance(right, str) and not case_sensitive:
        right = right.casefold()

    def predicate(obj: JSON) -> bool:
        left = _coerce(lookup(obj, prop), right, case_sensitive)
        if left is None or right is None:
            return (left is right) == (op == "eq") if op in ("eq", "ne") else False
        try:
            return bool(compare(left, right))
        except TypeError:
            return op == "ne"

    return predicate


def _coerce(left: Any, right: Any, case_sensitive: bool) -> Any:
    if isinstance(right, datetime) and isinstance(left, str):
        try:
            return datetime.fromisoformat(left.replace("Z", "+00:00"))
        except ValueError:
            return None
    if isinstance(left, str) and not case_sensitive:
        return left.casefold()
    return left


def _affix(prop: str, func: str, value: str, case_sensitive: bool) -> Predicate:
    needle = value if case_sensitive else value.casefold()

    def predicate(obj: JSON) -> bool:
        text = lookup(obj, prop)
        if not isinstance(text, str):
            return False
        hay = text if case_sensitive else text.casefold()
        return hay.startswith(needle) if func == "startswith" else hay.endswith(needle)

    return predicate
