from __future__ import annotations

import random
import re
import string

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


def random_hook_ids(count: int) -> list[str]:
    """Tokens shaped like CodeDeploy's hook execution ids: about 300 base64 characters."""
    rng = random.Random(14)
    alphabet = string.ascii_letters + string.digits + "+/="
    return ["eyJ" + "".join(rng.choices(alphabet, k=rng.randint(280, 320))) for _ in range(count)]


def test_twenty_thousand_hook_executions_get_twenty_thousand_names() -> None:
    # Given 20,000 hook executions of the same lifecycle event (a busy fleet's deployments over years)
    hook_ids = random_hook_ids(20_000)

    # When each gets its execution name
    names = {execution_name("AfterAllowTestTraffic", hook_id) for hook_id in hook_ids}

    # Then no two share one: a second validation is never refused as a duplicate of another hook's
    assert len(names) == len(set(hook_ids)) == 20_000


def test_the_name_keeps_a_40_character_digest_of_the_hook_id() -> None:
    for hook_id in random_hook_ids(50):
        name = execution_name("AfterAllowTestTraffic", hook_id)

        assert re.fullmatch(r"AfterAllowTestTraffic-[0-9a-f]{40}", name)
        assert name == execution_name("AfterAllowTestTraffic", hook_id)


def test_characters_a_name_cannot_hold_become_hyphens() -> None:
    digest = execution_name("", HOOK_ID)

    assert execution_name("Before Allow/Traffic", HOOK_ID) == f"Before-Allow-Traffic-{digest}"
    assert re.fullmatch(r"[0-9a-f]{40}", digest)
