"""The workflow graph: every state and transition of the ASL laid out, and the path an execution took counted."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pytest

from tests.browser.synthetic_history import Reading, StageSpec, failing_validation, synthetic_validation
from tollgate.workflow_graph import (
    StateBox,
    WorkflowGraph,
    entered_counts,
    load_definition,
    transition_counts,
    workflow_graph,
)

DEFINITION = load_definition()


def _states(definition: Mapping[str, Any]) -> dict[str, Mapping[str, Any]]:
    """Every state by name, the Map's iteration's too."""
    states: dict[str, Mapping[str, Any]] = {}
    for name, state in definition["States"].items():
        states[name] = state
        if "ItemProcessor" in state:
            states |= _states(state["ItemProcessor"])
    return states


def _asl_transitions(definition: Mapping[str, Any]) -> set[tuple[str, str, str]]:
    transitions = set()
    for name, state in _states(definition).items():
        transitions |= {(name, choice["Next"], "choice") for choice in state.get("Choices", [])}
        transitions |= {(name, catcher["Next"], "catch") for catcher in state.get("Catch", [])}
        if "Default" in state:
            transitions.add((name, state["Default"], "default"))
        if "Next" in state:
            transitions.add((name, state["Next"], "next"))
    return transitions


def _box(graph: WorkflowGraph, name: str) -> StateBox:
    return next(state for state in graph.states if state.name == name)


def _inside(inner: StateBox, outer: StateBox) -> bool:
    return (
        outer.x <= inner.x
        and inner.x + inner.width <= outer.x + outer.width
        and outer.y <= inner.y
        and inner.y + inner.height <= outer.y + outer.height
    )


def _overlap(a: StateBox, b: StateBox) -> bool:
    return a.x < b.x + b.width and b.x < a.x + a.width and a.y < b.y + b.height and b.y < a.y + a.height


def test_the_definition_is_read_with_its_placeholders_left_out() -> None:
    # Given statemachine/validation.asl.json, whose ${...} placeholders SAM substitutes on deploy
    # When it is loaded for drawing
    definition = load_definition()

    # Then it is the workflow: a placeholder outside a string is null, one inside stays as it is written
    assert definition["StartAt"] == "Prepare round"
    assert definition["TimeoutSeconds"] is None
    inner = definition["States"]["Run checks"]["ItemProcessor"]["States"]
    assert inner["Probe route"]["Parameters"]["FunctionName"] == "${ProbeFunctionArn}"


def test_every_state_and_transition_of_the_workflow_is_drawn() -> None:
    # Given the workflow and no execution
    # When its graph is laid out
    graph = workflow_graph(DEFINITION, [])

    # Then every state, the Map's iteration's too, has a box, and every transition of the ASL a path
    assert sorted(state.name for state in graph.states) == sorted(_states(DEFINITION))
    assert {(t.source, t.target, t.kind) for t in graph.transitions} == _asl_transitions(DEFINITION)
    assert all(t.path.startswith("M") for t in graph.transitions)
    # and nothing is highlighted
    assert not any(state.entered for state in graph.states)
    assert not any(t.taken for t in graph.transitions)
    assert not any(start.taken for start in graph.starts)


def test_states_stand_apart_and_the_map_holds_its_iteration() -> None:
    # Given the workflow's graph
    graph = workflow_graph(DEFINITION, [])
    run_checks = _box(graph, "Run checks")
    inner = set(_states(DEFINITION["States"]["Run checks"]["ItemProcessor"]))

    # Then the Map's iteration's states are inside the Map, and no two states of one level overlap
    assert run_checks.container
    assert all(_inside(state, run_checks) for state in graph.states if state.name in inner)
    for level in (inner, set(DEFINITION["States"])):
        boxes = [state for state in graph.states if state.name in level]
        assert not [(a.name, b.name) for a in boxes for b in boxes if a.name < b.name and _overlap(a, b)]
    # and all of it fits in the drawing
    assert all(
        s.x >= 0 and s.y >= 0 and s.x + s.width <= graph.width and s.y + s.height <= graph.height for s in graph.states
    )


def test_transitions_run_down_and_only_the_loops_go_back() -> None:
    # Given the workflow's graph
    graph = workflow_graph(DEFINITION, [])

    # Then the loops (a retry, the next round, the next stage) are the transitions that go back up
    back = {(t.source, t.target) for t in graph.transitions if t.back}
    assert back == {
        ("Wait before retry", "Probe route"),
        ("Next step?", "Prepare round"),
        ("Wait before next round", "Prepare round"),
    }
    # and every other transition leads to a state drawn below its source
    for transition in graph.transitions:
        if not transition.back:
            assert _box(graph, transition.target).y > _box(graph, transition.source).y, transition


def test_the_layout_is_the_same_every_time() -> None:
    # Given one definition and one history
    history = failing_validation().history

    # When the graph is laid out twice
    # Then both are equal
    assert workflow_graph(DEFINITION, history) == workflow_graph(DEFINITION, history)


def test_the_path_an_execution_took_is_counted() -> None:
    # Given a validation: smoke passes (flaky on its second attempt), soak fails in its second round
    history = failing_validation().history

    # When its graph is drawn
    graph = workflow_graph(DEFINITION, history)

    # Then each state shows how often it was entered: every round, every attempt, every wait
    entered = {state.name: state.entered for state in graph.states}
    assert entered["Prepare round"] == 3
    assert entered["Run checks"] == 3
    assert entered["Probe route"] == 2 + 1 + 2 * (1 + 2)
    assert entered["Read metric"] == 2
    assert entered["Wait before retry"] == 1 + 2
    assert entered["Wait before next round"] == 1
    assert entered["Report to CodeDeploy"] == 1
    assert entered["Record probe crash"] == entered["Record reading crash"] == 0
    # and each transition how often it was taken: the path is what was taken
    taken = {(t.source, t.target): t.taken for t in graph.transitions}
    assert taken[("Passed or out of attempts?", "Wait before retry")] == 3
    assert taken[("Wait before retry", "Probe route")] == 3
    assert taken[("Read metric", "Probe finished")] == 2
    assert taken[("Next step?", "Prepare round")] == 1
    assert taken[("Next step?", "Wait before next round")] == 1
    assert taken[("Next step?", "Report to CodeDeploy")] == 1
    assert taken[("Read metric", "Record reading crash")] == 0
    assert taken[("Run checks", "Report to CodeDeploy")] == 0
    assert all(start.taken for start in graph.starts)


def test_a_crash_takes_the_catch() -> None:
    # Given a probe function that crashed on a route's only attempt
    def outcomes(stage: str, check: str, round_number: int) -> list[Reading]:
        return [Reading(ok=False, crash="Sandbox.Timedout")]

    history = synthetic_validation([StageSpec("smoke", ["health"])], outcomes).history

    # When the transitions are counted
    taken = transition_counts(history)

    # Then the path runs through the catch and the recorded crash
    assert taken[("Probe route", "Record probe crash")] == 1
    assert taken[("Record probe crash", "Probe finished")] == 1
    assert taken[("Probe route", "Passed or out of attempts?")] == 0


@pytest.mark.parametrize("executions", [1, 3])
def test_counts_add_up_over_executions_whose_event_ids_restart(executions: int) -> None:
    # Given the histories of several executions one after the other (an ECS deployment validates each step)
    one = failing_validation().history
    history = one * executions

    # When states and transitions are counted
    # Then each execution counts once
    assert entered_counts(history) == {name: count * executions for name, count in entered_counts(one).items()}
    assert transition_counts(history) == {pair: count * executions for pair, count in transition_counts(one).items()}
