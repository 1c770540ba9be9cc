"""The probe needs no AWS API: boto3 stays out of its import path, for a short cold start.

Powertools imports the bare `botocore` package (a few hundred microseconds) to tag SDK calls;
its clients, sessions and boto3 itself must not load.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

FUNCTIONS = Path(__file__).resolve().parents[2] / "functions"


def modules_after_import(module: str) -> set[str]:
    code = f"import sys, {module}; print('\\n'.join(sys.modules))"
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=FUNCTIONS, capture_output=True, text=True, check=True, env={"PATH": ""}
    )
    return set(result.stdout.split())


def test_the_probe_does_not_import_boto3() -> None:
    loaded = modules_after_import("probe.app")

    assert "requests" in loaded
    assert not {"boto3", "botocore.session", "botocore.client"} & loaded


def test_the_tally_imports_neither_boto3_nor_requests() -> None:
    loaded = modules_after_import("tally.app")

    assert not {"boto3", "botocore.session", "requests", "yaml", "jsonschema"} & loaded
