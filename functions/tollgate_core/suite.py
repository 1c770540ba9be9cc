"""The validation suite: parsing a user's file into a checked, normalized model."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any, cast
from urllib.parse import urlsplit

from tollgate_core.budget import DEFAULT_HOOK_BUDGET_SECONDS, worst_case_seconds
from tollgate_core.checks import routes_of
from tollgate_core.contracts import (
    Check,
    CheckKind,
    Expectations,
    FunctionInvocation,
    ListenerRole,
    Route,
    Stage,
    SuiteDocument,
    Target,
)
from tollgate_core.function_invocation import DEFAULT_INVOKE_TIMEOUT_SECONDS
from tollgate_core.metric_checks import metric_check_problems, normalized_metric_check
from tollgate_core.payload_size import payload_problems
from tollgate_core.secrets import plain_secret_problems

SUITE_VERSION = 1
DEFAULT_RETRY = {"maxAttempts": 3, "intervalSeconds": 1, "backoffRate": 2.0}
DEFAULT_TARGET = {"headers": {}, "timeoutSeconds": 2, "verifyTls": True}
DEFAULT_STAGE = {"rounds": 1, "intervalSeconds": 0, "maxFailedProbes": 0}
DEFAULT_ROUTE: dict[str, Any] = {
    "method": "GET",
    "headers": {},
    "body": None,
    "followRedirects": False,
    "allowRedirectHosts": [],
}
DEFAULT_MAX_CONCURRENCY = 10
# What an invoke route cannot have: it sends no HTTP request, and its answer has neither a status nor headers.
_HTTP_ROUTE_KEYS = ("method", "headers", "body", "followRedirects", "allowRedirectHosts")
_HTTP_EXPECT_KEYS = ("status", "headers")
# The longest function ARN Lambda accepts (64-character name, 128-character qualifier). The hook may fill one into
# every invoke route that names no function, so the payload check counts it there.
_LONGEST_FUNCTION_ARN = "arn:aws-us-gov:lambda:us-gov-west-1:123456789012:function:" + "f" * 64 + ":" + "q" * 128

_PERCENTILE = "a percentile such as p99 or p99.9 (p0 to p100, up to two decimals)"
_FRIENDLY_MESSAGES = {
    "status": 'must be a status class like "2xx", a code like 204, or a list of them',
    "name": "must be 1-64 letters, digits, '.', '_' or '-', starting with a letter or digit",
    "stat": f"must be Average, Minimum, Maximum or {_PERCENTILE}",
    "Stat": f"must be SampleCount, Sum, Average, Minimum, Maximum or {_PERCENTILE}",
    "loadBalancer": "must be app/<name>/<id>, the end of the load balancer's ARN",
    "targetGroup": "must be targetgroup/<name>/<id>, the end of the target group's ARN",
    "Id": "must start with a lowercase letter, followed by letters, digits or '_'",
    "function": "must be a function name (1-64 letters, digits, '-' or '_') or a function ARN "
    "(arn:aws:lambda:<region>:<account>:function:<name>), either optionally ending in :<version or alias>",
}


class SuiteError(ValueError):
    """A suite that cannot run; each problem names the field and what is wrong with it."""

    def __init__(self, problems: list[str], source: str = "suite") -> None:
        self.problems = problems
        self.source = source
        super().__init__("\n".join(f"{source}: {problem}" for problem in problems))


@dataclass(frozen=True)
class Suite:
    """A checked suite in its normalized document form (every default filled in).

    The document is what the workflow carries, so the console shows exactly what was checked.
    """

    document: SuiteDocument

    @property
    def stages(self) -> list[Stage]:
        return self.document["stages"]

    @property
    def target(self) -> Target:
        return self.document["target"]

    @property
    def dry_run(self) -> bool:
        """Whether the validation only says what it would have decided: its deployment always receives Succeeded."""
        return self.document["dryRun"]

    def with_base_url(self, base_url: str | None) -> Suite:
        """The same suite aimed at another listener (TARGET_BASE_URL, --target)."""
        if not base_url:
            return self
        problem = _base_url_problem(base_url)
        if problem:
            raise SuiteError([f"target base URL override {base_url!r}: {problem}"])
        document: SuiteDocument = {**self.document, "target": {**self.target, "baseUrl": base_url.rstrip("/")}}
        return Suite(document)

    @property
    def needs_deployment_target(self) -> ListenerRole | None:
        """The listener the hook must read from the deployment: `fromDeployment`, while HTTP routes have no URL yet."""
        if self.target["baseUrl"] or not any(_sends_http(route) for route in _routes(self.document)):
            return None
        return self.target.get("fromDeployment")

    @property
    def needs_function_target(self) -> bool:
        """Whether an invoke route names no function: the hook fills in the deployment's with with_function_target."""
        return any("function" not in invocation for invocation in _invocations(self.document))

    def with_function_target(self, function_arn: str) -> Suite:
        """The same suite with every invoke route that names no function invoking `function_arn`."""
        if not re.fullmatch(suite_schema()["$defs"]["functionName"]["pattern"], function_arn):
            raise SuiteError([f"function target {function_arn!r}: {_FRIENDLY_MESSAGES['function']}"])
        return Suite(_with_function_target(self.document, function_arn))


