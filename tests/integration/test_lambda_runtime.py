"""The local Lambda runtime on its own: each execution environment a process of its own, as the function is configured.

The functions here are written by the tests into a temporary CodeUri; the runtime runs them as it runs the app's.
"""

from __future__ import annotations

import json
import os
import sys
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

from tollgate.engine.lambda_runtime import ContradictoryQualifier, Invocation, LambdaRuntime, UnknownFunction
from tollgate.engine.stack import ACCOUNT_ID, REGION
from tollgate.engine.template import FunctionSpec

FUNCTION = "runtime-test"
FUNCTION_ARN = f"arn:aws:lambda:{REGION}:{ACCOUNT_ID}:function:{FUNCTION}"
HANDLER_CODE = """
import os, sys, time

INIT_PID = os.getpid()
INVOCATIONS = 0


def handler(event, context):
    global INVOCATIONS
    INVOCATIONS += 1
    if event.get("crash"):
        os._exit(3)
    if event.get("mark"):
        open(event["mark"], "w").close()
    time.sleep(event.get("sleep", 0))
    if event.get("fail"):
        raise ValueError("asked to fail")
    return {
        "pid": os.getpid(),
        "initPid": INIT_PID,
        "cwd": os.getcwd(),
        "path0": sys.path[0],
        "color": os.environ.get("COLOR"),
        "functionName": context.function_name,
        "invokedArn": context.invoked_function_arn,
        "invocations": INVOCATIONS,
    }
"""


@pytest.fixture
def code_dir(tmp_path: Path) -> Path:
    code = tmp_path / "code"
    code.mkdir()
    (code / "app.py").write_text(HANDLER_CODE, encoding="utf-8")
    return code


def spec_for(code_dir: Path, timeout_seconds: float = 10.0) -> FunctionSpec:
    return FunctionSpec(
        logical_id="RuntimeTestFunction",
        name=FUNCTION,
        arn=FUNCTION_ARN,
        handler="app.handler",
        code_dir=code_dir,
        timeout_seconds=timeout_seconds,
        environment={"COLOR": "blue"},
    )


@pytest.fixture
def runtime(code_dir: Path, tmp_path: Path) -> Iterator[LambdaRuntime]:
    with (tmp_path / "functions.log").open("ab") as log:
        local = LambdaRuntime({FUNCTION: spec_for(code_dir)}, "http://127.0.0.1:9", log)
        yield local
        local.stop()


def invoke(runtime: LambdaRuntime, event: dict[str, Any] | None = None) -> Invocation:
    return runtime.invoke(FUNCTION, json.dumps(event or {}).encode())


def answer(invocation: Invocation) -> dict[str, Any]:
    assert invocation.function_error is None, invocation.payload
    document: dict[str, Any] = json.loads(invocation.payload)
    return document


def concurrently(runtime: LambdaRuntime, events: list[dict[str, Any]]) -> list[Invocation]:
    with ThreadPoolExecutor(max_workers=len(events)) as pool:
        return list(pool.map(lambda event: invoke(runtime, event), events))


