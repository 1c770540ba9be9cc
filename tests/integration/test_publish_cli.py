"""`tollgate publish` against a real S3 API (moto's server on 127.0.0.1): what lands in the catalog, and where."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
import yaml
from botocore.exceptions import ClientError
from moto.server import ThreadedMotoServer

from tests.support.aws_environment import local_credentials
from tests.support.suites import route, stage, suite_document
from tollgate.cli import main
from tollgate_core.suite_catalog import codedeploy_entry, ecs_entry

__all__ = ["local_credentials"]  # a fixture: every test here runs with it
pytestmark = pytest.mark.usefixtures("local_credentials")

REGION = "eu-west-1"
CODEDEPLOY = ["--application", "shop", "--deployment-group", "shop-bg", "--lifecycle-event", "AfterAllowTraffic"]
CODEDEPLOY_ENTRY = codedeploy_entry("tollgate/", "shop", "shop-bg", "AfterAllowTraffic")
SMOKE = suite_document(stage("smoke", route("health")))


@pytest.fixture(scope="module")
def s3_endpoint() -> Iterator[str]:
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    yield f"http://{host}:{port}"
    server.stop()


@pytest.fixture
def s3(s3_endpoint: str) -> Any:
    return boto3.client("s3", region_name=REGION, endpoint_url=s3_endpoint)


def new_bucket(s3: Any, versioned: bool) -> str:
    """A bucket of this test's own: the server lives for the whole module."""
    bucket = f"suites-{uuid.uuid4().hex[:12]}"
    s3.create_bucket(Bucket=bucket, CreateBucketConfiguration={"LocationConstraint": REGION})
    if versioned:
        s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
    return bucket


def publish(s3_endpoint: str, suite: Path, bucket: str, *options: str) -> int:
    return main(["publish", "--suite", str(suite), "--bucket", bucket, *options, "--endpoint-url", s3_endpoint])


def write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


def printed_version(out: str, bucket: str, key: str) -> str:
    """The version id in `published s3://BUCKET/KEY (version V)`."""
    head = f"published s3://{bucket}/{key} (version "
    assert out.startswith(head) and out.endswith(")\n"), out
    return out.removeprefix(head).removesuffix(")\n")


def keys_the_hook_finds(s3: Any, bucket: str, keys: list[str]) -> list[str]:
    listed = {item["Key"] for item in s3.list_objects_v2(Bucket=bucket).get("Contents", [])}
    return [key for key in keys if key in listed]


