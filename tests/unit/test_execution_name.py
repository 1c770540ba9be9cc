from __future__ import annotations

import re

from tollgate_core.execution_name import execution_name

HOOK_ID = "eyJlbmNyeXB0ZWREYXRhIjoi" + "A" * 280


def test_the_name_is_deterministic_short_and_valid() -> None:
    name = execution_name("AfterAllowTestTraffic", HOOK_ID)

    assert name == execution_name("AfterAllowTestTraffic", HOOK_ID)
    assert len(name) <= 80
    assert re.fullmatch(r"[A-Za-z0-9_-]+", name)
    assert name.startswith("AfterAllowTestTraffic-")


def test_different_hook_executions_get_different_names() -> None:
    assert execution_name("BeforeAllowTraffic", HOOK_ID) != execution_name("BeforeAllowTraffic", HOOK_ID + "B")


def test_unsafe_or_long_event_names_still_give_a_valid_name() -> None:
    name = execution_name("Before Allow/Traffic" * 10, HOOK_ID)

    assert len(name) == 80
    assert re.fullmatch(r"[A-Za-z0-9_-]+", name)
