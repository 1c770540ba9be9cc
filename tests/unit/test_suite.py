from __future__ import annotations

from pathlib import Path

import pytest

from tests.support.suites import route, stage, suite_document, write_suite
from tollgate_core.checks import routes_of
from tollgate_core.suite import SuiteError, load_suite, parse_suite

EXAMPLE_SUITES = [
    Path("functions/suites/after-allow-test-traffic.yaml"),
    Path("functions/suites/after-allow-traffic.yaml"),
    Path("functions/suites/before-allow-traffic.yaml"),
    Path("tollgate/demo/suite.yaml"),
]


def problems_of(document: object, budget_seconds: float = 3300) -> list[str]:
    with pytest.raises(SuiteError) as raised:
        parse_suite(document, budget_seconds)
    return raised.value.problems


@pytest.mark.parametrize("path", EXAMPLE_SUITES, ids=str)
def test_shipped_suites_are_valid(path: Path) -> None:
    # Given a suite shipped with the project / When it is loaded / Then it passes every check
    assert load_suite(path).stages


def test_defaults_are_filled_in() -> None:
    # Given a minimal suite
    suite = parse_suite(suite_document(stage("smoke", route("health"))))

    # Then every documented default is in the normalized document
    assert suite.target == {"baseUrl": "http://127.0.0.1:9", "headers": {}, "timeoutSeconds": 2, "verifyTls": True}
    assert suite.document["maxConcurrency"] == 10
    smoke = suite.stages[0]
    assert (smoke["rounds"], smoke["intervalSeconds"], smoke["maxFailedProbes"]) == (1, 0, 0)
    health = routes_of(smoke)[0]
    assert health["method"] == "GET"
    assert health["followRedirects"] is False
    assert health["body"] is None
    assert health["expect"] == {"status": ["2xx"]}
    assert health["retry"] == {"maxAttempts": 3, "intervalSeconds": 1, "backoffRate": 2.0}


def test_route_retry_overrides_the_suite_retry_key_by_key() -> None:
    document = suite_document(
        stage("smoke", route("health", retry={"maxAttempts": 5})), retry={"intervalSeconds": 0, "backoffRate": 1.5}
    )

    retry = routes_of(parse_suite(document).stages[0])[0]["retry"]

    assert retry == {"maxAttempts": 5, "intervalSeconds": 0, "backoffRate": 1.5}


def test_a_single_status_becomes_a_list() -> None:
    document = suite_document(stage("smoke", route("health", expect={"status": 204})))

    assert routes_of(parse_suite(document).stages[0])[0]["expect"]["status"] == [204]


def test_trailing_slash_of_the_base_url_is_dropped() -> None:
    document = suite_document(stage("smoke", route("health")), base_url="http://svc:8080/")

    assert parse_suite(document).target["baseUrl"] == "http://svc:8080"


