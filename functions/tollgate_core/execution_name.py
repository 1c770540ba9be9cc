"""The Step Functions execution name for one lifecycle hook execution."""

from __future__ import annotations

import hashlib
import re

MAX_NAME_CHARS = 80
_UNSAFE = re.compile(r"[^A-Za-z0-9_-]")


def execution_name(lifecycle_event: str, hook_execution_id: str) -> str:
    """Deterministic, so a repeated hook invocation cannot start a second validation.

    The hook execution id is a token of about 300 characters and names allow 80, so it is hashed;
    the lifecycle event stays readable in the console.
    """
    digest = hashlib.sha256(hook_execution_id.encode("utf-8")).hexdigest()[:40]
    prefix = _UNSAFE.sub("-", lifecycle_event)[: MAX_NAME_CHARS - len(digest) - 1]
    return f"{prefix}-{digest}" if prefix else digest
