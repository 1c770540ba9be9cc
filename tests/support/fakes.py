"""In-memory stand-ins for the domain's ports, recording what happened."""

from __future__ import annotations

from typing import Any

from tollgate_core.ports import ALREADY_COMPLETED, RECORDED, HookIds


class RecordingStatusReporter:
    """A CodeDeploy that keeps the first status per hook, as the real one does."""

    def __init__(self) -> None:
        self.calls: list[tuple[HookIds, str]] = []
        self.statuses: dict[HookIds, str] = {}

    def report(self, hook: HookIds, status: str) -> str:
        self.calls.append((hook, status))
        if hook in self.statuses:
            return ALREADY_COMPLETED
        self.statuses[hook] = status
        return RECORDED


class RecordingStarter:
    def __init__(self) -> None:
        self.started: dict[str, dict[str, Any]] = {}

    def start(self, name: str, document: dict[str, Any]) -> str:
        from tollgate_core.ports import ValidationAlreadyStarted

        if name in self.started:
            raise ValidationAlreadyStarted(name)
        self.started[name] = document
        return f"arn:aws:states:us-east-1:123456789012:execution:validation:{name}"
