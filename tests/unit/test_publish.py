"""`tollgate publish`: what reaches S3 (botocore's Stubber), what never does, and how S3's refusals read."""

from __future__ import annotations

import argparse
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
import yaml
from botocore.stub import Stubber

from tests.support.aws_environment import isolate_aws_configuration, local_credentials
from tests.support.suites import route, stage, suite_document
from tests.support.target import closed_port_url
from tollgate.cli import main
from tollgate.publish import AwsOptions, add_publish_parser, publish_command

__all__ = ["local_credentials"]  # a fixture the tests below use

BUCKET = "shop-suites"
CODEDEPLOY = ["--application", "shop", "--deployment-group", "shop-bg", "--lifecycle-event", "AfterAllowTestTraffic"]
CODEDEPLOY_STEM = "tollgate/shop/shop-bg/AfterAllowTestTraffic"
VERSION_ID = "3HL4kqtJlcpXroDTDmJ.rmSpXd3dIbrHY"
ETAG = '"9b2cf535f27731c974343645a3985328"'
SUITE_YAML = "# the shop's smoke test\n" + yaml.safe_dump(suite_document(stage("smoke", route("health"))))


@pytest.fixture
def s3() -> Iterator[tuple[Any, Stubber]]:
    client = boto3.client(
        "s3",
        region_name="eu-west-1",
        endpoint_url="http://127.0.0.1:9",
        aws_access_key_id="local",
        aws_secret_access_key="local",
    )
    with Stubber(client) as stubber:
        yield client, stubber
        stubber.assert_no_pending_responses()


@pytest.fixture(autouse=True)
def no_sdk_retries(monkeypatch: pytest.MonkeyPatch) -> None:
    """An error is S3's first answer: an unreachable endpoint fails at once."""
    monkeypatch.setenv("AWS_MAX_ATTEMPTS", "1")


def suite_file(directory: Path, name: str = "suite.yaml", text: str = SUITE_YAML) -> Path:
    path = directory / name
    path.write_text(text, encoding="utf-8")
    return path


def command_line(arguments: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="tollgate")
    add_publish_parser(parser.add_subparsers(required=True))
    return parser.parse_args(["publish", *arguments])


def publish(arguments: list[str], s3: Any) -> int:
    """The command as `tollgate publish ARGUMENTS` runs it, with this client as its S3."""
    return publish_command(command_line(arguments), connect=lambda aws: s3)


def expect_listing(stubber: Stubber, key: str, present: bool = False) -> None:
    contents = {"Contents": [{"Key": key}]} if present else {}
    stubber.add_response(
        "list_objects_v2", {"KeyCount": int(present), **contents}, {"Bucket": BUCKET, "Prefix": key, "MaxKeys": 1}
    )


def expect_put(stubber: Stubber, key: str, body: bytes, content_type: str, version_id: str | None = VERSION_ID) -> None:
    response = {"ETag": ETAG, **({"VersionId": version_id} if version_id else {})}
    stubber.add_response(
        "put_object", response, {"Bucket": BUCKET, "Key": key, "Body": body, "ContentType": content_type}
    )


class NoConnection:
    """An S3 connector that records whether the command asked for S3 at all."""

    def __init__(self) -> None:
        self.asked: list[AwsOptions] = []

    def __call__(self, aws: AwsOptions) -> Any:
        self.asked.append(aws)
        raise AssertionError("the command asked for S3")


@pytest.mark.parametrize(
    ("file_name", "key_extension", "content_type"),
    [
        ("suite.yaml", ".yaml", "application/yaml"),
        ("suite.yml", ".yaml", "application/yaml"),
        ("suite.json", ".json", "application/json"),
    ],
)
def test_a_valid_suite_is_uploaded_unchanged_to_the_key_the_hook_reads_for_its_lifecycle_event(
    s3: tuple[Any, Stubber],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    file_name: str,
    key_extension: str,
    content_type: str,
) -> None:
    # Given a suite file with the user's own comments (or JSON), and no suite of the other format in the catalog
    text = SUITE_YAML if key_extension == ".yaml" else json.dumps(suite_document(stage("smoke", route("health"))))
    path = suite_file(tmp_path, file_name, text)
    client, stubber = s3
    other_extension = ".json" if key_extension == ".yaml" else ".yaml"
    expect_listing(stubber, CODEDEPLOY_STEM + other_extension)
    expect_put(stubber, CODEDEPLOY_STEM + key_extension, path.read_bytes(), content_type)

    # When it is published for a deployment group's lifecycle event
    code = publish(["--suite", str(path), "--bucket", BUCKET, *CODEDEPLOY], client)

    # Then its bytes went to <prefix><application>/<deploymentGroup>/<LifecycleEvent><extension>, and the line says so
    assert code == 0
    assert (
        capsys.readouterr().out == f"published s3://{BUCKET}/{CODEDEPLOY_STEM}{key_extension} (version {VERSION_ID})\n"
    )


