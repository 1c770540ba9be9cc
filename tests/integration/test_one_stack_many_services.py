"""One stack gates many services: each deployment group judged by the suite it published to the catalog, probes
aimed at the listener the deployment routes, on the real ASL and hooks in the embedded engine."""

from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack
from pathlib import Path
from typing import Any

from tests.support.suites import route, stage, suite_document, write_suite
from tests.support.target import Behaviour, TargetService
from tollgate.engine.codedeploy import HookExecution
from tollgate.engine.engine import LocalEngine
from tollgate.local_run import (
    LOCAL_SUITE_BUCKET,
    LocalDeployment,
    create_deployment,
    publish_to_local_catalog,
    run_validation,
)
from tollgate_core.contracts import HookStatus
from tollgate_core.execution_name import execution_name

EVENT = "AfterAllowTestTraffic"
KEY = f"tollgate/orders/orders-blue-green/{EVENT}.yaml"


def started_deployment(history: list[dict[str, Any]]) -> dict[str, Any]:
    """The deployment document the execution started with."""
    document: dict[str, Any] = json.loads(history[0]["executionStartedEventDetails"]["input"])["deployment"]
    return document


def test_a_deployment_group_is_judged_by_the_suite_it_published(engine: LocalEngine, tmp_path: Path) -> None:
    # Given the orders service published its suite for its deployment group
    with TargetService({"/orders": Behaviour()}) as orders:
        suite = write_suite(tmp_path, suite_document(stage("catalogued", route("orders"))))
        deployment = LocalDeployment("orders", "orders-blue-green")
        # When CodeDeploy deploys that group
        outcome = run_validation(engine, suite, orders.url, EVENT, deployment=deployment)
    # Then the hook found the published suite, and the execution records which version of it judged
    assert outcome.reported_status == HookStatus.SUCCEEDED
    assert orders.hits == {"/orders": 1}
    recorded = started_deployment(outcome.history)
    assert (recorded["application"], recorded["deploymentGroup"]) == ("orders", "orders-blue-green")
    source = recorded["suiteSource"]
    assert (source["kind"], source["location"]) == ("s3", f"s3://{LOCAL_SUITE_BUCKET}/{KEY}")
    published = engine.client("s3").head_object(Bucket=LOCAL_SUITE_BUCKET, Key=KEY)
    assert source["versionId"] == published["VersionId"]
    assert outcome.summary is not None and outcome.summary["deployment"]["suiteSource"] == source


def test_a_group_without_a_published_suite_falls_back_to_the_bundled_one(engine: LocalEngine, tmp_path: Path) -> None:
    with TargetService({"/health": Behaviour()}) as service:
        # Given the catalog is on, the hook bundles a suite, and nothing is published for the "billing" group
        bundled = write_suite(tmp_path, suite_document(stage("bundled", route("health")), base_url=service.url))
        hook = engine.app.hook_for(EVENT)
        assert hook is not None
        engine.configure_function(
            hook.name, {"SUITE_BUCKET": LOCAL_SUITE_BUCKET, "SUITE_PATH": str(bundled), "TARGET_BASE_URL": ""}
        )
        deployment = create_deployment(engine, EVENT, LocalDeployment("billing", "billing-blue-green"))
        # When its hook runs
        ids = {"DeploymentId": deployment.deployment_id, "LifecycleEventHookExecutionId": deployment.hook_execution_id}
        engine.invoke(hook.name, ids)
        status = engine.codedeploy.wait_for_status(deployment.hook_execution_id, timeout_seconds=60)
    # Then the bundled suite judged it, and the execution says so
    assert status == HookStatus.SUCCEEDED
    assert service.hits == {"/health": 1}
    sfn = engine.client("stepfunctions")
    executions = engine.state_machine.arn.replace(":stateMachine:", ":execution:")
    arn = f"{executions}:{execution_name(EVENT, deployment.hook_execution_id)}"
    started = json.loads(sfn.describe_execution(executionArn=arn)["input"])["deployment"]
    assert started["suiteSource"] == {"kind": "file", "location": str(bundled)}
    assert (started["application"], started["deploymentGroup"]) == ("billing", "billing-blue-green")


