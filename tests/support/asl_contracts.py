"""Checks a state machine definition against the typed documents in `tollgate_core.contracts`.

Every JSONPath a state reads must name a field of the document it reads, every document a state
builds (`Parameters`, `ItemSelector`, `ResultSelector`) must have the fields of the document it
becomes, and every value a `Choice` compares must be one the domain can produce.

A `Choice` on a field that tells the members of a union apart (a `kind` whose type is a `Literal`)
narrows that union for the states it leads to, as a type checker narrows a tagged union.
"""

from __future__ import annotations

import json
import re
import types
from collections.abc import Iterator, Mapping
from enum import Enum
from pathlib import Path
from typing import Any, Literal, TypedDict, Union, get_args, get_origin, get_type_hints, is_typeddict

from tollgate_core import contracts

_PATH_TOKEN = re.compile(r"\.([A-Za-z_][\w]*)|\[(\d+)\]")
_PATHS_IN_EXPRESSION = re.compile(r"(?<![\w$])\$(?:\.[A-Za-z_]\w*|\[\d+\])*")
_PLACEHOLDER = re.compile(r"\$\{(\w+)\}")


class ContractMismatch(LookupError):
    pass


def load_definition(path: Path) -> dict[str, Any]:
    """The ASL with its DefinitionSubstitutions left as their names, so a task's function is recognisable."""
    text = _PLACEHOLDER.sub(_placeholder_value, path.read_text(encoding="utf-8"))
    definition: dict[str, Any] = json.loads(text)
    return definition


def _placeholder_value(match: re.Match[str]) -> str:
    return "3300" if match.group(1).endswith("Seconds") else match.group(1)


def field_type(document: Any, path: str) -> Any:
    """The type of the field a JSONPath names in a document of the given type; raise ContractMismatch if none."""
    if not path.startswith("$"):
        raise ContractMismatch(f"{path}: not a JSONPath")
    current = document
    walked = "$"
    for key, index in _PATH_TOKEN.findall(path[1:]):
        walked += f".{key}" if key else f"[{index}]"
        current = _step(current, key or int(index), walked)
    return current


def _step(document: Any, key: str | int, walked: str) -> Any:
    if document is Any:
        return Any
    members = _union_members(document)
    if len(members) > 1:
        found = [_try_step(member, key, walked) for member in members]
        kept = [result for result in found if result is not _MISSING]
        if not kept:
            raise ContractMismatch(f"{walked}: no such field in any of {_names(members)}")
        return kept[0] if len(kept) == 1 else Union[tuple(kept)]  # noqa: UP007 - built at run time
    result = _try_step(members[0], key, walked)
    if result is _MISSING:
        raise ContractMismatch(f"{walked}: no such field in {_names(members)}")
    return result


_MISSING = object()


def _try_step(document: Any, key: str | int, walked: str) -> Any:
    if document is Any:
        return Any
    if isinstance(key, int):
        return get_args(document)[0] if get_origin(document) is list else _MISSING
    if is_typeddict(document):
        return get_type_hints(document, vars(contracts)).get(key, _MISSING)
    if get_origin(document) is dict:
        return get_args(document)[1]
    return _MISSING


def _union_members(document: Any) -> tuple[Any, ...]:
    if get_origin(document) in (Union, types.UnionType):
        return tuple(member for member in get_args(document) if member is not type(None))
    return (document,)


def _names(members: tuple[Any, ...]) -> str:
    return " | ".join(getattr(member, "__name__", str(member)) for member in members)


def paths_in(value: str) -> list[str]:
    """The JSONPaths a `.$` value reads: itself, or those inside an intrinsic function; never context paths."""
    if value.startswith("$$"):
        return []
    if value.startswith("$"):
        return [value]
    return [path for path in _PATHS_IN_EXPRESSION.findall(value) if path]


def _value_type(state_type: Any, value: str) -> Any:
    """The type a `.$` value yields: a path's field type; an intrinsic function's result is not checked."""
    if value.startswith("$$") or not value.startswith("$"):
        for path in paths_in(value):
            field_type(state_type, path)
        return Any
    return field_type(state_type, value)


def built_document_problems(template: Any, target: Any, reads: Any, where: str) -> list[str]:
    """A Parameters-like template builds a document of type `target`, reading paths from a `reads` document."""
    attempts = [_built_problems(template, member, reads, where) for member in _union_members(target)]
    if any(not attempt for attempt in attempts):
        return []
    return min(attempts, key=lambda problems: len(problems))


