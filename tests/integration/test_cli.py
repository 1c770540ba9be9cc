"""The `tollgate` command as users run it: exit codes, messages, the JSON report."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from junitparser import JUnitXml

from tests.support.command import tollgate
from tests.support.suites import route, stage, suite_document, write_suite
from tests.support.target import Behaviour, TargetService, closed_port_url


def test_run_writes_the_report_and_exits_0_when_codedeploy_got_succeeded(tmp_path: Path) -> None:
    # Given a healthy service and a suite pointing elsewhere
    suite = write_suite(
        tmp_path, suite_document(stage("smoke", route("health"), rounds=2), base_url="http://nowhere.invalid")
    )
    report_path = tmp_path / "report.json"
    with TargetService({"/health": Behaviour()}) as target:
        # When it runs with --target
        result = tollgate(
            "run", "--suite", str(suite), "--target", target.url, "--report-json", str(report_path), "--quiet"
        )

    # Then the exit code and the report say what CodeDeploy recorded
    assert result.returncode == 0, result.stderr
    report = json.loads(report_path.read_text())
    assert (report["status"], report["reportedStatus"], report["reason"]) == ("Succeeded", "Succeeded", None)
    assert report["controller"] == "CodeDeploy"
    assert report["target"] == {"baseUrl": target.url, "verifyTls": True}
    assert report["executionArn"].startswith("arn:aws:states:us-east-1:123456789012:execution:")
    assert report["durationSeconds"] > 0
    assert report["stages"] == [
        {
            "name": "smoke",
            "status": "passed",
            "probes": [
                {
                    "route": "health",
                    "kind": "route",
                    "round": n,
                    "attempts": 1,
                    "ok": True,
                    "statusCode": 200,
                    "latencyMs": p["latencyMs"],
                    "value": None,
                    "reason": None,
                }
                for n, p in zip((1, 2), report["stages"][0]["probes"], strict=True)
            ],
        }
    ]


def test_run_exits_1_with_the_reason_when_codedeploy_got_failed(tmp_path: Path) -> None:
    suite = write_suite(
        tmp_path,
        suite_document(
            stage("smoke", route("health", retry={"maxAttempts": 1}), route("version"), rounds=2),
            stage("soak", route("health")),
        ),
    )
    report_path, junit_path = tmp_path / "report.json", tmp_path / "junit.xml"
    with TargetService({"/health": Behaviour(status=503), "/version": Behaviour()}) as target:
        result = tollgate(
            *("run", "--suite", str(suite), "--target", target.url),
            *("--report-json", str(report_path), "--junit", str(junit_path)),
        )

    assert result.returncode == 1
    assert "CodeDeploy recorded Failed" in result.stdout
    report = json.loads(report_path.read_text())
    assert report["reportedStatus"] == "Failed"
    assert report["reason"] == "stage 'smoke': 1 failed probes, budget 0; health (round 1): status 503, expected 2xx"
    assert [s["status"] for s in report["stages"]] == ["failed", "skipped"]
    # and a CI system reads from the JUnit file what failed and why, and what never ran
    junit = {suite.name: suite for suite in JUnitXml.fromfile(str(junit_path))}
    smoke = {case.name: case for case in junit["smoke"]}
    assert list(smoke) == ["health (round 1)", "version (round 1)", "health (round 2)", "version (round 2)"]
    (failure,) = smoke["health (round 1)"].result
    assert failure.message == "status 503, expected 2xx"
    assert smoke["version (round 1)"].is_passed and smoke["version (round 1)"].time > 0
    assert smoke["health (round 2)"].is_skipped  # fail fast: the stage ended after its first round
    assert (junit["soak"].tests, junit["soak"].skipped) == (1, 1)


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        (["run", "--suite", "missing.yaml"], "missing.yaml: cannot read the file"),
        (["run", "--suite", "{suite}", "--target", "not-a-url"], "target base URL override 'not-a-url'"),
        (["run", "--suite", "{suite}", "--lifecycle-event", "BeforeInstall"], "no hook validates 'BeforeInstall'"),
        (["run"], "the following arguments are required: --suite"),
        (["run", "--suite", "{suite}", "--strategy", "linear"], "--strategy and --steps apply to --controller ecs"),
        (["run", "--suite", "{suite}", "--controller", "ecs", "--steps", "2"], "--steps applies to --strategy linear"),
        (
            ["run", "--suite", "{suite}", "--controller", "ecs", "--strategy", "linear", "--steps", "34"],
            "--steps: from 1 to 33",
        ),
        (
            ["run", "--suite", "{suite}", "--controller", "ecs", "--lifecycle-event", "AfterAllowTraffic"],
            "--lifecycle-event applies to --controller codedeploy",
        ),
        (["validate", "{invalid}"], "stages[0].routes[0].expect.status: must be"),
    ],
)
def test_usage_errors_and_invalid_suites_exit_2_with_one_clear_message(
    tmp_path: Path, arguments: list[str], message: str
) -> None:
    suite = write_suite(tmp_path, suite_document(stage("smoke", route("health"))))
    invalid = write_suite(
        tmp_path, suite_document(stage("smoke", route("health", expect={"status": "200"}))), "invalid.yaml"
    )
    arguments = [a.format(suite=suite, invalid=invalid) for a in arguments]

    result = tollgate(*arguments)

    assert result.returncode == 2
    assert message in result.stderr
    assert "Traceback" not in result.stderr


def test_metric_data_that_cannot_be_seeded_exits_2_naming_each_file_and_field_before_anything_runs(
    tmp_path: Path,
) -> None:
    # Given a suite, a metric data file with a time that is none, and a file that does not exist
    suite = write_suite(tmp_path, suite_document(stage("smoke", route("health"))))
    metrics, missing = tmp_path / "metrics.json", tmp_path / "missing.json"
    datum = {"MetricName": "RequestCount", "Timestamp": "-90x", "Value": 1}
    metrics.write_text(json.dumps({"Namespace": "AWS/ApplicationELB", "MetricData": [datum]}), encoding="utf-8")

    # When the run is asked to seed CloudWatch with both
    result = tollgate("run", "--suite", str(suite), "--metric-data", str(metrics), "--metric-data", str(missing))

    # Then each problem is named by its file and field, and nothing ran
    assert result.returncode == 2
    assert result.stderr.splitlines() == [
        f'{metrics}: MetricData[0].Timestamp: "-90x" is not a time (ISO 8601, epoch seconds, or now, -90s, -5m, -1h)',
        f"{missing}: cannot read the file: No such file or directory",
    ]
    assert result.stdout == ""


def oversized_suite(directory: Path) -> Path:
    """3,000 small routes: a valid suite by every other rule, whose documents outgrow Step Functions' 256 KiB."""
    routes = [{"name": f"route-{n}", "path": f"/items/{n}"} for n in range(3000)]
    path = directory / "oversized.json"
    path.write_text(json.dumps(suite_document({"name": "smoke", "routes": routes})), encoding="utf-8")
    return path


