"""What the hooks read through the edge, as a boto3 client inside a function would: S3 objects, the deployment,
its listeners, and functions invoked by name, ARN or version, the user's own among them (`--app-template`)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
import requests
import yaml
from botocore.exceptions import ClientError

from tests.support.target import Behaviour, TargetService
from tollgate.engine.codedeploy import ComputePlatform, LambdaAppSpec
from tollgate.engine.engine import EngineError, LocalEngine
from tollgate.engine.template import AliasDeployment

USER_APP = Path(__file__).resolve().parents[1] / "support" / "user_app" / "template.yaml"
ECHO = "user-app-echo"
ECHO_ARN = f"arn:aws:lambda:us-east-1:123456789012:function:{ECHO}"
BUCKET = "tollgate-suites"


@pytest.fixture(scope="module")
def engine(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalEngine]:
    """An engine running the user's service beside Tollgate's app."""
    log_path = tmp_path_factory.mktemp("standins") / "engine.log"
    with LocalEngine(log_path=log_path, app_templates=[USER_APP]) as local_engine:
        yield local_engine


@pytest.fixture(scope="module")
def s3(engine: LocalEngine) -> Any:
    client = engine.client("s3")
    client.create_bucket(Bucket=BUCKET)
    client.put_bucket_versioning(Bucket=BUCKET, VersioningConfiguration={"Status": "Enabled"})
    return client


def invoked(engine: LocalEngine, **request: Any) -> tuple[dict[str, Any], Any]:
    """Lambda's response to an Invoke through the edge, and the payload the function answered."""
    response = engine.client("lambda").invoke(**request)
    return response, json.loads(response["Payload"].read())


def error_code(call: Any, **request: Any) -> str:
    with pytest.raises(ClientError) as raised:
        call(**request)
    code: str = raised.value.response["Error"]["Code"]
    return code


def test_a_versioned_object_reads_back_with_its_version_and_etag_through_the_edge(s3: Any) -> None:
    # Given a suite written twice to a versioned bucket
    first = s3.put_object(Bucket=BUCKET, Key="tollgate/shop/web/AfterAllowTraffic.yaml", Body=b"version: 1\n")
    second = s3.put_object(Bucket=BUCKET, Key="tollgate/shop/web/AfterAllowTraffic.yaml", Body=b"version: 22\n")
    assert first["VersionId"] != second["VersionId"]

    # When it is read, Then the latest version comes back, with its version id and ETag
    latest = s3.get_object(Bucket=BUCKET, Key="tollgate/shop/web/AfterAllowTraffic.yaml")
    assert latest["Body"].read() == b"version: 22\n"
    assert (latest["VersionId"], latest["ETag"]) == (second["VersionId"], second["ETag"])

    # And HEAD describes it without its body, its length the body's
    head = s3.head_object(Bucket=BUCKET, Key="tollgate/shop/web/AfterAllowTraffic.yaml")
    assert (head["VersionId"], head["ETag"], head["ContentLength"]) == (second["VersionId"], second["ETag"], 12)

    # And the earlier version is still there by its id
    earlier = s3.get_object(Bucket=BUCKET, Key="tollgate/shop/web/AfterAllowTraffic.yaml", VersionId=first["VersionId"])
    assert earlier["Body"].read() == b"version: 1\n"


def test_a_missing_object_is_not_found_as_s3_answers_a_caller_that_may_list_the_bucket(s3: Any) -> None:
    assert error_code(s3.get_object, Bucket=BUCKET, Key="tollgate/nobody.yaml") == "NoSuchKey"
    assert error_code(s3.head_object, Bucket=BUCKET, Key="tollgate/nobody.yaml") == "404"


def test_the_user_apps_functions_run_under_their_own_names(engine: LocalEngine) -> None:
    # When the user's function is invoked through the edge
    response, answer = invoked(engine, FunctionName=ECHO, Payload=json.dumps({"ping": 1}))

    # Then it ran with its template's configuration, and answered with the payload
    assert answer == {"echo": {"ping": 1}, "greeting": "hello", "function": ECHO}
    assert response["ExecutedVersion"] == "$LATEST"
    assert "FunctionError" not in response

    # And the function without a FunctionName is named after the stack, which is named after its directory
    _, helper = invoked(engine, FunctionName="user-app-HelperFunction", Payload=b"{}")
    assert helper["function"] == "user-app-HelperFunction"


