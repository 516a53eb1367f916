"""Parse Entra attribute-mapping expressions into the tree of ``nodes.py``.

Grammar (from the expression reference's "Syntax overview", plus what its examples use)::

    expression := operand [ ("=" | "<>" | "<" | "<=" | ">" | ">=") operand ]
    operand    := "[" name "]" | '"' chars '"' | integer | word "(" [ args ] ")" | word
    args       := [ expression ] { "," [ expression ] }     (an empty slot is an omitted argument)
    integer    := ["-"] digits | "&H" hexdigits

Strings escape ``"`` and ``\\`` with a backslash; any other backslash stands for itself, so
regular expressions such as ``"\\d"`` and ``"\\\\d"`` both mean ``\\d``. Attribute names are taken
verbatim between the brackets (surrounding blanks trimmed). Function names are matched
case-insensitively and stored in their documented spelling. Every syntax problem raises
:class:`~audit.errors.ExpressionError` with the 0-based position; nothing else escapes ``parse``.
"""

from __future__ import annotations

from dataclasses import dataclass

from audit.errors import ExpressionError
from audit.mapping.nodes import Attribute, Call, Compare, Constant, Expr, Identifier, Number
from audit.mapping.signatures import canonical_name

__all__ = ["MAX_DEPTH", "parse"]

#: Deepest function nesting accepted; real mappings nest a handful of levels.
MAX_DEPTH = 64

_WORD_START = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ_")
_WORD_CHARS = _WORD_START | frozenset("0123456789")
_DIGITS = frozenset("0123456789")
_HEX = frozenset("0123456789abcdefABCDEF")
_PUNCT = frozenset("(),")


@dataclass(frozen=True)
class _Token:
    kind: str  # attr, string, number, word, op, "(", ")", ",", end
    text: str
    pos: int


def parse(expression: str) -> Expr:
    """Parse one expression; raise ExpressionError with a position on any syntax error."""
    if not isinstance(expression, str):
        raise ExpressionError(f"expression must be text, not {type(expression).__name__}")
    tokens = _Lexer(expression).tokens()
    if tokens[0].kind == "end":
        raise ExpressionError("expression is empty", expression=expression, position=0)
    return _Parser(expression, tokens).parse()