@pytest.mark.parametrize("command", ["validate", "run"])
@pytest.mark.parametrize(
    ("content", "problem"),
    [
        (bytes(range(256)), "not UTF-8 text (byte 0x80 at offset 128)"),
        (b"", "the file is empty"),
        (b"  \n\n", "the file is empty"),
        (b"# only a comment\n", "the file holds no suite"),
    ],
)
def test_a_suite_file_that_is_not_a_suite_exits_2_naming_the_file_and_the_problem(
    tmp_path: Path, command: str, content: bytes, problem: str
) -> None:
    # Given a file that holds no readable suite
    path = tmp_path / "suite.yaml"
    path.write_bytes(content)

    # When it is checked or run
    result = tollgate(command, str(path)) if command == "validate" else tollgate(command, "--suite", str(path))

    # Then one line names the file and the problem, and the exit code is the one for an invalid suite
    assert result.returncode == 2, result.stderr
    assert result.stderr.splitlines() == [f"{path}: {problem}" + result.stderr.split(problem, 1)[1].rstrip()]


def test_a_suite_too_large_for_the_workflow_is_rejected_with_its_size(tmp_path: Path) -> None:
    result = tollgate("validate", str(oversized_suite(tmp_path)))

    assert result.returncode == 2
    size = re.search(r"the workflow would carry documents of up to (\d+) KiB between states", result.stderr)
    assert size is not None, result.stderr
    assert int(size.group(1)) > 256
    assert "over Step Functions' limit of 256 KiB; use fewer checks" in result.stderr


def test_validate_accepts_a_valid_suite() -> None:
    result = tollgate("validate", "tollgate/demo/suite.yaml")

    assert result.returncode == 0
    assert result.stdout.strip() == "tollgate/demo/suite.yaml: valid (2 stages, 4 routes, 1 metric checks)"


def test_an_unreachable_step_functions_endpoint_is_a_clear_error(tmp_path: Path) -> None:
    suite = write_suite(tmp_path, suite_document(stage("smoke", route("health"))))

    result = tollgate("run", "--suite", str(suite), "--sfn-endpoint", closed_port_url())

    assert result.returncode == 2
    assert "cannot create the state machine at http://127.0.0.1:" in result.stderr
    assert "Traceback" not in result.stderr
