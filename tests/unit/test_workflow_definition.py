"""The ASL and the template: one definition that every engine accepts, wired the way SAM wires it."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import boto3
from moto import mock_aws
from moto.stepfunctions.parser.asl.parse.asl_parser import AmazonStateLanguageParser
from statelint.linter import Linter  # type: ignore[import-untyped]

from tollgate.engine.template import load_app, read_template

ROOT = Path(__file__).resolve().parents[2]
ASL_PATH = ROOT / "statemachine" / "validation.asl.json"


def states_of(definition: dict[str, Any]) -> dict[str, dict[str, Any]]:
    found: dict[str, dict[str, Any]] = {}
    for name, state in definition["States"].items():
        found[name] = state
        if "ItemProcessor" in state:
            found.update(states_of(state["ItemProcessor"]))
    return found


def substituted_definition() -> str:
    state_machine = load_app(ROOT / "template.yaml").state_machine
    assert state_machine is not None
    return state_machine.definition


def test_the_definition_uses_only_features_every_engine_runs() -> None:
    text = ASL_PATH.read_text(encoding="utf-8")

    for feature in ("JSONata", "QueryLanguage", '"Assign"', "ItemBatcher", '"Arguments"', "{%"):
        assert feature not in text


def test_every_placeholder_comes_from_the_templates_definition_substitutions() -> None:
    template = read_template(ROOT / "template.yaml")
    substitutions = template["Resources"]["ValidationStateMachine"]["Properties"]["DefinitionSubstitutions"]
    text = ASL_PATH.read_text(encoding="utf-8")

    placeholders = {part.split("}", 1)[0] for part in text.split("${")[1:]}

    assert placeholders == set(substitutions)
    assert "${" not in substituted_definition()


def test_moto_parses_the_substituted_definition() -> None:
    program, _ = AmazonStateLanguageParser.parse(substituted_definition())

    assert program is not None


def test_statelint_finds_nothing_in_the_substituted_definition() -> None:
    # Given the definition as SAM deploys it: DefinitionSubstitutions applied
    definition = json.loads(substituted_definition())

    # When statelint checks it against the States Language specification
    findings: list[str] = Linter.validate(definition)

    # Then it has nothing to say
    assert findings == [], "statelint:\n" + "\n".join(findings)


def test_moto_accepts_the_state_machine() -> None:
    with mock_aws():
        sfn = boto3.client("stepfunctions", region_name="us-east-1")
        arn = sfn.create_state_machine(
            name="validation", definition=substituted_definition(), roleArn="arn:aws:iam::123456789012:role/r"
        )["stateMachineArn"]
        assert sfn.describe_state_machine(stateMachineArn=arn)["status"] == "ACTIVE"


def test_every_lambda_task_uses_the_invoke_integration_and_can_fail_into_a_report() -> None:
    definition = json.loads(substituted_definition())
    tasks = {name: state for name, state in states_of(definition).items() if state["Type"] == "Task"}

    assert set(tasks) == {"Probe route", "Read metric", "Tally round", "Report to CodeDeploy"}
    for name, task in tasks.items():
        assert task["Resource"] == "arn:aws:states:::lambda:invoke"
        assert task["Parameters"]["FunctionName"].startswith("arn:aws:lambda:")
        retry = task["Retry"][0]
        assert {"BackoffRate", "MaxDelaySeconds", "JitterStrategy"} <= set(retry), name
        if name != "Report to CodeDeploy":
            assert task["Catch"][0]["ErrorEquals"] == ["States.ALL"], name


def test_waits_take_their_seconds_from_the_state_so_zero_costs_nothing() -> None:
    waits = [state for state in states_of(json.loads(substituted_definition())).values() if state["Type"] == "Wait"]

    assert waits
    assert all("SecondsPath" in wait and "Seconds" not in wait for wait in waits)


def test_the_execution_times_out_with_the_hook_budget() -> None:
    assert json.loads(substituted_definition())["TimeoutSeconds"] == 3300


def test_the_template_wires_hooks_probe_metric_reader_tally_and_reporter() -> None:
    app = load_app(ROOT / "template.yaml", stack_name="shop")

    hook = app.hook_for("AfterAllowTestTraffic")
    assert hook is not None
    assert hook.name == "CodeDeployHook_shop-AfterAllowTestTraffic"
    assert hook.environment["STATE_MACHINE_ARN"] == "arn:aws:states:us-east-1:123456789012:stateMachine:shop-validation"
    assert (ROOT / "functions" / hook.environment["SUITE_PATH"]).is_file()
    assert app.lifecycle_events() == ["AfterAllowTestTraffic", "BeforeAllowTraffic", "AfterAllowTraffic"]
    reporter = app.function("ReporterFunction")
    assert reporter.execution_ended_statuses == ("FAILED", "TIMED_OUT", "ABORTED")
    assert {spec.handler for spec in app.functions.values()} == {
        "hook.app.handler",
        "ecs_hook.app.handler",
        "probe.app.handler",
        "metric_reader.app.handler",
        "tally.app.handler",
        "reporter.app.handler",
    }
