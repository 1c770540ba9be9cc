"""`tollgate run` with the deployment's options: a suite published to the catalog of a deployment group, a load
balancer's listeners, a Lambda deployment of the user's own function; each run starts its own engine."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tests.support.suites import route, stage, suite_document, write_suite
from tests.support.target import Behaviour, TargetService
from tollgate.cli import EXIT_FAILED, EXIT_SUCCEEDED, EXIT_USAGE, main

REPO = Path(__file__).resolve().parents[2]
USER_APP = "tests/support/user_app/template.yaml"  # as a user types it, from the repository's root
ECHO = "user-app-echo"
CATALOG_KEY = "tollgate/shop/web/AfterAllowTestTraffic.yaml"


def report_of(path: Path) -> dict[str, Any]:
    report: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return report


def console_lines(output: str) -> dict[str, str]:
    """The lines after the verdict that say where the suite came from and what was validated, by their label."""
    labels = ("suite", "deployment group", "target", "function")
    return {
        label: line[len(label) :].strip()
        for line in output.splitlines()
        for label in labels
        if line.startswith(f"{label}  ")
    }


def test_run_publishes_the_suite_to_the_catalog_and_probes_the_listener_the_deployment_routes_test_traffic_to(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # Given a suite aimed at the deployment's test listener
    document = suite_document(stage("smoke", route("health")))
    document["target"] = {"fromDeployment": "testListener"}
    suite = write_suite(tmp_path, document)
    report_path = tmp_path / "report.json"
    with TargetService({"/health": Behaviour()}) as green, TargetService({"/health": Behaviour()}) as blue:
        # When it runs for the shop application's web deployment group, whose load balancer's test listener
        # answers at the new tasks and its production listener at the old ones
        code = main(
            [
                *("run", "--suite", str(suite), "--report-json", str(report_path)),
                *("--application", "shop", "--deployment-group", "web"),
                *("--test-listener", green.url, "--production-listener", blue.url),
            ]
        )

    # Then CodeDeploy recorded Succeeded, and only the new tasks were probed
    assert code == EXIT_SUCCEEDED
    assert (green.hits, blue.hits) == ({"/health": 1}, {})
    report = report_of(report_path)
    assert (report["reportedStatus"], report["application"], report["deploymentGroup"]) == ("Succeeded", "shop", "web")
    # And the report names the catalog object's version and the listener the probes went through
    source = report["suiteSource"]
    assert (source["kind"], source["location"]) == ("s3", f"s3://tollgate-local-suites/{CATALOG_KEY}")
    assert source["versionId"]
    listener = report["targetListener"]
    assert (listener["role"], listener["url"]) == ("testListener", green.url)
    assert listener["listenerArn"].startswith("arn:aws:elasticloadbalancing:us-east-1:123456789012:listener/app/")
    assert report["target"]["baseUrl"] == green.url
    # And the console says the same
    lines = console_lines(capsys.readouterr().out)
    assert (
        lines["suite"]
        == f"s3://tollgate-local-suites/{CATALOG_KEY} (version {source['versionId']}, ETag {source['etag']})"
    )
    assert lines["deployment group"] == "shop/web"
    assert lines["target"] == f"{green.url} (testListener {listener['listenerArn']})"


@pytest.mark.parametrize(
    ("order", "code", "reason"),
    [
        pytest.param(
            8,
            EXIT_FAILED,
            "stage 'smoke': 1 failed probes, budget 0; echo (round 1): $.echo.order is 8, expected 7",
            id="echoed-otherwise",
        ),
    ],
)
def test_run_with_an_app_template_validates_a_lambda_deployment_of_its_function(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    order: int,
    code: int,
    reason: str | None,
) -> None:
    # Given a suite whose invoke route leaves its function to the deployment and expects order 7 echoed
    echo = {"name": "echo", "invoke": {"payload": {"order": order}}, "retry": {"maxAttempts": 1}}
    suite = write_suite(
        tmp_path, {"version": 1, "stages": [stage("smoke", {**echo, "expect": {"json": {"$.echo.order": 7}}})]}
    )
    report_path = tmp_path / "report.json"
    monkeypatch.chdir(REPO)

    # When it runs on the user's template, whose EchoFunction CodeDeploy deploys
    exit_code = main(["run", "--app-template", USER_APP, "--suite", str(suite), "--report-json", str(report_path)])

    # Then the exit code is the verdict the new version's answer earned, at the default BeforeAllowTraffic hook
    assert exit_code == code
    report = report_of(report_path)
    assert report["reason"] == reason
    assert report["lambdaTarget"] == {
        "function": ECHO,
        "alias": "live",
        "currentVersion": "1",
        "targetVersion": "2",
        "arn": f"arn:aws:lambda:us-east-1:123456789012:function:{ECHO}:2",
    }
    assert report["deploymentGroup"] == "user-app-EchoFunctionDeploymentGroup"
    assert console_lines(capsys.readouterr().out)["function"] == f"{ECHO}:2 (alias live, from 1)"


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        (["--application", "shop"], "--application and --deployment-group go together"),
        (["--deployment-group", "web"], "--application and --deployment-group go together"),
        (["--function", "EchoFunction"], "--function names a function of an --app-template"),
        (
            ["--app-template", USER_APP, "--lifecycle-event", "AfterAllowTestTraffic"],
            "--app-template with --lifecycle-event AfterAllowTestTraffic: a Lambda deployment runs "
            "BeforeAllowTraffic and AfterAllowTraffic hooks",
        ),
        (
            ["--controller", "ecs", "--application", "shop", "--deployment-group", "web"],
            "--application, --deployment-group: CodeDeploy deployments only",
        ),
        (["--controller", "ecs", "--app-template", USER_APP], "--app-template: CodeDeploy deployments only"),
        (
            ["--controller", "ecs", "--test-listener", "http://127.0.0.1:8080"],
            "--test-listener: CodeDeploy deployments only",
        ),
        (
            ["--app-template", USER_APP, "--function", "Nope"],
            "--function Nope: no --app-template has a function of that name or logical id; "
            "deployed through CodeDeploy: user-app-echo (EchoFunction)",
        ),
        (
            ["--app-template", USER_APP, "--function", "HelperFunction"],
            "--function HelperFunction: CodeDeploy does not deploy it (it has no AutoPublishAlias and "
            "DeploymentPreference)",
        ),
        (["--app-template", "tests/support/user_app/missing.yaml"], "--app-template tests/support/user_app/missing"),
        (
            ["--app-template", USER_APP, "--test-listener", "http://127.0.0.1:8080"],
            "--test-listener and --production-listener: a Lambda deployment (--app-template) routes no traffic "
            "through a load balancer",
        ),
        (
            ["--test-listener", "127.0.0.1:8080"],
            "--test-listener: '127.0.0.1:8080': a listener needs an http:// or https:// URL with a host",
        ),
        (
            ["--test-listener", "http://127.0.0.1:8080", "--production-listener", "http://localhost:8081"],
            "--test-listener and --production-listener: http://127.0.0.1:8080 and http://localhost:8081: "
            "one load balancer has one host name",
        ),
    ],
)
def test_deployment_options_that_do_not_go_together_exit_2_naming_the_option(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    arguments: list[str],
    message: str,
) -> None:
    suite = write_suite(tmp_path, suite_document(stage("smoke", route("health"))))
    monkeypatch.chdir(REPO)

    code = main(["run", "--suite", str(suite), *arguments])

    assert code == EXIT_USAGE
    assert message in capsys.readouterr().err
