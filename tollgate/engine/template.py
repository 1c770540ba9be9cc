"""The SAM template as the engine runs it: transformed by SAM, its intrinsics resolved as in one local stack."""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final
from urllib.parse import quote, unquote

import boto3
import yaml
from samtranslator.metrics.metrics import DummyMetricsPublisher, Metrics
from samtranslator.model.exceptions import InvalidDocumentException
from samtranslator.parser.parser import Parser
from samtranslator.translator.translator import Translator
from samtranslator.yaml_helper import intrinsics_multi_constructor

REGION = "us-east-1"
ACCOUNT_ID = "123456789012"
PARTITION = "aws"
FUNCTION_TYPE = "AWS::Lambda::Function"
STATE_MACHINE_TYPE = "AWS::StepFunctions::StateMachine"
RULE_TYPE = "AWS::Events::Rule"
EXECUTION_STATUS_CHANGE = "Step Functions Execution Status Change"
# EventBridge's default when a target sets no RetryPolicy.
DEFAULT_EVENT_RETRIES = 185
# SAM takes code and definitions from S3 only; local paths travel through the transform as keys in this bucket.
LOCAL_BUCKET = "tollgate-local"


class TemplateError(ValueError):
    """The template asks for something the engine cannot run or resolve; the message says where."""


@dataclass(frozen=True)
class FunctionSpec:
    logical_id: str
    name: str
    arn: str
    handler: str
    code_dir: Path
    timeout_seconds: float
    environment: dict[str, str]
    execution_ended_statuses: tuple[str, ...] = ()  # from an EventBridge rule on execution status changes
    execution_ended_retries: int = 0  # that rule's RetryPolicy.MaximumRetryAttempts


@dataclass(frozen=True)
class StateMachineSpec:
    logical_id: str
    name: str
    arn: str
    definition: str  # DefinitionSubstitutions already applied, as CloudFormation does


@dataclass(frozen=True)
class AppTemplate:
    stack_name: str
    functions: dict[str, FunctionSpec]  # by function name
    state_machine: StateMachineSpec

    def function(self, logical_id: str) -> FunctionSpec:
        for spec in self.functions.values():
            if spec.logical_id == logical_id:
                return spec
        raise KeyError(f"no function {logical_id} in the template")

    def hook_for(self, lifecycle_event: str) -> FunctionSpec | None:
        return next(
            (spec for spec in self.functions.values() if spec.environment.get("LIFECYCLE_EVENT") == lifecycle_event),
            None,
        )

    def lifecycle_events(self) -> list[str]:
        return [
            spec.environment["LIFECYCLE_EVENT"]
            for spec in self.functions.values()
            if "LIFECYCLE_EVENT" in spec.environment
        ]


class _CfnLoader(yaml.SafeLoader):
    """YAML with CloudFormation's short-form tags, without changing what yaml.safe_load does elsewhere."""


# samtranslator's own yaml_parse registers this constructor on yaml.SafeLoader itself, for the whole process.
_CfnLoader.add_multi_constructor("!", intrinsics_multi_constructor)


def read_template(path: Path) -> dict[str, Any]:
    """The template as written, short-form tags in their long form."""
    document: dict[str, Any] = yaml.load(path.read_text(encoding="utf-8"), Loader=_CfnLoader)  # noqa: S506
    return document


def load_app(template_path: Path, stack_name: str = "tollgate-local") -> AppTemplate:
    """The functions and state machine of a SAM template, as CloudFormation would create them in one stack."""
    stack = _Stack(_transform(read_template(template_path), stack_name), stack_name)
    root = template_path.parent
    state_machine = _state_machine_spec(stack, root)
    rules = _execution_ended_rules(stack, state_machine.arn)
    functions = [_function_spec(stack, logical_id, root, rules) for logical_id in stack.resources_of(FUNCTION_TYPE)]
    return AppTemplate(stack_name, {spec.name: spec for spec in functions}, state_machine)


