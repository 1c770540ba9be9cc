"""Reading the SAM template as the local engine needs it: functions, the state machine, its rules.

Intrinsics (!Ref, !GetAtt, !Sub) resolve to local names and ARNs, the way CloudFormation would
resolve them to real ones.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

REGION = "us-east-1"
ACCOUNT_ID = "123456789012"
FUNCTION_TYPE = "AWS::Serverless::Function"
STATE_MACHINE_TYPE = "AWS::Serverless::StateMachine"


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
    definition: str  # DefinitionSubstitutions already applied, as SAM would


@dataclass
class AppTemplate:
    stack_name: str
    functions: dict[str, FunctionSpec] = field(default_factory=dict)  # by function name
    state_machine: StateMachineSpec | None = None

    def function(self, logical_id: str) -> FunctionSpec:
        return next(spec for spec in self.functions.values() if spec.logical_id == logical_id)

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
    """YAML with CloudFormation's short-form tags turned into their long form."""


def _construct_intrinsic(loader: yaml.SafeLoader, suffix: str, node: yaml.Node) -> dict[str, Any]:
    key = "Ref" if suffix == "Ref" else f"Fn::{suffix}"
    value: Any
    if isinstance(node, yaml.ScalarNode):
        value = loader.construct_scalar(node)
        if suffix == "GetAtt":
            value = str(value).split(".", 1)
    elif isinstance(node, yaml.SequenceNode):
        value = loader.construct_sequence(node, deep=True)
    else:
        value = loader.construct_mapping(node, deep=True)  # type: ignore[arg-type]
    return {key: value}


_CfnLoader.add_multi_constructor("!", _construct_intrinsic)


def read_template(path: Path) -> dict[str, Any]:
    document: dict[str, Any] = yaml.load(path.read_text(encoding="utf-8"), Loader=_CfnLoader)  # noqa: S506
    return document


def load_app(
    template_path: Path, stack_name: str = "tollgate-local", parameters: dict[str, str] | None = None
) -> AppTemplate:
    """The functions and state machine of a SAM template, resolved for local use."""
    document = read_template(template_path)
    root = template_path.parent
    resources: dict[str, Any] = document["Resources"]
    names = _ResourceNames(stack_name, resources, _parameter_values(document, parameters or {}))
    app = AppTemplate(stack_name)
    globals_ = document.get("Globals", {}).get("Function", {})
    for logical_id, resource in resources.items():
        if resource["Type"] == FUNCTION_TYPE:
            spec = _function_spec(logical_id, _merge(globals_, resource["Properties"]), root, names)
            app.functions[spec.name] = spec
        elif resource["Type"] == STATE_MACHINE_TYPE:
            app.state_machine = _state_machine_spec(logical_id, resource["Properties"], root, names)
    return app


def _merge(base: dict[str, Any], override: dict[str, Any]) -> dict[str, Any]:
    merged = dict(base)
    for key, value in override.items():
        merged[key] = (
            _merge(merged[key], value) if isinstance(value, dict) and isinstance(merged.get(key), dict) else value
        )
    return merged


def _parameter_values(document: dict[str, Any], overrides: dict[str, str]) -> dict[str, str]:
    values = {name: str(spec.get("Default", "")) for name, spec in document.get("Parameters", {}).items()}
    unknown = set(overrides) - set(values)
    if unknown:
        raise ValueError(f"unknown template parameters: {', '.join(sorted(unknown))}")
    return {**values, **overrides}


