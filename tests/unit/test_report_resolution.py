"""Every report says which suite judged the deployment and what the hook resolved from it: the JSON report here."""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.support.suites import route, stage, suite_document
from tollgate.local_run import RunOutcome
from tollgate.report import RunReport, build_report, suite_source_line
from tollgate_core.contracts import (
    Controller,
    Deployment,
    EcsDeployment,
    ExecutionOutput,
    HookStatus,
    ListenerRole,
    SuiteSource,
    SuiteSourceKind,
)
from tollgate_core.suite import parse_suite

EXECUTION_ARN = "arn:aws:states:eu-west-1:123456789012:execution:tollgate-validation:AfterAllowTestTraffic-1"
SUITE = parse_suite(suite_document(stage("smoke", route("health"))))
SUITE_KEY = "s3://tollgate-suites/tollgate/orders/orders-dg/AfterAllowTestTraffic.yaml"
VERSION_ID = "3Lg1xHHfhMnvM9nUtsVEYSRj4fhVyA8s"
ETAG = "9b2cf535f27731c974343645a3985328"
LISTENER_ARN = "arn:aws:elasticloadbalancing:eu-west-1:123456789012:listener/app/orders/50dc6c495c0c9188/f2f7dc8e"
TEST_URL = "http://orders-1234567890.eu-west-1.elb.amazonaws.com:8080"
HOOK_IDS: Deployment = {
    "deploymentId": "d-ORDERS123",
    "lifecycleEventHookExecutionId": "eyJvcmRlcnMiOiJob29rIn0",
    "lifecycleEvent": "AfterAllowTestTraffic",
    "controller": Controller.CODEDEPLOY,
}
# A CodeDeploy ECS blue/green deployment, its suite from the catalog, its target the test listener.
ECS_SERVICE_DEPLOYMENT: Deployment = {
    **HOOK_IDS,
    "application": "orders",
    "deploymentGroup": "orders-dg",
    "suiteSource": {"kind": SuiteSourceKind.S3, "location": SUITE_KEY, "versionId": VERSION_ID, "etag": ETAG},
    "targetListener": {"role": ListenerRole.TEST, "listenerArn": LISTENER_ARN, "url": TEST_URL},
}
# A CodeDeploy Lambda deployment, its suite a bundled file, its invoke routes calling the target version.
LAMBDA_DEPLOYMENT: Deployment = {
    **HOOK_IDS,
    "lifecycleEvent": "BeforeAllowTraffic",
    "application": "orders-api",
    "deploymentGroup": "orders-api-dg",
    "suiteSource": {"kind": SuiteSourceKind.FILE, "location": "suites/before-allow-traffic.yaml"},
    "lambdaTarget": {
        "function": "orders-api",
        "alias": "live",
        "currentVersion": "6",
        "targetVersion": "7",
        "arn": "arn:aws:lambda:eu-west-1:123456789012:function:orders-api:7",
    },
}
# An ECS-native deployment whose hook was given the suite inline.
ECS_NATIVE_DEPLOYMENT: EcsDeployment = {
    "controller": Controller.ECS,
    "executionId": "ecs-deployment-1",
    "lifecycleStage": "POST_TEST_TRAFFIC_SHIFT",
    "serviceArn": "arn:aws:ecs:eu-west-1:123456789012:service/shop/web",
    "targetServiceRevisionArn": "arn:aws:ecs:eu-west-1:123456789012:service-revision/shop/web/2",
    "productionWeight": 0,
    "suiteSource": {"kind": SuiteSourceKind.INLINE, "location": "hookDetails.suite"},
}
RESOLUTION_FIELDS = ("suiteSource", "application", "deploymentGroup", "targetListener", "lambdaTarget")


def output(deployment: Deployment | EcsDeployment) -> ExecutionOutput:
    return {
        "status": HookStatus.SUCCEEDED,
        "reason": None,
        "deployment": deployment,
        "target": {"baseUrl": TEST_URL, "verifyTls": True},
        "stages": [],
    }


def started(deployment: Deployment | EcsDeployment) -> dict[str, Any]:
    """The history's first event: the execution's input, with its deployment."""
    document: dict[str, Any] = {"deployment": deployment, "suite": SUITE.document, "validation": {}, "error": None}
    return {"type": "ExecutionStarted", "id": 1, "executionStartedEventDetails": {"input": json.dumps(document)}}


def report_written(outcome: RunOutcome, controller: Controller = Controller.CODEDEPLOY) -> dict[str, Any]:
    """The report as --report-json writes it."""
    written: dict[str, Any] = json.loads(json.dumps(build_report(outcome, SUITE, controller)))
    return written


