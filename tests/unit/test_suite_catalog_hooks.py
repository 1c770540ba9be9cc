"""The CodeDeploy hooks' suite: the deployment group's in the catalog, else the bundled one, aimed at the deployment.

S3, CodeDeploy and ELB are botocore clients with Stubber: every call the hook makes must be expected, and made.
"""

from __future__ import annotations

import contextlib
import io
import re
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any, cast

import boto3
import pytest
import yaml
from botocore.response import StreamingBody
from botocore.stub import Stubber

from tests.support.fakes import NoListeners, NoSuites, RecordingStarter, RecordingStatusReporter
from tests.support.suites import route, stage, suite_document, write_suite
from tollgate_core.aws_deployment import CodeDeployDeploymentReader, ElbListenerReader, S3SuiteStore
from tollgate_core.checks import routes_of
from tollgate_core.codedeploy_deployment import CodeDeployDeployment
from tollgate_core.contracts import Deployment, ExecutionInput, HookStatus
from tollgate_core.ports import HookIds
from tollgate_core.settings import HookSettings, SuiteCatalog
from tollgate_core.validation_start import DeploymentSources, ValidationNotStarted, start_validation

STATE_MACHINE_ARN = "arn:aws:states:us-east-1:123456789012:stateMachine:tollgate-validation"
HOOK = HookIds("d-CATALOG01", "eyJ" + "c" * 297)
BUCKET, PREFIX = "platform-suites", "tollgate/"
KEY = "tollgate/orders/orders-blue-green/AfterAllowTestTraffic"
TEST_LISTENER = (
    "arn:aws:elasticloadbalancing:us-east-1:123456789012:listener/app/shop/50dc6c495c0c9188/f2f7dc8efc522ab2"
)
PROD_LISTENER = (
    "arn:aws:elasticloadbalancing:us-east-1:123456789012:listener/app/shop/50dc6c495c0c9188/0467ef3c8400ae65"
)
LOAD_BALANCER = "arn:aws:elasticloadbalancing:us-east-1:123456789012:loadbalancer/app/shop/50dc6c495c0c9188"


def _client(service: str) -> Any:
    return boto3.client(service, region_name="us-east-1", aws_access_key_id="x", aws_secret_access_key="x")


class Aws:
    """Stubbed S3, CodeDeploy and ELB clients, as the hook's sources."""

    def __init__(self) -> None:
        self.s3, self.codedeploy, self.elb = _client("s3"), _client("codedeploy"), _client("elbv2")
        self.stubbers = [Stubber(self.s3), Stubber(self.codedeploy), Stubber(self.elb)]
        self.sources = DeploymentSources(
            S3SuiteStore(self.s3), CodeDeployDeploymentReader(self.codedeploy), ElbListenerReader(self.elb)
        )

    def deployment(self, **info: Any) -> None:
        document = {
            "deploymentId": HOOK.deployment_id,
            "applicationName": "orders",
            "deploymentGroupName": "orders-blue-green",
            "computePlatform": "ECS",
            "loadBalancerInfo": {
                "targetGroupPairInfoList": [
                    {
                        "targetGroups": [{"name": "orders-blue"}, {"name": "orders-green"}],
                        "prodTrafficRoute": {"listenerArns": [PROD_LISTENER]},
                        "testTrafficRoute": {"listenerArns": [TEST_LISTENER]},
                    }
                ]
            },
            **info,
        }
        self.stubbers[1].add_response(
            "get_deployment", {"deploymentInfo": document}, {"deploymentId": HOOK.deployment_id}
        )

    def published(self, key: str, document: dict[str, Any] | bytes, version_id: str | None = "v3") -> None:
        content = document if isinstance(document, bytes) else yaml.safe_dump(document).encode()
        response: dict[str, Any] = {
            "Body": StreamingBody(io.BytesIO(content), len(content)),
            "ContentLength": len(content),
            "ETag": '"9b2cf535f27731c974343645a3985328"',
        }
        if version_id:
            response["VersionId"] = version_id
        self.stubbers[0].add_response("get_object", response, {"Bucket": BUCKET, "Key": key})

    def missing(self, key: str, code: str = "NoSuchKey", status: int = 404) -> None:
        self.stubbers[0].add_client_error(
            "get_object", code, "not there", status, expected_params={"Bucket": BUCKET, "Key": key}
        )

    def listener(self, arn: str, protocol: str = "HTTP", port: int = 8080) -> None:
        self.stubbers[2].add_response(
            "describe_listeners",
            {"Listeners": [{"ListenerArn": arn, "LoadBalancerArn": LOAD_BALANCER, "Port": port, "Protocol": protocol}]},
            {"ListenerArns": [arn]},
        )
        self.stubbers[2].add_response(
            "describe_load_balancers",
            {"LoadBalancers": [{"LoadBalancerArn": LOAD_BALANCER, "DNSName": "internal-shop-1.elb.example"}]},
            {"LoadBalancerArns": [LOAD_BALANCER]},
        )


