"""Hypothesis profiles: a thousand cases a property in `make test`, a fixed few under `make mutation`."""

import os

from hypothesis import settings

from tests.unit.conftest import loopback_only

settings.register_profile("thorough", max_examples=1000)
# mutmut sets MUTANT_UNDER_TEST in every test run it makes, and each mutant reruns every property that
# reaches its function: a few derandomized cases keep the run within its time and its verdicts repeatable.
settings.register_profile("mutation", max_examples=25, derandomize=True, database=None)
settings.load_profile("mutation" if "MUTANT_UNDER_TEST" in os.environ else "thorough")

__all__ = ["loopback_only"]