def test_an_ecs_service_suite_goes_under_the_prefix_given_as_ecs_cluster_service_and_stage(
    s3: tuple[Any, Stubber], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # Given a suite for an ECS service, and a stack whose SuitePrefix is not the default
    path = suite_file(tmp_path)
    client, stubber = s3
    stem = "platform/suites/ecs/prod/shop/POST_TEST_TRAFFIC_SHIFT"
    expect_listing(stubber, stem + ".json")
    expect_put(stubber, stem + ".yaml", path.read_bytes(), "application/yaml")

    # When it is published for the service's stage
    ecs = ["--cluster", "prod", "--service", "shop", "--lifecycle-stage", "POST_TEST_TRAFFIC_SHIFT"]
    code = publish(["--suite", str(path), "--bucket", BUCKET, "--prefix", "platform/suites/", *ecs], client)

    # Then it is at the ECS hook's key
    assert code == 0
    assert f"s3://{BUCKET}/{stem}.yaml" in capsys.readouterr().out


def test_a_json_suite_replaces_the_yaml_one_that_the_hook_would_otherwise_read_first(
    s3: tuple[Any, Stubber], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # Given a catalog entry that holds a YAML suite
    path = suite_file(tmp_path, "suite.json", json.dumps(suite_document(stage("smoke", route("health")))))
    client, stubber = s3
    expect_listing(stubber, CODEDEPLOY_STEM + ".yaml", present=True)
    expect_put(stubber, CODEDEPLOY_STEM + ".json", path.read_bytes(), "application/json")
    stubber.add_response("delete_object", {}, {"Bucket": BUCKET, "Key": CODEDEPLOY_STEM + ".yaml"})

    # When a JSON suite is published for it
    code = publish(["--suite", str(path), "--bucket", BUCKET, *CODEDEPLOY], client)

    # Then the YAML suite is deleted once the JSON one is in place, and the user is told
    assert code == 0
    printed = capsys.readouterr()
    assert printed.out.startswith(f"published s3://{BUCKET}/{CODEDEPLOY_STEM}.json ")
    assert (
        printed.err == f"removed s3://{BUCKET}/{CODEDEPLOY_STEM}.yaml: the suite published before in the other format\n"
    )


@pytest.mark.parametrize(
    ("version_id", "line_ends", "document"),
    [
        (
            VERSION_ID,
            f"(version {VERSION_ID})",
            {"uri": f"s3://{BUCKET}/{CODEDEPLOY_STEM}.yaml", "versionId": VERSION_ID, "etag": ETAG},
        ),
        (None, f"(ETag {ETAG})", {"uri": f"s3://{BUCKET}/{CODEDEPLOY_STEM}.yaml", "etag": ETAG}),
        # A bucket whose versioning is suspended: the new object's version is "null", nothing a pipeline can pin.
        ("null", f"(ETag {ETAG})", {"uri": f"s3://{BUCKET}/{CODEDEPLOY_STEM}.yaml", "etag": ETAG}),
    ],
)
@pytest.mark.parametrize("as_json", [False, True])
def test_the_publication_is_named_by_its_version_or_by_its_etag_when_the_bucket_is_not_versioned(
    s3: tuple[Any, Stubber],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    version_id: str | None,
    line_ends: str,
    document: dict[str, str],
    as_json: bool,
) -> None:
    # Given a bucket that versions its objects, or not
    path = suite_file(tmp_path)
    client, stubber = s3
    expect_listing(stubber, CODEDEPLOY_STEM + ".json")
    expect_put(stubber, CODEDEPLOY_STEM + ".yaml", path.read_bytes(), "application/yaml", version_id)

    # When a suite is published, for a person or for a pipeline
    code = publish(["--suite", str(path), "--bucket", BUCKET, *CODEDEPLOY, *(["--json"] if as_json else [])], client)

    # Then the output names the version, else the ETag
    assert code == 0
    out = capsys.readouterr().out
    if as_json:
        assert json.loads(out) == {"bucket": BUCKET, "key": f"{CODEDEPLOY_STEM}.yaml", **document}
    else:
        assert out.splitlines() == [f"published {document['uri']} {line_ends}"]


@pytest.mark.parametrize(
    ("file_name", "text", "options", "problem"),
    [
        (
            "suite.yaml",
            yaml.safe_dump(suite_document(stage("smoke", route("health", expect={"status": "ok"})))),
            [],
            "stages[0].routes[0].expect.status: must be a status class",
        ),
        (
            "suite.yaml",
            SUITE_YAML,
            ["--budget-seconds", "5"],
            "(suite): worst-case duration 9 s exceeds the hook's time budget of 5 s",
        ),
        ("suite.json", SUITE_YAML, [], "not valid JSON: "),
        ("suite.txt", SUITE_YAML, [], "name it .yaml, .yml or .json"),
        ("suite.yaml", "# nothing yet\n", [], "the file holds no suite"),
    ],
)
def test_a_suite_the_hook_would_not_run_is_not_uploaded_and_exits_2_naming_the_problem(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], file_name: str, text: str, options: list[str], problem: str
) -> None:
    # Given a suite the hook would refuse: invalid, over the stack's budget, YAML named .json, or not a suite file
    path = suite_file(tmp_path, file_name, text)
    connection = NoConnection()

    # When it is published
    arguments = command_line(["--suite", str(path), "--bucket", BUCKET, *CODEDEPLOY, *options])
    code = publish_command(arguments, connect=connection)

    # Then S3 was not even asked for, and the problem is named
    assert code == 2
    assert connection.asked == []
    assert problem in capsys.readouterr().err


FROM_DEPLOYMENT = yaml.safe_dump(
    {**suite_document(stage("smoke", route("health"))), "target": {"fromDeployment": "testListener"}}
)
ECS = ["--cluster", "shop", "--service", "web", "--lifecycle-stage", "POST_TEST_TRAFFIC_SHIFT"]
LAMBDA = ["--application", "shop", "--deployment-group", "api", "--lifecycle-event", "BeforeAllowTraffic"]


@pytest.mark.parametrize(
    ("options", "problem"),
    [
        (ECS, "target.fromDeployment: only a CodeDeploy deployment names its listeners"),
        (LAMBDA, "target.fromDeployment: BeforeAllowTraffic validates Lambda deployments"),
    ],
)
def test_a_suite_that_asks_what_its_deployment_cannot_tell_is_not_uploaded(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], options: list[str], problem: str
) -> None:
    # Given a suite aimed at the deployment's test listener, published for a deployment that has none
    connection = NoConnection()
    arguments = command_line(
        ["--suite", str(suite_file(tmp_path, "s.yaml", FROM_DEPLOYMENT)), "--bucket", BUCKET, *options]
    )
    # Then it is refused before S3 is asked, naming the field
    assert publish_command(arguments, connect=connection) == 2
    assert connection.asked == []
    assert problem in capsys.readouterr().err


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ([], "give the CodeDeploy ids (--application, --deployment-group, --lifecycle-event) or the ECS ids "),
        (
            [*CODEDEPLOY, "--cluster", "prod"],
            "give the CodeDeploy ids (--application, --deployment-group, --lifecycle-event) or the ECS ids, not both",
        ),
        (
            ["--application", "shop", "--lifecycle-event", "AfterAllowTraffic"],
            "--deployment-group missing: a CodeDeploy deployment group's suite needs "
            "--application, --deployment-group, --lifecycle-event",
        ),
        (
            ["--service", "shop"],
            "--cluster and --lifecycle-stage missing: an ECS service's suite needs "
            "--cluster, --service, --lifecycle-stage",
        ),
        (
            [*CODEDEPLOY, "--prefix", "tollgate"],
            "--prefix 'tollgate': a stack's SuitePrefix is empty, or ends in '/'",
        ),
    ],
)
def test_options_that_do_not_name_one_catalog_entry_exit_2_before_s3_is_asked(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], options: list[str], message: str
) -> None:
    code = main(["publish", "--suite", str(suite_file(tmp_path)), "--bucket", BUCKET, *options])

    assert code == 2
    assert capsys.readouterr().err.startswith(message)


