"""The workflow on an external Step Functions API, as `tollgate run --sfn-endpoint` runs it.

By default the API is a moto server this module starts in its own process, wired the way Step Functions
Local is: its Lambda endpoint is Tollgate's edge, on a port fixed before the engine starts
($TOLLGATE_EDGE_PORT). With $TOLLGATE_SFN_ENDPOINT set (`make test-sfn-local`: Step Functions Local in
Docker), the API it names, and the session's engine, which already uses it.
"""

from __future__ import annotations

import os
import socket
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import boto3
import pytest
from botocore.exceptions import BotoCoreError, ClientError

from tests.support.workflow_scenarios import SCENARIOS, Workflow
from tollgate.cli import SFN_ENDPOINT_VARIABLE
from tollgate.engine.engine import LocalEngine
from tollgate.engine.launch import EDGE_PORT_VARIABLE
from tollgate.engine.moto_server import start_moto_server
from tollgate.engine.stack import REGION

# Step Functions Local answers some 10 s after its container starts.
_READY_TIMEOUT_SECONDS = 60.0


@dataclass(frozen=True)
class ExternalStepFunctions:
    url: str

    def client(self) -> Any:
        """A client that talks to the external API directly, not through the engine's edge."""
        return boto3.client(
            "stepfunctions",
            endpoint_url=self.url,
            region_name=REGION,
            aws_access_key_id="local",
            aws_secret_access_key="local",
        )


def free_loopback_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def wait_until_answering(external: ExternalStepFunctions) -> None:
    sfn = external.client()
    deadline = time.monotonic() + _READY_TIMEOUT_SECONDS
    while True:
        try:
            sfn.list_state_machines()
            return
        except (BotoCoreError, ClientError):
            if time.monotonic() > deadline:
                raise
            time.sleep(0.5)


@pytest.fixture(scope="module")
def external_sfn(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ExternalStepFunctions]:
    given = os.environ.get(SFN_ENDPOINT_VARIABLE)
    if given:
        external = ExternalStepFunctions(given)
        wait_until_answering(external)
        yield external
        return
    # Given a Step Functions API in a process of its own, whose Lambda endpoint is the edge's fixed port
    edge_port = free_loopback_port()
    with (tmp_path_factory.mktemp("external-sfn") / "moto.log").open("ab") as log:
        server = start_moto_server(lambda_endpoint_port=edge_port, log=log)
        try:
            with pytest.MonkeyPatch.context() as environment:
                environment.setenv(EDGE_PORT_VARIABLE, str(edge_port))
                yield ExternalStepFunctions(server.url)
        finally:
            server.stop()


@pytest.fixture(scope="module")
def engine(
    external_sfn: ExternalStepFunctions, request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[LocalEngine]:
    """This module's engine: its Step Functions API is the external one."""
    if os.environ.get(SFN_ENDPOINT_VARIABLE):
        session_engine: LocalEngine = request.getfixturevalue("engine")  # conftest's, on that same API
        yield session_engine
        return
    log_path = tmp_path_factory.mktemp("external-sfn-engine") / "engine.log"
    with LocalEngine(log_path=log_path, sfn_endpoint=external_sfn.url) as local_engine:
        yield local_engine


def test_step_functions_calls_go_to_the_external_api_and_the_rest_to_the_engines_moto(
    engine: LocalEngine, external_sfn: ExternalStepFunctions
) -> None:
    # Given an engine started with an external Step Functions API
    # Then the edge sends Step Functions calls to that API, and CloudWatch, Secrets Manager and SSM to its own moto
    assert engine.edge.sfn_url == external_sfn.url
    assert engine.edge.moto_url not in ("", external_sfn.url)
    # And the state machine was created there
    state_machine = external_sfn.client().describe_state_machine(stateMachineArn=engine.state_machine.arn)
    assert state_machine["status"] == "ACTIVE"


@pytest.mark.parametrize("scenario", SCENARIOS, ids=[scenario.__name__ for scenario in SCENARIOS])
def test_the_workflow_scenarios_run_on_the_external_api(
    scenario: Callable[[Workflow], str], workflow: Workflow, external_sfn: ExternalStepFunctions
) -> None:
    # Given an engine whose Step Functions API is external
    # When the scenario runs (its own Then: what CodeDeploy recorded, the execution and its history)
    arn = scenario(workflow)

    # Then its execution ran on the external server: a client pointed directly at it finds it, ended
    direct = external_sfn.client()
    execution = direct.describe_execution(executionArn=arn)
    assert execution["status"] in ("SUCCEEDED", "FAILED")
    executions = direct.list_executions(stateMachineArn=workflow.engine.state_machine.arn)["executions"]
    assert arn in [listed["executionArn"] for listed in executions]