def test_probes_hit_the_listener_the_deployment_routes_test_traffic_through(
    engine: LocalEngine, tmp_path: Path
) -> None:
    # Given a suite aimed at the deployment's test listener, and a deployment whose load balancer routes
    # test traffic to the new tasks and production traffic to the old ones
    document = suite_document(stage("smoke", route("health")))
    document["target"] = {"fromDeployment": "testListener"}
    with TargetService({"/health": Behaviour()}) as green, TargetService({"/health": Behaviour()}) as blue:
        deployment = LocalDeployment(test_listener=green.url, production_listener=blue.url)
        outcome = run_validation(engine, write_suite(tmp_path, document), None, EVENT, deployment=deployment)
    # Then only the new tasks were probed, and the execution records the listener
    assert outcome.reported_status == HookStatus.SUCCEEDED
    assert (green.hits, blue.hits) == ({"/health": 1}, {})
    listener = started_deployment(outcome.history)["targetListener"]
    assert (listener["role"], listener["url"]) == ("testListener", green.url)


def test_a_deployment_without_a_load_balancer_fails_a_suite_aimed_at_its_listener(
    engine: LocalEngine, tmp_path: Path
) -> None:
    document = suite_document(stage("smoke", route("health")))
    document["target"] = {"fromDeployment": "productionListener"}
    outcome = run_validation(engine, write_suite(tmp_path, document), None, EVENT, timeout_seconds=30)
    assert outcome.reported_status == HookStatus.FAILED
    assert outcome.execution_arn is None  # nothing could run: the hook reported Failed itself
    assert outcome.hook_error is not None
    assert "target.fromDeployment: productionListener" in outcome.hook_error["errorMessage"]


GROUPS = 10


def test_twenty_validations_across_ten_deployment_groups_each_judged_by_its_own_suite(
    engine: LocalEngine, tmp_path: Path
) -> None:
    hook = engine.app.hook_for(EVENT)
    assert hook is not None
    with ExitStack() as running:
        # Given ten services, each with its own deployment group and published suite; the odd ones are broken
        services = [
            running.enter_context(TargetService({f"/service-{group}": Behaviour(status=500 if group % 2 else 200)}))
            for group in range(GROUPS)
        ]
        groups = [LocalDeployment(f"app-{group}", f"group-{group}") for group in range(GROUPS)]
        for group, (service, spec) in enumerate(zip(services, groups, strict=True)):
            document = suite_document(stage(f"group-{group}", route(f"service-{group}", retry={"maxAttempts": 1})))
            suite = write_suite(tmp_path, {**document, "target": {"baseUrl": service.url}}, f"{group}.yaml")
            entry = spec.catalog_entry(EVENT)
            assert entry is not None
            publish_to_local_catalog(engine, suite, entry)
        engine.configure_function(hook.name, {"SUITE_BUCKET": LOCAL_SUITE_BUCKET, "TARGET_BASE_URL": ""})
        deployments = [create_deployment(engine, EVENT, spec) for spec in groups for _ in range(2)]

        # When CodeDeploy runs all twenty hooks at once
        def invoke(deployment: HookExecution) -> None:
            ids = {
                "DeploymentId": deployment.deployment_id,
                "LifecycleEventHookExecutionId": deployment.hook_execution_id,
            }
            engine.invoke(hook.name, ids)

        with ThreadPoolExecutor(max_workers=len(deployments)) as pool:
            list(pool.map(invoke, deployments))
        statuses = [engine.codedeploy.wait_for_status(d.hook_execution_id, timeout_seconds=120) for d in deployments]

    # Then each deployment received its own group's verdict, once, and each group's service was probed by its suite
    expected = [HookStatus.FAILED if index // 2 % 2 else HookStatus.SUCCEEDED for index in range(len(deployments))]
    assert statuses == expected
    assert all(deployment.calls == [status] for deployment, status in zip(deployments, statuses, strict=True))
    assert [service.hits for service in services] == [{f"/service-{group}": 2} for group in range(GROUPS)]
