"""A dry run on the real workflow: the deployment goes on, and everything a person reads says it would have failed."""

from __future__ import annotations

import json
from typing import Any

from tests.support.suites import route, stage, suite_document
from tests.support.target import Behaviour, TargetService
from tests.support.workflow_scenarios import Workflow
from tollgate.report import build_report
from tollgate_core.suite import parse_suite


def emf_documents(log_text: str, execution_arn: str) -> list[dict[str, Any]]:
    """The embedded-metric documents the functions printed about one execution, from the engine's function log."""
    documents = []
    for line in log_text.splitlines():
        if not line.startswith('{"_aws"'):
            continue
        document = json.loads(line)
        if document.get("executionArn") == execution_arn:
            documents.append(document)
    return documents


def test_a_failing_dry_run_lets_the_deployment_through_and_says_it_would_have_failed(workflow: Workflow) -> None:
    # Given a service whose health route answers 503, and a suite that checks it as a dry run
    document = suite_document(stage("smoke", route("health", retry={"maxAttempts": 1})), dryRun=True)
    with TargetService({"/health": Behaviour(status=503)}) as target:
        # When the hook runs the suite
        outcome = workflow.run(document, target.url)

    # Then CodeDeploy recorded Succeeded, once
    assert (outcome.reported_status, outcome.status_calls) == ("Succeeded", ["Succeeded"])
    # And the execution's output says the validation failed, and why
    assert outcome.summary is not None and outcome.execution_arn is not None
    assert (outcome.summary["status"], outcome.summary["reportedStatus"]) == ("Failed", "Succeeded")
    assert (outcome.summary["dryRun"], outcome.summary["wouldHaveFailed"]) == (True, True)
    assert str(outcome.summary["reason"]).endswith("health (round 1): status 503, expected 2xx")
    assert outcome.summary["consoleUrl"].endswith(outcome.execution_arn)
    # And so does the run report
    report = build_report(outcome, parse_suite(document).with_base_url(target.url))
    assert (report["dryRun"], report["status"], report["reportedStatus"]) == (True, "Failed", "Succeeded")
    # And the reporter counted it as WouldHaveFailed in the stack's namespace, per lifecycle event
    log_text = workflow.engine.log_path.read_text(encoding="utf-8")
    started, decided = emf_documents(log_text, outcome.execution_arn)
    assert started["ValidationsStarted"] == [1.0]
    assert decided["WouldHaveFailed"] == [1.0] and "ValidationsFailed" not in decided
    (directive,) = decided["_aws"]["CloudWatchMetrics"]
    assert (directive["Namespace"], directive["Dimensions"]) == ("Tollgate/tollgate-local", [["LifecycleEvent"]])
    assert decided["LifecycleEvent"] == "AfterAllowTestTraffic"
