"""What `tollgate validate` and the hooks say about a suite that cannot run, word for word."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tests.support.suites import route, stage, suite_document
from tollgate_core.checks import routes_of
from tollgate_core.suite import SuiteError, load_suite, parse_suite, suite_from_bytes

STATUS_HELP = 'must be a status class like "2xx", a code like 204, or a list of them'
NAME_HELP = "must be 1-64 letters, digits, '.', '_' or '-', starting with a letter or digit"
REFERENCE_HELP = '{"secretsManager": "<arn or name>", "key": "<json key>"} or {"ssm": "<parameter name>"}'
PLAIN_SECRET = (
    "a plain value would show in the execution history and logs; use a reference "
    '{"secretsManager": "<arn or name>", "key": "<json key>"} or {"ssm": "<SecureString parameter>"}'
)


def rejected(document: Any, source: str | None = None, budget_seconds: float = 3300) -> SuiteError:
    with pytest.raises(SuiteError) as raised:
        if source is None:
            parse_suite(document, budget_seconds)
        else:
            parse_suite(document, budget_seconds, source)
    return raised.value


def one_route(**settings: Any) -> dict[str, Any]:
    return suite_document(stage("smoke", route("health", **settings)))


@pytest.mark.parametrize(
    ("document", "problem"),
    [
        (one_route(expect={"status": "2x"}), f"stages[0].routes[0].expect.status: {STATUS_HELP} (got '2x')"),
        (suite_document(stage("bad name!", route("health"))), f"stages[0].name: {NAME_HELP} (got 'bad name!')"),
        ({**one_route(), "extra": 1}, "(top level): unknown key: 'extra' was unexpected"),
        (
            {**one_route(), "target": {"baseUrl": "http://x", "headers": {"Authorization": {"vault": "x"}}}},
            f"target.headers.Authorization: must be visible Latin-1 text, or a reference {REFERENCE_HELP}",
        ),
        (
            {**one_route(), "target": {"baseUrl": "http://x", "headers": {"Authorization": "Bearer t"}}},
            f"target.headers.Authorization: {PLAIN_SECRET}",
        ),
        (
            one_route(expect={"bodyMatches": "(unclosed"}),
            "stages[0].routes[0].expect.bodyMatches: invalid regular expression: "
            "missing ), unterminated subpattern at position 0",
        ),
        (
            one_route(expect={"json": {"status": 1}}),
            "stages[0].routes[0].expect.json['status']: invalid JSONPath: must start with '$'",
        ),
        (
            one_route(expect={"json": {"$]": 1}}),
            "stages[0].routes[0].expect.json['$]']: invalid JSONPath: Parse error at 1:1 near token ] (])",
        ),
    ],
)
def test_a_problem_is_named_by_its_field_and_said_in_words(document: Any, problem: str) -> None:
    assert rejected(document).problems == [problem]


def test_the_message_names_the_source_on_every_line() -> None:
    document = one_route(method="FETCH", expect={"status": "2x"})

    assert str(rejected(document)).splitlines() == [
        f"suite: stages[0].routes[0].expect.status: {STATUS_HELP} (got '2x')",
        "suite: stages[0].routes[0].method: 'FETCH' is not one of "
        "['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS']",
    ]
    assert str(rejected({**one_route(), "extra": 1}, "hookDetails.suite")) == (
        "hookDetails.suite: (top level): unknown key: 'extra' was unexpected"
    )
    assert str(rejected(suite_document(stage("a", route("x")), stage("a", route("x"))), "hookDetails.suite")) == (
        "hookDetails.suite: stages[1].name: 'a' is used twice"
    )


def test_a_suite_that_takes_exactly_the_hook_budget_is_accepted() -> None:
    # 3 attempts of 2 s and waits of 1 + 2 s: 9 s at worst
    document = one_route()

    assert parse_suite(document, budget_seconds=9).stages[0]["name"] == "smoke"
    assert rejected(document, budget_seconds=8).problems == [
        "(suite): worst-case duration 9 s exceeds the hook's time budget of 8 s; "
        "reduce rounds, intervals, retries or timeouts"
    ]


def test_what_the_user_set_is_kept_as_set() -> None:
    document = one_route(expect={"status": [200, "3xx"]})
    document.update(maxConcurrency=3, target={"baseUrl": "http://svc:8080/INDEX/"})

    suite = parse_suite(document)

    assert suite.document["maxConcurrency"] == 3
    assert routes_of(suite.stages[0])[0]["expect"]["status"] == [200, "3xx"]
    assert suite.target["baseUrl"] == "http://svc:8080/INDEX"
    assert suite.with_base_url("http://10.0.0.1:8080/INDEX/").target["baseUrl"] == "http://10.0.0.1:8080/INDEX"


@pytest.mark.parametrize(
    ("base_url", "problem"),
    [
        ("http://:8080", "must be an absolute http:// or https:// URL with a host"),
        ("ftp://svc", "must be an absolute http:// or https:// URL with a host"),
        ("http://svc:99999", "has an invalid port"),
    ],
)
def test_a_target_override_is_checked_as_the_suite_s_own_would_be(base_url: str, problem: str) -> None:
    suite = parse_suite(one_route())

    with pytest.raises(SuiteError) as raised:
        suite.with_base_url(base_url)

    assert str(raised.value) == f"suite: target base URL override {base_url!r}: {problem}"


def load_problem(path: Path) -> str:
    with pytest.raises(SuiteError) as raised:
        load_suite(path)
    return str(raised.value)


def test_a_file_that_holds_no_suite_says_what_it_holds_instead(tmp_path: Path) -> None:
    empty, comments, latin1, broken = (tmp_path / name for name in ("empty", "comments", "latin1", "broken"))
    empty.write_text(" \n", encoding="utf-8")
    comments.write_text("# a suite, one day\n", encoding="utf-8")
    latin1.write_bytes("version: 1 # caf\u00e9\n".encode("latin-1"))
    broken.write_text("stages: [unclosed", encoding="utf-8")

    assert (
        load_problem(tmp_path / "missing.yaml")
        == f"{tmp_path / 'missing.yaml'}: cannot read the file: No such file or directory"
    )
    assert load_problem(empty) == f"{empty}: the file is empty"
    assert load_problem(comments) == f"{comments}: the file holds no suite: it is empty or only comments"
    assert load_problem(latin1) == (f"{latin1}: not UTF-8 text (byte 0xe9 at offset 16); a suite is YAML or JSON")
    assert load_problem(broken).startswith(f"{broken}: not valid YAML or JSON: while parsing a flow sequence")


S3_SOURCE = "s3://shop-suites/tollgate/shop/AfterAllowTestTraffic.yaml"


def bytes_problem(content: bytes) -> str:
    with pytest.raises(SuiteError) as raised:
        suite_from_bytes(content, S3_SOURCE)
    return str(raised.value)


def test_content_read_from_anywhere_is_checked_as_a_file_is_naming_its_source() -> None:
    # Given a suite's bytes as S3 returns them / Then each problem a file could have is named by that source
    assert bytes_problem(b" \n") == f"{S3_SOURCE}: the file is empty"
    assert (
        bytes_problem(b"# a suite, one day\n") == f"{S3_SOURCE}: the file holds no suite: it is empty or only comments"
    )
    assert bytes_problem("version: 1 # caf\u00e9\n".encode("latin-1")) == (
        f"{S3_SOURCE}: not UTF-8 text (byte 0xe9 at offset 16); a suite is YAML or JSON"
    )
    assert bytes_problem(b"stages: [unclosed").startswith(f"{S3_SOURCE}: not valid YAML or JSON: while parsing")
    assert bytes_problem(b'{"version": 1, "stages": [], "extra": 1}') == (
        f"{S3_SOURCE}: (top level): unknown key: 'extra' was unexpected\n{S3_SOURCE}: stages: [] should be non-empty"
    )


def test_content_that_holds_a_valid_suite_is_the_suite_a_file_would_be(tmp_path: Path) -> None:
    document = one_route(expect={"status": 204})
    path = tmp_path / "suite.json"
    path.write_text(json.dumps(document), encoding="utf-8")

    from_bytes = suite_from_bytes(path.read_bytes(), S3_SOURCE, budget_seconds=9)

    assert from_bytes == load_suite(path) == parse_suite(document)
    with pytest.raises(SuiteError, match="exceeds the hook's time budget of 8 s"):
        suite_from_bytes(path.read_bytes(), S3_SOURCE, budget_seconds=8)


def routes_with_a_padded_target(count: int) -> dict[str, Any]:
    document = suite_document(stage("soak", *[route(f"route-{i:03d}") for i in range(count)]))
    document["target"]["headers"] = {"X-Pad": "p" * 300}
    return document


def test_a_suite_is_accepted_while_its_largest_document_fits_step_functions_limit() -> None:
    # Given 237 routes, whose largest document is just under 256 KiB, each route adding about 1 KiB
    largest_that_fits = routes_with_a_padded_target(237)

    # Then it is accepted, and one route more is rejected naming the size and what to reduce
    assert len(routes_of(parse_suite(largest_that_fits).stages[0])) == 237
    assert rejected(routes_with_a_padded_target(238)).problems == [
        "(suite): the workflow would carry documents of up to 257 KiB between states (after a round of stage "
        "'soak'), over Step Functions' limit of 256 KiB; use fewer checks or shorter ones (names, paths, headers, "
        "bodies, expectations, queries)"
    ]