@pytest.mark.parametrize(
    ("mutate", "expected"),
    [
        (lambda d: d.update(extra=1), "(top level): unknown key: 'extra' was unexpected"),
        (lambda d: d.update(version=2), "version: 1 was expected"),
        (lambda d: d.pop("target"), "target: stages[0].routes[0] sends an HTTP request; give target.baseUrl or"),
        (
            lambda d: d["stages"][0]["routes"][0].update(expect={"status": "2x"}),
            "stages[0].routes[0].expect.status: must be",
        ),
        (lambda d: d["stages"][0]["routes"][0].update(expect={"status": [200, "6xx"]}), "expect.status: must be"),
        (
            lambda d: d["stages"][0]["routes"][0].update(method="FETCH"),
            "stages[0].routes[0].method: 'FETCH' is not one of",
        ),
        (
            lambda d: d["stages"][0]["routes"][0].update(path="health"),
            "stages[0].routes[0].path: 'health' does not match",
        ),
        (
            lambda d: d["stages"][0]["routes"][0].update(expect={"bodyMatches": "(unclosed"}),
            "bodyMatches: invalid regular",
        ),
        (lambda d: d["stages"][0]["routes"][0].update(expect={"json": {"$.[": 1}}), "json['$.[']: invalid JSONPath"),
        (lambda d: d["stages"][0]["routes"][0].update(expect={"json": {"status": 1}}), "must start with '$'"),
        (lambda d: d["stages"][0]["routes"][0].update(retry={"maxAttempts": 0}), "retry.maxAttempts: 0 is less than"),
        (lambda d: d["stages"][0].update(rounds=0), "stages[0].rounds: 0 is less than the minimum of 1"),
        (lambda d: d["stages"][0].update(routes=[]), "stages[0].routes: [] should be non-empty"),
        (lambda d: d["stages"][0].update(maxFailedProbes=1), "stages[0].maxFailedProbes: 1 lets all 1 probes"),
        (lambda d: d["stages"].append(d["stages"][0]), "stages[1].name: 'smoke' is used twice"),
        (lambda d: d["stages"][0]["routes"].append(d["stages"][0]["routes"][0]), "stages[0].routes[1].name: 'health'"),
        (lambda d: d["target"].update(baseUrl="ftp://x"), "target.baseUrl: 'ftp://x' does not match"),
        (lambda d: d["target"].update(baseUrl="http://x?a=1"), "target.baseUrl: must not carry a query"),
        (lambda d: d["target"].update(headers={"Bad Header": "x"}), "target.headers: 'Bad Header' does not match"),
    ],
)
def test_invalid_suites_name_the_field_and_the_problem(mutate, expected: str) -> None:  # type: ignore[no-untyped-def]
    # Given a valid suite with one thing wrong
    document = suite_document(stage("smoke", route("health")))
    mutate(document)

    # When it is checked / Then the problem names the field and what is wrong
    problems = problems_of(document)
    assert any(expected in problem for problem in problems), problems


def test_every_problem_is_reported_at_once() -> None:
    document = suite_document(stage("smoke", route("health", method="FETCH", path="nope")))

    assert len(problems_of(document)) == 2


def test_a_suite_longer_than_the_hook_budget_is_rejected() -> None:
    # Given 100 rounds of at most 9 s (3 attempts of 2 s, waits of 1 + 2 s), 60 s apart: 6840 s
    document = suite_document(stage("soak", route("health"), rounds=100, intervalSeconds=60))

    # Then it cannot fit CodeDeploy's hour and says how long it could take
    problems = problems_of(document, budget_seconds=3300)
    assert problems == [
        "(suite): worst-case duration 6840 s exceeds the hook's time budget of 3300 s; "
        "reduce rounds, intervals, retries or timeouts"
    ]


def test_load_suite_names_the_file_in_every_message(tmp_path: Path) -> None:
    path = write_suite(tmp_path, suite_document(stage("smoke", route("health", method="FETCH"))))

    with pytest.raises(SuiteError) as raised:
        load_suite(path)

    assert str(raised.value).startswith(f"{path}: stages[0].routes[0].method")


def test_load_suite_explains_unreadable_and_malformed_files(tmp_path: Path) -> None:
    broken = tmp_path / "broken.yaml"
    broken.write_text("stages: [unclosed", encoding="utf-8")

    with pytest.raises(SuiteError, match="cannot read the file"):
        load_suite(tmp_path / "missing.yaml")
    with pytest.raises(SuiteError, match="not valid YAML or JSON"):
        load_suite(broken)


def test_with_base_url_overrides_the_target_and_checks_it() -> None:
    suite = parse_suite(suite_document(stage("smoke", route("health"))))

    assert suite.with_base_url("http://127.0.0.1:8080/").target["baseUrl"] == "http://127.0.0.1:8080"
    assert suite.with_base_url(None) is suite
    with pytest.raises(SuiteError, match="target base URL override 'localhost:80'"):
        suite.with_base_url("localhost:80")