class _Lexer:
    """Split the text into tokens, reporting the first character that fits no token."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.pos = 0

    def tokens(self) -> list[_Token]:
        out: list[_Token] = []
        while True:
            self._skip_blanks()
            if self.pos >= len(self.text):
                out.append(_Token("end", "", self.pos))
                return out
            out.append(self._token())

    def _skip_blanks(self) -> None:
        while self.pos < len(self.text) and self.text[self.pos].isspace():
            self.pos += 1

    def _token(self) -> _Token:
        char, start = self.text[self.pos], self.pos
        if char == "[":
            return self._attribute()
        if char == '"':
            return self._string()
        if char in _DIGITS or (char == "-" and self._peek(1) in _DIGITS):
            return self._integer()
        if char == "&" and self._peek(1) in ("H", "h"):
            return self._hex()
        if char in _WORD_START:
            return self._take("word", self._span(_WORD_CHARS, start))
        if char in _PUNCT:
            return self._take(char, start + 1)
        if char in "<>=":
            return self._operator()
        raise self._error(f"unexpected character {char!r}", start)

    def _peek(self, ahead: int) -> str:
        at = self.pos + ahead
        return self.text[at] if at < len(self.text) else ""

    def _span(self, allowed: frozenset[str], start: int) -> int:
        end = start
        while end < len(self.text) and self.text[end] in allowed:
            end += 1
        return end

    def _take(self, kind: str, end: int, text: str | None = None) -> _Token:
        token = _Token(kind, self.text[self.pos : end] if text is None else text, self.pos)
        self.pos = end
        return token

    def _attribute(self) -> _Token:
        close = self.text.find("]", self.pos + 1)
        if close < 0:
            raise self._error("attribute name has no closing ']'", self.pos)
        raw = self.text[self.pos + 1 : close]
        if "[" in raw:
            raise self._error("'[' inside an attribute name", self.pos + 1 + raw.index("["))
        if not raw.strip():
            raise self._error("empty attribute name '[]'", self.pos)
        return self._take("attr", close + 1, raw.strip())

    def _string(self) -> _Token:
        chars: list[str] = []
        at = self.pos + 1
        while at < len(self.text):
            char = self.text[at]
            if char == "\\" and at + 1 < len(self.text) and self.text[at + 1] in '"\\':
                chars.append(self.text[at + 1])
                at += 2
            elif char == '"':
                return self._take("string", at + 1, "".join(chars))
            else:
                chars.append(char)
                at += 1
        raise self._error("string constant has no closing '\"'", self.pos)

    def _integer(self) -> _Token:
        end = self._span(_DIGITS, self.pos + 1)
        self._no_glued_word(end)
        return self._take("number", end, str(int(self.text[self.pos : end])))

    def _hex(self) -> _Token:
        end = self._span(_HEX, self.pos + 2)
        if end == self.pos + 2:
            raise self._error("'&H' must be followed by hexadecimal digits", self.pos)
        self._no_glued_word(end)
        return self._take("number", end, str(int(self.text[self.pos + 2 : end], 16)))

    def _no_glued_word(self, end: int) -> None:
        if end < len(self.text) and (self.text[end] in _WORD_CHARS or self.text[end] == "."):
            raise self._error("malformed number (only whole numbers are allowed)", self.pos)

    def _operator(self) -> _Token:
        two = self.text[self.pos : self.pos + 2]
        if two in ("<>", "<=", ">="):
            return self._take("op", self.pos + 2)
        return self._take("op", self.pos + 1)

    def _error(self, message: str, position: int) -> ExpressionError:
        return _error(message, self.text, position)


class _Parser:
    """Recursive descent over the token list; depth-limited so it cannot overflow the stack."""

    def __init__(self, text: str, tokens: list[_Token]) -> None:
        self.text = text
        self.tokens = tokens
        self.index = 0

    def parse(self) -> Expr:
        expr = self._expression(0)
        extra = self._peek()
        if extra.kind != "end":
            raise self._error(f"unexpected {_describe(extra)} after the expression", extra)
        return expr

    def _peek(self) -> _Token:
        return self.tokens[self.index]

    def _next(self) -> _Token:
        token = self.tokens[self.index]
        if token.kind != "end":
            self.index += 1
        return token

    def _expression(self, depth: int) -> Expr:
        left = self._operand(depth)
        if self._peek().kind != "op":
            return left
        op = self._next().text
        right = self._operand(depth)
        if self._peek().kind == "op":
            raise self._error("comparisons cannot be chained", self._peek())
        return Compare(op, left, right)

    def _operand(self, depth: int) -> Expr:
        token = self._next()
        if token.kind == "attr":
            return Attribute(token.text)
        if token.kind == "string":
            return Constant(token.text)
        if token.kind == "number":
            return Number(int(token.text))
        if token.kind == "word":
            if self._peek().kind == "(":
                return self._call(token, depth)
            return Identifier(token.text)
        raise self._error(f"expected a value but found {_describe(token)}", token)

    def _call(self, name: _Token, depth: int) -> Call:
        if depth >= MAX_DEPTH:
            raise self._error(f"functions nested more than {MAX_DEPTH} deep", name)
        self._next()  # the "(" seen by _operand
        if self._peek().kind == ")":
            self._next()
            return Call(canonical_name(name.text), ())
        args: list[Expr | None] = []
        while True:
            slot_empty = self._peek().kind in (",", ")")
            args.append(None if slot_empty else self._expression(depth + 1))
            token = self._next()
            if token.kind == ")":
                return Call(canonical_name(name.text), tuple(args))
            if token.kind != ",":
                raise self._unclosed(name, token)

    def _unclosed(self, name: _Token, token: _Token) -> ExpressionError:
        if token.kind == "end":
            return self._error(f"{name.text}( has no closing ')'", name)
        found = _describe(token)
        return self._error(
            f"expected ',' or ')' after an argument of {name.text}, found {found}", token
        )

    def _error(self, message: str, token: _Token) -> ExpressionError:
        return _error(message, self.text, token.pos)


def _describe(token: _Token) -> str:
    if token.kind == "end":
        return "the end of the expression"
    if token.kind == "attr":
        return f"attribute [{token.text}]"
    if token.kind == "string":
        return "a string constant"
    return f"{token.text!r}"


def _error(message: str, text: str, position: int) -> ExpressionError:
    return ExpressionError(f"{message} at position {position}", expression=text, position=position)