def _transform(document: dict[str, Any], stack_name: str) -> dict[str, Any]:
    """The CloudFormation template SAM makes of a SAM template, with local code paths kept as S3 keys."""
    _point_local_paths_at_local_bucket(document)
    metrics = Metrics("ServerlessTransform", DummyMetricsPublisher())
    # samtranslator's transform() asks this machine's AWS configuration for the region; the engine's is fixed.
    translator = Translator(None, Parser(), boto_session=boto3.session.Session(region_name=REGION), metrics=metrics)
    try:
        template: dict[str, Any] = translator.translate(document, parameter_values=_pseudo_parameters(stack_name))
    except InvalidDocumentException as error:
        raise TemplateError("; ".join(cause.message for cause in error.causes)) from None
    finally:
        metrics.publish()  # to nowhere: metrics left unpublished make samtranslator warn at exit
    return template


def _point_local_paths_at_local_bucket(document: dict[str, Any]) -> None:
    function_globals = document.get("Globals", {}).get("Function", {})
    _local_path_as_s3_uri(function_globals, "CodeUri")
    for resource in document.get("Resources", {}).values():
        properties = resource.get("Properties", {})
        if resource.get("Type") == "AWS::Serverless::Function":
            _local_path_as_s3_uri(properties, "CodeUri")
        elif resource.get("Type") == "AWS::Serverless::StateMachine":
            _local_path_as_s3_uri(properties, "DefinitionUri")


def _local_path_as_s3_uri(properties: dict[str, Any], key: str) -> None:
    path = properties.get(key)
    if isinstance(path, str) and not path.startswith("s3://"):
        properties[key] = f"s3://{LOCAL_BUCKET}/{quote(path, safe='')}"


def _local_path(location: Any, bucket_key: str, key_key: str, root: Path, at: str) -> Path:
    if not isinstance(location, dict) or location.get(bucket_key) != LOCAL_BUCKET:
        raise TemplateError(f"{at}: the engine runs only what a local CodeUri or DefinitionUri points to")
    return (root / unquote(location[key_key])).resolve()


def _pseudo_parameters(stack_name: str) -> dict[str, str]:
    return {
        "AWS::StackName": stack_name,
        "AWS::Region": REGION,
        "AWS::AccountId": ACCOUNT_ID,
        "AWS::Partition": PARTITION,
        "AWS::URLSuffix": "amazonaws.com",
    }


@dataclass(frozen=True)
class _ResourceKind:
    name_property: str  # the property that names the resource, when the template sets it
    ref: str  # what Ref returns: "Name" or "Arn"
    arn_format: str
    attributes: tuple[str, ...]  # what Fn::GetAtt may ask for


_KINDS = {
    FUNCTION_TYPE: _ResourceKind(
        "FunctionName", "Name", "arn:{partition}:lambda:{region}:{account}:function:{name}", ("Arn",)
    ),
    STATE_MACHINE_TYPE: _ResourceKind(
        "StateMachineName", "Arn", "arn:{partition}:states:{region}:{account}:stateMachine:{name}", ("Arn", "Name")
    ),
    RULE_TYPE: _ResourceKind("Name", "Name", "arn:{partition}:events:{region}:{account}:rule/{name}", ("Arn",)),
    "AWS::IAM::Role": _ResourceKind("RoleName", "Name", "arn:{partition}:iam::{account}:role/{name}", ("Arn",)),
    "AWS::Logs::LogGroup": _ResourceKind(
        "LogGroupName", "Name", "arn:{partition}:logs:{region}:{account}:log-group:{name}:*", ("Arn",)
    ),
}
_NO_VALUE: Final = object()  # what Ref AWS::NoValue resolves to: the property or list item is left out
_SUB_VARIABLE = re.compile(r"\$\{([^}]*)\}")


