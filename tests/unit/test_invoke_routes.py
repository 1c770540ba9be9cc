"""Invoke routes: a Lambda function called synchronously and its response payload judged, from the suite to the probe.

Lambda is stubbed with botocore's Stubber. Where the Stubber cannot show it — a read timeout, the SDK making
exactly one request — a real client calls a loopback endpoint on 127.0.0.1 that answers as Lambda's Invoke API does.
"""

from __future__ import annotations

import io
import json
import random
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from botocore.config import Config
from botocore.response import StreamingBody
from botocore.stub import Stubber

from tests.support.suites import route, stage
from tests.support.target import Behaviour, TargetService, closed_port_url
from tollgate_core.aws_lambda import LambdaFunctionInvoker
from tollgate_core.budget import worst_case_seconds
from tollgate_core.checks import routes_of
from tollgate_core.contracts import ProbeResult, Route
from tollgate_core.probing import ProbeRequest, probe_attempt, probe_event
from tollgate_core.suite import Suite, SuiteError, parse_suite

FUNCTION = "arn:aws:lambda:us-east-1:123456789012:function:shop-api:7"
FUNCTION_HELP = (
    "must be a function name (1-64 letters, digits, '-' or '_') or a function ARN "
    "(arn:aws:lambda:<region>:<account>:function:<name>), either optionally ending in :<version or alias>"
)
INVOCATIONS_PATH = "/2015-03-31/functions/shop-api/invocations"


def invoke_route(name: str = "order-api", function: str | None = FUNCTION, **settings: Any) -> dict[str, Any]:
    """An invoke route of `function`; None leaves the function to the hook."""
    invoke = {"function": function} if function else {}
    return {"name": name, "invoke": {**invoke, **settings.pop("invoke", {})}, **settings}


def invoke_suite(*routes: dict[str, Any], **top: Any) -> dict[str, Any]:
    return {"version": 1, "stages": [stage("smoke", *(routes or [invoke_route()]))], **top}


def problems_of(document: dict[str, Any]) -> list[str]:
    with pytest.raises(SuiteError) as raised:
        parse_suite(document)
    return raised.value.problems


def only_route(suite: Suite) -> Route:
    return routes_of(suite.stages[0])[0]


# --- the suite -------------------------------------------------------------------------------------------------


def test_an_invoke_route_is_normalized_in_the_route_shape_with_its_defaults() -> None:
    # Given an invoke route that names only its function
    suite = parse_suite(invoke_suite(invoke_route()))

    # Then it carries the invocation's defaults, no HTTP path, no status to judge, and the unused HTTP defaults
    assert only_route(suite) == {
        "kind": "route",
        "name": "order-api",
        "path": "",
        "invoke": {"function": FUNCTION, "payload": {}, "timeoutSeconds": 30},
        "method": "GET",
        "headers": {},
        "body": None,
        "followRedirects": False,
        "allowRedirectHosts": [],
        "retry": {"maxAttempts": 3, "intervalSeconds": 1, "backoffRate": 2.0},
        "expect": {"status": []},
    }


def test_an_invoke_route_keeps_its_payload_timeout_and_payload_expectations() -> None:
    expect = {"json": {"$.status": "ok"}, "bodyContains": "ok", "bodyMatches": "o+", "maxLatencyMs": 800}
    document = invoke_suite(invoke_route(invoke={"payload": [1, "two"], "timeoutSeconds": 5}, expect=expect))

    normalized = only_route(parse_suite(document))

    assert normalized["invoke"] == {"function": FUNCTION, "payload": [1, "two"], "timeoutSeconds": 5}
    assert normalized["expect"] == {"status": [], **expect}


@pytest.mark.parametrize(
    "function",
    [
        "shop-api",
        "shop_api:live",
        "shop-api:$LATEST",
        "shop-api:12",
        "arn:aws:lambda:eu-west-1:123456789012:function:shop-api",
        FUNCTION,
        "arn:aws-us-gov:lambda:us-gov-west-1:123456789012:function:shop-api:live",
        "arn:aws-cn:lambda:cn-north-1:123456789012:function:shop-api",
    ],
)
def test_a_function_is_named_by_name_or_arn_either_qualified_or_not(function: str) -> None:
    suite = parse_suite(invoke_suite(invoke_route(function=function)))

    assert only_route(suite)["invoke"]["function"] == function


