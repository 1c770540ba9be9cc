from __future__ import annotations

import random

from tests.support.suites import route, stage, suite_document
from tollgate_core.backoff import delay_bound_seconds, jittered_delay_seconds
from tollgate_core.budget import worst_case_seconds
from tollgate_core.contracts import RetryPolicy
from tollgate_core.suite import parse_suite

RETRY: RetryPolicy = {"maxAttempts": 4, "intervalSeconds": 2, "backoffRate": 3.0}


def test_backoff_bound_grows_by_the_rate() -> None:
    assert [delay_bound_seconds(RETRY, n) for n in (1, 2, 3)] == [2.0, 6.0, 18.0]


def test_full_jitter_stays_between_zero_and_the_bound() -> None:
    rng = random.Random(7)
    delays = [jittered_delay_seconds(RETRY, 3, rng) for _ in range(500)]

    assert min(delays) == 0
    assert max(delays) == 18
    assert len(set(delays)) > 10


def test_zero_interval_never_waits() -> None:
    assert jittered_delay_seconds({**RETRY, "intervalSeconds": 0}, 3) == 0


def test_worst_case_counts_timeouts_waits_rounds_and_batches() -> None:
    # Given 12 routes at concurrency 10 (two batches), 2 attempts of 2 s with a 1 s wait, 3 rounds 5 s apart
    document = suite_document(
        stage("soak", *[route(f"r{i}") for i in range(12)], rounds=3, intervalSeconds=5),
        retry={"maxAttempts": 2, "intervalSeconds": 1},
    )

    # Then: per probe 2 x 2 + 1 = 5 s, per round 2 batches = 10 s, 3 rounds + 2 waits = 40 s
    assert worst_case_seconds(parse_suite(document).document) == 40.0