def outcome_of(summary: ExecutionOutput | None, history: list[dict[str, Any]] | None = None) -> RunOutcome:
    status = HookStatus.SUCCEEDED if summary else HookStatus.FAILED
    execution = "SUCCEEDED" if summary else "FAILED"
    return RunOutcome(status, EXECUTION_ARN, 3.0, summary, None, execution, history=history or [])


@pytest.mark.parametrize(
    ("source", "line"),
    [
        ({"kind": "s3", "location": SUITE_KEY, "versionId": VERSION_ID}, f"{SUITE_KEY} (version {VERSION_ID})"),
        ({"kind": "s3", "location": SUITE_KEY, "etag": ETAG}, f"{SUITE_KEY} (ETag {ETAG})"),
        (
            {"kind": "s3", "location": SUITE_KEY, "versionId": VERSION_ID, "etag": ETAG},
            f"{SUITE_KEY} (version {VERSION_ID}, ETag {ETAG})",
        ),
        ({"kind": "s3", "location": SUITE_KEY}, SUITE_KEY),
        ({"kind": "file", "location": "suites/after-allow-traffic.yaml"}, "file suites/after-allow-traffic.yaml"),
        ({"kind": "inline", "location": "hookDetails.suite"}, "hookDetails.suite (inline)"),
    ],
)
def test_a_suite_source_reads_as_one_line_that_names_the_exact_suite(source: SuiteSource, line: str) -> None:
    assert suite_source_line(source) == line


def test_the_json_report_carries_the_suite_source_and_what_the_deployment_resolved() -> None:
    # Given the summary of a validation of a CodeDeploy ECS deployment, its suite from the catalog
    outcome = outcome_of(output(ECS_SERVICE_DEPLOYMENT))

    # When its report is written
    report = report_written(outcome)

    # Then the report says which suite judged, exactly, and which deployment group and listener it validated
    assert report["suiteSource"] == {"kind": "s3", "location": SUITE_KEY, "versionId": VERSION_ID, "etag": ETAG}
    assert (report["application"], report["deploymentGroup"]) == ("orders", "orders-dg")
    assert report["targetListener"] == {"role": "testListener", "listenerArn": LISTENER_ARN, "url": TEST_URL}
    assert "lambdaTarget" not in report


def test_a_lambda_deployments_report_names_the_function_version_it_shifts_to() -> None:
    report = report_written(outcome_of(output(LAMBDA_DEPLOYMENT)))

    assert report["lambdaTarget"] == {
        "function": "orders-api",
        "alias": "live",
        "currentVersion": "6",
        "targetVersion": "7",
        "arn": "arn:aws:lambda:eu-west-1:123456789012:function:orders-api:7",
    }
    assert report["suiteSource"] == {"kind": "file", "location": "suites/before-allow-traffic.yaml"}
    assert "targetListener" not in report


def test_without_a_summary_the_report_reads_them_from_the_execution_input() -> None:
    # Given an execution that failed before its reporter wrote a summary
    outcome = outcome_of(None, [started(ECS_SERVICE_DEPLOYMENT)])

    # When its report is written
    report = report_written(outcome)

    # Then the suite and the deployment are still named, from the input the execution started with
    recorded: dict[str, Any] = json.loads(json.dumps(ECS_SERVICE_DEPLOYMENT))
    assert {field: report[field] for field in RESOLUTION_FIELDS if field in report} == {
        field: recorded[field] for field in RESOLUTION_FIELDS if field in recorded
    }


def test_an_ecs_deployments_report_has_only_its_suite_source() -> None:
    report = report_written(outcome_of(output(ECS_NATIVE_DEPLOYMENT)), Controller.ECS)

    assert [field for field in RESOLUTION_FIELDS if field in report] == ["suiteSource"]
    assert report["suiteSource"] == {"kind": "inline", "location": "hookDetails.suite"}


@pytest.mark.parametrize(
    "outcome",
    [
        outcome_of(output(HOOK_IDS)),
        outcome_of(None, [started(HOOK_IDS)]),
        outcome_of(None),  # the hook failed before any execution started
    ],
    ids=["summary", "input only", "no execution"],
)
def test_an_execution_started_before_the_hooks_recorded_them_has_none_of_them(outcome: RunOutcome) -> None:
    report = report_written(outcome)

    assert not [field for field in RESOLUTION_FIELDS if field in report]
    assert report["stages"][0]["name"] == "smoke"


def test_the_deployment_given_is_the_one_reported() -> None:
    # Given an outcome without summary nor history, and the deployment its execution's input carries
    outcome = outcome_of(None)

    # When its report is built with that deployment
    report: RunReport = build_report(outcome, SUITE, Controller.CODEDEPLOY, LAMBDA_DEPLOYMENT)

    # Then the report names what that deployment resolved
    assert report.get("lambdaTarget") == LAMBDA_DEPLOYMENT.get("lambdaTarget")
    assert report.get("deploymentGroup") == "orders-api-dg"
