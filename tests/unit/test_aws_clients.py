"""The adapters make their boto3 client at its first use, once: a hook that starts its validation never loads
CodeDeploy's model, which it needs only to report a failure to start."""

from __future__ import annotations

from typing import Any

import boto3
import pytest
from botocore.stub import Stubber

from tollgate_core.aws import CodeDeployStatusReporter, StepFunctionsDescriber, StepFunctionsStarter
from tollgate_core.aws_cloudwatch import CloudWatchMetricSource
from tollgate_core.aws_deployment import CodeDeployDeploymentReader, ElbListenerReader, S3SuiteStore
from tollgate_core.contracts import HookStatus, StatusDelivery
from tollgate_core.ports import HookIds


@pytest.fixture
def made_clients(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The service of every client the adapters make; each is a real client, stubbed."""
    made: list[str] = []
    make_client = boto3.client

    def client(service: str, **settings: Any) -> Any:
        made.append(service)
        real = make_client(service, region_name="us-east-1", aws_access_key_id="a", aws_secret_access_key="b")
        stubber = Stubber(real)
        stubber.add_response("put_lifecycle_event_hook_execution_status", {"lifecycleEventHookExecutionId": "h"})
        stubber.add_response("put_lifecycle_event_hook_execution_status", {"lifecycleEventHookExecutionId": "h"})
        stubber.activate()
        return real

    monkeypatch.setattr(boto3, "client", client)
    return made


def test_adapters_make_no_client_until_they_call_their_service(made_clients: list[str]) -> None:
    # Given every adapter, made as the functions make them at their first invocation
    StepFunctionsStarter("arn:aws:states:us-east-1:123456789012:stateMachine:tollgate")
    CodeDeployStatusReporter()
    StepFunctionsDescriber()
    CloudWatchMetricSource()
    S3SuiteStore(), CodeDeployDeploymentReader(), ElbListenerReader()

    # Then no client was made
    assert made_clients == []


def test_an_adapter_makes_its_client_at_the_first_call_and_keeps_it(made_clients: list[str]) -> None:
    # Given a CodeDeploy reporter
    reporter = CodeDeployStatusReporter()

    # When it reports twice
    deliveries = [reporter.report(HookIds("d-1", "h"), HookStatus.FAILED) for _ in range(2)]

    # Then both were recorded through one CodeDeploy client
    assert deliveries == [StatusDelivery.RECORDED, StatusDelivery.RECORDED]
    assert made_clients == ["codedeploy"]