def load_suite(path: str | Path, budget_seconds: float = DEFAULT_HOOK_BUDGET_SECONDS) -> Suite:
    """Read a YAML or JSON suite file and check it."""
    source = str(path)
    try:
        content = Path(path).read_bytes()
    except OSError as error:
        raise SuiteError([f"cannot read the file: {error.strerror}"], source) from None
    return suite_from_bytes(content, source, budget_seconds)


def suite_from_bytes(content: bytes, source: str, budget_seconds: float = DEFAULT_HOOK_BUDGET_SECONDS) -> Suite:
    """Check a suite file's content, YAML or JSON, wherever it was read; `source` (a path, s3://bucket/key) names
    it in every problem."""
    import yaml  # here, not at import: the hook's cold start pays only for what it uses

    text = _decoded(content, source)
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as error:
        raise SuiteError([f"not valid YAML or JSON: {error}"], source) from None
    if data is None:
        raise SuiteError(["the file holds no suite: it is empty or only comments"], source)
    return parse_suite(data, budget_seconds, source)


def _decoded(content: bytes, source: str) -> str:
    if not content.strip():
        raise SuiteError(["the file is empty"], source)
    try:
        return content.decode("utf-8")
    except UnicodeDecodeError as error:
        problem = f"not UTF-8 text (byte 0x{content[error.start]:02x} at offset {error.start}); a suite is YAML or JSON"
        raise SuiteError([problem], source) from None


def parse_suite(data: Any, budget_seconds: float = DEFAULT_HOOK_BUDGET_SECONDS, source: str = "suite") -> Suite:
    """Check a suite document and return it normalized; raise SuiteError naming every problem."""
    problems = _schema_problems(data) or _route_problems(data) + _target_problems(data) + _metric_problems(data)
    if problems:
        raise SuiteError(problems, source)
    document = _normalize(data)
    problems = _semantic_problems(document, budget_seconds)
    if problems:
        raise SuiteError(problems, source)
    return Suite(document)


@cache
def suite_schema() -> dict[str, Any]:
    schema: dict[str, Any] = json.loads(
        resources.files("tollgate_core").joinpath("suite.schema.json").read_text(encoding="utf-8")
    )
    return schema


def _schema_problems(data: Any) -> list[str]:
    from jsonschema import Draft202012Validator

    validator = Draft202012Validator(suite_schema())
    errors = sorted(validator.iter_errors(data), key=lambda error: list(map(str, error.absolute_path)))
    return [f"{field_name(list(error.absolute_path))}: {_describe(error)}" for error in errors]


def field_name(path: list[Any]) -> str:
    """Render a path like ['stages', 0, 'routes'] as 'stages[0].routes'."""
    rendered = ""
    for part in path:
        rendered += f"[{part}]" if isinstance(part, int) else f".{part}"
    return rendered.lstrip(".") or "(top level)"


def _describe(error: Any) -> str:
    last = error.absolute_path[-1] if error.absolute_path else None
    parent = error.absolute_path[-2] if len(error.absolute_path) > 1 else None
    if error.validator == "oneOf" and parent == "headers":
        return (
            "must be visible Latin-1 text, or a reference "
            '{"secretsManager": "<arn or name>", "key": "<json key>"} or {"ssm": "<parameter name>"}'
        )
    if error.validator in ("oneOf", "pattern") and last in _FRIENDLY_MESSAGES:
        return f"{_FRIENDLY_MESSAGES[last]} (got {error.instance!r})"
    if error.validator == "anyOf" and parent == "stages":
        return "a stage needs routes, metrics or both"
    if error.validator == "additionalProperties":
        return f"unknown key: {error.message.split('(')[-1].rstrip(')')}"
    if error.validator == "required":
        return f"missing required key: {error.message.split()[0]}"
    return str(error.message)


def _route_problems(data: dict[str, Any]) -> list[str]:
    return [problem for field, route in _user_routes(data) for problem in _route_kind_problems(route, field)]


def _user_routes(data: dict[str, Any]) -> Iterator[tuple[str, dict[str, Any]]]:
    """Each route of a schema-checked document, with the field that names it."""
    for s, stage in enumerate(data["stages"]):
        for r, route in enumerate(stage.get("routes", [])):
            yield f"stages[{s}].routes[{r}]", route