class _ResourceNames:
    """Resolves intrinsics against parameters, pseudo parameters and local resource names."""

    def __init__(self, stack_name: str, resources: dict[str, Any], parameters: dict[str, str]) -> None:
        self.stack_name = stack_name
        self.resources = resources
        self.values: dict[str, str] = {
            **parameters,
            "AWS::StackName": stack_name,
            "AWS::Region": REGION,
            "AWS::AccountId": ACCOUNT_ID,
            "AWS::Partition": "aws",
        }

    def physical_name(self, logical_id: str) -> str:
        resource = self.resources[logical_id]
        explicit = resource.get("Properties", {}).get("FunctionName")
        return str(self.resolve(explicit)) if explicit else f"{self.stack_name}-{logical_id}"

    def ref(self, name: str) -> str:
        if name in self.values:
            return self.values[name]
        if self.resources[name]["Type"] == STATE_MACHINE_TYPE:
            return self.attribute(name, "Arn")
        return self.physical_name(name)

    def attribute(self, logical_id: str, attribute: str) -> str:
        kind = self.resources[logical_id]["Type"]
        name = self.physical_name(logical_id)
        if attribute == "Name":
            return name
        if kind == FUNCTION_TYPE:
            return f"arn:aws:lambda:{REGION}:{ACCOUNT_ID}:function:{name}"
        if kind == STATE_MACHINE_TYPE:
            return f"arn:aws:states:{REGION}:{ACCOUNT_ID}:stateMachine:{name}"
        return f"arn:aws:local:{REGION}:{ACCOUNT_ID}:{logical_id}"

    def resolve(self, value: Any) -> Any:
        if isinstance(value, list):
            return [self.resolve(item) for item in value]
        if not isinstance(value, dict):
            return value
        if "Ref" in value:
            return self.ref(value["Ref"])
        if "Fn::GetAtt" in value:
            logical_id, attribute = value["Fn::GetAtt"]
            return self.attribute(logical_id, attribute)
        if "Fn::Sub" in value:
            return self._sub(value["Fn::Sub"])
        return {key: self.resolve(item) for key, item in value.items()}

    def _sub(self, spec: str | list[Any]) -> str:
        text, variables = (spec, {}) if isinstance(spec, str) else (spec[0], self.resolve(spec[1]))

        def replace(match: re.Match[str]) -> str:
            name = match.group(1)
            if name in variables:
                return str(variables[name])
            if "." in name and name not in self.values:
                logical_id, attribute = name.split(".", 1)
                return self.attribute(logical_id, attribute)
            return self.ref(name)

        return re.sub(r"\$\{([^}!]+)\}", replace, text)


def _function_spec(logical_id: str, properties: dict[str, Any], root: Path, names: _ResourceNames) -> FunctionSpec:
    name = names.physical_name(logical_id)
    variables = names.resolve(properties.get("Environment", {}).get("Variables", {}))
    return FunctionSpec(
        logical_id=logical_id,
        name=name,
        arn=names.attribute(logical_id, "Arn"),
        handler=properties["Handler"],
        code_dir=(root / properties["CodeUri"]).resolve(),
        timeout_seconds=float(properties.get("Timeout", 3)),
        environment={key: str(value) for key, value in variables.items()},
        **_execution_ended_rule(properties.get("Events", {})),
    )


def _execution_ended_rule(events: dict[str, Any]) -> dict[str, Any]:
    """The statuses and retries of an EventBridge rule on this state machine's execution status changes."""
    for event in events.values():
        rule = event.get("Properties", {})
        pattern = rule.get("Pattern", {})
        if event.get("Type") == "EventBridgeRule" and "Step Functions Execution Status Change" in pattern.get(
            "detail-type", []
        ):
            return {
                "execution_ended_statuses": tuple(pattern.get("detail", {}).get("status", [])),
                "execution_ended_retries": int(rule.get("RetryPolicy", {}).get("MaximumRetryAttempts", 185)),
            }
    return {}


def _state_machine_spec(
    logical_id: str, properties: dict[str, Any], root: Path, names: _ResourceNames
) -> StateMachineSpec:
    definition = (root / properties["DefinitionUri"]).read_text(encoding="utf-8")
    substitutions = names.resolve(properties.get("DefinitionSubstitutions", {}))
    for key, value in substitutions.items():
        definition = definition.replace("${" + key + "}", str(value))
    json.loads(definition)  # a placeholder left unsubstituted would fail on AWS too
    return StateMachineSpec(
        logical_id=logical_id,
        name=names.physical_name(logical_id),
        arn=names.attribute(logical_id, "Arn"),
        definition=definition,
    )
