"""The JUnit XML a CI system reads (--junit), read back with a JUnit parser as CI systems do."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from junitparser import Failure, JUnitXml, Skipped, TestCase, TestSuite

from tests.support.suites import route, stage, suite_document, target_group_check
from tests.unit.test_report_resolution import ECS_SERVICE_DEPLOYMENT, ETAG, LAMBDA_DEPLOYMENT, SUITE_KEY, VERSION_ID
from tollgate.junit import write_junit
from tollgate.report import EcsStepsRunReport, ProbeRow, RunReport, deployment_resolution
from tollgate_core.contracts import CheckKind, Controller, EcsHookStatus, HookStatus, StageStatus
from tollgate_core.suite import Suite, parse_suite

ARN = "arn:aws:states:us-east-1:123456789012:execution:tollgate-validation:AfterAllowTestTraffic-1"
SUITE = parse_suite(
    suite_document(
        stage(
            "smoke",
            route("health"),
            metrics=[target_group_check("5xx-rate", "targetgroup/green/73e2d6bc24d8a067", errorRatePercent={"max": 1})],
        ),
        stage("soak", route("orders"), rounds=3, intervalSeconds=5),
        stage("final", route("health")),
    )
)


def row(check: str, round_: int, ok: bool = True, **fields: Any) -> ProbeRow:
    probe: ProbeRow = {
        "route": check,
        "kind": CheckKind.ROUTE,
        "round": round_,
        "attempts": 1,
        "ok": ok,
        "statusCode": 200 if ok else 503,
        "latencyMs": 12.5,
        "value": None,
        "reason": None if ok else "status 503, expected 2xx",
    }
    return {**probe, **fields}  # type: ignore[typeddict-item]


def report_of(stages: list[tuple[str, StageStatus, list[ProbeRow]]]) -> RunReport:
    return {
        "controller": Controller.CODEDEPLOY,
        "status": HookStatus.FAILED,
        "reportedStatus": HookStatus.FAILED,
        "executionArn": ARN,
        "durationSeconds": 2.5,
        "reason": "stage 'soak': 1 failed probes, budget 0; orders (round 2): status 503, expected 2xx",
        "target": {"baseUrl": "http://127.0.0.1:9", "verifyTls": True},
        "stages": [{"name": name, "status": status, "probes": probes} for name, status, probes in stages],
    }


# A validation that passed smoke, failed soak in its second round (fail fast: no third), and never ran final.
FAILED_IN_SOAK = report_of(
    [
        (
            "smoke",
            StageStatus.PASSED,
            [
                row("health", 1, latencyMs=250.0),
                row("5xx-rate", 1, kind=CheckKind.METRIC, statusCode=None, latencyMs=None, value=0.2),
            ],
        ),
        ("soak", StageStatus.FAILED, [row("orders", 1, latencyMs=40.0), row("orders", 2, ok=False, latencyMs=10.0)]),
        ("final", StageStatus.SKIPPED, []),
    ]
)


def written(tmp_path: Path, report: RunReport, suite: Suite = SUITE) -> JUnitXml:
    path = tmp_path / "junit.xml"
    write_junit(path, report, suite)
    return JUnitXml.fromfile(str(path))


def suites(document: JUnitXml) -> dict[str, TestSuite]:
    return {suite.name: suite for suite in document}


def cases(suite: TestSuite) -> dict[str, TestCase]:
    return {case.name: case for case in suite}


def properties_of(testsuite: TestSuite) -> dict[str, str]:
    properties = testsuite.properties()  # type: ignore[no-untyped-call]  # junitparser leaves it unannotated
    return {prop.name: prop.value for prop in properties}


def test_each_stage_is_a_testsuite_and_each_check_a_testcase_per_planned_round(tmp_path: Path) -> None:
    # Given a validation that failed in its second stage / When its JUnit XML is read back
    document = written(tmp_path, FAILED_IN_SOAK)

    # Then every check has a testcase in every round its stage plans, named for the round, classed by stage
    assert [(suite.name, [(case.name, case.classname) for case in suite]) for suite in document] == [
        ("smoke", [("health (round 1)", "smoke"), ("5xx-rate (round 1)", "smoke")]),
        ("soak", [("orders (round 1)", "soak"), ("orders (round 2)", "soak"), ("orders (round 3)", "soak")]),
        ("final", [("health (round 1)", "final")]),
    ]


def test_the_totals_count_what_ran_what_failed_and_what_was_skipped(tmp_path: Path) -> None:
    document = written(tmp_path, FAILED_IN_SOAK)

    assert (document.tests, document.failures, document.errors, document.skipped) == (6, 1, 0, 2)
    assert [(s.tests, s.failures, s.skipped) for s in document] == [(2, 0, 0), (3, 1, 1), (1, 0, 1)]
    assert document.time == pytest.approx(0.25 + 0.04 + 0.01)


def test_a_failure_carries_the_reason_and_a_probe_its_latency_in_seconds(tmp_path: Path) -> None:
    soak = cases(suites(written(tmp_path, FAILED_IN_SOAK))["soak"])

    failed = soak["orders (round 2)"]
    (failure,) = failed.result
    assert isinstance(failure, Failure)
    assert (failure.message, failure.type) == ("status 503, expected 2xx", "route")
    assert failure.text == "attempts: 1, last status: 503"
    assert failed.time == pytest.approx(0.01)
    assert soak["orders (round 1)"].is_passed
    assert soak["orders (round 1)"].time == pytest.approx(0.04)


def test_a_metric_reading_takes_no_time_and_says_its_value_when_it_fails(tmp_path: Path) -> None:
    # Given a metric check that passed once and one that failed
    report = report_of(
        [
            (
                "smoke",
                StageStatus.FAILED,
                [
                    row("health", 1),
                    row(
                        "5xx-rate",
                        1,
                        ok=False,
                        kind=CheckKind.METRIC,
                        statusCode=None,
                        latencyMs=None,
                        value=3.4,
                        reason="5xx rate 3.4% over max 1%",
                    ),
                ],
            ),
            ("soak", StageStatus.SKIPPED, []),
            ("final", StageStatus.SKIPPED, []),
        ]
    )

    smoke = cases(suites(written(tmp_path, report))["smoke"])

    reading = smoke["5xx-rate (round 1)"]
    (failure,) = reading.result
    assert isinstance(failure, Failure)
    assert (failure.message, failure.type, failure.text) == (
        "5xx rate 3.4% over max 1%",
        "metric",
        "reading: value 3.4",
    )
    assert reading.time == 0


@pytest.mark.parametrize(
    ("status", "why"),
    [
        (StageStatus.SKIPPED, "not run: an earlier stage failed"),
        (StageStatus.RUNNING, "not run yet: the validation is still running"),
        (StageStatus.FAILED, "not run: the stage ended before this round (fail fast, or the validation ended)"),
    ],
)
def test_a_round_that_did_not_run_is_skipped_saying_why(tmp_path: Path, status: StageStatus, why: str) -> None:
    report = report_of([("smoke", StageStatus.PASSED, []), ("soak", status, []), ("final", StageStatus.SKIPPED, [])])

    soak = suites(written(tmp_path, report))["soak"]

    assert all(case.is_skipped for case in soak)
    assert {result.message for case in soak for result in case.result if isinstance(result, Skipped)} == {why}


def test_the_stage_says_its_status_and_the_validation_its_verdict_and_execution(tmp_path: Path) -> None:
    # Given a validation started before the hooks recorded the suite's source / When its JUnit XML is read back
    soak = suites(written(tmp_path, FAILED_IN_SOAK))["soak"]

    # Then each stage says its status, the verdict and the execution, and names no suite source or deployment group
    assert properties_of(soak) == {
        "status": "failed",
        "maxFailedProbes": "0",
        "verdict": "Failed",
        "reportedStatus": "Failed",
        "executionArn": ARN,
        "dryRun": "false",
    }


def test_every_stage_names_the_suite_that_judged_and_the_deployment_group(tmp_path: Path) -> None:
    # Given a validation of a CodeDeploy deployment whose suite the hook read from the catalog
    report: RunReport = {**FAILED_IN_SOAK, **deployment_resolution(ECS_SERVICE_DEPLOYMENT)}

    # When its JUnit XML is read back
    testsuites = suites(written(tmp_path, report)).values()

    # Then every testsuite says which suite, exactly, and which application and deployment group
    for testsuite in testsuites:
        properties = properties_of(testsuite)
        assert properties["suiteSource"] == f"{SUITE_KEY} (version {VERSION_ID}, ETag {ETAG})"
        assert (properties["application"], properties["deploymentGroup"]) == ("orders", "orders-dg")
        assert "targetVersion" not in properties


def test_a_lambda_deployments_stages_name_the_version_it_shifts_to(tmp_path: Path) -> None:
    report: RunReport = {**FAILED_IN_SOAK, **deployment_resolution(LAMBDA_DEPLOYMENT)}

    properties = properties_of(suites(written(tmp_path, report))["smoke"])

    assert properties["targetVersion"] == "7"
    assert properties["suiteSource"] == "file suites/before-allow-traffic.yaml"


def test_a_dry_runs_would_be_failures_are_skipped_saying_so_and_fail_no_ci_job(tmp_path: Path) -> None:
    # Given a dry run that would have failed in soak: its deployment received Succeeded
    report: RunReport = {**FAILED_IN_SOAK, "dryRun": True, "reportedStatus": HookStatus.SUCCEEDED}

    # When its JUnit XML is read back
    document = written(tmp_path, report)

    # Then nothing failed, and the check that would have failed says so and why
    assert (document.failures, document.skipped) == (0, 3)
    (would_have_failed,) = cases(suites(document)["soak"])["orders (round 2)"].result
    assert isinstance(would_have_failed, Skipped)
    assert would_have_failed.message == "dry run, would have failed: status 503, expected 2xx"
    assert would_have_failed.text == "attempts: 1, last status: 503"


def test_each_traffic_step_validated_has_its_own_testcases(tmp_path: Path) -> None:
    # Given an ECS linear deployment whose two steps each ran the one-stage suite
    suite = parse_suite(suite_document(stage("smoke", route("health"))))
    base = report_of([("smoke", StageStatus.PASSED, [row("health", 1, latencyMs=5.0), row("health", 1, ok=False)])])
    step = {"hookStatus": EcsHookStatus.SUCCEEDED, "executionArn": ARN, "durationSeconds": 1.0}
    report: EcsStepsRunReport = {
        **base,
        "controller": Controller.ECS,
        "hookStatus": EcsHookStatus.FAILED,
        "invocations": 5,
        "steps": [{**step, "productionWeight": 50.0}, {**step, "productionWeight": 100.0}],  # type: ignore[typeddict-item]
    }

    smoke = cases(suites(written(tmp_path, report, suite))["smoke"])

    assert list(smoke) == ["health (step 1, round 1)", "health (step 2, round 1)"]
    assert (smoke["health (step 1, round 1)"].is_passed, smoke["health (step 2, round 1)"].is_failure) == (True, True)
