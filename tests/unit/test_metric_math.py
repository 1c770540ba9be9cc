from __future__ import annotations

import pytest

from tollgate_core.metric_math import (
    Absolute,
    Arithmetic,
    Fill,
    MetricMathError,
    Negation,
    Number,
    QueryRef,
    expression_problem,
    parse_expression,
    referenced_ids,
)

KNOWN = {"errors", "requests", "m1", "m2", "p99_green"}


def test_an_error_rate_parses_with_multiplication_and_division_left_to_right() -> None:
    # When the usual 5xx rate is parsed
    expression = parse_expression("100 * FILL(errors, 0) / requests")

    # Then it is (100 x FILL(errors, 0)) / requests
    assert expression == Arithmetic(
        "/", Arithmetic("*", Number(100.0), Fill(QueryRef("errors"), 0.0)), QueryRef("requests")
    )


def test_multiplication_binds_tighter_than_addition_and_parentheses_tighter_still() -> None:
    assert parse_expression("m1 + m2 * 2") == Arithmetic(
        "+", QueryRef("m1"), Arithmetic("*", QueryRef("m2"), Number(2.0))
    )
    assert parse_expression("(m1 + m2) * 2") == Arithmetic(
        "*", Arithmetic("+", QueryRef("m1"), QueryRef("m2")), Number(2.0)
    )


def test_subtraction_is_left_associative() -> None:
    assert parse_expression("m1 - m2 - 1") == Arithmetic(
        "-", Arithmetic("-", QueryRef("m1"), QueryRef("m2")), Number(1.0)
    )


def test_unary_minus_abs_and_decimals() -> None:
    assert parse_expression("-m1") == Negation(QueryRef("m1"))
    assert parse_expression("ABS(p99_green - 0.25)") == Absolute(Arithmetic("-", QueryRef("p99_green"), Number(0.25)))
    assert parse_expression("- -m1") == Negation(Negation(QueryRef("m1")))


def test_fill_takes_a_signed_number() -> None:
    assert parse_expression("FILL(m1, -1.5)") == Fill(QueryRef("m1"), -1.5)


def test_whitespace_is_free() -> None:
    assert parse_expression("  m1*2 ") == parse_expression("m1 * 2")


def test_referenced_ids_are_every_query_the_expression_reads() -> None:
    assert referenced_ids(parse_expression("100 * FILL(errors, 0) / (requests + ABS(-errors))")) == {
        "errors",
        "requests",
    }
    assert referenced_ids(parse_expression("2 * 3")) == set()


def test_a_valid_expression_has_no_problem() -> None:
    assert expression_problem("100 * FILL(errors, 0) / requests", KNOWN) is None


def test_an_unknown_query_id_is_named() -> None:
    assert expression_problem("errors / x", KNOWN) == "unknown query id 'x'"
    assert expression_problem("x / y + x", KNOWN) == "unknown query ids 'x', 'y'"


def test_a_function_outside_the_subset_is_named_with_what_is_supported() -> None:
    assert expression_problem("SUM(METRICS())", KNOWN) == (
        "Tollgate supports + - * /, parentheses, FILL(x, n) and ABS(x); got 'SUM(' (at character 1)"
    )


@pytest.mark.parametrize(
    ("text", "problem", "offset"),
    [
        ("m1 ^ 2", "Tollgate supports + - * /, parentheses, FILL(x, n) and ABS(x); got '^'", 3),
        ("m1 >= 2", "Tollgate supports + - * /, parentheses, FILL(x, n) and ABS(x); got '>'", 3),
        ("[m1, m2]", "Tollgate supports + - * /, parentheses, FILL(x, n) and ABS(x); got '['", 0),
        (
            "fill(m1, 0)",
            "Tollgate supports + - * /, parentheses, FILL(x, n) and ABS(x); got 'fill(' "
            "(function names are upper case)",
            0,
        ),
        ("m1 +", "expected a number, a query id or '('; the expression ends", 4),
        ("m1 m2", "expected + - * / or the end of the expression; got 'm2'", 3),
        ("(m1 + m2", "this '(' is never closed", 0),
        ("m1)", "expected + - * / or the end of the expression; got ')'", 2),
        ("M1 * 2", "query ids start with a lowercase letter; got 'M1'", 0),
        ("FILL(m1, REPEAT)", "FILL(x, n) takes a number as n; got 'REPEAT'", 9),
        ("FILL(m1)", "expected ',' and a number: FILL(x, n); got ')'", 7),
        ("FILL(m1, 0, 1)", "expected ')' after FILL's two arguments; got ','", 10),
        ("ABS(m1, 2)", "expected ')' after ABS's one argument; got ','", 6),
        ("FILL(5, 0)", "FILL needs a time series (a query id) as x; got a number", 0),
    ],
)
def test_a_malformed_expression_names_the_problem_and_where_it_starts(text: str, problem: str, offset: int) -> None:
    # When it is parsed
    with pytest.raises(MetricMathError) as raised:
        parse_expression(text)

    # Then the error says what is wrong, and where, counting characters from 1
    assert raised.value.problem == problem
    assert raised.value.offset == offset
    assert str(raised.value) == f"{problem} (at character {offset + 1})"


def test_an_empty_expression_says_so() -> None:
    assert expression_problem("   ", KNOWN) == "the expression is empty"


def test_an_expression_without_a_query_gives_a_number_not_a_time_series() -> None:
    assert expression_problem("2 * 50", KNOWN) == (
        "the expression names no query id, so it gives a number, not a time series"
    )


def test_a_metric_math_error_is_a_value_error() -> None:
    with pytest.raises(ValueError, match="at character 4"):
        parse_expression("m1 ^ 2")
