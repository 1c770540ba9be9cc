"""SAM's translation of a template is kept under build/ and used again until the template changes."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.unit.test_template import probe_function, write_app
from tollgate.engine import template
from tollgate.engine.stack import TemplateError
from tollgate.engine.template import TRANSFORM_CACHE_DIR, load_app


@pytest.fixture
def translations(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The stack of every translation SAM is asked for."""
    asked: list[str] = []
    transform = template._transform

    def counting(document: dict[str, Any], stack_name: str) -> dict[str, Any]:
        asked.append(stack_name)
        return transform(document, stack_name)

    monkeypatch.setattr(template, "_transform", counting)
    return asked


def test_a_template_loaded_again_is_not_translated_again(tmp_path: Path, translations: list[str]) -> None:
    # Given an app loaded once
    path = write_app(tmp_path, "", probe_function("COLOR: blue"))
    first = load_app(path, stack_name="shop")

    # When it is loaded again, Then SAM is not asked again and the app is the same
    assert load_app(path, stack_name="shop") == first
    assert translations == ["shop"]


def test_a_changed_template_or_another_stack_is_translated_anew(tmp_path: Path, translations: list[str]) -> None:
    path = write_app(tmp_path, "", probe_function("COLOR: blue"))
    load_app(path, stack_name="shop")

    # When the template changes, Then its new values are loaded
    write_app(tmp_path, "", probe_function("COLOR: green"))
    assert load_app(path, stack_name="shop").function("ProbeFunction").environment == {"COLOR": "green"}

    # And another stack's names come from a translation of their own
    assert load_app(path, stack_name="depot").function("ProbeFunction").name == "depot-ProbeFunction"
    assert translations == ["shop", "shop", "depot"]


def test_an_invalid_template_is_an_error_every_time(tmp_path: Path) -> None:
    broken = """
  BrokenFunction:
    Type: AWS::Serverless::Function
    Properties: {Runtime: python3.11, CodeUri: src/, Handler: broken.handler, Events: {Bad: {Type: Nope}}}
"""
    path = write_app(tmp_path, "", broken)

    for _ in range(2):
        with pytest.raises(TemplateError, match="Nope"):
            load_app(path, stack_name="shop")
    assert not list((tmp_path / TRANSFORM_CACHE_DIR).glob("*.json"))


def test_an_unreadable_kept_translation_is_made_again(tmp_path: Path, translations: list[str]) -> None:
    path = write_app(tmp_path, "", probe_function("COLOR: blue"))
    load_app(path, stack_name="shop")
    for kept in (tmp_path / TRANSFORM_CACHE_DIR).glob("*.json"):
        kept.write_text('{"Resources": ', encoding="utf-8")

    assert load_app(path, stack_name="shop").function("ProbeFunction").environment == {"COLOR": "blue"}
    assert translations == ["shop", "shop"]


def test_a_cache_that_cannot_be_written_is_no_error(tmp_path: Path, translations: list[str]) -> None:
    # Given a place for the cache that is a file, not a directory
    path = write_app(tmp_path, "", probe_function("COLOR: blue"))
    (tmp_path / "build").write_text("not a directory", encoding="utf-8")

    # When the app is loaded twice, Then it loads, translated each time
    for _ in range(2):
        assert load_app(path, stack_name="shop").function("ProbeFunction").environment == {"COLOR": "blue"}
    assert translations == ["shop", "shop"]
