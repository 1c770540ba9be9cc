"""A secret header through the whole workflow: sent to the service, absent from everything recorded."""

from __future__ import annotations

import json
from pathlib import Path

from tests.support.suites import route, stage, suite_document, write_suite
from tests.support.target import Behaviour, TargetService
from tollgate.engine.engine import LocalEngine
from tollgate.local_run import run_validation

SECRET = "tollgate-test-token-9f8e7d"


def test_a_referenced_secret_reaches_the_service_and_nothing_else(engine: LocalEngine, tmp_path: Path) -> None:
    # Given a secret in (local) Secrets Manager and a suite that references it
    engine.client("secretsmanager").create_secret(Name="shop/probe", SecretString=json.dumps({"token": SECRET}))
    document = suite_document(stage("smoke", route("health")))
    document["target"]["headers"] = {"Authorization": {"secretsManager": "shop/probe", "key": "token"}}

    # When the validation runs
    with TargetService({"/health": Behaviour()}) as target:
        outcome = run_validation(engine, write_suite(tmp_path, document), target.url, timeout_seconds=60)

    # Then the service got the value, and the execution's input, history and output only the reference
    assert outcome.reported_status == "Succeeded"
    assert target.requests[0]["headers"]["Authorization"] == SECRET
    assert SECRET not in json.dumps(outcome.history, default=str)
    assert SECRET not in json.dumps(outcome.summary)
    assert SECRET not in engine.log_path.read_text(encoding="utf-8")