@pytest.fixture
def aws() -> Iterator[Aws]:
    stubs = Aws()
    for stubber in stubs.stubbers:
        stubber.activate()
    yield stubs
    for stubber in stubs.stubbers:
        stubber.assert_no_pending_responses()
        stubber.deactivate()


def catalog_suite(base_url: str = "http://orders.internal:8080", **top: Any) -> dict[str, Any]:
    return suite_document(stage("catalogued", route("orders")), base_url=base_url, **top)


def settings(bundled: Path | None, catalog: bool = True, target: str | None = None) -> HookSettings:
    return HookSettings(
        suite_path=str(bundled) if bundled else "",
        lifecycle_event="AfterAllowTestTraffic",
        state_machine_arn=STATE_MACHINE_ARN,
        target_base_url=target,
        budget_seconds=3300,
        catalog=SuiteCatalog(BUCKET, PREFIX) if catalog else None,
    )


def codedeploy(document: ExecutionInput | None) -> Deployment:
    """The deployment document of a CodeDeploy validation's input."""
    assert document is not None
    return cast(Deployment, document["deployment"])


def start(settings_: HookSettings, aws: Aws) -> tuple[ExecutionInput | None, RecordingStatusReporter]:
    starter, reporter = RecordingStarter(), RecordingStatusReporter()
    with contextlib.suppress(ValidationNotStarted):
        start_validation(HOOK, settings_, starter, reporter, aws.sources)
    return next(iter(starter.started.values()), None), reporter


@pytest.fixture
def bundled(tmp_path: Path) -> Path:
    return write_suite(tmp_path, suite_document(stage("bundled", route("health"))), "bundled.yaml")


def test_a_published_suite_judges_its_deployment_group_and_the_input_says_which_version(
    aws: Aws, bundled: Path
) -> None:
    # Given a suite published for the deployment group's AfterAllowTestTraffic hook
    aws.deployment()
    aws.published(KEY + ".yaml", catalog_suite())
    # When the hook starts the validation
    document, reporter = start(settings(bundled), aws)
    # Then the catalogued suite runs, and the execution input records where it came from
    assert document is not None and not reporter.calls
    assert [stage["name"] for stage in document["suite"]["stages"]] == ["catalogued"]
    assert codedeploy(document)["suiteSource"] == {
        "kind": "s3",
        "location": f"s3://{BUCKET}/{KEY}.yaml",
        "versionId": "v3",
        "etag": "9b2cf535f27731c974343645a3985328",
    }
    assert (codedeploy(document)["application"], codedeploy(document)["deploymentGroup"]) == (
        "orders",
        "orders-blue-green",
    )


def test_a_json_suite_is_found_when_there_is_no_yaml_one(aws: Aws, bundled: Path) -> None:
    aws.deployment()
    aws.missing(KEY + ".yaml")
    aws.published(
        KEY + ".json",
        b'{"version": 1, "target": {"baseUrl": "http://o.internal"}, '
        b'"stages": [{"name": "from-json", "routes": [{"name": "r", "path": "/"}]}]}',
        version_id=None,
    )
    document, _ = start(settings(bundled), aws)
    assert document is not None
    assert document["suite"]["stages"][0]["name"] == "from-json"
    assert codedeploy(document)["suiteSource"] == {
        "kind": "s3",
        "location": f"s3://{BUCKET}/{KEY}.json",
        "etag": "9b2cf535f27731c974343645a3985328",
    }