class _Stack:
    """One stack of a transformed template: its values resolved as CloudFormation would, with local names."""

    def __init__(self, template: dict[str, Any], stack_name: str) -> None:
        self.name = stack_name
        self.resources: dict[str, dict[str, Any]] = template.get("Resources", {})
        self._parameters: dict[str, dict[str, Any]] = template.get("Parameters", {})
        self._conditions: dict[str, Any] = template.get("Conditions", {})
        self._mappings: dict[str, Any] = template.get("Mappings", {})
        self._pseudo = _pseudo_parameters(stack_name)
        self._truths: dict[str, bool] = {}
        self._naming: set[str] = set()  # resources whose names are being resolved, to catch a cycle
        self._evaluating: set[str] = set()  # conditions likewise
        self._functions: dict[str, Callable[[Any, str], Any]] = {
            "Ref": self._ref,
            "Fn::GetAtt": self._get_att,
            "Fn::Sub": self._sub,
            "Fn::Join": self._join,
            "Fn::Select": self._select,
            "Fn::Split": self._split,
            "Fn::If": self._if,
            "Fn::FindInMap": self._find_in_map,
        }

    def resources_of(self, resource_type: str) -> Iterator[str]:
        """Logical ids of the resources of this type that the stack creates (their Condition holds)."""
        for logical_id, resource in self.resources.items():
            if resource.get("Type") == resource_type and self._exists(logical_id, f"{logical_id}: Condition"):
                yield logical_id

    def property(self, logical_id: str, name: str, default: Any = None) -> Any:
        """A resource's property with every intrinsic resolved; `default` when absent or AWS::NoValue."""
        value = self.resources[logical_id].get("Properties", {}).get(name, _NO_VALUE)
        resolved = self.resolve(value, f"{logical_id}: {name}")
        return default if resolved is _NO_VALUE else resolved

    def physical_name(self, logical_id: str, at: str) -> str:
        kind = self._kind(logical_id, at)
        if logical_id in self._naming:
            raise TemplateError(f"{at}: the name of {logical_id} depends on itself")
        self._naming.add(logical_id)
        try:
            explicit = self.property(logical_id, kind.name_property)
        finally:
            self._naming.discard(logical_id)
        if explicit is None:
            return f"{self.name}-{logical_id}"
        return _text(explicit, f"{logical_id}: {kind.name_property}")

    def arn(self, logical_id: str, at: str) -> str:
        kind = self._kind(logical_id, at)
        name = self.physical_name(logical_id, at)
        return kind.arn_format.format(partition=PARTITION, region=REGION, account=ACCOUNT_ID, name=name)

    def resolve(self, value: Any, at: str) -> Any:
        if isinstance(value, list):
            items = (self.resolve(item, f"{at}[{index}]") for index, item in enumerate(value))
            return [item for item in items if item is not _NO_VALUE]
        if not isinstance(value, dict):
            return value
        if len(value) == 1:
            ((key, argument),) = value.items()
            if key == "Ref" or key.startswith("Fn::"):
                return self._intrinsic(key, argument, at)
        resolved = {key: self.resolve(item, f"{at}.{key}") for key, item in value.items()}
        return {key: item for key, item in resolved.items() if item is not _NO_VALUE}

    def _intrinsic(self, function: str, argument: Any, at: str) -> Any:
        evaluate = self._functions.get(function)
        if evaluate is None:
            raise TemplateError(f"{at}: cannot resolve {function}")
        return evaluate(argument, at)

    def _kind(self, logical_id: str, at: str) -> _ResourceKind:
        resource_type = self.resources[logical_id].get("Type", "")
        kind = _KINDS.get(resource_type)
        if kind is None:
            raise TemplateError(f"{at}: cannot resolve a reference to {logical_id} ({resource_type})")
        return kind

    def _exists(self, logical_id: str, at: str) -> bool:
        condition = self.resources[logical_id].get("Condition")
        return condition is None or self._condition(condition, at)

    def _ref(self, name: Any, at: str) -> Any:
        if not isinstance(name, str):
            raise TemplateError(f"{at}: Ref takes a name, not {_shape(name)}")
        if name == "AWS::NoValue":
            return _NO_VALUE
        if name in self._pseudo:
            return self._pseudo[name]
        if name in self._parameters:
            return self._parameter(name, at)
        if name in self.resources:
            self._require(name, at)
            return self.arn(name, at) if self._kind(name, at).ref == "Arn" else self.physical_name(name, at)
        raise TemplateError(f"{at}: cannot resolve Ref {name}: no such parameter or resource")

    def _get_att(self, argument: Any, at: str) -> str:
        match argument:
            case [str() as logical_id, str() as attribute]:
                pass
            case str() if "." in argument:
                logical_id, attribute = argument.split(".", 1)
            case _:
                raise TemplateError(f"{at}: Fn::GetAtt takes [resource, attribute] or resource.attribute")
        if logical_id not in self.resources:
            raise TemplateError(f"{at}: cannot resolve Fn::GetAtt {logical_id}.{attribute}: no such resource")
        self._require(logical_id, at)
        if attribute not in self._kind(logical_id, at).attributes:
            raise TemplateError(f"{at}: cannot resolve Fn::GetAtt {logical_id}.{attribute}")
        return self.physical_name(logical_id, at) if attribute == "Name" else self.arn(logical_id, at)

    def _require(self, logical_id: str, at: str) -> None:
        if not self._exists(logical_id, at):
            raise TemplateError(f"{at}: {logical_id} is not created (its Condition is false)")

    def _sub(self, argument: Any, at: str) -> str:
        match argument:
            case str() as template:
                variables: dict[str, Any] = {}
            case [str() as template, dict() as declared]:
                variables = self.resolve(declared, at)
            case _:
                raise TemplateError(f"{at}: Fn::Sub takes a string or [string, variables]")

        def value_of(match: re.Match[str]) -> str:
            name = match.group(1)
            if name.startswith("!"):
                return "${" + name[1:] + "}"
            if name in variables:
                return _text(variables[name], at)
            if "." in name:
                return self._get_att(name, at)
            return _text(self._ref(name, at), at)

        return _SUB_VARIABLE.sub(value_of, template)

    def _join(self, argument: Any, at: str) -> str:
        match argument:
            case [str() as delimiter, items]:
                return delimiter.join(_text(item, at) for item in self._list(items, "Fn::Join", at))
            case _:
                raise TemplateError(f"{at}: Fn::Join takes [delimiter, list]")

    def _select(self, argument: Any, at: str) -> Any:
        match argument:
            case [index, items]:
                values = self._list(items, "Fn::Select", at)
                position = _text(self.resolve(index, at), at)
                if not position.isdigit() or int(position) >= len(values):
                    raise TemplateError(f"{at}: Fn::Select: no item {position} in a list of {len(values)}")
                return values[int(position)]
            case _:
                raise TemplateError(f"{at}: Fn::Select takes [index, list]")

    def _split(self, argument: Any, at: str) -> list[str]:
        match argument:
            case [str() as delimiter, source]:
                return _text(self.resolve(source, at), at).split(delimiter)
            case _:
                raise TemplateError(f"{at}: Fn::Split takes [delimiter, string]")

    def _if(self, argument: Any, at: str) -> Any:
        match argument:
            case [str() as condition, when_true, when_false]:
                return self.resolve(when_true if self._condition(condition, at) else when_false, at)
            case _:
                raise TemplateError(f"{at}: Fn::If takes [condition, value if true, value if false]")

    def _find_in_map(self, argument: Any, at: str) -> Any:
        match argument:
            case [map_name, top_key, second_key]:
                keys = [_text(self.resolve(key, at), at) for key in (map_name, top_key, second_key)]
            case _:
                raise TemplateError(f"{at}: Fn::FindInMap takes [map, key, key]")
        found: Any = self._mappings
        for key in keys:
            if not isinstance(found, dict) or key not in found:
                raise TemplateError(f"{at}: cannot resolve Fn::FindInMap {'.'.join(keys)}: no {key}")
            found = found[key]
        return found

    def _list(self, value: Any, function: str, at: str) -> list[Any]:
        values = self.resolve(value, at)
        if not isinstance(values, list):
            raise TemplateError(f"{at}: {function} needs a list, not {_shape(values)}")
        return values

    def _parameter(self, name: str, at: str) -> str | list[str]:
        declaration = self._parameters[name]
        parameter_type = str(declaration.get("Type", "String"))
        if "Default" not in declaration:
            raise TemplateError(f"{at}: parameter {name} has no Default for the engine to use")
        if parameter_type.startswith("AWS::SSM::Parameter::Value"):
            raise TemplateError(f"{at}: parameter {name} is read from SSM Parameter Store, which the engine lacks")
        value = _text(declaration["Default"], f"Parameters.{name}.Default")
        if parameter_type == "CommaDelimitedList" or parameter_type.startswith("List<"):
            return [item.strip() for item in value.split(",")]
        return value

    def _condition(self, name: str, at: str) -> bool:
        if name not in self._truths:
            if name not in self._conditions:
                raise TemplateError(f"{at}: no condition named {name}")
            if name in self._evaluating:
                raise TemplateError(f"{at}: condition {name} depends on itself")
            self._evaluating.add(name)
            try:
                self._truths[name] = self._truth(self._conditions[name], f"{at}: condition {name}")
            finally:
                self._evaluating.discard(name)
        return self._truths[name]

    def _truth(self, expression: Any, at: str) -> bool:
        match expression:
            case {"Fn::Equals": [left, right]}:
                return self._comparable(left, at) == self._comparable(right, at)
            case {"Fn::Not": [operand]}:
                return not self._truth(operand, at)
            case {"Fn::And": [*operands]}:
                return all(self._truth(operand, at) for operand in operands)
            case {"Fn::Or": [*operands]}:
                return any(self._truth(operand, at) for operand in operands)
            case {"Condition": str() as name}:
                return self._condition(name, at)
            case {**only} if len(only) == 1:
                raise TemplateError(f"{at}: cannot evaluate {next(iter(only))} as a condition")
            case _:
                raise TemplateError(f"{at}: cannot evaluate {_shape(expression)} as a condition")

    def _comparable(self, value: Any, at: str) -> str | list[str]:
        resolved = self.resolve(value, at)
        if isinstance(resolved, list):
            return [_text(item, at) for item in resolved]
        return _text(resolved, at)