@pytest.mark.parametrize(
    ("route_document", "problem"),
    [
        (
            {"name": "both", "path": "/health", "invoke": {"function": "shop"}},
            "stages[0].routes[0]: give exactly one of path (an HTTP request) or invoke (a Lambda function) "
            "(found: path, invoke)",
        ),
        (
            {"name": "neither"},
            "stages[0].routes[0]: give exactly one of path (an HTTP request) or invoke (a Lambda function) "
            "(found: none)",
        ),
        (
            invoke_route(method="POST"),
            "stages[0].routes[0].method: an invoke route sends no HTTP request; method does not apply",
        ),
        (
            invoke_route(headers={"X-Trace": "1"}),
            "stages[0].routes[0].headers: an invoke route sends no HTTP request; headers does not apply",
        ),
        (
            invoke_route(body={"order": 1}),
            "stages[0].routes[0].body: an invoke route sends no HTTP request; body does not apply",
        ),
        (
            invoke_route(followRedirects=True),
            "stages[0].routes[0].followRedirects: an invoke route sends no HTTP request; "
            "followRedirects does not apply",
        ),
        (
            invoke_route(allowRedirectHosts=["auth.example.com"]),
            "stages[0].routes[0].allowRedirectHosts: an invoke route sends no HTTP request; "
            "allowRedirectHosts does not apply",
        ),
        (
            invoke_route(expect={"headers": {"Content-Type": "json"}}),
            "stages[0].routes[0].expect.headers: an invoke route judges the response payload; headers does not apply",
        ),
        (
            invoke_route(function="shop api"),
            f"stages[0].routes[0].invoke.function: {FUNCTION_HELP} (got 'shop api')",
        ),
        (
            invoke_route(function="arn:aws:lambda:us-east-1:12345:function:shop"),
            f"stages[0].routes[0].invoke.function: {FUNCTION_HELP} "
            "(got 'arn:aws:lambda:us-east-1:12345:function:shop')",
        ),
        (
            invoke_route(invoke={"timeoutSeconds": 61}),
            "stages[0].routes[0].invoke.timeoutSeconds: 61 is greater than the maximum of 60",
        ),
        (
            invoke_route(invoke={"qualifier": "live"}),
            "stages[0].routes[0].invoke: unknown key: 'qualifier' was unexpected",
        ),
        (
            invoke_route(expect={"json": {"status": "ok"}}),
            "stages[0].routes[0].expect.json['status']: invalid JSONPath: must start with '$'",
        ),
    ],
)
def test_a_malformed_invoke_route_is_named_by_its_field(route_document: dict[str, Any], problem: str) -> None:
    assert problems_of(invoke_suite(route_document)) == [problem]


def test_an_invoke_route_that_expects_a_status_is_told_the_payload_is_judged() -> None:
    # Given an HTTP route, then an invoke route that expects a status and headers
    document = invoke_suite(route("health"), invoke_route(expect={"status": 200, "headers": {"X": "1"}}))
    document["target"] = {"baseUrl": "http://127.0.0.1:9"}

    # Then both expectations are named, with the route's own index
    assert problems_of(document) == [
        "stages[0].routes[1].expect.status: an invoke route judges the response payload; status does not apply",
        "stages[0].routes[1].expect.headers: an invoke route judges the response payload; headers does not apply",
    ]


def test_the_hook_fills_in_the_function_of_invoke_routes_that_name_none() -> None:
    # Given a route that names no function, and one that does
    suite = parse_suite(
        invoke_suite(invoke_route("deployed", function=None), invoke_route("given", function="inventory"))
    )
    assert suite.needs_function_target is True

    # When the hook fills in the deployment's target version
    aimed = suite.with_function_target(FUNCTION)

    # Then only the route without one invokes it, nothing more is needed, and the suite it came from is unchanged
    deployed, kept = routes_of(aimed.stages[0])
    assert (deployed["invoke"]["function"], kept["invoke"]["function"]) == (FUNCTION, "inventory")
    assert aimed.needs_function_target is False
    assert "function" not in routes_of(suite.stages[0])[0]["invoke"]


