"""`tollgate publish`: check a suite as the hook would, then put it in the suite catalog, at the key the hook reads."""

from __future__ import annotations

import argparse
import json
import re
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NotRequired, TypedDict

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError, NoCredentialsError

from tollgate_core.budget import DEFAULT_HOOK_BUDGET_SECONDS
from tollgate_core.contracts import LifecycleEvent, LifecycleStage
from tollgate_core.suite import Suite, SuiteError, load_suite
from tollgate_core.suite_catalog import DEFAULT_SUITE_PREFIX, CatalogEntry, codedeploy_entry, ecs_entry
from tollgate_core.suite_targets import codedeploy_only_problem

EXIT_PUBLISHED, EXIT_UPLOAD_FAILED, EXIT_USAGE = 0, 1, 2
# The CodeDeploy lifecycle events a Tollgate hook serves (template.yaml); CodeDeploy has others, run by no hook of ours.
# A suite file's extension -> its catalog key's extension.
_CATALOG_EXTENSIONS = {".yaml": ".yaml", ".yml": ".yaml", ".json": ".json"}
_CONTENT_TYPES = {".yaml": "application/yaml", ".json": "application/json"}
_CODEDEPLOY_OPTIONS = ("--application", "--deployment-group", "--lifecycle-event")
_ECS_OPTIONS = ("--cluster", "--service", "--lifecycle-stage")
# The stack's SuitePrefix AllowedPattern (template.yaml): a prefix no stack can have is one no hook reads.
_SUITE_PREFIX = re.compile(r"^$|^[^/*?][^*?]*/$")


class PublishUsageError(ValueError):
    """Options that do not go together; the message says which."""


class PublishFailed(Exception):
    """S3 refused the publication or could not be reached; the message names the bucket and the error."""


@dataclass(frozen=True)
class AwsOptions:
    """Where S3 is, as the AWS CLI takes it; None: the standard configuration chain decides."""

    region: str | None = None
    profile: str | None = None
    endpoint_url: str | None = None


S3Connector = Callable[[AwsOptions], Any]


def s3_client(aws: AwsOptions) -> Any:
    session = boto3.Session(profile_name=aws.profile, region_name=aws.region)
    return session.client("s3", endpoint_url=aws.endpoint_url, config=Config(retries={"mode": "standard"}))


@dataclass(frozen=True)
class SuiteFile:
    """A checked suite file: its bytes as the user wrote them (comments kept), and the catalog key's extension."""

    path: Path
    body: bytes
    extension: str  # .yaml or .json
    suite: Suite

    @property
    def content_type(self) -> str:
        return _CONTENT_TYPES[self.extension]


class PublicationDocument(TypedDict):
    """What `--json` prints, for a pipeline's next step."""

    uri: str
    bucket: str
    key: str
    versionId: NotRequired[str]  # absent when the bucket is not versioned
    etag: str


@dataclass(frozen=True)
class Publication:
    """A suite in the catalog: where it is, the version S3 gave it, and the keys of the other format it replaced."""

    bucket: str
    key: str
    etag: str
    version_id: str | None  # None: the bucket is not versioned
    removed: tuple[str, ...] = ()

    @property
    def uri(self) -> str:
        return f"s3://{self.bucket}/{self.key}"

    def line(self) -> str:
        version = f"version {self.version_id}" if self.version_id else f"ETag {self.etag}"
        return f"published {self.uri} ({version})"

    def document(self) -> PublicationDocument:
        document: PublicationDocument = {"uri": self.uri, "bucket": self.bucket, "key": self.key, "etag": self.etag}
        if self.version_id:
            document["versionId"] = self.version_id
        return document