def _route_kind_problems(route: dict[str, Any], field: str) -> list[str]:
    kinds = [kind for kind in ("path", "invoke") if kind in route]
    if len(kinds) != 1:
        found = ", ".join(kinds) or "none"
        return [f"{field}: give exactly one of path (an HTTP request) or invoke (a Lambda function) (found: {found})"]
    if "path" in route:
        return []
    problems = [
        f"{field}.{key}: an invoke route sends no HTTP request; {key} does not apply"
        for key in _HTTP_ROUTE_KEYS
        if key in route
    ]
    return problems + [
        f"{field}.expect.{key}: an invoke route judges the response payload; {key} does not apply"
        for key in _HTTP_EXPECT_KEYS
        if key in route.get("expect", {})
    ]


def _target_problems(data: dict[str, Any]) -> list[str]:
    given = [key for key in ("baseUrl", "fromDeployment") if key in data.get("target", {})]
    if len(given) > 1:
        return ["target: give either baseUrl or fromDeployment, not both"]
    # A route with both path and invoke is named once, by its own problem; only a plain HTTP route needs a target.
    http_route = next((field for field, route in _user_routes(data) if "path" in route and "invoke" not in route), None)
    if http_route and not given:
        return [f"target: {http_route} sends an HTTP request; give target.baseUrl or target.fromDeployment"]
    return []


def _metric_problems(data: dict[str, Any]) -> list[str]:
    return [
        problem
        for s, stage in enumerate(data["stages"])
        for m, check in enumerate(stage.get("metrics", []))
        for problem in metric_check_problems(check, f"stages[{s}].metrics[{m}]")
    ]


def _normalize(data: dict[str, Any]) -> SuiteDocument:
    """The user's document, schema-checked, with every default filled in: the workflow's typed suite."""
    suite_retry = {**DEFAULT_RETRY, **data.get("retry", {})}
    document = {
        "version": SUITE_VERSION,
        "target": _normalize_target(data.get("target", {})),
        "retry": suite_retry,
        "maxConcurrency": data.get("maxConcurrency", DEFAULT_MAX_CONCURRENCY),
        "dryRun": data.get("dryRun", False),
        "stages": [_normalize_stage(stage, suite_retry) for stage in data["stages"]],
    }
    return cast(SuiteDocument, document)


def _normalize_target(target: dict[str, Any]) -> Target:
    """`baseUrl` is "" until the hook resolves `fromDeployment`, and stays so in a suite that sends no HTTP."""
    normalized = {**DEFAULT_TARGET, **target, "baseUrl": target.get("baseUrl", "").rstrip("/")}
    if "fromDeployment" in target:
        normalized["fromDeployment"] = ListenerRole(target["fromDeployment"])
    return cast(Target, normalized)


def _normalize_stage(stage: dict[str, Any], suite_retry: dict[str, Any]) -> dict[str, Any]:
    checks: list[Check] = [_normalize_route(route, suite_retry) for route in stage.get("routes", [])]
    checks += [normalized_metric_check(check) for check in stage.get("metrics", [])]
    settings = {key: value for key, value in stage.items() if key not in ("routes", "metrics")}
    return {**DEFAULT_STAGE, **settings, "checks": checks}


def _normalize_route(route: dict[str, Any], suite_retry: dict[str, Any]) -> Route:
    if "invoke" in route:
        return _normalize_invoke_route(route, suite_retry)
    expect = {"status": "2xx", **route.get("expect", {})}
    status = expect["status"]
    expect["status"] = status if isinstance(status, list) else [status]
    normalized = {
        "kind": CheckKind.ROUTE,
        **DEFAULT_ROUTE,
        **route,
        "retry": {**suite_retry, **route.get("retry", {})},
        "expect": expect,
    }
    return cast(Route, normalized)


def _normalize_invoke_route(route: dict[str, Any], suite_retry: dict[str, Any]) -> Route:
    """An invoke route in the one Route shape: `path` "" and the HTTP defaults, which the probe does not read for it,
    and `expect.status` [] since a function's answer has no status to judge."""
    normalized = {
        "kind": CheckKind.ROUTE,
        "name": route["name"],
        "path": "",
        "invoke": {"payload": {}, "timeoutSeconds": DEFAULT_INVOKE_TIMEOUT_SECONDS, **route["invoke"]},
        **DEFAULT_ROUTE,
        "retry": {**suite_retry, **route.get("retry", {})},
        "expect": {"status": [], **route.get("expect", {})},
    }
    return cast(Route, normalized)


def _routes(document: SuiteDocument) -> Iterator[Route]:
    for stage in document["stages"]:
        yield from routes_of(stage)


def _sends_http(route: Route) -> bool:
    return "invoke" not in route