def test_a_suite_whose_invoke_routes_name_their_functions_needs_nothing_from_the_deployment() -> None:
    suite = parse_suite(invoke_suite(invoke_route()))

    assert suite.needs_function_target is False
    assert suite.needs_deployment_target is None
    assert suite.with_function_target(FUNCTION) == suite


def test_a_function_target_that_is_no_function_arn_is_refused() -> None:
    suite = parse_suite(invoke_suite(invoke_route(function=None)))

    with pytest.raises(SuiteError) as raised:
        suite.with_function_target("arn:aws:s3:::bucket")

    assert str(raised.value) == f"suite: function target 'arn:aws:s3:::bucket': {FUNCTION_HELP}"


def test_the_worst_case_counts_each_invocation_at_its_timeout_plus_connecting() -> None:
    # Given 2 attempts that wait 10 s for the answer, after up to 5 s connecting, with a 1 s wait between them
    document = invoke_suite(invoke_route(invoke={"timeoutSeconds": 10}), retry={"maxAttempts": 2, "intervalSeconds": 1})

    # Then: 2 x (10 + 5) + 1 = 31 s
    assert worst_case_seconds(parse_suite(document).document) == 31.0


def test_the_document_size_check_counts_the_function_the_hook_may_fill_in() -> None:
    # Given 120 invoke routes: their documents fit while they name a short function, not with the longest ARN
    def suite_of(function: str | None) -> dict[str, Any]:
        routes = [invoke_route(f"fn-{i:03d}", function, invoke={"payload": {"pad": "p" * 300}}) for i in range(120)]
        return invoke_suite(*routes)

    # Then the suite that leaves the function to the hook is rejected before the hook could fill it in
    assert len(routes_of(parse_suite(suite_of("shop")).stages[0])) == 120
    assert problems_of(suite_of(None))[0].startswith(
        "(suite): the workflow would carry documents of up to 272 KiB between states"
    )


# --- the probe -------------------------------------------------------------------------------------------------


@pytest.fixture
def lambda_stub() -> Iterator[tuple[LambdaFunctionInvoker, Stubber]]:
    """An invoker over a client whose every call must have been expected, and every expected call made."""
    client = boto3.client("lambda", region_name="us-east-1", aws_access_key_id="x", aws_secret_access_key="x")
    with Stubber(client) as stubber:
        yield LambdaFunctionInvoker(lambda config: client), stubber
        stubber.assert_no_pending_responses()


def answer(payload: Any, function_error: str | None = None) -> dict[str, Any]:
    data = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
    response = {"StatusCode": 200, "Payload": StreamingBody(io.BytesIO(data), len(data)), "ExecutedVersion": "7"}
    return response | ({"FunctionError": function_error} if function_error else {})


def invocation(payload: Any = None) -> dict[str, Any]:
    return {
        "FunctionName": FUNCTION,
        "InvocationType": "RequestResponse",
        "Payload": json.dumps({} if payload is None else payload).encode(),
    }


def probe_invoke(invoker: LambdaFunctionInvoker | None, attempt: int = 1, **route_settings: Any) -> ProbeResult:
    suite = parse_suite(invoke_suite(invoke_route(**route_settings)))
    request = ProbeRequest("smoke", only_route(suite), suite.target, round=2, attempt=attempt)
    return probe_attempt(request, rng=random.Random(1), functions=invoker)