def test_functions_logging_at_once_leave_every_line_of_the_shared_log_whole(engine: LocalEngine) -> None:
    # Given several workers of a function, each printing a thousand JSON lines at the same time
    with ThreadPoolExecutor(max_workers=4) as pool:
        list(pool.map(lambda _: invoked(engine, FunctionName=ECHO, Payload=b'{"logLines": 1000}'), range(4)))
    # Then the engine's log holds each line whole: no two workers' lines ran together
    logged = [line for line in engine.log_path.read_text(encoding="utf-8").splitlines() if '"padding"' in line]
    assert len(logged) == 4000
    assert all(json.loads(line)["function"] == ECHO for line in logged)


def test_a_user_functions_error_comes_back_in_lambdas_shape(engine: LocalEngine) -> None:
    response, error = invoked(engine, FunctionName=ECHO, Payload=json.dumps({"fail": "asked to"}))

    assert response["FunctionError"] == "Unhandled"
    assert (error["errorType"], error["errorMessage"]) == ("EchoFailure", "asked to")


@pytest.mark.parametrize(
    ("request_", "executed_version"),
    [
        ({"FunctionName": ECHO_ARN}, "$LATEST"),
        ({"FunctionName": f"{ECHO_ARN}:7"}, "7"),
        ({"FunctionName": ECHO, "Qualifier": "2"}, "2"),
        ({"FunctionName": ECHO_ARN, "Qualifier": "live"}, "live"),
        ({"FunctionName": f"{ECHO}:live"}, "live"),
    ],
)
def test_a_function_is_invoked_by_arn_version_or_alias_through_the_edge(
    engine: LocalEngine, request_: dict[str, str], executed_version: str
) -> None:
    response, answer = invoked(engine, Payload=b'{"ping": 2}', **request_)

    assert answer["echo"] == {"ping": 2}
    assert response["ExecutedVersion"] == executed_version


def test_invoking_what_does_not_exist_or_contradicts_itself_is_lambdas_error(engine: LocalEngine) -> None:
    client = engine.client("lambda")

    assert error_code(client.invoke, FunctionName="nobody", Payload=b"{}") == "ResourceNotFoundException"
    assert error_code(client.invoke, FunctionName=f"{ECHO_ARN}:7", Qualifier="8") == "InvalidParameterValueException"


def test_the_user_apps_codedeploy_deployments_are_known_by_function_and_alias(engine: LocalEngine) -> None:
    (service,) = engine.services

    # Then the function with AutoPublishAlias and a DeploymentPreference is deployed through CodeDeploy, the other not
    assert service.alias_deployments == (
        AliasDeployment(
            function=ECHO,
            logical_id="EchoFunction",
            alias="live",
            application="user-app-ServerlessDeploymentApplication",
            deployment_group="user-app-EchoFunctionDeploymentGroup",
        ),
    )
    assert service.alias_deployment("EchoFunction") == service.alias_deployment(ECHO)
    assert service.alias_deployment("HelperFunction") is None


def test_a_lambda_deployment_names_the_version_the_hook_invokes(engine: LocalEngine) -> None:
    # Given a Lambda deployment of the user's function, as the CLI would make it
    (deployed,) = engine.services[0].alias_deployments
    hook = engine.codedeploy.create_deployment(
        "AfterAllowTraffic",
        application=deployed.application,
        deployment_group=deployed.deployment_group,
        compute_platform=ComputePlatform.LAMBDA,
        revision=LambdaAppSpec(deployed.function, deployed.alias).revision(),
    )

    # When a hook reads the deployment's AppSpec and invokes its target version
    info = engine.client("codedeploy").get_deployment(deploymentId=hook.deployment_id)["deploymentInfo"]
    (resource,) = yaml.safe_load(info["revision"]["appSpecContent"]["content"])["Resources"]
    properties = next(iter(resource.values()))["Properties"]
    response, answer = invoked(
        engine, FunctionName=properties["Name"], Qualifier=properties["TargetVersion"], Payload=b'{"ping": 3}'
    )

    # Then the deployment is the user's, and the function answers at the version the AppSpec names
    assert (info["applicationName"], info["computePlatform"]) == (deployed.application, "Lambda")
    assert (properties["Alias"], properties["CurrentVersion"]) == ("live", "1")
    assert answer["echo"] == {"ping": 3}
    assert response["ExecutedVersion"] == "2"


