"""An edge with no moto and no functions behind it: enough for the AWS APIs the edge answers itself."""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import boto3
from botocore.config import Config

from tollgate.engine.cloudformation import LocalCloudFormation, LocalStack
from tollgate.engine.codedeploy import LocalCodeDeploy
from tollgate.engine.edge import Edge
from tollgate.engine.elbv2 import LocalLoadBalancers
from tollgate.engine.lambda_runtime import LambdaRuntime
from tollgate.engine.stack import REGION

_STACK = LocalStack("tollgate-local", "arn:aws:cloudformation:us-east-1:123456789012:stack/x/y", datetime.now(UTC), ())


@contextmanager
def standalone_edge(
    codedeploy: LocalCodeDeploy | None = None, load_balancers: LocalLoadBalancers | None = None
) -> Iterator[Edge]:
    with tempfile.TemporaryDirectory(prefix="tollgate-edge-") as directory, (Path(directory) / "log").open("ab") as log:
        edge = Edge(
            lambda url: LambdaRuntime({}, url, log),
            codedeploy or LocalCodeDeploy(),
            LocalCloudFormation(_STACK),
            load_balancers=load_balancers,
        )
        edge.start()
        try:
            yield edge
        finally:
            edge.runtime.stop()
            edge.stop()


def edge_client(edge: Edge, service: str) -> Any:
    """A boto3 client of the service at the edge; no retries, so an error is the first answer."""
    return boto3.client(
        service,
        endpoint_url=edge.url,
        region_name=REGION,
        aws_access_key_id="local",
        aws_secret_access_key="local",
        config=Config(retries={"total_max_attempts": 1}),
    )
