"""A Lambda deployment of the user's function, validated by the BeforeAllowTraffic and AfterAllowTraffic hooks: the
hook reads the deployment's AppSpec, its invoke routes without a `function` invoke the version the alias shifts to,
and the local CodeDeploy records the verdict; on the real ASL and handlers in the embedded engine."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.support.suites import stage, write_suite
from tollgate.engine.engine import LocalEngine
from tollgate.local_run import LocalDeployment, RunOutcome, run_validation
from tollgate_core.contracts import HookStatus, RouteSummary

USER_APP = Path(__file__).resolve().parents[1] / "support" / "user_app" / "template.yaml"
ECHO = "user-app-echo"
ECHO_ARN = f"arn:aws:lambda:us-east-1:123456789012:function:{ECHO}"
HELPER_ARN = "arn:aws:lambda:us-east-1:123456789012:function:user-app-HelperFunction"
LAMBDA_HOOKS = ["BeforeAllowTraffic", "AfterAllowTraffic"]


@pytest.fixture(scope="module")
def engine(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalEngine]:
    """An engine running the user's service beside Tollgate's app."""
    log_path = tmp_path_factory.mktemp("lambda-deployments") / "engine.log"
    with LocalEngine(log_path=log_path, app_templates=[USER_APP]) as local_engine:
        yield local_engine


@pytest.fixture
def echo_deployment(engine: LocalEngine) -> LocalDeployment:
    """A Lambda deployment of EchoFunction, as `tollgate run --app-template` makes it: alias live, from 1 to 2."""
    (deployed,) = engine.services[0].alias_deployments
    return LocalDeployment(function=deployed)


def invoke_route(name: str, payload: dict[str, Any], **settings: Any) -> dict[str, Any]:
    """An invoke route that leaves its function to the hook, tried once."""
    invoke = {"payload": payload, **settings.pop("invoke", {})}
    return {"name": name, "invoke": invoke, "retry": {"maxAttempts": 1}, **settings}


def invoke_suite(tmp_path: Path, *routes: dict[str, Any]) -> Path:
    return write_suite(tmp_path, {"version": 1, "stages": [stage("smoke", *routes)]})


def started_deployment(outcome: RunOutcome) -> dict[str, Any]:
    """The deployment document the execution started with."""
    document: dict[str, Any] = json.loads(outcome.history[0]["executionStartedEventDetails"]["input"])["deployment"]
    return document


def invoked_functions(engine: LocalEngine, outcome: RunOutcome) -> dict[str, str]:
    """Each invoke route's function, as the workflow handed the route to the probe: route name -> function."""
    probe_arn = engine.app.function("ProbeFunction").arn
    functions = {}
    for event in outcome.history:
        if event["type"] != "TaskScheduled":
            continue
        parameters = json.loads(event["taskScheduledEventDetails"]["parameters"])
        if parameters["FunctionName"] == probe_arn:
            route = parameters["Payload"]["route"]
            functions[route["name"]] = route["invoke"]["function"]
    return functions


def only_route_summary(outcome: RunOutcome) -> RouteSummary:
    assert outcome.summary is not None
    (smoke,) = outcome.summary["stages"]
    (route,) = smoke["routes"]
    return route


