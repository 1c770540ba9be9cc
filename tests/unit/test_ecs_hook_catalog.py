"""The ECS hook's suite: hookDetails first, then the service's suite in the catalog, then the stage's bundled one.

S3 is an in-memory store holding what a pipeline published; the starter records the execution input.
"""

from __future__ import annotations

import time
from dataclasses import replace
from typing import Any, cast

import pytest
import yaml

from tests.support.fakes import RecordingStarter
from tests.support.suites import route, stage, suite_document
from tests.unit.test_ecs_hook import SETTINGS, SUITES_DIR, FakeExecutions, ecs_event
from tollgate_core.contracts import EcsDeployment, EcsHookAnswer, ExecutionInput
from tollgate_core.ecs_hook import answer_hook
from tollgate_core.ports import SetupFailed, StoredSuite
from tollgate_core.settings import SuiteCatalog

BUCKET = "platform-suites"
CATALOG = replace(SETTINGS, catalog=SuiteCatalog(BUCKET, "tollgate/"))
WEB_KEY = "tollgate/ecs/shop/web/POST_TEST_TRAFFIC_SHIFT"  # service arn:...:service/shop/web


class PublishedSuites:
    """An S3 bucket of published suites; keys not in it are missing, as S3 says to a caller who may list."""

    def __init__(self, objects: dict[str, bytes] | None = None, refuse: bool = False) -> None:
        self.objects = objects or {}
        self.refuse = refuse
        self.reads: list[str] = []

    def read(self, bucket: str, key: str) -> StoredSuite | None:
        self.reads.append(f"s3://{bucket}/{key}")
        if self.refuse:
            raise SetupFailed(f"cannot read the suite s3://{bucket}/{key}: AccessDenied: Access Denied")
        content = self.objects.get(key)
        return None if content is None else StoredSuite(content, "v7", '"e7"')


def published(stage_name: str) -> bytes:
    return yaml.safe_dump(suite_document(stage(stage_name, route("health")))).encode()


def first_answer(suites: PublishedSuites, **details: Any) -> tuple[EcsHookAnswer, ExecutionInput | None]:
    starter = RecordingStarter()
    answered = answer_hook(ecs_event(**details), CATALOG, starter, FakeExecutions(), suites)
    return answered, next(iter(starter.started.values()), None)


def deployment_of(document: ExecutionInput | None) -> EcsDeployment:
    assert document is not None
    return cast(EcsDeployment, document["deployment"])


def test_a_service_is_judged_by_the_suite_it_published_for_the_stage() -> None:
    # Given the web service of cluster shop published a suite for POST_TEST_TRAFFIC_SHIFT
    suites = PublishedSuites({WEB_KEY + ".yaml": published("catalogued")})
    # When ECS invokes the hook at that stage
    answered, document = first_answer(suites)
    # Then that suite runs, and the execution input records its version
    assert answered["hookStatus"] == "IN_PROGRESS"
    assert document is not None and document["suite"]["stages"][0]["name"] == "catalogued"
    assert deployment_of(document)["suiteSource"] == {
        "kind": "s3",
        "location": f"s3://{BUCKET}/{WEB_KEY}.yaml",
        "versionId": "v7",
        "etag": "e7",
    }


def test_without_a_published_suite_the_stages_bundled_one_runs() -> None:
    suites = PublishedSuites()
    answered, document = first_answer(suites)
    assert answered["hookStatus"] == "IN_PROGRESS"
    assert suites.reads == [f"s3://{BUCKET}/{WEB_KEY}.yaml", f"s3://{BUCKET}/{WEB_KEY}.json"]
    assert deployment_of(document)["suiteSource"] == {
        "kind": "file",
        "location": str(SUITES_DIR / "after-allow-test-traffic.yaml"),
    }


def test_a_stage_with_neither_a_published_nor_a_bundled_suite_has_nothing_to_validate_and_says_where_it_looked() -> (
    None
):
    answered = answer_hook(ecs_event("PRE_SCALE_UP"), CATALOG, RecordingStarter(), FakeExecutions(), PublishedSuites())
    assert answered["hookStatus"] == "SUCCEEDED"
    assert f"s3://{BUCKET}/tollgate/ecs/shop/web/PRE_SCALE_UP.yaml (or .json)" in answered["hookDetails"]["reason"]


