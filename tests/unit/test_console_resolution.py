"""What the terminal says of the suite that judged and of what the deployment resolved, under the verdict."""

from __future__ import annotations

from rich.console import Console

from tests.unit.test_report_resolution import (
    ECS_NATIVE_DEPLOYMENT,
    ECS_SERVICE_DEPLOYMENT,
    ETAG,
    HOOK_IDS,
    LAMBDA_DEPLOYMENT,
    LISTENER_ARN,
    SUITE,
    SUITE_KEY,
    TEST_URL,
    VERSION_ID,
    outcome_of,
    output,
)
from tollgate.console import print_report, print_verdict
from tollgate.report import EcsRunReport, RunReport, build_report
from tollgate_core.contracts import Controller, Deployment, EcsDeployment, EcsHookStatus


def report_of(deployment: Deployment) -> RunReport:
    return build_report(outcome_of(output(deployment)), SUITE)


def ecs_report_of(deployment: EcsDeployment) -> EcsRunReport:
    report = build_report(outcome_of(output(deployment)), SUITE, Controller.ECS)
    return {**report, "hookStatus": EcsHookStatus.SUCCEEDED, "invocations": 1}


def printed(report: RunReport) -> list[str]:
    console = Console(record=True, width=100)
    print_verdict(console, report)
    return console.export_text().splitlines()


def test_a_catalog_suite_and_the_listener_it_probed_are_told_under_the_verdict() -> None:
    # Given a validated CodeDeploy ECS deployment: a catalog suite, its target resolved to the test listener
    report = report_of(ECS_SERVICE_DEPLOYMENT)

    # When the verdict is printed
    lines = printed(report)

    # Then the suite (its exact version), the deployment group and the target follow it, aligned, one line each
    assert lines == [
        "CodeDeploy recorded Succeeded after 3.0 s",
        f"suite             {SUITE_KEY} (version {VERSION_ID}, ETag {ETAG})",
        "deployment group  orders/orders-dg",
        f"target            {TEST_URL} (testListener {LISTENER_ARN})",
    ]


def test_a_lambda_deployment_names_the_function_version_it_shifts_to() -> None:
    lines = printed(report_of(LAMBDA_DEPLOYMENT))

    assert lines[1:] == [
        "suite             file suites/before-allow-traffic.yaml",
        "deployment group  orders-api/orders-api-dg",
        "function          orders-api:7 (alias live, from 6)",
    ]


def test_an_ecs_deployment_tells_its_inline_suite_alone() -> None:
    lines = printed(ecs_report_of(ECS_NATIVE_DEPLOYMENT))

    assert lines == [
        "ECS recorded Succeeded after 3.0 s",
        "the hook answered SUCCEEDED; ECS invoked it 1 times",
        "suite  hookDetails.suite (inline)",
    ]


def test_an_execution_started_before_the_hooks_recorded_them_prints_only_its_verdict() -> None:
    assert printed(report_of(HOOK_IDS)) == ["CodeDeploy recorded Succeeded after 3.0 s"]


def test_the_full_report_tells_them_too() -> None:
    # Given the report of a catalog suite's validation / When it is printed whole, table and verdict
    console = Console(record=True, width=200)
    print_report(console, report_of(ECS_SERVICE_DEPLOYMENT))

    # Then the suite line follows the verdict
    lines = console.export_text().splitlines()
    verdict = lines.index("CodeDeploy recorded Succeeded after 3.0 s")
    assert lines[verdict + 1] == f"suite             {SUITE_KEY} (version {VERSION_ID}, ETag {ETAG})"
