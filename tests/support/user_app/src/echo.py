"""A user's function: answers with the payload it was given, or raises when the payload asks it to."""

from __future__ import annotations

import json
import os
from typing import Any


class EchoFailure(RuntimeError):
    pass


def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    for line in range(int(event.get("logLines", 0))):  # as a chatty function logs: one JSON document a line
        print(json.dumps({"line": line, "function": context.function_name, "padding": "x" * 200}))
    if event.get("fail"):
        raise EchoFailure(str(event["fail"]))
    return {"echo": event, "greeting": os.environ.get("GREETING"), "function": context.function_name}
