"""OData ``$filter`` and ``$orderby`` for the Partner Center emulator.

The Referrals API lists referrals with OData query options (api-facts §2.3). This module parses
the subset the API documents, with a small recursive-descent parser, into a predicate over a
referral (a JSON dict):

- comparisons ``eq ne gt ge lt le`` between property paths and literals;
- ``and``, ``or``, ``not`` and parentheses (``not`` negates the comparison or group after it;
  ``and`` binds tighter than ``or``);
- literals: ``'strings'`` (``''`` escapes a quote), numbers, ``true``/``false``/``null`` and
  ISO 8601 dates/datetimes written bare, as OData v4 does (``2024-05-01T00:00:00Z``);
- nested paths (``customerProfile/address/country``) and lambdas over collections
  (``team/any(t:t/email eq 'x')``, ``all`` likewise, ``team/any()`` = not empty).

Anything else is an :class:`ODataError` naming the problem and where it is; the emulator
answers it with 400. Functions (``contains``…) are not documented for referrals and are refused.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

Predicate = Callable[[dict[str, Any]], bool]
Scope = dict[str, Any]
Operand = Callable[[dict[str, Any], Scope], Any]

COMPARISONS = ("eq", "ne", "gt", "ge", "lt", "le")
ORDERABLE = ("createdDateTime", "updatedDateTime")


class ODataError(ValueError):
    """An unsupported or malformed OData expression."""


@dataclass(frozen=True)
class Token:
    kind: str  # string, number, datetime, name, punct, end
    text: str
    value: Any
    pos: int


_DATETIME = re.compile(
    r"\d{4}-\d{2}-\d{2}(?:T\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?(?:Z|[+-]\d{2}:\d{2})?)?"
)
_NUMBER = re.compile(r"-?\d+(?:\.\d+)?(?:[eE][+-]?\d+)?")
_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


@functools.lru_cache(maxsize=100_000)
def parse_datetime(text: str) -> datetime:
    """An ISO 8601 date or datetime as an aware UTC datetime (naive values are taken as UTC).

    Memoised: every list request sorts and filters all stored referrals by their timestamps,
    and parsing the same strings again made a page of 10,000 referrals cost a quarter second."""
    value = text.strip()
    if value.endswith("Z"):
        value = value[:-1] + "+00:00"
    # Python < 3.11 rejects 7-digit fractions; Microsoft writes them: trim to microseconds
    match = re.match(r"^(.*T\d{2}:\d{2}:\d{2})\.(\d+)(.*)$", value)
    if match:
        value = f"{match.group(1)}.{match.group(2)[:6].ljust(6, '0')}{match.group(3)}"
    parsed = datetime.fromisoformat(value)
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=timezone.utc)
    return parsed.astimezone(timezone.utc)


def tokenize(text: str) -> list[Token]:
    tokens: list[Token] = []
    pos = 0
    while pos < len(text):
        char = text[pos]
        if char.isspace():
            pos += 1
            continue
        if char == "'":
            end = pos + 1
            chars: list[str] = []
            while True:
                if end >= len(text):
                    raise ODataError(f"unterminated string literal at position {pos}")
                if text[end] == "'":
                    if end + 1 < len(text) and text[end + 1] == "'":
                        chars.append("'")
                        end += 2
                        continue
                    break
                chars.append(text[end])
                end += 1
            tokens.append(Token("string", text[pos : end + 1], "".join(chars), pos))
            pos = end + 1
            continue
        if char in "(),:/":
            tokens.append(Token("punct", char, char, pos))
            pos += 1
            continue
        match = _DATETIME.match(text, pos)
        if match:
            try:
                value = parse_datetime(match.group())
            except ValueError as exc:
                raise ODataError(f"invalid datetime literal {match.group()!r} at position {pos}") from exc
            tokens.append(Token("datetime", match.group(), value, pos))
            pos = match.end()
            continue
        match = _NUMBER.match(text, pos)
        if match:
            literal = match.group()
            number = float(literal) if any(c in literal for c in ".eE") else int(literal)
            tokens.append(Token("number", literal, number, pos))
            pos = match.end()
            continue
        match = _NAME.match(text, pos)
        if match:
            tokens.append(Token("name", match.group(), match.group(), pos))
            pos = match.end()
            continue
        raise ODataError(f"unexpected character {char!r} at position {pos}")
    tokens.append(Token("end", "", None, len(text)))
    return tokens


def _comparable(left: Any, right: Any) -> tuple[Any, Any] | None:
    """Bring two values to one comparable type, or ``None`` when they cannot be compared."""
    if isinstance(left, bool) or isinstance(right, bool):
        return (left, right) if isinstance(left, bool) and isinstance(right, bool) else None
    if isinstance(left, datetime) or isinstance(right, datetime):
        try:
            left = left if isinstance(left, datetime) else parse_datetime(str(left))
            right = right if isinstance(right, datetime) else parse_datetime(str(right))
        except ValueError:
            return None
        return left, right
    numeric = (int, float)
    if isinstance(left, numeric) or isinstance(right, numeric):
        try:
            return float(left), float(right)
        except (TypeError, ValueError):
            return None
    if isinstance(left, str) and isinstance(right, str):
        return left, right
    return None


def compare(operator: str, left: Any, right: Any) -> bool:
    """OData comparison semantics: ``null`` equals only ``null``; mismatched types never match."""
    if left is None or right is None:
        if operator == "eq":
            return left is None and right is None
        if operator == "ne":
            return not (left is None and right is None)
        return False
    pair = _comparable(left, right)
    if pair is None:
        return operator == "ne"
    a, b = pair
    if operator == "eq":
        return a == b
    if operator == "ne":
        return a != b
    if isinstance(a, bool):
        raise ODataError(f"'{operator}' cannot compare booleans")
    return {"gt": a > b, "ge": a >= b, "lt": a < b, "le": a <= b}[operator]


def resolve_path(root: dict[str, Any], scope: Scope, segments: tuple[str, ...]) -> Any:
    """Walk a property path; a missing member is ``null``. A lambda variable starts a path."""
    if segments[0] in scope:
        current, rest = scope[segments[0]], segments[1:]
    else:
        current, rest = root, segments
    for segment in rest:
        if not isinstance(current, dict):
            return None
        current = current.get(segment)
    return current


class FilterParser:
    """Recursive descent over the token list; each rule returns a closure."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.tokens = tokenize(text)
        self.index = 0
        self.variables: list[str] = []

    # ------------------------------------------------------------------ token helpers
    @property
    def current(self) -> Token:
        return self.tokens[self.index]

    def advance(self) -> Token:
        token = self.tokens[self.index]
        self.index += 1
        return token

    def at_keyword(self, *words: str) -> bool:
        return self.current.kind == "name" and self.current.text in words

    def expect(self, text: str) -> Token:
        if self.current.text != text or self.current.kind not in ("punct", "name"):
            raise ODataError(self.describe(f"expected '{text}'"))
        return self.advance()

    def describe(self, problem: str) -> str:
        token = self.current
        found = "end of expression" if token.kind == "end" else repr(token.text)
        return f"{problem} at position {token.pos}, found {found}"

    # ------------------------------------------------------------------ grammar
    def parse(self) -> Predicate:
        if self.current.kind == "end":
            raise ODataError("empty $filter")
        expression = self.parse_or()
        if self.current.kind != "end":
            raise ODataError(self.describe("unexpected token"))
        return lambda referral: bool(expression(referral, {}))

    def parse_or(self) -> Operand:
        left = self.parse_and()
        while self.at_keyword("or"):
            self.advance()
            right = self.parse_and()
            left = (lambda a, b: lambda r, s: bool(a(r, s)) or bool(b(r, s)))(left, right)
        return left

    def parse_and(self) -> Operand:
        left = self.parse_not()
        while self.at_keyword("and"):
            self.advance()
            right = self.parse_not()
            left = (lambda a, b: lambda r, s: bool(a(r, s)) and bool(b(r, s)))(left, right)
        return left

    def parse_not(self) -> Operand:
        if self.at_keyword("not"):
            self.advance()
            inner = self.parse_not()
            return lambda r, s: not inner(r, s)
        return self.parse_comparison()

    def parse_comparison(self) -> Operand:
        left, left_is_boolean = self.parse_operand()
        if self.at_keyword(*COMPARISONS):
            operator = self.advance().text
            right, _ = self.parse_operand()
            return lambda r, s: compare(operator, left(r, s), right(r, s))
        if self.current.kind == "name" and self.current.text in ("has", "add", "sub", "mul", "div", "mod", "in"):
            raise ODataError(self.describe(f"operator '{self.current.text}' is not supported"))
        if not left_is_boolean:
            raise ODataError(self.describe("expected a comparison operator (eq ne gt ge lt le)"))
        return left

    def parse_operand(self) -> tuple[Operand, bool]:
        """One operand; the flag says whether it can stand alone as a condition."""
        token = self.current
        if token.kind == "punct" and token.text == "(":
            self.advance()
            inner = self.parse_or()
            self.expect(")")
            return inner, True
        if token.kind in ("string", "number", "datetime"):
            self.advance()
            value = token.value
            return (lambda r, s: value), False
        if token.kind == "name":
            if token.text in ("true", "false", "null"):
                self.advance()
                value = {"true": True, "false": False, "null": None}[token.text]
                return (lambda r, s: value), token.text != "null"
            if token.text in COMPARISONS + ("and", "or", "not"):
                raise ODataError(self.describe("expected a property or a literal"))
            return self.parse_path()
        raise ODataError(self.describe("expected a property or a literal"))

    def parse_path(self) -> tuple[Operand, bool]:
        segments = [self.advance().text]
        if self.current.kind == "punct" and self.current.text == "(":
            raise ODataError(self.describe(f"function '{segments[0]}' is not supported"))
        while self.current.kind == "punct" and self.current.text == "/":
            self.advance()
            if self.current.kind != "name":
                raise ODataError(self.describe("expected a property name after '/'"))
            name = self.advance().text
            if self.current.kind == "punct" and self.current.text == "(":
                if name not in ("any", "all"):
                    raise ODataError(self.describe(f"function '{name}' is not supported"))
                return self.parse_lambda(tuple(segments), name), True
            segments.append(name)
        path = tuple(segments)
        return (lambda r, s: resolve_path(r, s, path)), False

    def parse_lambda(self, collection: tuple[str, ...], kind: str) -> Operand:
        self.expect("(")
        if kind == "any" and self.current.kind == "punct" and self.current.text == ")":
            self.advance()
            return lambda r, s: bool(resolve_path(r, s, collection))
        if self.current.kind != "name":
            raise ODataError(self.describe(f"expected a lambda variable in {kind}()"))
        variable = self.advance().text
        self.expect(":")
        self.variables.append(variable)
        body = self.parse_or()
        self.variables.pop()
        self.expect(")")

        def evaluate(referral: dict[str, Any], scope: Scope) -> bool:
            items = resolve_path(referral, scope, collection)
            if not isinstance(items, list):
                return False
            results = (bool(body(referral, {**scope, variable: item})) for item in items)
            return any(results) if kind == "any" else all(results)

        return evaluate


def parse_filter(text: str) -> Predicate:
    """Compile a ``$filter`` expression into a predicate over referrals (raises ODataError)."""
    return FilterParser(text).parse()


def parse_orderby(text: str | None) -> list[tuple[str, bool]]:
    """``$orderby`` as ``[(property, descending)]``; only the documented datetime properties."""
    if text is None or not text.strip():
        return [("createdDateTime", False)]
    keys: list[tuple[str, bool]] = []
    for clause in text.split(","):
        parts = clause.split()
        if not parts or len(parts) > 2:
            raise ODataError(f"malformed $orderby clause {clause.strip()!r}")
        name = parts[0]
        if name not in ORDERABLE:
            raise ODataError(f"$orderby supports {' and '.join(ORDERABLE)} only, not {name!r}")
        direction = parts[1].lower() if len(parts) == 2 else "asc"
        if direction not in ("asc", "desc"):
            raise ODataError(f"$orderby direction must be asc or desc, not {parts[1]!r}")
        keys.append((name, direction == "desc"))
    return keys
