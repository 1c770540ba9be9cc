"""boto3 adapters for what a hook reads before it starts a validation: the suite catalog in S3, the CodeDeploy
deployment, and the listeners of its load balancer. Each client is made at its first use: most stacks need few."""

from __future__ import annotations

from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from tollgate_core.aws_clients import LazyClient
from tollgate_core.codedeploy_deployment import CodeDeployDeployment, DeploymentProblem
from tollgate_core.ports import Listener, SetupFailed, StoredSuite

# A suite is a few KiB; anything this large is no suite, and reading it would only cost the hook its memory.
MAX_SUITE_BYTES = 1024 * 1024
_MISSING_KEY = {"NoSuchKey", "404", "NotFound"}


class S3SuiteStore(LazyClient):
    def __init__(self, client: Any = None) -> None:
        super().__init__("s3", client)

    def read(self, bucket: str, key: str) -> StoredSuite | None:
        where = f"s3://{bucket}/{key}"
        try:
            response = self.client.get_object(Bucket=bucket, Key=key)
            with response["Body"] as body:
                if int(response.get("ContentLength") or 0) > MAX_SUITE_BYTES:
                    raise SetupFailed(f"the suite {where} is {response['ContentLength']} bytes; at most 1 MiB")
                content: bytes = body.read()
        except ClientError as error:
            if _code(error) in _MISSING_KEY or (
                _code(error) == "AccessDenied" and not key_listed(self.client, bucket, key)
            ):
                return None
            raise SetupFailed(f"cannot read the suite {where}: {_described(error)}") from error
        except BotoCoreError as error:  # unreachable, or the body broke off: no suite to judge by
            raise SetupFailed(f"cannot read the suite {where}: {error}") from error
        # A bucket whose versioning is suspended gives objects the version id "null": no version to pin.
        version_id = response.get("VersionId")
        return StoredSuite(content, version_id if version_id != "null" else None, response.get("ETag"))


class CodeDeployDeploymentReader(LazyClient):
    def __init__(self, client: Any = None) -> None:
        super().__init__("codedeploy", client)

    def read(self, deployment_id: str) -> CodeDeployDeployment:
        try:
            info = self.client.get_deployment(deploymentId=deployment_id)["deploymentInfo"]
        except (ClientError, BotoCoreError) as error:
            raise SetupFailed(f"cannot read deployment {deployment_id}: {_described(error)}") from error
        try:
            return CodeDeployDeployment.from_deployment_info(info)
        except DeploymentProblem as problem:
            raise SetupFailed(str(problem)) from problem


class ElbListenerReader(LazyClient):
    def __init__(self, client: Any = None) -> None:
        super().__init__("elbv2", client)

    def read(self, listener_arn: str) -> Listener:
        try:
            listener = self.client.describe_listeners(ListenerArns=[listener_arn])["Listeners"][0]
            balancer_arn = listener["LoadBalancerArn"]
            balancer = self.client.describe_load_balancers(LoadBalancerArns=[balancer_arn])["LoadBalancers"][0]
            # A Gateway Load Balancer's listener has neither: no URL to probe.
            return Listener(listener_arn, listener["Protocol"], int(listener["Port"]), balancer["DNSName"])
        except (ClientError, BotoCoreError, IndexError, KeyError) as error:
            raise SetupFailed(f"cannot read listener {listener_arn}: {_described(error)}") from error


def key_listed(s3: Any, bucket: str, key: str) -> bool:
    """Whether a listing of exactly this key shows it: True also when the listing itself is refused.

    S3 answers NoSuchKey only to a caller who may list the bucket; the hooks may list only the catalog's prefix,
    and whether S3 applies that condition to the check it makes for a missing key is not documented. A listing of
    exactly this key carries the prefix, so it tells a missing suite from a refused one either way. The key sorts
    first among the keys it prefixes.
    """
    try:
        listing = s3.list_objects_v2(Bucket=bucket, Prefix=key, MaxKeys=1)
    except (ClientError, BotoCoreError):
        return True
    return any(entry.get("Key") == key for entry in listing.get("Contents", []))


def _code(error: ClientError) -> str:
    return str(error.response.get("Error", {}).get("Code", ""))


def _described(error: Exception) -> str:
    if isinstance(error, ClientError):
        return f"{_code(error)}: {error.response.get('Error', {}).get('Message', '')}".rstrip(": ")
    return str(error) or type(error).__name__
