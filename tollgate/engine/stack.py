"""A transformed template's values as CloudFormation resolves them in one stack, with local names and ARNs.

Intrinsics (Ref, GetAtt, Sub, Join, Select, Split, If, FindInMap) and conditions resolve against the
parameters' defaults and the stack's pseudo parameters; what cannot be resolved is a TemplateError naming
the resource and the property, never a wrong value.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any, Final

REGION = "us-east-1"
ACCOUNT_ID = "123456789012"
PARTITION = "aws"
FUNCTION_TYPE = "AWS::Lambda::Function"
STATE_MACHINE_TYPE = "AWS::StepFunctions::StateMachine"
RULE_TYPE = "AWS::Events::Rule"


class TemplateError(ValueError):
    """The template asks for something the engine cannot run or resolve; the message says where."""


def pseudo_parameters(stack_name: str) -> dict[str, str]:
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


class Stack:
    """One stack of a transformed template: its values resolved as CloudFormation would, with local names."""

    def __init__(self, template: dict[str, Any], stack_name: str) -> None:
        self.name = stack_name
        self.resources: dict[str, dict[str, Any]] = template.get("Resources", {})
        self.outputs: dict[str, dict[str, Any]] = template.get("Outputs", {})
        self._parameters: dict[str, dict[str, Any]] = template.get("Parameters", {})
        self._conditions: dict[str, Any] = template.get("Conditions", {})
        self._mappings: dict[str, Any] = template.get("Mappings", {})
        self._pseudo = pseudo_parameters(stack_name)
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
        return text(explicit, f"{logical_id}: {kind.name_property}")

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
                return text(variables[name], at)
            if "." in name:
                return self._get_att(name, at)
            return text(self._ref(name, at), at)

        return _SUB_VARIABLE.sub(value_of, template)

    def _join(self, argument: Any, at: str) -> str:
        match argument:
            case [str() as delimiter, items]:
                return delimiter.join(text(item, at) for item in self._list(items, "Fn::Join", at))
            case _:
                raise TemplateError(f"{at}: Fn::Join takes [delimiter, list]")

    def _select(self, argument: Any, at: str) -> Any:
        match argument:
            case [index, items]:
                values = self._list(items, "Fn::Select", at)
                position = text(self.resolve(index, at), at)
                if not position.isdigit() or int(position) >= len(values):
                    raise TemplateError(f"{at}: Fn::Select: no item {position} in a list of {len(values)}")
                return values[int(position)]
            case _:
                raise TemplateError(f"{at}: Fn::Select takes [index, list]")

    def _split(self, argument: Any, at: str) -> list[str]:
        match argument:
            case [str() as delimiter, source]:
                return text(self.resolve(source, at), at).split(delimiter)
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
                keys = [text(self.resolve(key, at), at) for key in (map_name, top_key, second_key)]
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
        value = text(declaration["Default"], f"Parameters.{name}.Default")
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
            return [text(item, at) for item in resolved]
        return text(resolved, at)


def text(value: Any, at: str) -> str:
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