def test_without_a_published_suite_the_bundled_one_judges(aws: Aws, bundled: Path) -> None:
    aws.deployment()
    aws.missing(KEY + ".yaml")
    aws.missing(KEY + ".json")
    document, reporter = start(settings(bundled), aws)
    assert document is not None and not reporter.calls
    assert document["suite"]["stages"][0]["name"] == "bundled"
    assert codedeploy(document)["suiteSource"] == {"kind": "file", "location": str(bundled)}


def test_with_neither_a_published_nor_a_bundled_suite_the_deployment_fails_naming_the_key(aws: Aws) -> None:
    aws.deployment()
    aws.missing(KEY + ".yaml")
    aws.missing(KEY + ".json")
    key = f"s3://{BUCKET}/{KEY}.yaml (or .json)"
    with pytest.raises(ValidationNotStarted, match=f"no suite for AfterAllowTestTraffic: {re.escape(key)}"):
        start_validation(HOOK, settings(None), RecordingStarter(), reporter := RecordingStatusReporter(), aws.sources)
    assert reporter.statuses == {HOOK: HookStatus.FAILED}


def test_an_invalid_published_suite_fails_the_deployment_naming_the_field(aws: Aws, bundled: Path) -> None:
    aws.deployment()
    aws.published(KEY + ".yaml", {"version": 1, "target": {"baseUrl": "http://o"}, "stages": [{"name": "s"}]})
    with pytest.raises(ValidationNotStarted, match=r"s3://platform-suites/.*AfterAllowTestTraffic\.yaml: stages\[0\]"):
        start_validation(
            HOOK, settings(bundled), RecordingStarter(), reporter := RecordingStatusReporter(), aws.sources
        )
    assert reporter.statuses == {HOOK: HookStatus.FAILED}


def test_an_unreadable_catalog_fails_the_deployment_rather_than_falling_back(aws: Aws, bundled: Path) -> None:
    # Given S3 answers neither the suite nor whether it exists
    aws.deployment()
    aws.missing(KEY + ".yaml", "SlowDown", 503)
    # Then the bundled suite does not stand in for a suite that may exist
    with pytest.raises(ValidationNotStarted, match=r"cannot read the suite s3://.*: SlowDown"):
        start_validation(
            HOOK, settings(bundled), RecordingStarter(), reporter := RecordingStatusReporter(), aws.sources
        )
    assert reporter.statuses == {HOOK: HookStatus.FAILED}


def test_a_denied_read_of_a_key_the_prefix_listing_does_not_show_is_a_missing_suite(aws: Aws, bundled: Path) -> None:
    # Given S3 denies GetObject of a missing key, and the hook may list the catalog's prefix
    aws.deployment()
    for extension in (".yaml", ".json"):
        aws.missing(KEY + extension, "AccessDenied", 403)
        listing = {"Bucket": BUCKET, "Prefix": KEY + extension, "MaxKeys": 1}
        aws.stubbers[0].add_response("list_objects_v2", {"KeyCount": 0}, listing)
    # Then the suite is missing, and the bundled one judges
    document, reporter = start(settings(bundled), aws)
    assert document is not None and not reporter.calls
    assert codedeploy(document)["suiteSource"]["kind"] == "file"


def test_a_denied_read_that_the_listing_cannot_explain_fails_the_deployment(aws: Aws, bundled: Path) -> None:
    aws.deployment()
    aws.missing(KEY + ".yaml", "AccessDenied", 403)
    aws.stubbers[0].add_client_error("list_objects_v2", "AccessDenied", "denied", 403)
    with pytest.raises(ValidationNotStarted, match=r"cannot read the suite s3://.*: AccessDenied"):
        start_validation(
            HOOK, settings(bundled), RecordingStarter(), reporter := RecordingStatusReporter(), aws.sources
        )
    assert reporter.statuses == {HOOK: HookStatus.FAILED}


