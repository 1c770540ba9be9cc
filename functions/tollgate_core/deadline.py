"""Work a hook must finish while its invocation still has time to answer."""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import TimeoutError as Overran
from typing import TypeVar

from tollgate_core.ports import SetupFailed

Result = TypeVar("Result")


def within(seconds: float, doing: str, work: Callable[[], Result]) -> Result:
    """The work's result, or SetupFailed naming what it was `doing` once `seconds` have passed.

    Each AWS read retries throttling for up to a minute; several in a row could outlast the invocation, and a
    hook that times out answers nothing: CodeDeploy waits for an hour, ECS rolls back without a reason.
    """
    pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="hook-deadline")
    try:
        return pool.submit(work).result(timeout=max(seconds, 0.0))
    except Overran:
        raise SetupFailed(f"{doing} took over {seconds:.0f} s: AWS is slow or throttling") from None
    finally:
        pool.shutdown(wait=False, cancel_futures=True)