def _built_problems(template: Any, target: Any, reads: Any, where: str) -> list[str]:
    if target is Any:
        return []
    if isinstance(template, dict) and len(_union_members(target)) > 1:
        return built_document_problems(template, target, reads, where)
    if not isinstance(template, dict):
        return [] if _literal_fits(template, target) else [f"{where}: {template!r} is not a {_names((target,))}"]
    if not is_typeddict(target):
        return [] if get_origin(target) is dict or target is Any else [f"{where}: builds an object, expected {target}"]
    fields = get_type_hints(target, vars(contracts))
    problems = []
    built = set()
    for key, value in template.items():
        name = key.removesuffix(".$")
        built.add(name)
        if name not in fields:
            problems.append(f"{where}.{name}: {target.__name__} has no field {name!r}")
            continue
        if key.endswith(".$"):
            try:
                source = _value_type(reads, value)
            except ContractMismatch as mismatch:
                problems.append(f"{where}.{name}: reads {mismatch}")
                continue
            if not compatible(source, fields[name]):
                problems.append(f"{where}.{name}: {value} is {source}, expected {fields[name]}")
        else:
            problems += _built_problems(value, fields[name], reads, f"{where}.{name}")
    missing = set(target.__required_keys__) - built
    if missing:
        problems.append(f"{where}: builds a {target.__name__} without {sorted(missing)}")
    return problems


def _literal_fits(value: Any, target: Any) -> bool:
    members = get_args(target) if get_origin(target) in (Union, types.UnionType) else (target,)
    for member in members:
        if member is Any or (value is None and member is type(None)):
            return True
        runtime = get_origin(member) or member
        if (
            isinstance(runtime, type)
            and isinstance(value, runtime)
            and not (isinstance(value, bool) and runtime is int)
        ):
            return True
        if runtime is float and isinstance(value, int) and not isinstance(value, bool):
            return True
    return False


def compatible(source: Any, target: Any) -> bool:
    """Whether a field of type `source` may be stored where a `target` is expected."""
    if source is Any or target is Any or source == target:
        return True
    if is_typeddict(source) and is_typeddict(target):
        return _structurally_compatible(source, target)
    targets = _union_members(target)
    if any(source == member for member in targets):
        return True
    sources = _union_members(source)
    if len(sources) > 1:
        return all(compatible(member, target) for member in sources)
    if isinstance(source, type) and issubclass(source, Enum):
        return any(isinstance(member, type) and issubclass(source, member) for member in targets)
    return False


def _structurally_compatible(source: Any, target: Any) -> bool:
    """Every field the target requires is in the source, of a compatible type."""
    source_fields = get_type_hints(source, vars(contracts))
    target_fields = get_type_hints(target, vars(contracts))
    return all(
        name in source_fields and compatible(source_fields[name], target_fields[name])
        for name in target.__required_keys__
    )


def _literal_values(leaf: Any) -> set[Any] | None:
    """The values a field of this type can hold, when the type names them (an enum or a Literal)."""
    if isinstance(leaf, type) and issubclass(leaf, Enum):
        return {member.value for member in leaf}
    members = _union_members(leaf)
    if all(get_origin(member) is Literal for member in members):
        return {getattr(value, "value", value) for member in members for value in get_args(member)}
    return None


def choice_value_problems(state_type: Any, rule: Mapping[str, Any], where: str) -> list[str]:
    """A Choice rule's Variable must exist, and the value it compares must be one the field can hold."""
    try:
        leaf = field_type(state_type, rule["Variable"])
    except ContractMismatch as mismatch:
        return [f"{where}: {mismatch}"]
    if "StringEquals" in rule:
        allowed = _literal_values(leaf)
        if allowed is None:
            return [f"{where}: {rule['Variable']} is {leaf}, not a set of values the domain names"]
        if rule["StringEquals"] not in allowed:
            return [
                f"{where}: {rule['StringEquals']!r} is never produced; {rule['Variable']} is one of {sorted(allowed)}"
            ]
    if "BooleanEquals" in rule and leaf is not bool:
        return [f"{where}: {rule['Variable']} is {leaf}, not a boolean"]
    return []


def state_paths(state: Mapping[str, Any]) -> Iterator[tuple[str, str]]:
    """(field, path) for every path a state reads from its own input."""
    for field in ("InputPath", "ItemsPath", "MaxConcurrencyPath", "SecondsPath"):
        if field in state:
            yield field, state[field]


