"""The state machine and the domain agree on every document that flows between states."""

from __future__ import annotations

import copy
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tests.support.asl_contracts import definition_problems, load_definition

ASL_PATH = Path(__file__).resolve().parents[2] / "statemachine" / "validation.asl.json"
Mutation = Callable[[dict[str, Any]], None]


def states(definition: dict[str, Any]) -> dict[str, Any]:
    top: dict[str, Any] = definition["States"]
    return top


def iteration_states(definition: dict[str, Any]) -> dict[str, Any]:
    inner: dict[str, Any] = states(definition)["Run checks"]["ItemProcessor"]["States"]
    return inner


def test_every_path_and_every_compared_value_in_the_definition_matches_the_contracts() -> None:
    assert definition_problems(load_definition(ASL_PATH)) == []


def rename_the_next_step_field(definition: dict[str, Any]) -> None:
    states(definition)["Next step?"]["Choices"][0]["Variable"] = "$.validation.progress.nextStep"


def compare_against_a_value_the_tally_never_produces(definition: dict[str, Any]) -> None:
    states(definition)["Next step?"]["Choices"][0]["StringEquals"] = "next_round"


def read_a_retry_delay_the_probe_does_not_return(definition: dict[str, Any]) -> None:
    iteration_states(definition)["Wait before retry"]["SecondsPath"] = "$.probe.result.retryAfterSeconds"


def rebuild_a_probe_result_without_one_of_its_fields(definition: dict[str, Any]) -> None:
    del iteration_states(definition)["Record probe crash"]["Parameters"]["result"]["retryInSeconds"]


def pass_the_tally_a_field_it_does_not_take(definition: dict[str, Any]) -> None:
    states(definition)["Tally round"]["Parameters"]["Payload"]["round.$"] = "$.validation.progress.round"


def give_the_reporter_a_progress_of_the_wrong_document(definition: dict[str, Any]) -> None:
    states(definition)["Report to CodeDeploy"]["Parameters"]["Payload"]["progress.$"] = "$.suite"


def map_over_something_that_is_not_a_list(definition: dict[str, Any]) -> None:
    states(definition)["Run checks"]["ItemsPath"] = "$.stage.name"


def send_metric_checks_to_the_probe(definition: dict[str, Any]) -> None:
    iteration_states(definition)["Route or metric?"]["Choices"][0]["Next"] = "Probe route"


def read_metrics_for_every_check(definition: dict[str, Any]) -> None:
    iteration_states(definition)["Route or metric?"]["Default"] = "Read metric"


def dispatch_on_a_kind_no_check_has(definition: dict[str, Any]) -> None:
    iteration_states(definition)["Route or metric?"]["Choices"][0]["StringEquals"] = "metrics"


def compare_a_boolean_field_as_text(definition: dict[str, Any]) -> None:
    rule = iteration_states(definition)["Passed or out of attempts?"]["Choices"][0]
    rule["Variable"] = "$.probe.result.reason"


@pytest.mark.parametrize(
    ("mutation", "named"),
    [
        (rename_the_next_step_field, "Next step?.Choices[0]: $.validation.progress.nextStep: no such field"),
        (compare_against_a_value_the_tally_never_produces, "'next_round' is never produced"),
        (
            read_a_retry_delay_the_probe_does_not_return,
            "Wait before retry.SecondsPath: $.probe.result.retryAfterSeconds",
        ),
        (rebuild_a_probe_result_without_one_of_its_fields, "builds a ProbeResult without ['retryInSeconds']"),
        (pass_the_tally_a_field_it_does_not_take, "TallyEvent has no field 'round'"),
        (give_the_reporter_a_progress_of_the_wrong_document, "Payload.progress: $.suite is"),
        (map_over_something_that_is_not_a_list, "ItemsPath: $.stage.name is <class 'str'>, not a list"),
        (compare_a_boolean_field_as_text, "$.probe.result.reason is str | None, not a boolean"),
        (send_metric_checks_to_the_probe, "Probe route.Parameters.Payload.route: $.check is"),
        (read_metrics_for_every_check, "Read metric.Parameters.Payload.metric: $.check is"),
        (dispatch_on_a_kind_no_check_has, "'metrics' is never produced; $.check.kind is one of ['metric', 'route']"),
    ],
)
def test_a_definition_that_disagrees_with_the_contracts_is_caught(mutation: Mutation, named: str) -> None:
    # Given the definition with one disagreement
    definition = copy.deepcopy(load_definition(ASL_PATH))
    mutation(definition)

    # When it is checked / Then the problem names the state and the field
    problems = definition_problems(definition)
    assert any(named in problem for problem in problems), problems
