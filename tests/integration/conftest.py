from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.workflow_scenarios import Workflow
from tollgate.cli import SFN_ENDPOINT_VARIABLE
from tollgate.engine.engine import LocalEngine


@pytest.fixture(scope="session")
def engine(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalEngine]:
    """One engine for the session: the real ASL, the real handlers, each in its own process.

    Its Step Functions API is its own moto, or the external one $TOLLGATE_SFN_ENDPOINT names
    (with $TOLLGATE_EDGE_PORT fixing the port that API invokes Lambda on).
    """
    log_path = tmp_path_factory.mktemp("engine") / "engine.log"
    with LocalEngine(log_path=log_path, sfn_endpoint=os.environ.get(SFN_ENDPOINT_VARIABLE) or None) as local_engine:
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
def workflow(engine: LocalEngine, tmp_path: Path) -> Workflow:
    """The engine, with this test's directory for suite files."""
    return Workflow(engine, tmp_path)
