"""Waits between attempts of a probe: exponential backoff with full jitter."""

from __future__ import annotations

import random

from tollgate_core.contracts import RetryPolicy


def delay_bound_seconds(retry: RetryPolicy, after_attempt: int) -> float:
    """The longest wait after attempt number `after_attempt` (1-based): interval x rate^(n-1)."""
    return float(retry["intervalSeconds"]) * float(retry["backoffRate"]) ** (after_attempt - 1)


def jittered_delay_seconds(retry: RetryPolicy, after_attempt: int, rng: random.Random | None = None) -> int:
    """A full-jitter wait in whole seconds, as Step Functions' Wait state takes them.

    Full jitter (uniform between zero and the bound) keeps many probes that failed together from
    retrying in lockstep against a target that is already struggling.
    """
    bound = delay_bound_seconds(retry, after_attempt)
    return round((rng or random).uniform(0, bound))
