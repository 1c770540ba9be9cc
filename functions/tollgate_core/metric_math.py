"""The subset of CloudWatch metric math that metric checks accept, parsed so a suite is checked before it runs.

Numbers, query ids, `+ - * /`, parentheses, unary minus, `FILL(x, n)` and `ABS(x)`: what an error rate or a
latency difference needs. CloudWatch writes its functions in upper case and starts every query id with a
lowercase letter, and so does this parser.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Iterator
from dataclasses import dataclass
from typing import Literal, TypeAlias

SUPPORTED = "Tollgate supports + - * /, parentheses, FILL(x, n) and ABS(x)"
QUERY_ID = re.compile(r"[a-z][A-Za-z0-9_]*")
_FUNCTIONS = ("FILL", "ABS")
_GRAMMAR_SYMBOLS = {"+", "-", "*", "/", "(", ")", ","}
_TOKEN = re.compile(r"\s*(?:(?P<number>\d+(?:\.\d+)?)|(?P<name>[A-Za-z_][A-Za-z0-9_]*)|(?P<symbol>\S))")

Operator: TypeAlias = Literal["+", "-", "*", "/"]


class MetricMathError(ValueError):
    """An expression outside the supported subset; `offset` is where in the text the problem starts."""

    def __init__(self, problem: str, offset: int | None) -> None:
        super().__init__(problem if offset is None else f"{problem} (at character {offset + 1})")
        self.problem = problem
        self.offset = offset or 0


@dataclass(frozen=True)
class Number:
    value: float


@dataclass(frozen=True)
class QueryRef:
    """The result of another query of the same request, named by its Id."""

    id: str


@dataclass(frozen=True)
class Negation:
    operand: Expression


@dataclass(frozen=True)
class Arithmetic:
    operator: Operator
    left: Expression
    right: Expression


@dataclass(frozen=True)
class Fill:
    series: Expression
    value: float


@dataclass(frozen=True)
class Absolute:
    operand: Expression


Expression: TypeAlias = Number | QueryRef | Negation | Arithmetic | Fill | Absolute


@dataclass(frozen=True)
class _Token:
    kind: Literal["number", "name", "symbol", "end"]
    text: str
    offset: int


def _tokens(text: str) -> list[_Token]:
    tokens = [
        _Token(_kind(match), match.group(_kind(match)), match.start(_kind(match))) for match in _TOKEN.finditer(text)
    ]
    return [*tokens, _Token("end", "", len(text.rstrip()))]


def _kind(match: re.Match[str]) -> Literal["number", "name", "symbol"]:
    if match.group("number") is not None:
        return "number"
    return "name" if match.group("name") is not None else "symbol"


class _Parser:
    """Recursive descent: sum := product (+|- product)*, product := unary (*|/ unary)*, unary := -unary | atom."""

    def __init__(self, text: str) -> None:
        self._tokens = _tokens(text)
        self._next = 0

    def expression(self) -> Expression:
        if self._peek().kind == "end":
            raise MetricMathError("the expression is empty", None)
        expression = self._sum()
        token = self._peek()
        if token.kind != "end":
            raise _unexpected(token, "expected + - * / or the end of the expression")
        return expression

    def _peek(self) -> _Token:
        return self._tokens[self._next]

    def _take(self) -> _Token:
        token = self._tokens[self._next]
        self._next += 1
        return token

    def _at_symbol(self, *symbols: str) -> bool:
        token = self._peek()
        return token.kind == "symbol" and token.text in symbols

    def _expect_symbol(self, symbol: str, context: str) -> None:
        if not self._at_symbol(symbol):
            raise _unexpected(self._peek(), f"expected '{symbol}' {context}")
        self._take()

    def _sum(self) -> Expression:
        expression = self._product()
        while self._at_symbol("+", "-"):
            operator: Operator = "+" if self._take().text == "+" else "-"
            expression = Arithmetic(operator, expression, self._product())
        return expression

    def _product(self) -> Expression:
        expression = self._unary()
        while self._at_symbol("*", "/"):
            operator: Operator = "*" if self._take().text == "*" else "/"
            expression = Arithmetic(operator, expression, self._unary())
        return expression

    def _unary(self) -> Expression:
        if self._at_symbol("-"):
            self._take()
            return Negation(self._unary())
        return self._atom()

    def _atom(self) -> Expression:
        token = self._take()
        if token.kind == "number":
            return Number(float(token.text))
        if token.kind == "name":
            return self._call(token) if self._at_symbol("(") else _query_ref(token)
        if token.kind == "symbol" and token.text == "(":
            expression = self._sum()
            if self._peek().kind == "end":
                raise MetricMathError("this '(' is never closed", token.offset)
            self._expect_symbol(")", "to close the parenthesis")
            return expression
        raise _unexpected(token, "expected a number, a query id or '('")

    def _call(self, name: _Token) -> Expression:
        if name.text not in _FUNCTIONS:
            hint = " (function names are upper case)" if name.text.upper() in _FUNCTIONS else ""
            raise MetricMathError(f"{SUPPORTED}; got '{name.text}('{hint}", name.offset)
        self._take()
        argument = self._sum()
        if name.text == "FILL":
            self._expect_symbol(",", "and a number: FILL(x, n)")
            call: Expression = Fill(argument, self._fill_value())
            self._expect_symbol(")", "after FILL's two arguments")
        else:
            call = Absolute(argument)
            self._expect_symbol(")", "after ABS's one argument")
        if not referenced_ids(argument):
            raise MetricMathError(f"{name.text} needs a time series (a query id) as x; got a number", name.offset)
        return call

    def _fill_value(self) -> float:
        sign = 1.0
        if self._at_symbol("-"):
            self._take()
            sign = -1.0
        token = self._take()
        if token.kind != "number":
            raise _unexpected(token, "FILL(x, n) takes a number as n")
        return sign * float(token.text)


def _query_ref(token: _Token) -> QueryRef:
    if not QUERY_ID.fullmatch(token.text):
        raise MetricMathError(f"query ids start with a lowercase letter; got '{token.text}'", token.offset)
    return QueryRef(token.text)


def _unexpected(token: _Token, expectation: str) -> MetricMathError:
    if token.kind == "end":
        return MetricMathError(f"{expectation}; the expression ends", token.offset)
    if token.kind == "symbol" and token.text not in _GRAMMAR_SYMBOLS:
        return MetricMathError(f"{SUPPORTED}; got '{token.text}'", token.offset)
    return MetricMathError(f"{expectation}; got '{token.text}'", token.offset)


def parse_expression(text: str) -> Expression:
    """The expression's tree; MetricMathError names the first problem and where it is."""
    return _Parser(text).expression()


def _ids_in_order(expression: Expression) -> Iterator[str]:
    match expression:
        case QueryRef(id=query_id):
            yield query_id
        case Negation(operand=operand) | Absolute(operand=operand):
            yield from _ids_in_order(operand)
        case Fill(series=series):
            yield from _ids_in_order(series)
        case Arithmetic(left=left, right=right):
            yield from _ids_in_order(left)
            yield from _ids_in_order(right)
        case Number():
            return


def referenced_ids(expression: Expression) -> set[str]:
    return set(_ids_in_order(expression))


def expression_problem(text: str, known_ids: Collection[str]) -> str | None:
    """None for an expression that parses, names only known query ids and gives a time series; else why not."""
    try:
        expression = parse_expression(text)
    except MetricMathError as error:
        return str(error)
    ids = list(dict.fromkeys(_ids_in_order(expression)))
    if not ids:
        return "the expression names no query id, so it gives a number, not a time series"
    unknown = [query_id for query_id in ids if query_id not in known_ids]
    if len(unknown) == 1:
        return f"unknown query id '{unknown[0]}'"
    if unknown:
        return "unknown query ids " + ", ".join(f"'{query_id}'" for query_id in unknown)
    return None