def test_a_passing_invocation_sends_the_payload_and_reports_lambdas_status_and_latency(
    lambda_stub: tuple[LambdaFunctionInvoker, Stubber],
) -> None:
    # Given a function that answers {"status": "ok", "items": 3}
    invoker, stubber = lambda_stub
    stubber.add_response("invoke", answer({"status": "ok", "items": 3}), invocation({"order": 42}))

    # When a route with that payload expects its JSON and its text
    result = probe_invoke(
        invoker,
        invoke={"payload": {"order": 42}},
        expect={"json": {"$.status": "ok", "$.items": 3}, "bodyContains": '"ok"', "bodyMatches": r"items.: 3"},
    )

    # Then the attempt passes with Lambda's status code and the call's latency
    assert (result["ok"], result["final"], result["reason"], result["statusCode"]) == (True, True, None, 200)
    assert result["latencyMs"] is not None and result["latencyMs"] >= 0
    assert (result["stage"], result["route"], result["round"], result["attempts"]) == ("smoke", "order-api", 2, 1)


@pytest.mark.parametrize(
    ("payload", "expect", "reason"),
    [
        ({"status": "degraded"}, {"json": {"$.status": "ok"}}, '$.status is "degraded", expected "ok"'),
        ({"status": "ok"}, {"json": {"$.version": 2}}, "$.version not found"),
        ({"status": "ok"}, {"bodyContains": "healthy"}, 'payload does not contain "healthy"'),
        (b"plain text", {"json": {"$.status": "ok"}}, "payload is not JSON"),
        ({"status": "ok"}, {"bodyMatches": "^ok"}, "payload does not match /^ok/"),
    ],
)
def test_a_payload_that_misses_an_expectation_fails_naming_it(
    lambda_stub: tuple[LambdaFunctionInvoker, Stubber], payload: Any, expect: dict[str, Any], reason: str
) -> None:
    invoker, stubber = lambda_stub
    stubber.add_response("invoke", answer(payload), invocation())

    result = probe_invoke(invoker, expect=expect, retry={"maxAttempts": 1})

    assert (result["ok"], result["final"], result["statusCode"]) == (False, True, 200)
    assert result["reason"] == reason


@pytest.mark.parametrize(
    ("kind", "payload", "reason"),
    [
        (
            "Unhandled",
            {"errorMessage": "bad input", "errorType": "ValueError", "stackTrace": ["  File ..."]},
            "function error (Unhandled): ValueError: bad input",
        ),
        ("Handled", {"errorMessage": "order 42 unknown"}, "function error (Handled): order 42 unknown"),
        ("Unhandled", b"Task timed out", 'function error (Unhandled): "Task timed out"'),
    ],
)
@pytest.mark.parametrize("expect", [{}, {"bodyContains": "error"}, {"json": {"$.errorMessage": "bad input"}}])
def test_a_function_error_fails_the_attempt_whatever_the_expectations(
    lambda_stub: tuple[LambdaFunctionInvoker, Stubber], kind: str, payload: Any, reason: str, expect: dict[str, Any]
) -> None:
    # Given a function that raised, and expectations its error document may even meet
    invoker, stubber = lambda_stub
    stubber.add_response("invoke", answer(payload, function_error=kind), invocation())

    result = probe_invoke(invoker, expect=expect, retry={"maxAttempts": 1})

    # Then the attempt fails, and the reason is the function's error type and message
    assert (result["ok"], result["statusCode"], result["reason"]) == (False, 200, reason)


def test_a_lambda_api_error_is_a_failed_attempt_retried_by_the_routes_policy(
    lambda_stub: tuple[LambdaFunctionInvoker, Stubber],
) -> None:
    invoker, stubber = lambda_stub
    message = f"Function not found: {FUNCTION}"
    stubber.add_client_error("invoke", "ResourceNotFoundException", message, 404)
    stubber.add_client_error("invoke", "AccessDeniedException", "not authorized to perform lambda:InvokeFunction", 403)
    retry = {"maxAttempts": 2, "intervalSeconds": 4}

    first = probe_invoke(invoker, attempt=1, retry=retry)
    last = probe_invoke(invoker, attempt=2, retry=retry)

    assert (first["ok"], first["final"], first["statusCode"]) == (False, False, None)
    assert first["reason"] == f"Lambda Invoke failed: ResourceNotFoundException: {message}"
    assert 0 <= first["retryInSeconds"] <= 4
    assert (last["ok"], last["final"], last["retryInSeconds"]) == (False, True, 0)
    assert last["reason"] == (
        "Lambda Invoke failed: AccessDeniedException: not authorized to perform lambda:InvokeFunction"
    )


