from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.support.suites import write_suite
from tollgate.engine.engine import LocalEngine
from tollgate.local_run import RunOutcome, run_validation


@pytest.fixture(scope="session")
def engine(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalEngine]:
    """One embedded engine for the session: the real ASL, the real handlers, each in its own process."""
    with LocalEngine(log_path=tmp_path_factory.mktemp("engine") / "engine.log") as local_engine:
        yield local_engine


@pytest.fixture(autouse=True)
def pristine_engine(request: pytest.FixtureRequest) -> Iterator[None]:
    """Whatever a test reconfigured or injected, the next one gets the app as template.yaml declares it."""
    yield
    if "engine" in request.fixturenames:
        local_engine: LocalEngine = request.getfixturevalue("engine")
        local_engine.runtime.restore_configuration()
        local_engine.codedeploy.clear_faults()


@pytest.fixture
def run_suite(engine: LocalEngine, tmp_path: Path) -> Any:
    def run(document: dict[str, Any], target: str | None = None, **options: Any) -> RunOutcome:
        return run_validation(engine, write_suite(tmp_path, document), target, timeout_seconds=90, **options)

    return run
