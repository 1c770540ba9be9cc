"""`tollgate run` warms ahead only the check functions its suite invokes."""

from __future__ import annotations

from typing import Any

import pytest

from tests.support.suites import route, stage, suite_document, target_group_check
from tollgate.engine.engine import EngineError, LocalEngine
from tollgate.local_run import unused_check_functions
from tollgate_core.suite import parse_suite

ENGINE = LocalEngine()  # made, never started: it only reads template.yaml
PROBE = ENGINE.app.function("ProbeFunction").name
METRIC_READER = ENGINE.app.function("MetricReaderFunction").name


@pytest.mark.parametrize(
    ("routes", "metrics", "unused"),
    [
        ([route("health")], None, [METRIC_READER]),
        ([], [target_group_check("errors", "targetgroup/shop/1", errorRatePercent={"max": 1})], [PROBE]),
        (
            [route("health")],
            [target_group_check("errors", "targetgroup/shop/1", errorRatePercent={"max": 1})],
            [],
        ),
    ],
)
def test_the_check_functions_a_suite_never_invokes_are_left_cold(
    routes: list[dict[str, Any]], metrics: list[dict[str, Any]] | None, unused: list[str]
) -> None:
    suite = parse_suite(suite_document(stage("smoke", *routes, metrics=metrics)))

    assert unused_check_functions(ENGINE, suite) == unused


def test_only_a_function_the_engine_has_can_be_left_cold() -> None:
    with pytest.raises(EngineError, match="no function is named no-such-function"):
        LocalEngine().leave_cold("no-such-function")
