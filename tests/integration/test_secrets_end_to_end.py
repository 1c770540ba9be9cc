"""A secret header through the whole workflow: sent to the service, absent from everything recorded."""

from __future__ import annotations

import json
from pathlib import Path

from tests.support.suites import route, stage, suite_document, write_suite
from tests.support.target import Behaviour, TargetService
from tollgate.engine.engine import LocalEngine
from tollgate.local_run import run_validation

SECRET = "tollgate-test-token-9f8e7d"
COOKIE = "session=tollgate-test-cookie-1a2b3c"


def test_a_referenced_secret_reaches_the_service_and_nothing_else(engine: LocalEngine, tmp_path: Path) -> None:
    # Given a secret in (local) Secrets Manager, a SecureString in SSM, and a suite that references both
    engine.client("secretsmanager").create_secret(Name="shop/probe", SecretString=json.dumps({"token": SECRET}))
    engine.client("ssm").put_parameter(Name="/shop/probe-cookie", Value=COOKIE, Type="SecureString")
    document = suite_document(stage("smoke", route("health")))
    document["target"]["headers"] = {
        "Authorization": {"secretsManager": "shop/probe", "key": "token"},
        "Cookie": {"ssm": "/shop/probe-cookie"},
    }

    # When the validation runs
    with TargetService({"/health": Behaviour()}) as target:
        outcome = run_validation(engine, write_suite(tmp_path, document), target.url, timeout_seconds=60)

    # Then the service got the values, and the execution's input, history, output and logs only the references
    assert outcome.reported_status == "Succeeded"
    sent = target.requests[0]["headers"]
    assert (sent["Authorization"], sent["Cookie"]) == (SECRET, COOKIE)
    recorded = "\n".join(
        [json.dumps(outcome.history, default=str), json.dumps(outcome.summary), engine.log_path.read_text("utf-8")]
    )
    assert SECRET not in recorded
    assert COOKIE not in recorded