# The functions the state machine invokes, by their DefinitionSubstitutions name: (event, answer).
FUNCTIONS: dict[str, tuple[Any, Any]] = {
    "ProbeFunctionArn": (contracts.ProbeEvent, contracts.ProbeResult),
    "MetricReaderFunctionArn": (contracts.MetricEvent, contracts.ProbeResult),
    "TallyFunctionArn": (contracts.TallyEvent, contracts.Progress),
    "ReporterFunctionArn": (contracts.ReportRequest, contracts.ExecutionOutput),
}


def definition_problems(definition: Mapping[str, Any]) -> list[str]:
    """Every mismatch between the definition and the contracts; empty when they agree."""
    return _states_problems(definition, contracts.WorkflowState, "")


def _states_problems(machine: Mapping[str, Any], state_type: Any, prefix: str) -> list[str]:
    """Each state checked against the type of the document it receives, narrowed by the choices before it."""
    states: Mapping[str, Any] = machine["States"]
    narrowings = _narrowings(states, machine["StartAt"], state_type)
    problems: list[str] = []
    for name, state in states.items():
        received = _narrowed(state_type, narrowings.get(name, {}))
        problems += _StateCheck(state, received, f"{prefix}{name}").problems()
    return problems


# For each top-level field of a state's document whose union a Choice narrowed: the members still possible.
Narrowing = dict[str, frozenset[Any]]


def _narrowings(states: Mapping[str, Any], start: str, state_type: Any) -> dict[str, Narrowing]:
    """What reaches each state, joined over every way into it (a fixed point over the state graph)."""
    reached: dict[str, Narrowing] = {start: {}}
    pending = [start]
    while pending:
        name = pending.pop()
        for successor, narrowing in _transitions(states[name], reached[name], state_type):
            joined = narrowing if successor not in reached else _join(reached[successor], narrowing)
            if successor not in reached or joined != reached[successor]:
                reached[successor] = joined
                pending.append(successor)
    return reached


def _join(first: Narrowing, second: Narrowing) -> Narrowing:
    """A field stays narrowed only where both ways in narrowed it; then to the members of either."""
    return {field: first[field] | second[field] for field in first.keys() & second.keys()}


def _transitions(state: Mapping[str, Any], narrowing: Narrowing, state_type: Any) -> Iterator[tuple[str, Narrowing]]:
    for catch in state.get("Catch", []):
        yield catch["Next"], narrowing
    if "Next" in state:
        yield state["Next"], narrowing
    if state["Type"] != "Choice":
        return
    excluded: dict[str, set[Any]] = {}
    for rule in state["Choices"]:
        tag = _tag_test(rule, state_type)
        if tag is None:
            yield rule["Next"], narrowing
            continue
        field, key, value = tag
        kept = _members_tagged(state_type, field, key, narrowing, lambda tag, value=value: tag == value)
        if kept:  # else no document takes this way; the rule's value is reported as never produced
            yield rule["Next"], {**narrowing, field: kept}
        excluded.setdefault(f"{field}.{key}", set()).add(value)
    default = dict(narrowing)
    for field_key, values in excluded.items():
        field, key = field_key.split(".")
        default[field] = _members_tagged(
            state_type, field, key, narrowing, lambda tag, values=values: tag not in values
        )
    if "Default" in state:
        yield state["Default"], default


def _tag_test(rule: Mapping[str, Any], state_type: Any) -> tuple[str, str, str] | None:
    """(field, key, value) for a rule `$.field.key == value` where `key` tells a union's members apart."""
    parts = rule.get("Variable", "").split(".")
    if "StringEquals" not in rule or len(parts) != 3 or parts[0] != "$":
        return None
    try:
        members = _union_members(field_type(state_type, f"$.{parts[1]}"))
    except ContractMismatch:
        return None  # reported by the rule's own check
    if len(members) < 2 or any(_tag_of(member, parts[2]) is None for member in members):
        return None
    return parts[1], parts[2], rule["StringEquals"]


def _members_tagged(state_type: Any, field: str, key: str, narrowing: Narrowing, keep: Any) -> frozenset[Any]:
    members = narrowing.get(field) or frozenset(_union_members(field_type(state_type, f"$.{field}")))
    return frozenset(member for member in members if keep(_tag_of(member, key)))


def _tag_of(member: Any, key: str) -> Any:
    if not is_typeddict(member):
        return None
    values = _literal_values(get_type_hints(member, vars(contracts)).get(key))
    return next(iter(values)) if values and len(values) == 1 else None


