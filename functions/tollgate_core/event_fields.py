"""Reading a function's event field by field: a malformed event is named by its field, never a KeyError."""

from __future__ import annotations

from typing import Any


class MalformedEvent(ValueError):
    """The event is not the document the function takes; the message names the field and the problem."""


def object_of(value: Any, field: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise MalformedEvent(f"{field}: expected an object, got {type(value).__name__}")
    return value


def field_of(document: dict[str, Any], name: str, prefix: str = "") -> Any:
    if name not in document:
        raise MalformedEvent(f"{prefix}{name}: missing")
    return document[name]


def typed_field(document: dict[str, Any], name: str, kind: Any, prefix: str = "") -> Any:
    value = field_of(document, name, prefix)
    # bool is an int in Python, but never a count, a bound or a number of seconds here.
    if not isinstance(value, kind) or (isinstance(value, bool) and kind is not bool):
        expected = kind.__name__ if isinstance(kind, type) else "a number"
        raise MalformedEvent(f"{prefix}{name}: expected {expected}, got {type(value).__name__}")
    return value


def check_fields(document: dict[str, Any], fields: dict[str, type | tuple[type, ...]], prefix: str) -> None:
    for name, kind in fields.items():
        typed_field(document, name, kind, prefix)