def _invocations(document: SuiteDocument) -> Iterator[FunctionInvocation]:
    for route in _routes(document):
        if "invoke" in route:
            yield route["invoke"]


def _with_function_target(document: SuiteDocument, function_arn: str) -> SuiteDocument:
    stages: list[Stage] = [
        {**stage, "checks": [_with_function(check, function_arn) for check in stage["checks"]]}
        for stage in document["stages"]
    ]
    return {**document, "stages": stages}


def _with_function(check: Check, function_arn: str) -> Check:
    if check["kind"] != CheckKind.ROUTE or "invoke" not in check or "function" in check["invoke"]:
        return check
    return {**check, "invoke": {"function": function_arn, **check["invoke"]}}


def _semantic_problems(document: SuiteDocument, budget_seconds: float) -> list[str]:
    problems: list[str] = []
    base_url = document["target"]["baseUrl"]
    base_url_problem = base_url and _base_url_problem(base_url)
    if base_url_problem:
        problems.append(f"target.baseUrl: {base_url_problem}")
    problems += plain_secret_problems(document["target"]["headers"], "target.headers")
    problems += _duplicate_names(document["stages"], "stages")
    for s, stage in enumerate(document["stages"]):
        problems += _duplicate_check_names(stage, f"stages[{s}]")
        probes = stage["rounds"] * len(stage["checks"])
        if stage["maxFailedProbes"] >= probes:
            problems.append(
                f"stages[{s}].maxFailedProbes: {stage['maxFailedProbes']} lets all {probes} probes "
                "of the stage fail; it must be smaller than rounds x (routes + metrics)"
            )
        for r, route in enumerate(routes_of(stage)):
            problems += plain_secret_problems(route["headers"], f"stages[{s}].routes[{r}].headers")
            problems += _expectation_problems(route["expect"], f"stages[{s}].routes[{r}].expect")
    if not problems:
        problems += _budget_problems(document, budget_seconds)
        problems += payload_problems(_with_function_target(document, _LONGEST_FUNCTION_ARN))
    return problems


def _base_url_problem(base_url: str) -> str | None:
    parts = urlsplit(base_url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return "must be an absolute http:// or https:// URL with a host"
    if parts.query or parts.fragment:
        return "must not carry a query or fragment; put them in each route's path"
    try:
        parts.port  # noqa: B018 - urlsplit checks the port only when it is read
    except ValueError:
        return "has an invalid port"
    return None


def _duplicate_names(items: list[Stage], field: str) -> list[str]:
    seen: set[str] = set()
    problems = []
    for index, item in enumerate(items):
        if item["name"] in seen:
            problems.append(f"{field}[{index}].name: {item['name']!r} is used twice")
        seen.add(item["name"])
    return problems


def _duplicate_check_names(stage: Stage, field: str) -> list[str]:
    """Routes and metric checks share one namespace: the reports list them side by side by name."""
    seen: set[str] = set()
    problems = []
    indexes = {CheckKind.ROUTE: 0, CheckKind.METRIC: 0}
    for check in stage["checks"]:
        index = indexes[check["kind"]]
        indexes[check["kind"]] += 1
        where = f"{field}.{'routes' if check['kind'] == CheckKind.ROUTE else 'metrics'}[{index}].name"
        if check["name"] in seen:
            problems.append(f"{where}: {check['name']!r} is used twice")
        seen.add(check["name"])
    return problems


def _expectation_problems(expect: Expectations, field: str) -> list[str]:
    problems = []
    if "bodyMatches" in expect:
        try:
            re.compile(expect["bodyMatches"])
        except re.error as error:
            problems.append(f"{field}.bodyMatches: invalid regular expression: {error}")
    for expression in expect.get("json", {}):
        problem = jsonpath_problem(expression)
        if problem:
            problems.append(f"{field}.json[{expression!r}]: invalid JSONPath: {problem}")
    return problems


def jsonpath_problem(expression: str) -> str | None:
    """Why a JSONPath expression cannot be used, or None."""
    from jsonpath_ng.ext import parse as parse_jsonpath  # type: ignore[attr-defined]

    if not expression.startswith("$"):
        return "must start with '$'"
    try:
        parse_jsonpath(expression)
    except Exception as error:  # noqa: BLE001 - jsonpath-ng raises bare Exception subclasses from its lexer and parser
        return str(error) or type(error).__name__
    return None


def _budget_problems(document: SuiteDocument, budget_seconds: float) -> list[str]:
    worst = worst_case_seconds(document)
    if worst <= budget_seconds:
        return []
    return [
        f"(suite): worst-case duration {worst:.0f} s exceeds the hook's time budget of "
        f"{budget_seconds:.0f} s; reduce rounds, intervals, retries or timeouts"
    ]
