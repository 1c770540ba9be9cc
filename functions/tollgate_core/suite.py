"""The validation suite: parsing a user's file into a checked, normalized model."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any, cast
from urllib.parse import urlsplit

from tollgate_core.budget import DEFAULT_HOOK_BUDGET_SECONDS, worst_case_seconds
from tollgate_core.checks import routes_of
from tollgate_core.contracts import Check, CheckKind, Expectations, Route, Stage, SuiteDocument, Target
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

_PERCENTILE = "a percentile such as p99 or p99.9 (p0 to p100, up to two decimals)"
_FRIENDLY_MESSAGES = {
    "status": 'must be a status class like "2xx", a code like 204, or a list of them',
    "name": "must be 1-64 letters, digits, '.', '_' or '-', starting with a letter or digit",
    "stat": f"must be Average, Minimum, Maximum or {_PERCENTILE}",
    "Stat": f"must be SampleCount, Sum, Average, Minimum, Maximum or {_PERCENTILE}",
    "loadBalancer": "must be app/<name>/<id>, the end of the load balancer's ARN",
    "targetGroup": "must be targetgroup/<name>/<id>, the end of the target group's ARN",
    "Id": "must start with a lowercase letter, followed by letters, digits or '_'",
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


def load_suite(path: str | Path, budget_seconds: float = DEFAULT_HOOK_BUDGET_SECONDS) -> Suite:
    """Read a YAML or JSON suite file and check it."""
    import yaml  # here, not at import: the hook's cold start pays only for what it uses

    source = str(path)
    text = _read_text(Path(path), source)
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as error:
        raise SuiteError([f"not valid YAML or JSON: {error}"], source) from None
    if data is None:
        raise SuiteError(["the file holds no suite: it is empty or only comments"], source)
    return parse_suite(data, budget_seconds, source)


def _read_text(path: Path, source: str) -> str:
    try:
        content = path.read_bytes()
    except OSError as error:
        raise SuiteError([f"cannot read the file: {error.strerror}"], source) from None
    if not content.strip():
        raise SuiteError(["the file is empty"], source)
    try:
        return content.decode("utf-8")
    except UnicodeDecodeError as error:
        problem = f"not UTF-8 text (byte 0x{content[error.start]:02x} at offset {error.start}); a suite is YAML or JSON"
        raise SuiteError([problem], source) from None


def parse_suite(data: Any, budget_seconds: float = DEFAULT_HOOK_BUDGET_SECONDS, source: str = "suite") -> Suite:
    """Check a suite document and return it normalized; raise SuiteError naming every problem."""
    problems = _schema_problems(data) or _metric_problems(data)
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
        "target": {**DEFAULT_TARGET, **data["target"], "baseUrl": data["target"]["baseUrl"].rstrip("/")},
        "retry": suite_retry,
        "maxConcurrency": data.get("maxConcurrency", DEFAULT_MAX_CONCURRENCY),
        "dryRun": data.get("dryRun", False),
        "stages": [_normalize_stage(stage, suite_retry) for stage in data["stages"]],
    }
    return cast(SuiteDocument, document)


def _normalize_stage(stage: dict[str, Any], suite_retry: dict[str, Any]) -> dict[str, Any]:
    checks: list[Check] = [_normalize_route(route, suite_retry) for route in stage.get("routes", [])]
    checks += [normalized_metric_check(check) for check in stage.get("metrics", [])]
    settings = {key: value for key, value in stage.items() if key not in ("routes", "metrics")}
    return {**DEFAULT_STAGE, **settings, "checks": checks}


def _normalize_route(route: dict[str, Any], suite_retry: dict[str, Any]) -> Route:
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


def _semantic_problems(document: SuiteDocument, budget_seconds: float) -> list[str]:
    problems: list[str] = []
    base_url_problem = _base_url_problem(document["target"]["baseUrl"])
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
        problems += _budget_problems(document, budget_seconds) + payload_problems(document)
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