@pytest.mark.parametrize("lifecycle_event", LAMBDA_HOOKS)
def test_the_hook_invokes_the_version_the_deployment_shifts_to_and_codedeploy_records_succeeded(
    engine: LocalEngine, echo_deployment: LocalDeployment, tmp_path: Path, lifecycle_event: str
) -> None:
    # Given a suite whose first route names no function and expects its payload echoed, and whose second names one
    suite = invoke_suite(
        tmp_path,
        invoke_route("echo", {"order": 7}, expect={"json": {"$.echo.order": 7, "$.greeting": "hello"}}),
        invoke_route("helper", {"ping": 1}, invoke={"function": HELPER_ARN}),
    )

    # When CodeDeploy runs the hook for a Lambda deployment of EchoFunction
    outcome = run_validation(engine, suite, None, lifecycle_event, deployment=echo_deployment, timeout_seconds=60)

    # Then the local CodeDeploy recorded Succeeded, once
    assert (outcome.reported_status, outcome.status_calls) == (HookStatus.SUCCEEDED, [HookStatus.SUCCEEDED])

    # And the execution records the deployment it validated: its function, alias and target version, from the AppSpec
    deployment = started_deployment(outcome)
    assert deployment["lifecycleEvent"] == lifecycle_event
    assert (deployment["application"], deployment["deploymentGroup"]) == (
        "user-app-ServerlessDeploymentApplication",
        "user-app-EchoFunctionDeploymentGroup",
    )
    assert deployment["lambdaTarget"] == {
        "function": ECHO,
        "alias": "live",
        "currentVersion": "1",
        "targetVersion": "2",
        "arn": f"{ECHO_ARN}:2",
    }

    # And the probe invoked that version by its qualified ARN; the route that named its function kept it
    assert invoked_functions(engine, outcome) == {"echo": f"{ECHO_ARN}:2", "helper": HELPER_ARN}
    assert outcome.summary is not None
    assert [(route["route"], route["passed"]) for route in outcome.summary["stages"][0]["routes"]] == [
        ("echo", 1),
        ("helper", 1),
    ]


@pytest.mark.parametrize(
    ("route", "reason"),
    [
        pytest.param(
            invoke_route("echo", {"order": 7}, expect={"json": {"$.echo.order": 8}}),
            "$.echo.order is 7, expected 8",
            id="an-unmet-payload-expectation",
        ),
        pytest.param(
            # The expectations would pass: a function error fails the attempt whatever they say.
            invoke_route("echo", {"fail": "asked to"}, expect={"maxLatencyMs": 30000}),
            "function error (Unhandled): EchoFailure: asked to",
            id="a-function-error",
        ),
    ],
)
def test_the_new_versions_answer_fails_the_hook_with_the_reason(
    engine: LocalEngine, echo_deployment: LocalDeployment, tmp_path: Path, route: dict[str, Any], reason: str
) -> None:
    # Given a suite whose invoke route the new version answers wrongly
    suite = invoke_suite(tmp_path, route)

    # When CodeDeploy runs the BeforeAllowTraffic hook for the Lambda deployment
    outcome = run_validation(engine, suite, None, "BeforeAllowTraffic", deployment=echo_deployment, timeout_seconds=60)

    # Then the local CodeDeploy recorded Failed, and the execution's output says which route failed and why
    assert (outcome.reported_status, outcome.status_calls) == (HookStatus.FAILED, [HookStatus.FAILED])
    assert outcome.summary is not None
    assert outcome.summary["reason"] == f"stage 'smoke': 1 failed probes, budget 0; echo (round 1): {reason}"
    assert outcome.summary["stages"][0]["status"] == "failed"
    assert only_route_summary(outcome)["lastReason"] == reason
    assert invoked_functions(engine, outcome) == {"echo": f"{ECHO_ARN}:2"}


def test_an_invoke_route_without_a_function_fails_the_hook_of_a_deployment_that_ships_no_function(
    engine: LocalEngine, tmp_path: Path
) -> None:
    # Given an invoke route that leaves its function to the deployment
    suite = invoke_suite(tmp_path, invoke_route("echo", {"order": 7}))

    # When CodeDeploy runs the hook of an ECS deployment, which deploys no Lambda function
    outcome = run_validation(engine, suite, None, "AfterAllowTestTraffic", timeout_seconds=30)

    # Then the hook reported Failed itself, no validation started, and its error names the field and the deployment
    assert (outcome.reported_status, outcome.status_calls) == (HookStatus.FAILED, [HookStatus.FAILED])
    assert outcome.execution_arn is None
    assert outcome.hook_error is not None
    message = outcome.hook_error["errorMessage"]
    assert message.startswith("invoke.function: deployment d-")
    assert "(ECS, tollgate-local/tollgate-local) deploys no Lambda function to invoke" in message