def test_a_suite_uri_in_the_hook_details_wins_over_the_catalog() -> None:
    suites = PublishedSuites({WEB_KEY + ".yaml": published("catalogued"), "shared/smoke.json": published("shared")})
    answered, document = first_answer(suites, suite=f"s3://{BUCKET}/shared/smoke.json")
    assert answered["hookStatus"] == "IN_PROGRESS"
    assert document is not None and document["suite"]["stages"][0]["name"] == "shared"
    assert deployment_of(document)["suiteSource"]["location"] == f"s3://{BUCKET}/shared/smoke.json"


@pytest.mark.parametrize(
    ("suite", "reason"),
    [
        (f"s3://{BUCKET}/shared/missing.yaml", f"hookDetails.suite: s3://{BUCKET}/shared/missing.yaml does not exist"),
        ("s3://no-key", "invalid suite: hookDetails.suite: 's3://no-key' is no s3://<bucket>/<key> URI"),
    ],
)
def test_a_suite_uri_that_leads_nowhere_fails_the_stage_saying_why(suite: str, reason: str) -> None:
    answered, document = first_answer(PublishedSuites(), suite=suite)
    assert (answered["hookStatus"], answered["hookDetails"]["reason"]) == ("FAILED", reason)
    assert document is None


def test_an_invalid_published_suite_fails_the_stage_naming_the_field() -> None:
    broken = yaml.safe_dump({"version": 1, "stages": [{"name": "s", "routes": [{"name": "r"}]}]}).encode()
    answered, _ = first_answer(PublishedSuites({WEB_KEY + ".yaml": broken}))
    assert answered["hookStatus"] == "FAILED"
    assert answered["hookDetails"]["reason"].startswith(f"invalid suite: s3://{BUCKET}/{WEB_KEY}.yaml: stages[0]")


def test_a_catalog_the_hook_may_not_read_fails_the_stage_rather_than_falling_back() -> None:
    answered, document = first_answer(PublishedSuites(refuse=True))
    assert answered["hookStatus"] == "FAILED"
    assert "AccessDenied" in answered["hookDetails"]["reason"]
    assert document is None


def test_a_target_from_the_deployment_is_refused_for_ecs_naming_what_to_give_instead() -> None:
    document = suite_document(stage("smoke", route("health")))
    document["target"] = {"fromDeployment": "testListener"}
    settings = replace(CATALOG, target_base_url=None)
    answered = answer_hook(ecs_event(suite=document), settings, RecordingStarter(), FakeExecutions(), PublishedSuites())
    assert answered["hookStatus"] == "FAILED"
    assert answered["hookDetails"]["reason"].startswith("invalid suite: target.fromDeployment: only a CodeDeploy")
    assert "hookDetails.targetBaseUrl" in answered["hookDetails"]["reason"]


def test_with_the_catalog_on_a_service_arn_without_cluster_and_service_fails_the_stage_naming_it() -> None:
    event = ecs_event()
    event["executionDetails"]["serviceArn"] = "arn:aws:ecs:us-east-1:123456789012:service/web"  # the old format
    answered = answer_hook(event, CATALOG, RecordingStarter(), FakeExecutions(), PublishedSuites())
    assert answered["hookStatus"] == "FAILED"
    assert answered["hookDetails"]["reason"].startswith("executionDetails.serviceArn: ")


class SlowSuites:
    def read(self, bucket: str, key: str) -> StoredSuite | None:
        time.sleep(5)
        raise AssertionError("the hook should have stopped waiting")


def test_a_suite_that_cannot_be_read_in_time_fails_the_stage_while_ecs_still_listens() -> None:
    started = time.monotonic()
    answered = answer_hook(ecs_event(), CATALOG, RecordingStarter(), FakeExecutions(), SlowSuites(), 0.3)
    assert answered["hookStatus"] == "FAILED"
    assert answered["hookDetails"]["reason"].startswith("reading the suite took over")
    assert time.monotonic() - started < 3


def test_an_inline_suite_is_recorded_as_the_hook_details_one() -> None:
    answered, document = first_answer(PublishedSuites(), suite=suite_document(stage("inline", route("health"))))
    assert answered["hookStatus"] == "IN_PROGRESS"
    assert deployment_of(document)["suiteSource"] == {"kind": "inline", "location": "hookDetails.suite"}


def test_an_invoke_route_left_to_the_deployment_is_refused_for_ecs_naming_the_field() -> None:
    document = {"version": 1, "stages": [stage("s", {"name": "api", "invoke": {"payload": {}}})]}
    answered, started = first_answer(PublishedSuites(), suite=document)
    assert answered["hookStatus"] == "FAILED"
    assert answered["hookDetails"]["reason"].startswith(
        "invalid suite: invoke.function: only a CodeDeploy deployment names its listeners and function versions"
    )
    assert started is None