def add_publish_parser(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    publish = commands.add_parser(
        "publish",
        help="check a suite and put it in a Tollgate stack's suite catalog, where the hooks read it",
        description="Check a suite as the hook would, then upload it unchanged to the key the hook reads for "
        "one CodeDeploy deployment group's lifecycle event, or one ECS service's lifecycle stage. "
        f"Exit codes: {EXIT_PUBLISHED} published, {EXIT_UPLOAD_FAILED} S3 refused or could not be reached, "
        f"{EXIT_USAGE} invalid suite or options (nothing uploaded).",
    )
    publish.add_argument("--suite", required=True, type=Path, help="suite file: .yaml, .yml or .json")
    publish.add_argument(
        "--budget-seconds",
        type=float,
        default=DEFAULT_HOOK_BUDGET_SECONDS,
        metavar="SECONDS",
        help="the stack's HookBudgetSeconds: the suite's worst case must fit (default: %(default)s)",
    )
    catalog = publish.add_argument_group("the catalog: the stack's SuiteBucket and SuitePrefix")
    catalog.add_argument("--bucket", required=True, help="the stack's SuiteBucket")
    catalog.add_argument(
        "--prefix", default=DEFAULT_SUITE_PREFIX, help="the stack's SuitePrefix, as given there (default: %(default)s)"
    )
    codedeploy = publish.add_argument_group("CodeDeploy: whose suite it is")
    codedeploy.add_argument("--application", help="the CodeDeploy application")
    codedeploy.add_argument("--deployment-group", help="its deployment group")
    codedeploy.add_argument(
        "--lifecycle-event",
        choices=[event.value for event in LifecycleEvent],
        metavar="EVENT",
        help=f"the hook that runs the suite: {', '.join(LifecycleEvent)}",
    )
    ecs = publish.add_argument_group("or ECS: whose suite it is")
    ecs.add_argument("--cluster", help="the ECS cluster's name")
    ecs.add_argument("--service", help="the service's name")
    ecs.add_argument(
        "--lifecycle-stage",
        choices=[stage.value for stage in LifecycleStage],
        metavar="STAGE",
        help=f"the stage whose hook runs the suite: {', '.join(LifecycleStage)}",
    )
    aws = publish.add_argument_group("AWS, as the AWS CLI takes it")
    aws.add_argument("--region", help="default: the configured one")
    aws.add_argument("--profile", help="a named profile of the AWS configuration")
    aws.add_argument("--endpoint-url", metavar="URL", help="an S3-compatible API other than AWS's")
    publish.add_argument("--json", action="store_true", help="print {uri, bucket, key, versionId, etag} as JSON")
    publish.set_defaults(command=publish_command, interrupted="interrupted; nothing was uploaded")


def publish_command(arguments: argparse.Namespace, connect: S3Connector = s3_client) -> int:
    """Nothing reaches S3 unless the options go together and the suite is one the hook would run."""
    try:
        entry = catalog_entry(arguments)
        suite_file = checked_suite_file(arguments.suite, arguments.budget_seconds)
        problem = served_problem(suite_file.suite, arguments)
        if problem:
            raise SuiteError([problem], str(arguments.suite))
    except (PublishUsageError, SuiteError) as error:
        print(error, file=sys.stderr)
        return EXIT_USAGE
    aws = AwsOptions(arguments.region, arguments.profile, arguments.endpoint_url)
    try:
        with s3_errors(f"cannot publish to bucket {arguments.bucket}"):
            s3 = connect(aws)
        publication = publish_suite(s3, arguments.bucket, entry, suite_file)
    except PublishFailed as error:
        print(error, file=sys.stderr)
        return EXIT_UPLOAD_FAILED
    for key in publication.removed:
        print(
            f"removed s3://{publication.bucket}/{key}: the suite published before in the other format", file=sys.stderr
        )
    print(json.dumps(publication.document()) if arguments.json else publication.line())
    return EXIT_PUBLISHED


def catalog_entry(arguments: argparse.Namespace) -> CatalogEntry:
    """The CodeDeploy or the ECS ids, checked together, as the entry whose keys the hook reads."""
    if not _SUITE_PREFIX.match(arguments.prefix):
        raise PublishUsageError(
            f"--prefix {arguments.prefix!r}: a stack's SuitePrefix is empty, or ends in '/' and does not start "
            "with '/', without '*' or '?'"
        )
    codedeploy = (arguments.application, arguments.deployment_group, arguments.lifecycle_event)
    ecs = (arguments.cluster, arguments.service, arguments.lifecycle_stage)
    given_codedeploy = any(value is not None for value in codedeploy)
    given_ecs = any(value is not None for value in ecs)
    if given_codedeploy and given_ecs:
        raise PublishUsageError(f"give the CodeDeploy ids ({', '.join(_CODEDEPLOY_OPTIONS)}) or the ECS ids, not both")
    if given_codedeploy:
        _require_all(codedeploy, _CODEDEPLOY_OPTIONS, "a CodeDeploy deployment group's suite")
        return codedeploy_entry(arguments.prefix, *codedeploy)
    if given_ecs:
        _require_all(ecs, _ECS_OPTIONS, "an ECS service's suite")
        return ecs_entry(arguments.prefix, *ecs)
    raise PublishUsageError(
        f"give the CodeDeploy ids ({', '.join(_CODEDEPLOY_OPTIONS)}) or the ECS ids ({', '.join(_ECS_OPTIONS)})"
    )


def _require_all(values: tuple[str | None, ...], options: tuple[str, ...], whose: str) -> None:
    missing = [option for option, value in zip(options, values, strict=True) if not value]
    if missing:
        raise PublishUsageError(f"{' and '.join(missing)} missing: {whose} needs {', '.join(options)}")


def checked_suite_file(path: Path, budget_seconds: float) -> SuiteFile:
    """The file, if the hook would run it: checked as the hook checks it, and named as the catalog names it."""
    extension = _CATALOG_EXTENSIONS.get(path.suffix.lower())
    if extension is None:
        raise PublishUsageError(f"--suite {path}: name it .yaml, .yml or .json; the hook reads <key>.yaml or .json")
    suite = load_suite(path, budget_seconds)
    body = path.read_bytes()
    if extension == ".json":
        _require_json(body, str(path))
    return SuiteFile(path, body, extension, suite)


def served_problem(suite: Suite, arguments: argparse.Namespace) -> str | None:
    """Why the hook that reads this entry could never run the suite: it asks what that deployment cannot tell."""
    if arguments.cluster is not None:
        return codedeploy_only_problem(suite)
    if arguments.lifecycle_event == LifecycleEvent.BEFORE_ALLOW_TRAFFIC and suite.needs_deployment_target:
        return (
            "target.fromDeployment: BeforeAllowTraffic validates Lambda deployments, which route no traffic "
            "through a load balancer listener; give target.baseUrl"
        )
    return None


def _require_json(body: bytes, source: str) -> None:
    """load_suite reads JSON and YAML alike; a .json key and its content type promise JSON to whoever reads it."""
    try:
        json.loads(body)
    except ValueError as error:
        raise SuiteError([f"not valid JSON: {error}; name the file .yaml to publish YAML"], source) from None


def publish_suite(s3: Any, bucket: str, entry: CatalogEntry, suite_file: SuiteFile) -> Publication:
    """Put the suite at its key, then remove the entry's key of the other format.

    The hook reads `.yaml` before `.json`: a `.yaml` left behind would shadow a new `.json`, and one suite per
    entry keeps the catalog saying what the hook reads. The other key is looked for before anything is written,
    so that a role that cannot look leaves the catalog as it was.
    """
    key = entry.stem + suite_file.extension
    other_keys = [other for other in entry.keys() if other != key]  # noqa: SIM118 - keys() is the entry's S3 keys
    with s3_errors(f"cannot publish to bucket {bucket}"):
        others = tuple(other for other in other_keys if _object_exists(s3, bucket, other))
        response = s3.put_object(Bucket=bucket, Key=key, Body=suite_file.body, ContentType=suite_file.content_type)
    # A bucket whose versioning is suspended gives new objects the version id "null": no version to pin.
    version_id = response.get("VersionId") if response.get("VersionId") != "null" else None
    publication = Publication(bucket, key, response["ETag"], version_id, removed=others)
    for other in others:
        with s3_errors(f"published {publication.uri}, but s3://{bucket}/{other} is still there"):
            s3.delete_object(Bucket=bucket, Key=other)
    return publication


def _object_exists(s3: Any, bucket: str, key: str) -> bool:
    # ListObjectsV2 needs only s3:ListBucket; HeadObject needs s3:GetObject too, and without s3:ListBucket S3
    # answers 403 for a missing key, which would read as "refused". The key itself sorts first among its prefix.
    listing = s3.list_objects_v2(Bucket=bucket, Prefix=key, MaxKeys=1)
    return any(item["Key"] == key for item in listing.get("Contents", []))


@contextmanager
def s3_errors(doing: str) -> Iterator[None]:
    """S3's refusals and the SDK's configuration problems as one line: what failed, and why."""
    try:
        yield
    except NoCredentialsError:
        raise PublishFailed(
            f"{doing}: no AWS credentials: configure them as for the AWS CLI (--profile, AWS_PROFILE, "
            "AWS_ACCESS_KEY_ID)"
        ) from None
    except ClientError as error:
        details = error.response.get("Error", {})
        raise PublishFailed(f"{doing}: {details.get('Code', 'error')}: {details.get('Message', error)}") from None
    except BotoCoreError as error:
        raise PublishFailed(f"{doing}: {error}") from None