def process_exists(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def test_a_worker_runs_with_the_functions_environment_and_code_dir(runtime: LambdaRuntime, code_dir: Path) -> None:
    # When the function is invoked
    result = answer(invoke(runtime))

    # Then it ran in a process of its own, in its CodeUri, with its own variables and Lambda's
    assert result["pid"] != os.getpid()
    assert result["cwd"] == str(code_dir)
    assert result["path0"] == str(code_dir)
    assert result["color"] == "blue"
    assert result["functionName"] == FUNCTION


def test_concurrent_invocations_run_in_processes_of_their_own(runtime: LambdaRuntime) -> None:
    # When four invocations overlap
    results = [answer(invocation) for invocation in concurrently(runtime, [{"sleep": 0.5}] * 4)]

    # Then each ran in its own process, and none saw another's module state
    assert len({result["pid"] for result in results}) == 4
    assert [result["invocations"] for result in results] == [1, 1, 1, 1]


def test_a_warm_worker_keeps_its_state_between_invocations(runtime: LambdaRuntime) -> None:
    first = answer(invoke(runtime))
    second = answer(invoke(runtime))

    assert second["pid"] == first["pid"]
    assert second["invocations"] == first["invocations"] + 1


def test_a_reconfigured_function_gets_new_workers_with_the_new_environment(runtime: LambdaRuntime) -> None:
    # Given a function with a warm worker
    before = answer(invoke(runtime))

    # When its environment changes
    runtime.update_configuration(FUNCTION, {"COLOR": "green"})
    after = answer(invoke(runtime))

    # Then a new process, initialized with the new variables, answers; the old one is gone
    assert after["color"] == "green"
    assert after["pid"] != before["pid"]
    assert after["initPid"] != before["initPid"]
    assert not process_exists(before["pid"])

    # And restoring the template's configuration brings the template's variables back
    runtime.restore_configuration()
    assert answer(invoke(runtime))["color"] == "blue"


def test_a_crash_ends_only_the_worker_that_crashed(runtime: LambdaRuntime) -> None:
    # When one invocation crashes its process while another runs
    crashed, survived = concurrently(runtime, [{"crash": True, "sleep": 0}, {"sleep": 0.5}])

    # Then the crash is Lambda's exit error, the other invocation answers, and the function still serves
    assert crashed.function_error == "Unhandled"
    assert json.loads(crashed.payload)["errorType"] == "Runtime.ExitError"
    assert answer(survived)["color"] == "blue"
    assert answer(invoke(runtime))["color"] == "blue"


def test_a_timeout_ends_only_the_worker_that_timed_out(code_dir: Path, tmp_path: Path) -> None:
    with (tmp_path / "functions.log").open("ab") as log:
        runtime = LambdaRuntime({FUNCTION: spec_for(code_dir, timeout_seconds=0.5)}, "http://127.0.0.1:9", log)
        try:
            # Given a function with a short timeout and two warm workers
            concurrently(runtime, [{"sleep": 0.2}] * 2)
            before = {process.pid for process in runtime.processes()}

            # When one invocation outlives the timeout while a quick one runs beside it
            slow, quick = concurrently(runtime, [{"sleep": 5}, {"sleep": 0}])
            after = {process.pid for process in runtime.processes()}
        finally:
            runtime.stop()

    # Then the slow one timed out as on Lambda and only its process is gone; the quick one answered
    assert slow.function_error == "Unhandled"
    assert json.loads(slow.payload) == {
        "errorType": "Sandbox.Timedout",
        "errorMessage": "Task timed out after 0.50 seconds",
    }
    assert len(before - after) == 1
    assert answer(quick)["pid"] in after


def test_a_handler_error_comes_back_in_lambdas_shape(runtime: LambdaRuntime) -> None:
    failed = invoke(runtime, {"fail": True})

    assert failed.function_error == "Unhandled"
    error = json.loads(failed.payload)
    assert (error["errorType"], error["errorMessage"]) == ("ValueError", "asked to fail")
    assert answer(invoke(runtime))["invocations"] == 2  # the worker survived its handler's error


def test_a_failed_init_is_run_again_at_the_next_invocation(runtime: LambdaRuntime, code_dir: Path) -> None:
    # Given a function whose import fails
    (code_dir / "app.py").write_text("raise ImportError('no such module: missing')\n", encoding="utf-8")
    runtime.update_configuration(FUNCTION, {"COLOR": "red"})

    # When it is invoked, Then every invocation gets the import error
    failed = invoke(runtime)
    assert failed.function_error == "Unhandled"
    assert json.loads(failed.payload)["errorType"] == "Runtime.ImportModuleError"

    # And once the code imports again, the next invocation's init succeeds
    (code_dir / "app.py").write_text(HANDLER_CODE, encoding="utf-8")
    assert answer(invoke(runtime))["color"] == "red"


def test_a_prewarmed_function_answers_from_a_worker_made_in_advance(runtime: LambdaRuntime) -> None:
    # Given a function kept warm before anyone invokes it
    runtime.prewarm([FUNCTION])
    deadline = time.monotonic() + 30
    while len(runtime.processes()) < 2 and time.monotonic() < deadline:
        time.sleep(0.01)
    ready = {process.pid for process in runtime.processes()}

    # When it is invoked, Then a worker that existed already answers
    assert answer(invoke(runtime))["pid"] in ready


def test_a_handler_that_starts_threads_at_init_gets_workers_of_their_own(
    runtime: LambdaRuntime, code_dir: Path
) -> None:
    # Given a function whose import leaves a thread running (a process with threads is not forked)
    (code_dir / "app.py").write_text(
        "import threading, time\nthreading.Thread(target=time.sleep, args=(60,), daemon=True).start()\n" + HANDLER_CODE,
        encoding="utf-8",
    )
    runtime.update_configuration(FUNCTION, {"COLOR": "yellow"})

    # When invocations overlap, Then each still runs in its own process with the function's environment
    results = [answer(invocation) for invocation in concurrently(runtime, [{"sleep": 0.3}] * 2)]
    assert {result["color"] for result in results} == {"yellow"}
    assert len({result["pid"] for result in results}) == 2
    assert all(result["pid"] == result["initPid"] for result in results)


def test_stopping_leaves_no_process_behind(code_dir: Path, tmp_path: Path) -> None:
    # Given a runtime with warm workers and one busy with an invocation
    with (tmp_path / "functions.log").open("ab") as log:
        runtime = LambdaRuntime({FUNCTION: spec_for(code_dir)}, "http://127.0.0.1:9", log)
        concurrently(runtime, [{"sleep": 0.2}] * 3)
        started = tmp_path / "started"
        with ThreadPoolExecutor(max_workers=1) as pool:
            busy = pool.submit(invoke, runtime, {"mark": str(started), "sleep": 30})
            while not started.exists():
                time.sleep(0.01)
            processes = runtime.processes()

            # When it stops
            runtime.stop()

            # Then the busy invocation ended, and no process of the function is left
            assert json.loads(busy.result(timeout=10).payload)["errorType"] == "Runtime.ExitError"
    assert len(processes) >= 3
    assert all(process.poll() is not None for process in processes)
    assert not any(process_exists(process.pid) for process in processes)


@pytest.mark.skipif(sys.platform != "linux", reason="workers are forked from a zygote on Linux only")
def test_workers_are_forked_from_one_initialized_process(runtime: LambdaRuntime) -> None:
    results = [answer(invocation) for invocation in concurrently(runtime, [{"sleep": 0.3}] * 3)]

    # Then init ran once, in a process that none of the workers is
    init_pids = {result["initPid"] for result in results}
    assert len(init_pids) == 1
    assert not init_pids & {result["pid"] for result in results}


@pytest.mark.parametrize(
    ("function", "qualifier", "executed_version", "invoked_arn"),
    [
        (FUNCTION, None, "$LATEST", FUNCTION_ARN),
        (FUNCTION_ARN, None, "$LATEST", FUNCTION_ARN),
        (f"{FUNCTION_ARN}:7", None, "7", f"{FUNCTION_ARN}:7"),
        (f"{FUNCTION}:live", None, "live", f"{FUNCTION_ARN}:live"),
        (f"{ACCOUNT_ID}:function:{FUNCTION}", "$LATEST", "$LATEST", f"{FUNCTION_ARN}:$LATEST"),
        (FUNCTION, "2", "2", f"{FUNCTION_ARN}:2"),
        (f"{FUNCTION_ARN}:2", "2", "2", f"{FUNCTION_ARN}:2"),
    ],
)
def test_a_function_is_invoked_by_name_or_arn_at_any_version_or_alias(
    runtime: LambdaRuntime, function: str, qualifier: str | None, executed_version: str, invoked_arn: str
) -> None:
    # When the function is invoked by name, partial or full ARN, qualified or not
    invocation = runtime.invoke(function, b"{}", qualifier)

    # Then its one local version runs, and the version asked for is the one reported, as the context's ARN says
    assert answer(invocation)["invokedArn"] == invoked_arn
    assert invocation.executed_version == executed_version


def test_a_qualifier_that_contradicts_the_arns_is_refused(runtime: LambdaRuntime) -> None:
    with pytest.raises(ContradictoryQualifier, match="does not match"):
        runtime.invoke(f"{FUNCTION_ARN}:7", b"{}", "8")


@pytest.mark.parametrize(
    "function", ["other-function", f"{FUNCTION_ARN}-other:1", "arn:aws:lambda:us-east-1:123456789012:function:x"]
)
def test_an_unknown_function_is_unknown_whatever_the_qualifier(runtime: LambdaRuntime, function: str) -> None:
    with pytest.raises(UnknownFunction):
        runtime.invoke(function, b"{}")
