"""The demos and ECS runs through the installed `tollgate` command: exit codes and what the reports say."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.support.command import tollgate
from tests.support.suites import route, stage, suite_document, write_suite
from tests.support.target import Behaviour, TargetService


@pytest.mark.parametrize(("arguments", "code", "verdict"), [([], 0, "Succeeded"), (["--broken"], 1, "Failed")])
def test_the_demo_passes_and_its_broken_twin_rolls_back(arguments: list[str], code: int, verdict: str) -> None:
    result = tollgate("demo", *arguments)

    assert result.returncode == code, result.stdout + result.stderr
    assert f"CodeDeploy recorded {verdict}" in result.stdout


def test_run_on_ecs_writes_what_ecs_recorded_at_each_traffic_step(tmp_path: Path) -> None:
    # Given a healthy service and a suite
    suite = write_suite(tmp_path, suite_document(stage("smoke", route("health", retry={"maxAttempts": 1}))))
    report_path = tmp_path / "report.json"
    with TargetService({"/health": Behaviour()}) as target:
        # When ECS deploys linearly in two steps, the hook validating each
        arguments = ["--controller", "ecs", "--strategy", "linear", "--steps", "2", "--target", target.url]
        result = tollgate("run", "--suite", str(suite), *arguments, "--report-json", str(report_path), "--quiet")

    # Then the report says what ECS received at each step, and every step's probes
    assert result.returncode == 0, result.stdout + result.stderr
    report = json.loads(report_path.read_text())
    assert (report["controller"], report["status"], report["reportedStatus"]) == ("ECS", "Succeeded", "Succeeded")
    assert (report["hookStatus"], report["reason"]) == ("SUCCEEDED", None)
    assert report["invocations"] >= 4  # each step: the first call starts its validation, a later one reads it
    assert [(step["productionWeight"], step["hookStatus"]) for step in report["steps"]] == [
        (50, "SUCCEEDED"),
        (100, "SUCCEEDED"),
    ]
    assert report["executionArn"] == report["steps"][-1]["executionArn"]
    assert [(p["route"], p["ok"]) for p in report["stages"][0]["probes"]] == [("health", True)] * 2


@pytest.mark.parametrize(("arguments", "code", "verdict"), [([], 0, "Succeeded"), (["--broken"], 1, "Failed")])
def test_the_ecs_linear_demo_passes_and_its_broken_twin_rolls_back(
    arguments: list[str], code: int, verdict: str
) -> None:
    result = tollgate("demo", "--controller", "ecs", "--strategy", "linear", *arguments)

    assert result.returncode == code, result.stdout + result.stderr
    assert f"ECS recorded {verdict}" in result.stdout