def test_each_publication_to_a_versioned_bucket_is_a_version_read_back_byte_for_byte(
    s3_endpoint: str, s3: Any, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # Given a versioned catalog, and a suite with its author's comments
    bucket = new_bucket(s3, versioned=True)
    suite = write(tmp_path / "suite.yaml", "# smoke test after the shift\n" + yaml.safe_dump(SMOKE))
    key = CODEDEPLOY_ENTRY.keys()[0]

    # When it is published, then published again with a change
    assert publish(s3_endpoint, suite, bucket, *CODEDEPLOY) == 0
    first = printed_version(capsys.readouterr().out, bucket, key)
    edited = write(
        suite, "# two rounds now\n" + yaml.safe_dump(suite_document(stage("smoke", route("health"), rounds=2)))
    )
    assert publish(s3_endpoint, edited, bucket, *CODEDEPLOY) == 0
    second = printed_version(capsys.readouterr().out, bucket, key)

    # Then the key the hook reads holds the second file as written, at the version the command printed,
    # and the first is still a version of it
    stored = s3.get_object(Bucket=bucket, Key=key)
    assert (stored["VersionId"], stored["Body"].read()) == (second, edited.read_bytes())
    assert stored["ContentType"] == "application/yaml"
    versions = s3.list_object_versions(Bucket=bucket, Prefix=key)["Versions"]
    assert {version["VersionId"] for version in versions} == {first, second}


def test_a_pipeline_reads_an_unversioned_publication_by_its_etag(
    s3_endpoint: str, s3: Any, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # Given an unversioned catalog under another prefix, and an ECS service's suite in JSON
    bucket = new_bucket(s3, versioned=False)
    suite = write(tmp_path / "suite.json", json.dumps(SMOKE, indent=2))
    ecs = ["--cluster", "prod", "--service", "shop", "--lifecycle-stage", "POST_TEST_TRAFFIC_SHIFT"]

    # When it is published for a pipeline
    code = publish(s3_endpoint, suite, bucket, *ecs, "--prefix", "platform/", "--json")

    # Then the document names the object the ECS hook reads, by the ETag S3 holds for it
    assert code == 0
    key = ecs_entry("platform/", "prod", "shop", "POST_TEST_TRAFFIC_SHIFT").keys()[1]
    stored = s3.get_object(Bucket=bucket, Key=key)
    assert json.loads(capsys.readouterr().out) == {
        "uri": f"s3://{bucket}/{key}",
        "bucket": bucket,
        "key": key,
        "etag": stored["ETag"],
    }
    assert stored["Body"].read() == suite.read_bytes()
    assert stored["ContentType"] == "application/json"


@pytest.mark.parametrize("versioned", [True, False])
def test_a_json_suite_published_over_a_yaml_one_is_the_one_the_hook_finds(
    s3_endpoint: str, s3: Any, tmp_path: Path, capsys: pytest.CaptureFixture[str], versioned: bool
) -> None:
    # Given a catalog entry holding a YAML suite
    bucket = new_bucket(s3, versioned)
    assert publish(s3_endpoint, write(tmp_path / "suite.yaml", yaml.safe_dump(SMOKE)), bucket, *CODEDEPLOY) == 0

    # When the service publishes its suite as JSON
    code = publish(s3_endpoint, write(tmp_path / "suite.json", json.dumps(SMOKE)), bucket, *CODEDEPLOY)

    # Then the JSON suite is the only one left at the entry, so the hook cannot read the YAML one first
    assert code == 0
    assert keys_the_hook_finds(s3, bucket, CODEDEPLOY_ENTRY.keys()) == [CODEDEPLOY_ENTRY.keys()[1]]
    assert "removed" in capsys.readouterr().err


@pytest.mark.parametrize("versioned", [True, False])
def test_an_invalid_suite_leaves_the_bucket_empty(
    s3_endpoint: str, s3: Any, tmp_path: Path, capsys: pytest.CaptureFixture[str], versioned: bool
) -> None:
    # Given an empty catalog, and a suite whose only stage lets every probe fail
    bucket = new_bucket(s3, versioned)
    suite = write(
        tmp_path / "suite.yaml", yaml.safe_dump(suite_document(stage("smoke", route("health"), maxFailedProbes=1)))
    )

    # When it is published
    code = publish(s3_endpoint, suite, bucket, *CODEDEPLOY)

    # Then nothing was written, not even a delete marker, and the problem is named
    assert code == 2
    assert "stages[0].maxFailedProbes: 1 lets all 1 probes of the stage fail" in capsys.readouterr().err
    listing = s3.list_object_versions(Bucket=bucket)
    assert "Versions" not in listing
    assert "DeleteMarkers" not in listing


def test_a_bucket_that_does_not_exist_exits_1_naming_it(
    s3_endpoint: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bucket = f"missing-{uuid.uuid4().hex[:12]}"

    code = publish(s3_endpoint, write(tmp_path / "suite.yaml", yaml.safe_dump(SMOKE)), bucket, *CODEDEPLOY)

    assert code == 1
    assert (
        capsys.readouterr().err
        == f"cannot publish to bucket {bucket}: NoSuchBucket: The specified bucket does not exist\n"
    )


def test_the_yaml_key_is_gone_only_from_view_in_a_versioned_bucket(s3_endpoint: str, s3: Any, tmp_path: Path) -> None:
    # Given a versioned catalog entry holding a YAML suite, replaced by a JSON one
    bucket = new_bucket(s3, versioned=True)
    publish(s3_endpoint, write(tmp_path / "suite.yaml", yaml.safe_dump(SMOKE)), bucket, *CODEDEPLOY)
    publish(s3_endpoint, write(tmp_path / "suite.json", json.dumps(SMOKE)), bucket, *CODEDEPLOY)

    # When the hook reads the YAML key
    with pytest.raises(ClientError) as refused:
        s3.get_object(Bucket=bucket, Key=CODEDEPLOY_ENTRY.keys()[0])

    # Then it is not found, though its version is kept behind a delete marker, for a rollback of the catalog
    assert refused.value.response["Error"]["Code"] == "NoSuchKey"
    history = s3.list_object_versions(Bucket=bucket, Prefix=CODEDEPLOY_ENTRY.keys()[0])
    assert len(history["Versions"]) == 1
    assert len(history["DeleteMarkers"]) == 1
