"""Header values kept out of the workflow: references that a SecretResolver reads when the probe sends a request."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Protocol

from tollgate_core.contracts import HeaderValue, SecretReference

# Headers whose plain values would put a credential in the execution history.
_SENSITIVE_HEADER = re.compile(r"^(authorization|proxy-authorization|cookie)$|api[-_]?key|token|secret|passw", re.I)


class SecretUnavailable(Exception):
    """A referenced secret could not be read; the message names the reference, never a value."""


class SecretResolver(Protocol):
    """Reads the value a reference names; raises SecretUnavailable when it cannot. Adapters implement it."""

    def resolve(self, reference: SecretReference) -> str: ...


def describe_reference(reference: SecretReference) -> str:
    if "ssm" in reference:
        return f"ssm parameter {reference['ssm']}"
    key = f" key {reference['key']}" if "key" in reference else ""
    return f"secret {reference['secretsManager']}{key}"


def plain_secret_problems(headers: Mapping[str, HeaderValue], field: str) -> list[str]:
    """Sensitive headers given as plain strings: they must be references."""
    return [
        f"{field}.{name}: a plain value would show in the execution history and logs; use a reference "
        '{"secretsManager": "<arn or name>", "key": "<json key>"} or {"ssm": "<SecureString parameter>"}'
        for name, value in headers.items()
        if isinstance(value, str) and _SENSITIVE_HEADER.search(name)
    ]


def resolve_headers(headers: Mapping[str, HeaderValue], resolver: SecretResolver | None) -> dict[str, str]:
    """Plain values as they are; references replaced by what the resolver reads."""
    resolved: dict[str, str] = {}
    for name, value in headers.items():
        if isinstance(value, str):
            resolved[name] = value
        elif resolver is None:
            raise SecretUnavailable(f"header {name}: no secret resolver for {describe_reference(value)}")
        else:
            resolved[name] = resolver.resolve(value)
    return resolved