@pytest.mark.parametrize(
    ("option", "value", "valid"),
    [
        ("--lifecycle-event", "BeforeInstall", "'BeforeAllowTraffic', 'AfterAllowTestTraffic', 'AfterAllowTraffic'"),
        ("--lifecycle-stage", "POST_DEPLOY", "'RECONCILE_SERVICE', 'PRE_SCALE_UP'"),
    ],
)
def test_a_lifecycle_event_or_stage_no_hook_serves_exits_2_naming_the_valid_ones(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], option: str, value: str, valid: str
) -> None:
    with pytest.raises(SystemExit) as exited:
        main(["publish", "--suite", str(suite_file(tmp_path)), "--bucket", BUCKET, option, value])

    assert exited.value.code == 2
    assert valid in capsys.readouterr().err


def test_a_missing_bucket_exits_1_with_one_line_naming_the_bucket_and_s3s_error(
    s3: tuple[Any, Stubber], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = suite_file(tmp_path)
    client, stubber = s3
    expect_listing(stubber, CODEDEPLOY_STEM + ".json")
    stubber.add_client_error("put_object", "NoSuchBucket", "The specified bucket does not exist", http_status_code=404)

    code = publish(["--suite", str(path), "--bucket", BUCKET, *CODEDEPLOY], client)

    assert code == 1
    printed = capsys.readouterr()
    assert printed.err == f"cannot publish to bucket {BUCKET}: NoSuchBucket: The specified bucket does not exist\n"
    assert printed.out == ""


def test_a_role_that_cannot_list_the_catalog_uploads_nothing(
    s3: tuple[Any, Stubber], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # Given a role without s3:ListBucket on the catalog
    path = suite_file(tmp_path)
    client, stubber = s3
    stubber.add_client_error("list_objects_v2", "AccessDenied", "Access Denied", http_status_code=403)

    # When it publishes
    code = publish(["--suite", str(path), "--bucket", BUCKET, *CODEDEPLOY], client)

    # Then nothing is put (the Stubber has no put queued, and nothing is pending), and the refusal is named
    assert code == 1
    assert capsys.readouterr().err == f"cannot publish to bucket {BUCKET}: AccessDenied: Access Denied\n"


def test_a_yaml_suite_that_cannot_be_removed_is_named_as_still_shadowing_the_new_json_one(
    s3: tuple[Any, Stubber], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = suite_file(tmp_path, "suite.json", json.dumps(suite_document(stage("smoke", route("health")))))
    client, stubber = s3
    expect_listing(stubber, CODEDEPLOY_STEM + ".yaml", present=True)
    expect_put(stubber, CODEDEPLOY_STEM + ".json", path.read_bytes(), "application/json")
    stubber.add_client_error("delete_object", "AccessDenied", "Access Denied", http_status_code=403)

    code = publish(["--suite", str(path), "--bucket", BUCKET, *CODEDEPLOY], client)

    assert code == 1
    assert capsys.readouterr().err == (
        f"published s3://{BUCKET}/{CODEDEPLOY_STEM}.json, but s3://{BUCKET}/{CODEDEPLOY_STEM}.yaml is still there: "
        "AccessDenied: Access Denied\n"
    )


def test_no_credentials_exit_1_saying_how_to_configure_them(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # Given a machine without AWS credentials
    isolate_aws_configuration(monkeypatch, tmp_path)

    # When a suite is published
    path = suite_file(tmp_path)
    code = main(["publish", "--suite", str(path), "--bucket", BUCKET, *CODEDEPLOY, "--endpoint-url", closed_port_url()])

    # Then one line says what is missing
    assert code == 1
    assert capsys.readouterr().err == (
        f"cannot publish to bucket {BUCKET}: no AWS credentials: configure them as for the AWS CLI "
        "(--profile, AWS_PROFILE, AWS_ACCESS_KEY_ID)\n"
    )


@pytest.mark.usefixtures("local_credentials")
def test_an_unreachable_endpoint_exits_1_naming_the_bucket_and_the_endpoint(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    endpoint = closed_port_url()

    code = main(
        ["publish", "--suite", str(suite_file(tmp_path)), "--bucket", BUCKET, *CODEDEPLOY, "--endpoint-url", endpoint]
    )

    assert code == 1
    err = capsys.readouterr().err
    assert err.startswith(f'cannot publish to bucket {BUCKET}: Could not connect to the endpoint URL: "{endpoint}/')
    assert err.count("\n") == 1


@pytest.mark.usefixtures("local_credentials")
def test_an_unknown_profile_exits_1_naming_it(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["publish", "--suite", str(suite_file(tmp_path)), "--bucket", BUCKET, *CODEDEPLOY, "--profile", "ci"])

    assert code == 1
    assert capsys.readouterr().err == f"cannot publish to bucket {BUCKET}: The config profile (ci) could not be found\n"
