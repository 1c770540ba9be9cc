"""Suite documents for tests, written the way users write them."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml


def suite_document(*stages: dict[str, Any], base_url: str = "http://127.0.0.1:9", **top: Any) -> dict[str, Any]:
    return {"version": 1, "target": {"baseUrl": base_url}, "stages": list(stages), **top}


def stage(name: str, *routes: dict[str, Any], **settings: Any) -> dict[str, Any]:
    return {"name": name, **settings, "routes": list(routes)}


def route(name: str, path: str | None = None, **settings: Any) -> dict[str, Any]:
    return {"name": name, "path": path or f"/{name}", **settings}


def write_suite(directory: Path, document: dict[str, Any], name: str = "suite.yaml") -> Path:
    path = directory / name
    path.write_text(yaml.safe_dump(document, sort_keys=False), encoding="utf-8")
    return path
