"""What an AWS stand-in answers, checked against botocore's model of the real service's output."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import botocore.session
from botocore.model import ListShape, MapShape, Shape, StructureShape

_SCALARS: dict[str, tuple[type, ...]] = {
    "string": (str,),
    "boolean": (bool,),
    "integer": (int,),
    "long": (int,),
    "float": (float, int),
    "double": (float, int),
    "timestamp": (datetime,),
    "blob": (bytes,),
}


def output_problems(service: str, operation: str, response: dict[str, Any]) -> list[str]:
    """Every member the operation's output does not declare, or whose value has the wrong type or enum value.

    `response` is what a boto3 client returned; its ResponseMetadata is the client's own.
    """
    shape = botocore.session.get_session().get_service_model(service).operation_model(operation).output_shape
    assert isinstance(shape, StructureShape)
    answered = {name: value for name, value in response.items() if name != "ResponseMetadata"}
    return list(_problems(answered, shape, operation))


def _problems(value: Any, shape: Shape, at: str) -> list[str]:
    if isinstance(shape, StructureShape):
        return _structure_problems(value, shape, at)
    if isinstance(shape, ListShape):
        if not isinstance(value, list):
            return [f"{at}: a {type(value).__name__}, not a list"]
        return [
            problem for index, item in enumerate(value) for problem in _problems(item, shape.member, f"{at}[{index}]")
        ]
    if isinstance(shape, MapShape):
        if not isinstance(value, dict):
            return [f"{at}: a {type(value).__name__}, not a map"]
        return [problem for key, item in value.items() for problem in _problems(item, shape.value, f"{at}.{key}")]
    if not isinstance(value, _SCALARS[shape.type_name]):
        return [f"{at}: a {type(value).__name__}, not a {shape.type_name}"]
    enum = shape.metadata.get("enum")
    if enum and value not in enum:
        return [f"{at}: {value!r} is none of {enum}"]
    return []


def _structure_problems(value: Any, shape: StructureShape, at: str) -> list[str]:
    if not isinstance(value, dict):
        return [f"{at}: a {type(value).__name__}, not a structure"]
    problems = [f"{at}.{name}: not a member of {shape.name}" for name in value if name not in shape.members]
    for name in shape.required_members:
        if name not in value:
            problems.append(f"{at}.{name}: required, missing")
    for name, item in value.items():
        if name in shape.members:
            problems += _problems(item, shape.members[name], f"{at}.{name}")
    return problems
