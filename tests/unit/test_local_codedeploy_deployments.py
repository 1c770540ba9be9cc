"""The local CodeDeploy's deployments as the hooks read them: GetDeployment through the edge, with AWS's errors."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from typing import Any

import pytest
import yaml
from botocore.exceptions import ClientError

from tests.support.service_model import output_problems
from tests.support.standalone_edge import edge_client, standalone_edge
from tollgate.engine.codedeploy import ComputePlatform, LambdaAppSpec, LocalCodeDeploy, Revision, RevisionType
from tollgate.engine.elbv2 import LocalListeners

TEST_LISTENER = (
    "arn:aws:elasticloadbalancing:us-east-1:123456789012:listener/app/shop/50dc6c495c0c9188/f2f7dc8efc522ab2"
)
PRODUCTION_LISTENER = (
    "arn:aws:elasticloadbalancing:us-east-1:123456789012:listener/app/shop/50dc6c495c0c9188/0467ef3c8400ae65"
)


@pytest.fixture
def codedeploy() -> LocalCodeDeploy:
    return LocalCodeDeploy()


@pytest.fixture
def client(codedeploy: LocalCodeDeploy) -> Iterator[Any]:
    with standalone_edge(codedeploy=codedeploy) as edge:
        yield edge_client(edge, "codedeploy")


def deployment_info(client: Any, deployment_id: str) -> dict[str, Any]:
    response = client.get_deployment(deploymentId=deployment_id)
    assert output_problems("codedeploy", "GetDeployment", response) == []
    info: dict[str, Any] = response["deploymentInfo"]
    return info


def error_code(client: Any, deployment_id: str) -> str:
    with pytest.raises(ClientError) as raised:
        client.get_deployment(deploymentId=deployment_id)
    code: str = raised.value.response["Error"]["Code"]
    return code


def test_a_deployment_created_as_before_is_an_ecs_deployment_of_the_local_application(
    codedeploy: LocalCodeDeploy, client: Any
) -> None:
    # Given a deployment created with nothing but its lifecycle event
    hook = codedeploy.create_deployment("AfterAllowTestTraffic")

    # When a hook reads it
    info = deployment_info(client, hook.deployment_id)

    # Then it is an ECS blue/green deployment of the local application and group, in progress, with no load balancer
    assert info["deploymentId"] == hook.deployment_id
    assert (info["applicationName"], info["deploymentGroupName"]) == ("tollgate-local", "tollgate-local")
    assert info["computePlatform"] == "ECS"
    assert info["status"] == "InProgress"
    assert info["deploymentStyle"] == {"deploymentType": "BLUE_GREEN", "deploymentOption": "WITH_TRAFFIC_CONTROL"}
    assert "loadBalancerInfo" not in info
    assert "revision" not in info


def test_an_ecs_deployment_routes_test_and_production_traffic_through_its_listeners(
    codedeploy: LocalCodeDeploy, client: Any
) -> None:
    # Given an ECS deployment of a named service with a test and a production listener
    hook = codedeploy.create_deployment(
        "AfterAllowTestTraffic",
        application="shop",
        deployment_group="shop-blue-green",
        listeners=LocalListeners(test=TEST_LISTENER, production=PRODUCTION_LISTENER),
    )

    # When a hook reads it
    info = deployment_info(client, hook.deployment_id)

    # Then its target group pair names each listener for its traffic, as CodeDeploy does
    assert (info["applicationName"], info["deploymentGroupName"]) == ("shop", "shop-blue-green")
    assert info["loadBalancerInfo"]["targetGroupPairInfoList"] == [
        {
            "testTrafficRoute": {"listenerArns": [TEST_LISTENER]},
            "prodTrafficRoute": {"listenerArns": [PRODUCTION_LISTENER]},
        }
    ]


def test_a_deployment_without_a_test_listener_has_only_a_production_route(
    codedeploy: LocalCodeDeploy, client: Any
) -> None:
    hook = codedeploy.create_deployment("AfterAllowTraffic", listeners=LocalListeners(None, PRODUCTION_LISTENER))

    pair = deployment_info(client, hook.deployment_id)["loadBalancerInfo"]["targetGroupPairInfoList"][0]

    assert pair == {"prodTrafficRoute": {"listenerArns": [PRODUCTION_LISTENER]}}


@pytest.mark.parametrize(
    ("revision_type", "content_key", "parse"),
    [(RevisionType.APP_SPEC_CONTENT, "appSpecContent", yaml.safe_load), (RevisionType.STRING, "string", json.loads)],
)
def test_a_lambda_deployments_revision_is_the_appspec_that_names_the_alias_and_its_versions(
    codedeploy: LocalCodeDeploy, client: Any, revision_type: RevisionType, content_key: str, parse: Any
) -> None:
    # Given a Lambda deployment of a function's alias, its AppSpec given inline or as a string
    app_spec = LambdaAppSpec(function="user-app-echo", alias="live")
    hook = codedeploy.create_deployment(
        "AfterAllowTraffic",
        application="user-app-ServerlessDeploymentApplication",
        deployment_group="user-app-EchoFunctionDeploymentGroup",
        compute_platform=ComputePlatform.LAMBDA,
        revision=app_spec.revision(revision_type),
    )

    # When a hook reads it
    info = deployment_info(client, hook.deployment_id)

    # Then the revision's content is an AppSpec with one Lambda function moving its alias from version 1 to 2
    assert info["computePlatform"] == "Lambda"
    assert info["deploymentConfigName"] == "CodeDeployDefault.LambdaAllAtOnce"
    revision = info["revision"]
    assert revision["revisionType"] == revision_type.value
    content = revision[content_key]["content"]
    assert revision[content_key]["sha256"] == hashlib.sha256(content.encode()).hexdigest()
    (resource,) = parse(content)["Resources"]
    assert resource == {
        "user-app-echo": {
            "Type": "AWS::Lambda::Function",
            "Properties": {"Name": "user-app-echo", "Alias": "live", "CurrentVersion": "1", "TargetVersion": "2"},
        }
    }


def test_a_revision_is_described_as_given(codedeploy: LocalCodeDeploy, client: Any) -> None:
    # Given a deployment whose AppSpec is not one the hooks understand
    hook = codedeploy.create_deployment(
        "AfterAllowTraffic", compute_platform=ComputePlatform.LAMBDA, revision=Revision(RevisionType.STRING, "[not")
    )

    # Then GetDeployment hands it over as it is, for the hook to judge
    assert deployment_info(client, hook.deployment_id)["revision"]["string"]["content"] == "[not"


@pytest.mark.parametrize(
    ("deployment_id", "code"),
    [
        ("d-AAAAAAAAA", "DeploymentDoesNotExistException"),
        ("deployment-1", "InvalidDeploymentIdException"),
        ("d-short", "InvalidDeploymentIdException"),
        ("", "DeploymentIdRequiredException"),
    ],
)
def test_an_unknown_or_malformed_deployment_id_is_answered_with_codedeploys_error(
    client: Any, deployment_id: str, code: str
) -> None:
    assert error_code(client, deployment_id) == code


def test_reading_a_deployment_leaves_its_hook_waiting_and_injected_faults_for_status_calls(
    codedeploy: LocalCodeDeploy, client: Any
) -> None:
    # Given a deployment, and a fault injected for the next status call
    hook = codedeploy.create_deployment("AfterAllowTestTraffic")
    codedeploy.fail_next_calls(1)

    # When a hook reads the deployment, Then it is answered
    assert deployment_info(client, hook.deployment_id)["deploymentId"] == hook.deployment_id

    # And the fault is still there for the status call, which the hook can then repeat
    with pytest.raises(ClientError) as raised:
        client.put_lifecycle_event_hook_execution_status(
            deploymentId=hook.deployment_id, lifecycleEventHookExecutionId=hook.hook_execution_id, status="Succeeded"
        )
    assert raised.value.response["Error"]["Code"] == "ThrottlingException"
    client.put_lifecycle_event_hook_execution_status(
        deploymentId=hook.deployment_id, lifecycleEventHookExecutionId=hook.hook_execution_id, status="Succeeded"
    )
    assert codedeploy.hook(hook.hook_execution_id).status == "Succeeded"


def test_operations_the_local_codedeploy_does_not_serve_are_refused(client: Any) -> None:
    with pytest.raises(ClientError) as raised:
        client.list_applications()

    assert raised.value.response["Error"]["Code"] == "UnknownOperationException"