def _text(value: Any, at: str) -> str:
    """A single value as CloudFormation passes it on: text, booleans in lower case."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str | int | float):
        return str(value)
    raise TemplateError(f"{at}: expected a single value, not {_shape(value)}")


def _shape(value: Any) -> str:
    if value is _NO_VALUE:
        return "AWS::NoValue"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dict):
        return "an object"
    return "null" if value is None else f"a {type(value).__name__}"


def _state_machine_spec(stack: _Stack, root: Path) -> StateMachineSpec:
    state_machines = list(stack.resources_of(STATE_MACHINE_TYPE))
    if len(state_machines) != 1:
        raise TemplateError(f"the engine runs one state machine; the template declares {len(state_machines)}")
    (logical_id,) = state_machines
    return StateMachineSpec(
        logical_id=logical_id,
        name=stack.physical_name(logical_id, logical_id),
        arn=stack.arn(logical_id, logical_id),
        definition=_substituted_definition(stack, logical_id, root),
    )


def _substituted_definition(stack: _Stack, logical_id: str, root: Path) -> str:
    definition = _definition(stack, logical_id, root)
    substitutions: dict[str, Any] = stack.property(logical_id, "DefinitionSubstitutions", {})
    for key, value in substitutions.items():
        definition = definition.replace("${" + key + "}", _text(value, f"{logical_id}: DefinitionSubstitutions.{key}"))
    try:
        json.loads(definition)
    except json.JSONDecodeError as error:  # a placeholder left unsubstituted, for one
        raise TemplateError(f"{logical_id}: the substituted definition is not JSON: {error}") from None
    return definition


def _definition(stack: _Stack, logical_id: str, root: Path) -> str:
    inline = stack.property(logical_id, "DefinitionString")
    if inline is not None:
        return _text(inline, f"{logical_id}: DefinitionString")
    location = stack.property(logical_id, "DefinitionS3Location")
    path = _local_path(location, "Bucket", "Key", root, f"{logical_id}: DefinitionS3Location")
    return path.read_text(encoding="utf-8")


@dataclass(frozen=True)
class _ExecutionEndedRule:
    statuses: tuple[str, ...]
    retries: int


def _execution_ended_rules(stack: _Stack, state_machine_arn: str) -> dict[str, _ExecutionEndedRule]:
    """The EventBridge rules on this state machine's execution status changes, by target ARN."""
    rules: dict[str, _ExecutionEndedRule] = {}
    for logical_id in stack.resources_of(RULE_TYPE):
        pattern = stack.property(logical_id, "EventPattern", {})
        detail = pattern.get("detail", {})
        if EXECUTION_STATUS_CHANGE not in pattern.get("detail-type", []):
            continue
        if state_machine_arn not in detail.get("stateMachineArn", [state_machine_arn]):
            continue
        statuses = detail.get("status")
        if not isinstance(statuses, list) or not all(isinstance(status, str) for status in statuses):
            raise TemplateError(f"{logical_id}: EventPattern.detail.status: the engine needs a list of statuses")
        for target in stack.property(logical_id, "Targets", []):
            retries = target.get("RetryPolicy", {}).get("MaximumRetryAttempts", DEFAULT_EVENT_RETRIES)
            rules[target.get("Arn")] = _ExecutionEndedRule(tuple(statuses), int(retries))
    return rules