def test_an_unreadable_deployment_fails_the_deployment(aws: Aws, bundled: Path) -> None:
    aws.stubbers[1].add_client_error("get_deployment", "AccessDeniedException", "no", 400)
    with pytest.raises(ValidationNotStarted, match="cannot read deployment d-CATALOG01: AccessDeniedException"):
        start_validation(
            HOOK, settings(bundled), RecordingStarter(), reporter := RecordingStatusReporter(), aws.sources
        )
    assert reporter.statuses == {HOOK: HookStatus.FAILED}


def test_with_the_catalog_off_and_a_url_target_the_hook_reads_nothing_from_aws(aws: Aws, bundled: Path) -> None:
    document, _ = start(settings(bundled, catalog=False), aws)
    assert document is not None
    assert "application" not in codedeploy(document)
    assert codedeploy(document)["suiteSource"]["kind"] == "file"


@pytest.mark.parametrize(
    ("role", "listener", "port", "url"),
    [
        ("testListener", TEST_LISTENER, 8080, "http://internal-shop-1.elb.example:8080"),
        ("productionListener", PROD_LISTENER, 80, "http://internal-shop-1.elb.example"),
    ],
)
def test_a_target_from_the_deployment_is_its_listener_on_its_load_balancer(
    aws: Aws, tmp_path: Path, role: str, listener: str, port: int, url: str
) -> None:
    # Given a bundled suite whose target is the deployment's test or production listener
    document_ = suite_document(stage("smoke", route("health")))
    document_["target"] = {"fromDeployment": role}
    suite_file = write_suite(tmp_path, document_)
    aws.deployment()
    aws.listener(listener, port=port)
    # When the hook starts the validation
    document, _ = start(settings(suite_file, catalog=False), aws)
    # Then the probes hit that listener, and the input records which it was
    assert document is not None
    assert document["suite"]["target"]["baseUrl"] == url
    assert codedeploy(document)["targetListener"] == {"role": role, "listenerArn": listener, "url": url}


def test_the_stacks_target_url_wins_over_the_deployments_listener(aws: Aws, tmp_path: Path) -> None:
    document_ = suite_document(stage("smoke", route("health")))
    document_["target"] = {"fromDeployment": "testListener"}
    document, _ = start(settings(write_suite(tmp_path, document_), catalog=False, target="http://10.0.0.5:81"), aws)
    assert document is not None
    assert document["suite"]["target"]["baseUrl"] == "http://10.0.0.5:81"
    assert "targetListener" not in codedeploy(document)


def _from_deployment_suite(tmp_path: Path, role: str = "testListener") -> Path:
    document = suite_document(stage("smoke", route("health")))
    document["target"] = {"fromDeployment": role}
    return write_suite(tmp_path, document)


def test_a_deployment_without_listeners_fails_naming_the_field(aws: Aws, tmp_path: Path) -> None:
    # Given an EC2/on-premises deployment: no target group pair, no listeners
    aws.deployment(computePlatform="Server", loadBalancerInfo={"targetGroupInfoList": [{"name": "web"}]})
    with pytest.raises(ValidationNotStarted, match=r"target\.fromDeployment: testListener: deployment d-CATALOG01"):
        start_validation(
            HOOK,
            settings(_from_deployment_suite(tmp_path), catalog=False),
            RecordingStarter(),
            reporter := RecordingStatusReporter(),
            aws.sources,
        )
    assert reporter.statuses == {HOOK: HookStatus.FAILED}


def test_a_listener_that_is_not_http_fails_naming_it(aws: Aws, tmp_path: Path) -> None:
    aws.deployment()
    aws.listener(TEST_LISTENER, protocol="TCP")
    with pytest.raises(ValidationNotStarted, match="speaks TCP"):
        start_validation(
            HOOK,
            settings(_from_deployment_suite(tmp_path), catalog=False),
            RecordingStarter(),
            RecordingStatusReporter(),
            aws.sources,
        )