def test_a_throttled_invocation_that_succeeds_on_its_retry_passes(
    lambda_stub: tuple[LambdaFunctionInvoker, Stubber],
) -> None:
    invoker, stubber = lambda_stub
    stubber.add_client_error("invoke", "TooManyRequestsException", "Rate exceeded", 429)
    stubber.add_response("invoke", answer({"status": "ok"}), invocation())
    retry = {"maxAttempts": 3, "intervalSeconds": 0}

    first = probe_invoke(invoker, attempt=1, retry=retry, expect={"json": {"$.status": "ok"}})
    second = probe_invoke(invoker, attempt=2, retry=retry, expect={"json": {"$.status": "ok"}})

    assert (first["ok"], first["final"], first["reason"]) == (
        False,
        False,
        "Lambda Invoke failed: TooManyRequestsException: Rate exceeded",
    )
    assert (second["ok"], second["final"], second["attempts"]) == (True, True, 2)


def test_the_invoker_makes_one_client_per_timeout_that_never_retries_by_itself(
    lambda_stub: tuple[LambdaFunctionInvoker, Stubber],
) -> None:
    # Given an invoker that records the configuration of each client it makes
    _, stubber = lambda_stub
    configs: list[Config] = []
    client = stubber.client

    def make_client(config: Config) -> Any:
        configs.append(config)
        return client

    invoker = LambdaFunctionInvoker(make_client)
    for timeout in (30, 30, 10):
        stubber.add_response("invoke", answer({"status": "ok"}))
        invoker.invoke("shop-api", b"{}", timeout)

    # Then one client per timeout, reading for that long after connecting for at most 5 s, with no SDK retry
    assert [(c.read_timeout, c.connect_timeout, c.retries) for c in configs] == [
        (30, 5, {"total_max_attempts": 1, "mode": "standard"}),
        (10, 5, {"total_max_attempts": 1, "mode": "standard"}),
    ]


def test_an_invoke_route_without_an_invoker_fails_saying_so() -> None:
    result = probe_invoke(None, retry={"maxAttempts": 1})

    assert (result["ok"], result["reason"]) == (False, f"no function invoker for {FUNCTION}")


# --- the probe's event --------------------------------------------------------------------------------------------


def invoke_event(**route_settings: Any) -> dict[str, Any]:
    suite = parse_suite(invoke_suite(invoke_route(**route_settings)))
    return {
        "stage": "smoke",
        "round": 1,
        "route": only_route(suite),
        "target": suite.target,
        "probe": {"result": {"attempts": 0}},
    }


def test_an_invoke_event_is_probed_without_the_http_fields_it_does_not_use(
    lambda_stub: tuple[LambdaFunctionInvoker, Stubber],
) -> None:
    # Given an invoke route's event without path, method, headers, body, redirects or a status list
    invoker, stubber = lambda_stub
    stubber.add_response("invoke", answer({"status": "ok"}), invocation())
    event = invoke_event()
    for field in ("path", "method", "headers", "body", "followRedirects", "allowRedirectHosts"):
        del event["route"][field]
    del event["route"]["expect"]["status"]

    # When the probe gets it / Then it invokes the function and passes
    assert probe_event(event, functions=invoker)["ok"] is True


REMOVED = object()


