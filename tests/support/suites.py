"""Suite documents for tests, written the way users write them."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml


def suite_document(*stages: dict[str, Any], base_url: str = "http://127.0.0.1:9", **top: Any) -> dict[str, Any]:
    return {"version": 1, "target": {"baseUrl": base_url}, "stages": list(stages), **top}


def stage(
    name: str, *routes: dict[str, Any], metrics: list[dict[str, Any]] | None = None, **settings: Any
) -> dict[str, Any]:
    """A stage with these routes, and with metric checks when `metrics` is given (then routes may be none)."""
    document: dict[str, Any] = {"name": name, **settings}
    if routes or metrics is None:
        document["routes"] = list(routes)
    if metrics is not None:
        document["metrics"] = metrics
    return document


def route(name: str, path: str | None = None, **settings: Any) -> dict[str, Any]:
    return {"name": name, "path": path or f"/{name}", **settings}


def target_group_check(name: str, target_group: str, **settings: Any) -> dict[str, Any]:
    """A metric check of one ALB target group; `settings` give the measure (errorRatePercent or latencyMs)."""
    alb = {"loadBalancer": "app/shop/50dc6c495c0c9188", "targetGroup": target_group}
    return {"name": name, "alb": alb, **settings}


def write_suite(directory: Path, document: dict[str, Any], name: str = "suite.yaml") -> Path:
    path = directory / name
    path.write_text(yaml.safe_dump(document, sort_keys=False), encoding="utf-8")
    return path
