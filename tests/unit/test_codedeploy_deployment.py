"""What the hook reads from GetDeployment: whose deployment it is, its listeners, the version a Lambda one ships."""

from __future__ import annotations

import json
from typing import Any

import pytest

from tollgate_core.codedeploy_deployment import CodeDeployDeployment, DeploymentProblem
from tollgate_core.contracts import ListenerRole

PREFIX = "arn:aws:lambda:eu-west-1:123456789012:function:"
APP_SPEC = """
version: 0.0
Resources:
  - orders:
      Type: AWS::Lambda::Function
      Properties:
        Name: shop-orders
        Alias: live
        CurrentVersion: 6
        TargetVersion: 7
Hooks:
  - BeforeAllowTraffic: CodeDeployHook_tollgate-BeforeAllowTraffic
"""


def lambda_deployment(content: str, revision_type: str = "AppSpecContent") -> CodeDeployDeployment:
    kind = "appSpecContent" if revision_type == "AppSpecContent" else "string"
    info: dict[str, Any] = {
        "deploymentId": "d-LAMBDA001",
        "applicationName": "shop",
        "deploymentGroupName": "orders",
        "computePlatform": "Lambda",
        "revision": {"revisionType": revision_type, kind: {"content": content, "sha256": "x"}},
    }
    return CodeDeployDeployment.from_deployment_info(info)


@pytest.mark.parametrize("revision_type", ["AppSpecContent", "String"])
def test_a_lambda_deployment_ships_its_appspecs_target_version(revision_type: str) -> None:
    deployment = lambda_deployment(APP_SPEC, revision_type)
    assert deployment.lambda_target(PREFIX) == {
        "function": "shop-orders",
        "alias": "live",
        "currentVersion": "6",
        "targetVersion": "7",
        "arn": f"{PREFIX}shop-orders:7",
    }


def test_an_appspec_in_json_naming_the_function_by_arn_keeps_its_arn() -> None:
    arn = "arn:aws:lambda:us-east-1:210987654321:function:shop-orders"
    properties = {"Name": arn, "Alias": "live", "CurrentVersion": "1", "TargetVersion": "2"}
    content = json.dumps({"Resources": [{"f": {"Type": "AWS::Lambda::Function", "Properties": properties}}]})
    assert lambda_deployment(content).lambda_target(PREFIX)["arn"] == f"{arn}:2"


@pytest.mark.parametrize(
    ("content", "problem"),
    [
        ("Resources: [", "AppSpec: not YAML or JSON"),
        ("an AppSpec in prose", "Resources name 0 AWS::Lambda::Function; expected one"),
        ("Resources: []", "Resources name 0 AWS::Lambda::Function; expected one"),
        (APP_SPEC.replace("        TargetVersion: 7\n", ""), "the function's Properties lack TargetVersion"),
    ],
)
def test_an_appspec_without_one_complete_function_is_a_problem_naming_what_is_missing(
    content: str, problem: str
) -> None:
    with pytest.raises(DeploymentProblem, match=problem.replace("[", r"\[")):
        lambda_deployment(content).lambda_target(PREFIX)


def test_an_ecs_deployment_has_no_function_to_invoke() -> None:
    info = {"deploymentId": "d-ECS000001", "applicationName": "shop", "deploymentGroupName": "web"}
    deployment = CodeDeployDeployment.from_deployment_info({**info, "computePlatform": "ECS"})
    with pytest.raises(DeploymentProblem, match=r"invoke\.function: deployment d-ECS000001 \(ECS, shop/web\)"):
        deployment.lambda_target(PREFIX)
    with pytest.raises(DeploymentProblem, match="routes no testTrafficRoute"):
        deployment.listener_arn(ListenerRole.TEST)


def test_a_deployment_without_its_group_is_a_problem() -> None:
    with pytest.raises(DeploymentProblem, match="GetDeployment gave no deploymentGroupName"):
        CodeDeployDeployment.from_deployment_info({"deploymentId": "d-1", "applicationName": "shop"})


def test_a_lambda_deployment_without_an_appspec_has_no_function_to_invoke() -> None:
    info = {"deploymentId": "d-LAMBDA002", "applicationName": "shop", "deploymentGroupName": "api"}
    deployment = CodeDeployDeployment.from_deployment_info({**info, "computePlatform": "Lambda"})
    with pytest.raises(DeploymentProblem, match=r"deployment d-LAMBDA002 \(Lambda, shop/api\) deploys no Lambda"):
        deployment.lambda_target(PREFIX)


def test_a_deployment_that_names_no_platform_is_an_ec2_one() -> None:
    deployment = CodeDeployDeployment.from_deployment_info({"applicationName": "shop", "deploymentGroupName": "web"})
    with pytest.raises(DeploymentProblem, match=r"deployment \? \(Server, shop/web\) routes no prodTrafficRoute"):
        deployment.listener_arn(ListenerRole.PRODUCTION)