def test_an_unknown_listener_fails_naming_it(aws: Aws, tmp_path: Path) -> None:
    aws.deployment()
    aws.stubbers[2].add_client_error("describe_listeners", "ListenerNotFound", "One or more listeners not found", 400)
    with pytest.raises(ValidationNotStarted, match=f"cannot read listener {TEST_LISTENER}: ListenerNotFound"):
        start_validation(
            HOOK,
            settings(_from_deployment_suite(tmp_path), catalog=False),
            RecordingStarter(),
            RecordingStatusReporter(),
            aws.sources,
        )


class SlowDeployments:
    """A CodeDeploy that answers GetDeployment only after the hook's time is up."""

    def read(self, deployment_id: str) -> CodeDeployDeployment:
        time.sleep(5)
        raise AssertionError("the hook should have stopped waiting")


def test_a_hook_that_cannot_read_in_time_reports_failed_before_its_invocation_ends(bundled: Path) -> None:
    # Given GetDeployment hangs, and the hook has half a second to prepare
    slow = DeploymentSources(NoSuites(), SlowDeployments(), NoListeners())
    reporter = RecordingStatusReporter()
    started = time.monotonic()
    # When the hook runs
    with pytest.raises(ValidationNotStarted, match="took over 0 s"):
        start_validation(HOOK, settings(bundled), RecordingStarter(), reporter, slow, prepare_within_seconds=0.5)
    # Then CodeDeploy heard Failed while the invocation still had time
    assert reporter.statuses == {HOOK: HookStatus.FAILED}
    assert time.monotonic() - started < 3


LAMBDA_APP_SPEC = """
version: 0.0
Resources:
  - api:
      Type: AWS::Lambda::Function
      Properties: {Name: shop-api, Alias: live, CurrentVersion: "4", TargetVersion: "5"}
"""


def test_an_invoke_route_without_a_function_invokes_the_version_the_lambda_deployment_ships(
    aws: Aws, tmp_path: Path
) -> None:
    # Given a Lambda deployment shifting shop-api's alias from version 4 to 5, and a suite whose route names no function
    document_ = {"version": 1, "stages": [stage("pre-traffic", {"name": "api", "invoke": {"payload": {"ping": 1}}})]}
    aws.deployment(
        computePlatform="Lambda",
        loadBalancerInfo={},
        revision={"revisionType": "AppSpecContent", "appSpecContent": {"content": LAMBDA_APP_SPEC, "sha256": "x"}},
    )
    # When the hook starts the validation
    document, reporter = start(settings(write_suite(tmp_path, document_), catalog=False), aws)
    # Then the route invokes version 5 of the function, in the stack's region and account, and the input says so
    assert not reporter.calls
    arn = "arn:aws:lambda:us-east-1:123456789012:function:shop-api:5"
    assert document is not None
    (route_,) = routes_of(document["suite"]["stages"][0])
    assert route_["invoke"]["function"] == arn
    assert codedeploy(document)["lambdaTarget"] == {
        "function": "shop-api",
        "alias": "live",
        "currentVersion": "4",
        "targetVersion": "5",
        "arn": arn,
    }
    assert (codedeploy(document)["application"], codedeploy(document)["deploymentGroup"]) == (
        "orders",
        "orders-blue-green",
    )


def test_an_invoke_route_without_a_function_fails_an_ecs_deployment_naming_the_field(aws: Aws, tmp_path: Path) -> None:
    document_ = {"version": 1, "stages": [stage("pre-traffic", {"name": "api", "invoke": {"payload": {}}})]}
    aws.deployment()
    with pytest.raises(ValidationNotStarted, match=r"^invoke\.function: deployment d-CATALOG01 \(ECS, orders/"):
        start_validation(
            HOOK,
            settings(write_suite(tmp_path, document_), catalog=False),
            RecordingStarter(),
            reporter := RecordingStatusReporter(),
            aws.sources,
        )
    assert reporter.statuses == {HOOK: HookStatus.FAILED}
