"""The probe loads boto3 only at a secret reference or an invoke route: it stays out of its import path, for a
short cold start.

Powertools imports the bare `botocore` package (a few hundred microseconds) to tag SDK calls;
its clients, sessions and boto3 itself must not load.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

FUNCTIONS = Path(__file__).resolve().parents[2] / "functions"


def run_python(code: str) -> str:
    # No region and no AWS config files: no AWS client can be created, so nothing can reach the network.
    env = {"PATH": "", "AWS_CONFIG_FILE": "/nonexistent", "AWS_SHARED_CREDENTIALS_FILE": "/nonexistent"}
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=FUNCTIONS, capture_output=True, text=True, check=True, env=env
    )
    return result.stdout


def modules_after_import(module: str) -> set[str]:
    return set(run_python(f"import sys, {module}; print('\\n'.join(sys.modules))").split())


def test_the_probe_does_not_import_boto3() -> None:
    loaded = modules_after_import("probe.app")

    assert "requests" in loaded
    assert (
        not {
            "boto3",
            "botocore.session",
            "botocore.client",
            "tollgate_core.aws_secrets",
            "tollgate_core.aws_lambda",
        }
        & loaded
    )


def test_an_http_probe_runs_without_loading_boto3() -> None:
    # Given a probe that has started, When it probes an HTTP route (nothing listens on port 9: connection refused)
    code = """
import sys, types, probe.app
from tollgate_core.suite import parse_suite
suite = parse_suite({"version": 1, "target": {"baseUrl": "http://127.0.0.1:9"},
                     "stages": [{"name": "smoke", "routes": [{"name": "health", "path": "/health"}]}]})
event = {"stage": "smoke", "round": 1, "route": suite.stages[0]["checks"][0], "target": suite.target,
         "probe": {"result": {"attempts": 0}}}
context = types.SimpleNamespace(function_name="probe", memory_limit_in_mb=256, aws_request_id="0",
                                invoked_function_arn="arn:aws:lambda:us-east-1:123456789012:function:probe")
print("reason:", probe.app.handler(event, context)["reason"])
print("boto3:", "boto3" in sys.modules)
"""
    # Then the attempt ran, and boto3 is still not loaded
    assert run_python(code).splitlines()[-2:] == ["reason: connection refused", "boto3: False"]


def test_the_secrets_port_does_not_import_its_adapter() -> None:
    loaded = modules_after_import("tollgate_core.secrets")

    assert not {"tollgate_core.aws_secrets", "aws_lambda_powertools.utilities.parameters", "botocore"} & loaded


def test_the_probe_loads_boto3_at_its_first_secret_reference() -> None:
    # Given a probe that has started, When it resolves a reference, Then boto3 is loaded only then
    code = """
import sys, probe.app
from tollgate_core.secrets import SecretUnavailable
print("before:", "boto3" in sys.modules)
try:
    probe.app.SECRETS.resolve({"ssm": "/shop/cookie"})
except SecretUnavailable as unavailable:
    print("reason:", unavailable)
print("after:", "boto3" in sys.modules)
"""
    assert run_python(code).splitlines() == [
        "before: False",
        "reason: ssm parameter /shop/cookie unavailable: NoRegionError",
        "after: True",
    ]


def test_the_probe_loads_boto3_at_its_first_invoke_route() -> None:
    # Given a probe that has started, When it invokes a function, Then boto3 is loaded only then
    code = """
import sys, probe.app
from tollgate_core.function_invocation import InvocationFailed
print("before:", "boto3" in sys.modules)
try:
    probe.app.FUNCTIONS.invoke("shop-api", b"{}", 30)
except InvocationFailed as failed:
    print("reason:", failed)
print("after:", "boto3" in sys.modules)
"""
    assert run_python(code).splitlines() == [
        "before: False",
        "reason: Lambda Invoke failed: NoRegionError: You must specify a region.",
        "after: True",
    ]


def test_the_tally_imports_neither_boto3_nor_requests() -> None:
    loaded = modules_after_import("tally.app")

    assert not {"boto3", "botocore.session", "requests", "yaml", "jsonschema"} & loaded