def test_an_ecs_deployments_listeners_lead_the_hook_to_the_test_and_production_urls(engine: LocalEngine) -> None:
    with (
        TargetService({"/health": Behaviour(body={"color": "green"})}) as test,
        TargetService({"/health": Behaviour(body={"color": "blue"})}) as production,
    ):
        # Given an ECS deployment whose listeners are the two services' URLs
        listeners = engine.load_balancers.add(test.url, production.url)
        hook = engine.codedeploy.create_deployment("AfterAllowTestTraffic", listeners=listeners)

        # When a hook reads the deployment, then asks ELB where each route's listener is
        info = engine.client("codedeploy").get_deployment(deploymentId=hook.deployment_id)["deploymentInfo"]
        (pair,) = info["loadBalancerInfo"]["targetGroupPairInfoList"]
        urls = {route: listener_url(engine, pair[route]["listenerArns"][0]) for route in pair}

        # Then each listener leads to its service
        assert urls == {"testTrafficRoute": test.url, "prodTrafficRoute": production.url}
        assert requests.get(f"{urls['testTrafficRoute']}/health", timeout=5).json() == {"color": "green"}


def listener_url(engine: LocalEngine, listener_arn: str) -> str:
    elbv2 = engine.client("elbv2")
    (listener,) = elbv2.describe_listeners(ListenerArns=[listener_arn])["Listeners"]
    (load_balancer,) = elbv2.describe_load_balancers(LoadBalancerArns=[listener["LoadBalancerArn"]])["LoadBalancers"]
    return f"{listener['Protocol'].lower()}://{load_balancer['DNSName']}:{listener['Port']}"


def write_service(directory: Path, function: str) -> Path:
    """A user's template with one function, the YAML lines given adding to its properties."""
    (directory / "src").mkdir()
    template = directory / "template.yaml"
    template.write_text(
        "Transform: AWS::Serverless-2016-10-31\nResources:\n  Clash:\n    Type: AWS::Serverless::Function\n"
        f"    Properties:\n      CodeUri: src/\n      Handler: app.handler\n{function}",
        encoding="utf-8",
    )
    return template


def test_a_user_function_named_like_one_of_tollgates_stops_the_engine_naming_both(tmp_path: Path) -> None:
    # Given a user's function that has the name of Tollgate's AfterAllowTraffic hook
    template = write_service(
        tmp_path,
        "      Runtime: python3.13\n      FunctionName: CodeDeployHook_tollgate-local-AfterAllowTraffic\n",
    )

    # When the engine is made with it, Then it refuses, naming both functions and both templates
    with pytest.raises(EngineError) as raised:
        LocalEngine(log_path=tmp_path / "engine.log", app_templates=[template])
    message = str(raised.value)
    assert "function Clash is named CodeDeployHook_tollgate-local-AfterAllowTraffic" in message
    assert "as is AfterAllowTrafficHookFunction in" in message
    assert str(template) in message
    assert message.count("template.yaml") == 2


def test_a_user_function_the_engine_cannot_run_stops_it_with_the_reason(tmp_path: Path) -> None:
    template = write_service(tmp_path, "      Runtime: nodejs20.x\n")

    with pytest.raises(EngineError, match=r"Clash: Runtime: the engine runs Python functions, not nodejs20\.x"):
        LocalEngine(log_path=tmp_path / "engine.log", app_templates=[template])
