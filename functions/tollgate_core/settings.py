"""Each function's configuration, read once from its environment into a typed model."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from tollgate_core.budget import DEFAULT_HOOK_BUDGET_SECONDS
from tollgate_core.suite_catalog import DEFAULT_SUITE_PREFIX

DEFAULT_BODY_CAP_BYTES = 1024 * 1024


@dataclass(frozen=True)
class SuiteCatalog:
    """The stack's SuiteBucket and SuitePrefix parameters."""

    bucket: str
    prefix: str

    @classmethod
    def from_env(cls) -> SuiteCatalog | None:
        bucket = os.environ.get("SUITE_BUCKET")
        return cls(bucket, os.environ.get("SUITE_PREFIX", DEFAULT_SUITE_PREFIX)) if bucket else None


@dataclass(frozen=True)
class HookSettings:
    suite_path: str
    lifecycle_event: str
    state_machine_arn: str
    target_base_url: str | None
    budget_seconds: float
    catalog: SuiteCatalog | None = None  # None: the bundled suite only

    @classmethod
    def from_env(cls) -> HookSettings:
        return cls(
            suite_path=os.environ["SUITE_PATH"],
            lifecycle_event=os.environ["LIFECYCLE_EVENT"],
            state_machine_arn=os.environ["STATE_MACHINE_ARN"],
            target_base_url=os.environ.get("TARGET_BASE_URL") or None,
            budget_seconds=float(os.environ.get("HOOK_BUDGET_SECONDS") or DEFAULT_HOOK_BUDGET_SECONDS),
            catalog=SuiteCatalog.from_env(),
        )


@dataclass(frozen=True)
class EcsHookSettings:
    state_machine_arn: str
    suites_dir: Path  # the bundled suites, by name
    target_base_url: str | None
    budget_seconds: float
    catalog: SuiteCatalog | None = None  # None: the bundled suites and hookDetails only

    @classmethod
    def from_env(cls) -> EcsHookSettings:
        return cls(
            state_machine_arn=os.environ["STATE_MACHINE_ARN"],
            suites_dir=Path(os.environ.get("SUITES_DIR") or "suites"),
            target_base_url=os.environ.get("TARGET_BASE_URL") or None,
            budget_seconds=float(os.environ.get("HOOK_BUDGET_SECONDS") or DEFAULT_HOOK_BUDGET_SECONDS),
            catalog=SuiteCatalog.from_env(),
        )


@dataclass(frozen=True)
class ProbeSettings:
    body_cap_bytes: int

    @classmethod
    def from_env(cls) -> ProbeSettings:
        return cls(body_cap_bytes=int(os.environ.get("PROBE_BODY_CAP_BYTES") or DEFAULT_BODY_CAP_BYTES))