@pytest.mark.parametrize(
    ("field", "value", "problem"),
    [
        ("invoke", "shop-api", "route.invoke: expected an object, got str"),
        ("function", REMOVED, "route.invoke.function: missing"),
        ("function", 7, "route.invoke.function: expected str, got int"),
        ("payload", REMOVED, "route.invoke.payload: missing"),
        ("timeoutSeconds", "30", "route.invoke.timeoutSeconds: expected a number, got str"),
        ("timeoutSeconds", True, "route.invoke.timeoutSeconds: expected a number, got bool"),
    ],
)
def test_a_malformed_invocation_in_the_event_is_a_final_failed_probe_naming_the_field(
    field: str, value: Any, problem: str
) -> None:
    # Given an invoke route's event with one field of its invocation missing or of the wrong type
    event = invoke_event()
    container = event["route"] if field == "invoke" else event["route"]["invoke"]
    if value is REMOVED:
        del container[field]
    else:
        container[field] = value

    # When the probe gets it (with no invoker: nothing may be invoked)
    result = probe_event(event)

    # Then the probe fails for good, naming the field
    assert (result["ok"], result["final"], result["statusCode"]) == (False, True, None)
    assert result["reason"] == f"malformed probe event: {problem}"


# --- the AWS adapter against a loopback endpoint: what the Stubber cannot show -------------------------------


@pytest.fixture
def lambda_endpoint() -> Iterator[TargetService]:
    with TargetService() as service:
        yield service


def endpoint_invoker(endpoint_url: str) -> LambdaFunctionInvoker:
    def make_client(config: Config) -> Any:
        return boto3.client(
            "lambda",
            endpoint_url=endpoint_url,
            region_name="us-east-1",
            aws_access_key_id="x",
            aws_secret_access_key="x",
            config=config,
        )

    return LambdaFunctionInvoker(make_client)


def test_a_function_slower_than_the_timeout_fails_after_one_request(lambda_endpoint: TargetService) -> None:
    # Given a function that answers after 1 s, and a route that waits 0.2 s
    lambda_endpoint.routes[INVOCATIONS_PATH] = Behaviour(body={"status": "ok"}, delay_seconds=1.0)
    invoker = endpoint_invoker(lambda_endpoint.url)

    result = probe_invoke(invoker, function="shop-api", invoke={"timeoutSeconds": 0.2}, retry={"maxAttempts": 1})

    # Then the attempt fails saying how long it waited, and the SDK did not invoke the function again
    assert (result["ok"], result["statusCode"], result["reason"]) == (
        False,
        None,
        "no answer from the function within 0.2 s",
    )
    assert lambda_endpoint.hits[INVOCATIONS_PATH] == 1


def test_throttling_is_left_to_the_routes_retry_policy(lambda_endpoint: TargetService) -> None:
    # Given Lambda throttling the function
    lambda_endpoint.routes[INVOCATIONS_PATH] = Behaviour(
        status=429,
        body={"Type": "User", "message": "Rate exceeded"},
        headers={"x-amzn-ErrorType": "TooManyRequestsException"},
    )

    result = probe_invoke(endpoint_invoker(lambda_endpoint.url), function="shop-api")

    # Then the attempt fails at once, after one request, and the workflow retries it by the route's policy
    assert (result["ok"], result["final"]) == (False, False)
    assert result["reason"] == "Lambda Invoke failed: TooManyRequestsException: Rate exceeded"
    assert lambda_endpoint.hits[INVOCATIONS_PATH] == 1


def test_a_latency_over_the_limit_is_measured_on_the_call(lambda_endpoint: TargetService) -> None:
    lambda_endpoint.routes[INVOCATIONS_PATH] = Behaviour(body={"status": "ok"}, delay_seconds=0.15)

    result = probe_invoke(
        endpoint_invoker(lambda_endpoint.url),
        function="shop-api",
        expect={"maxLatencyMs": 100},
        retry={"maxAttempts": 1},
    )

    assert result["latencyMs"] is not None and result["latencyMs"] >= 150
    assert result["reason"] == f"latency {result['latencyMs']:.0f} ms over 100 ms"


def test_an_unreachable_lambda_endpoint_is_a_failed_attempt_naming_the_error() -> None:
    result = probe_invoke(endpoint_invoker(closed_port_url()), function="shop-api")

    assert (result["ok"], result["final"], result["statusCode"]) == (False, False, None)
    assert result["reason"] is not None
    assert result["reason"].startswith("Lambda Invoke failed: EndpointConnectionError: Could not connect")