def _narrowed(state_type: Any, narrowing: Narrowing) -> Any:
    """The state's document type with each narrowed field's union cut down to the members still possible."""
    if not narrowing or not is_typeddict(state_type):
        return state_type
    fields = get_type_hints(state_type, vars(contracts), include_extras=True)
    for field, members in narrowing.items():
        fields[field] = Union[tuple(members)] if len(members) > 1 else next(iter(members))  # noqa: UP007
    return TypedDict(f"{state_type.__name__}Narrowed", fields)  # type: ignore[operator]


class _StateCheck:
    def __init__(self, state: Mapping[str, Any], state_type: Any, where: str) -> None:
        self.state = state
        self.state_type = state_type
        self.where = where
        self.found: list[str] = []

    def problems(self) -> list[str]:
        effective = self.read(self.state_type, self.state.get("InputPath", "$"), "InputPath")
        if effective is None:
            return self.found
        for field in ("ItemsPath", "MaxConcurrencyPath", "SecondsPath"):
            if field in self.state:
                self.read(effective, self.state[field], field)
        kind = self.state["Type"]
        result: Any = effective
        if kind == "Choice":
            for index, rule in enumerate(self.state["Choices"]):
                self.found += choice_value_problems(effective, rule, f"{self.where}.Choices[{index}]")
        elif kind == "Pass" and "Parameters" in self.state:
            result = self.built(self.state["Parameters"], effective, "Parameters")
        elif kind == "Task":
            result = self.task(effective)
        elif kind == "Map":
            self.map(effective)
        for index, catch in enumerate(self.state.get("Catch", [])):
            self.read(self.state_type, catch["ResultPath"], f"Catch[{index}].ResultPath")
        output = self.state_type if self.state.get("ResultPath", "$") != "$" else result
        if "ResultPath" in self.state and self.state["ResultPath"] != "$":
            self.read(self.state_type, self.state["ResultPath"], "ResultPath")
        if "OutputPath" in self.state:
            self.read(output, self.state["OutputPath"], "OutputPath")
        return self.found

    def read(self, document: Any, path: str, field: str) -> Any:
        try:
            return field_type(document, path)
        except ContractMismatch as mismatch:
            self.found.append(f"{self.where}.{field}: {mismatch}")
            return None

    def built(self, template: Any, reads: Any, field: str) -> Any:
        """A document built by a template and stored at the state's ResultPath: its type is that field's."""
        target = self.read(self.state_type, self.state.get("ResultPath", "$"), "ResultPath")
        if target is not None:
            self.found += built_document_problems(template, target, reads, f"{self.where}.{field}")
        return target

    def task(self, effective: Any) -> Any:
        parameters = self.state["Parameters"]
        event_type, answer_type = FUNCTIONS[parameters["FunctionName"]]
        if "Payload.$" in parameters:
            source = self.read(effective, parameters["Payload.$"], "Parameters.Payload")
            if source is not None and not compatible(source, event_type):
                self.found.append(f"{self.where}.Parameters.Payload: {source} is not a {event_type.__name__}")
        else:
            self.found += built_document_problems(
                parameters["Payload"], event_type, effective, f"{self.where}.Parameters.Payload"
            )
        invoke_result = _invoke_result(answer_type)
        if "ResultSelector" in self.state:
            return self.built(self.state["ResultSelector"], invoke_result, "ResultSelector")
        return invoke_result

    def map(self, effective: Any) -> None:
        items = self.read(effective, self.state["ItemsPath"], "ItemsPath")
        if items is not None and get_origin(items) is not list:
            self.found.append(f"{self.where}.ItemsPath: {self.state['ItemsPath']} is {items}, not a list")
        iteration = contracts.CheckIteration
        self.found += built_document_problems(
            self.state["ItemSelector"], iteration, effective, f"{self.where}.ItemSelector"
        )
        self.found += _states_problems(self.state["ItemProcessor"], iteration, f"{self.where} > ")
        results = self.read(self.state_type, self.state["ResultPath"], "ResultPath")
        if results is not None and get_origin(results) is not list:
            self.found.append(f"{self.where}.ResultPath: {self.state['ResultPath']} is {results}, not a list")


def _invoke_result(answer_type: Any) -> Any:
    """What `arn:aws:states:::lambda:invoke` returns, with this function's answer as the Payload."""
    fields = {**get_type_hints(contracts.LambdaInvokeResult, vars(contracts)), "Payload": answer_type}
    return TypedDict(f"InvokeResultOf{answer_type.__name__}", fields)  # type: ignore[operator]