def _function_spec(stack: _Stack, logical_id: str, root: Path, rules: dict[str, _ExecutionEndedRule]) -> FunctionSpec:
    arn = stack.arn(logical_id, logical_id)
    rule = rules.get(arn, _ExecutionEndedRule((), 0))
    return FunctionSpec(
        logical_id=logical_id,
        name=stack.physical_name(logical_id, logical_id),
        arn=arn,
        handler=_handler(stack, logical_id),
        code_dir=_local_path(stack.property(logical_id, "Code"), "S3Bucket", "S3Key", root, f"{logical_id}: Code"),
        timeout_seconds=_timeout_seconds(stack, logical_id),
        environment=_environment(stack, logical_id),
        execution_ended_statuses=rule.statuses,
        execution_ended_retries=rule.retries,
    )


def _timeout_seconds(stack: _Stack, logical_id: str) -> float:
    timeout = _text(stack.property(logical_id, "Timeout", 3), f"{logical_id}: Timeout")
    try:
        return float(timeout)
    except ValueError:
        raise TemplateError(f"{logical_id}: Timeout: {timeout!r} is not a number of seconds") from None


def _handler(stack: _Stack, logical_id: str) -> str:
    handler = stack.property(logical_id, "Handler")
    if handler is None:
        raise TemplateError(f"{logical_id}: Handler: the engine runs functions with a handler, not images")
    return _text(handler, f"{logical_id}: Handler")


def _environment(stack: _Stack, logical_id: str) -> dict[str, str]:
    variables: dict[str, Any] = stack.property(logical_id, "Environment", {}).get("Variables", {})
    return {name: _text(value, f"{logical_id}: Environment.Variables.{name}") for name, value in variables.items()}
