"""The template loader: SAM's transform, then intrinsics resolved as CloudFormation would in one local stack."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from tollgate.engine.stack import TemplateError
from tollgate.engine.template import AppTemplate, load_app, read_template

ROOT = Path(__file__).resolve().parents[2]
LAMBDA_ARN = "arn:aws:lambda:us-east-1:123456789012:function:"
STATES_ARN = "arn:aws:states:us-east-1:123456789012:stateMachine:"

HEADER = """
Transform: AWS::Serverless-2016-10-31
"""
STATE_MACHINE = """
  Workflow:
    Type: AWS::Serverless::StateMachine
    Properties:
      DefinitionUri: workflow.asl.json
      DefinitionSubstitutions:
        WorkerArn: !GetAtt WorkerFunction.Arn
      Policies:
        - LambdaInvokePolicy:
            FunctionName: !Ref WorkerFunction
"""
WORKER = """
  WorkerFunction:
    Type: AWS::Serverless::Function
    Properties:
      Runtime: python3.11
      CodeUri: src/
      Handler: worker.handler
"""
DEFINITION = {"StartAt": "Work", "States": {"Work": {"Type": "Task", "Resource": "${WorkerArn}", "End": True}}}
NEVER = "Conditions:\n  Never: !Equals [a, b]\n"
NEIGHBOURS = """
  Queue:
    Type: AWS::SQS::Queue
  Other:
    Type: AWS::Serverless::Function
    Condition: Never
    Properties: {Runtime: python3.11, CodeUri: src/, Handler: other.handler}
"""


def write_app(directory: Path, sections: str, resources: str = "") -> Path:
    """A SAM app with one state machine and one worker function, plus the given sections and resources."""
    (directory / "workflow.asl.json").write_text(json.dumps(DEFINITION), encoding="utf-8")
    template = directory / "template.yaml"
    template.write_text(HEADER + sections + "\nResources:" + STATE_MACHINE + WORKER + resources, encoding="utf-8")
    return template


def probe_function(variables: str) -> str:
    """A ProbeFunction resource whose environment variables are the given YAML lines."""
    indented = "\n".join(" " * 10 + line for line in variables.strip().splitlines())
    return f"""
  ProbeFunction:
    Type: AWS::Serverless::Function
    Properties:
      Runtime: python3.11
      CodeUri: src/
      Handler: probe.handler
      Environment:
        Variables:
{indented}
"""


def environment_of(tmp_path: Path, variables: str, sections: str = "") -> dict[str, str]:
    template = write_app(tmp_path, sections, probe_function(variables))
    return load_app(template, stack_name="shop").function("ProbeFunction").environment


def error_of(tmp_path: Path, sections: str, resources: str) -> str:
    with pytest.raises(TemplateError) as raised:
        load_app(write_app(tmp_path, sections, resources), stack_name="shop")
    return str(raised.value)


@pytest.fixture(scope="module")
def shop() -> AppTemplate:
    return load_app(ROOT / "template.yaml", stack_name="shop")


def test_functions_are_named_by_their_function_name_or_after_the_stack(shop: AppTemplate) -> None:
    # Given the project's template loaded as stack "shop"
    # Then a function with a FunctionName keeps it, the others are <stack>-<LogicalId>, with their ARNs
    assert sorted(shop.functions) == [
        "CodeDeployHook_shop-AfterAllowTestTraffic",
        "CodeDeployHook_shop-AfterAllowTraffic",
        "CodeDeployHook_shop-BeforeAllowTraffic",
        "shop-EcsHook",
        "shop-MetricReaderFunction",
        "shop-ProbeFunction",
        "shop-ReporterFunction",
        "shop-TallyFunction",
    ]
    assert shop.function("ProbeFunction").arn == LAMBDA_ARN + "shop-ProbeFunction"
    assert shop.state_machine.name == "shop-validation"
    assert shop.state_machine.arn == STATES_ARN + "shop-validation"


def test_functions_get_globals_and_their_own_properties_resolved(shop: AppTemplate) -> None:
    # Given the project's template, whose Globals set the code, the timeout and common variables
    hook = shop.function("AfterAllowTestTrafficHookFunction")
    probe = shop.function("ProbeFunction")
    tally = shop.function("TallyFunction")

    # Then each function has the merged, resolved configuration CloudFormation would create
    assert hook.handler == "hook.app.handler"
    assert hook.code_dir == ROOT / "functions"
    assert (hook.timeout_seconds, probe.timeout_seconds, tally.timeout_seconds) == (60, 90, 30)
    assert hook.environment["STATE_MACHINE_ARN"] == STATES_ARN + "shop-validation"
    assert hook.environment["HOOK_BUDGET_SECONDS"] == "3300"
    assert hook.environment["TARGET_BASE_URL"] == ""
    assert probe.environment["POWERTOOLS_LOG_LEVEL"] == "INFO"
    assert probe.environment["PROBE_BODY_CAP_BYTES"] == "1048576"


def test_the_definition_has_its_substitutions_applied(shop: AppTemplate) -> None:
    definition = json.loads(shop.state_machine.definition)

    assert "${" not in shop.state_machine.definition
    assert definition["TimeoutSeconds"] == 3300
    assert LAMBDA_ARN + "shop-ProbeFunction" in shop.state_machine.definition


def test_the_reporter_takes_the_rule_on_executions_that_end_badly(shop: AppTemplate) -> None:
    # Given the reporter's EventBridgeRule event, which SAM turns into an AWS::Events::Rule
    reporter = shop.function("ReporterFunction")

    # Then the reporter is the rule's target for those statuses, with the target's retries
    assert reporter.execution_ended_statuses == ("FAILED", "TIMED_OUT", "ABORTED")
    assert reporter.execution_ended_retries == 10
    assert all(not spec.execution_ended_statuses for spec in shop.functions.values() if spec is not reporter)


def test_refs_subs_and_getatts_resolve_to_local_names(tmp_path: Path) -> None:
    environment = environment_of(
        tmp_path,
        """
STACK: !Ref AWS::StackName
WORKER_NAME: !Ref WorkerFunction
WORKER_ARN: !GetAtt WorkerFunction.Arn
WORKFLOW_ARN: !Ref Workflow
WORKFLOW_NAME: !GetAtt Workflow.Name
SHORT_SUB: !Sub arn:${AWS::Partition}:sqs:${AWS::Region}:${AWS::AccountId}:${AWS::StackName}-${!Literal}
LONG_SUB: !Sub ["${Name}/${WorkerFunction.Arn}", {Name: !Ref WorkerFunction}]
""",
    )

    assert environment == {
        "STACK": "shop",
        "WORKER_NAME": "shop-WorkerFunction",
        "WORKER_ARN": LAMBDA_ARN + "shop-WorkerFunction",
        "WORKFLOW_ARN": STATES_ARN + "shop-Workflow",
        "WORKFLOW_NAME": "shop-Workflow",
        "SHORT_SUB": "arn:aws:sqs:us-east-1:123456789012:shop-${Literal}",
        "LONG_SUB": f"shop-WorkerFunction/{LAMBDA_ARN}shop-WorkerFunction",
    }


def test_parameters_conditions_and_list_functions_resolve(tmp_path: Path) -> None:
    # Given parameters with defaults, conditions over them and mappings
    sections = """
Parameters:
  Stage: {Type: String, Default: prod}
  Zones: {Type: CommaDelimitedList, Default: "a, b, c"}
  Budget: {Type: Number, Default: 60}
  Verbose: {Type: String, Default: "true"}
Conditions:
  IsProd: !Equals [!Ref Stage, prod]
  IsTest: !Not [!Condition IsProd]
  ProdAndVerbose: !And [!Condition IsProd, !Equals [!Ref Verbose, true]]
  TestOrQuiet: !Or [!Condition IsTest, !Equals [!Ref Verbose, "false"]]
  BudgetIsSixty: !Equals [!Ref Budget, 60]
Mappings:
  Levels:
    prod: {Log: WARNING}
"""
    # When the function's variables use them
    environment = environment_of(
        tmp_path,
        """
STAGE: !If [IsProd, production, testing]
TEST_ONLY: !If [IsTest, "yes", !Ref AWS::NoValue]
VERBOSE: !If [ProdAndVerbose, "on", "off"]
QUIET: !If [TestOrQuiet, "on", "off"]
BUDGET: !Ref Budget
BUDGET_IS_SIXTY: !If [BudgetIsSixty, "yes", "no"]
SECOND_ZONE: !Select [1, !Ref Zones]
ZONES: !Join ["+", !Ref Zones]
LAST_PART: !Select [2, !Split ["/", "x/y/z"]]
LOG_LEVEL: !FindInMap [Levels, !Ref Stage, Log]
""",
        sections,
    )

    # Then each resolves as CloudFormation would, and AWS::NoValue leaves the variable out
    assert environment == {
        "STAGE": "production",
        "VERBOSE": "on",
        "QUIET": "off",
        "BUDGET": "60",
        "BUDGET_IS_SIXTY": "yes",
        "SECOND_ZONE": "b",
        "ZONES": "a+b+c",
        "LAST_PART": "z",
        "LOG_LEVEL": "WARNING",
    }


def test_a_function_whose_condition_is_false_is_not_created(tmp_path: Path) -> None:
    sections = """
Conditions:
  Never: !Equals [a, b]
"""
    extra = """
  OptionalFunction:
    Type: AWS::Serverless::Function
    Condition: Never
    Properties: {Runtime: python3.11, CodeUri: src/, Handler: optional.handler}
"""

    app = load_app(write_app(tmp_path, sections, extra), stack_name="shop")

    assert list(app.functions) == ["shop-WorkerFunction"]


def test_a_code_path_is_found_relative_to_the_template(tmp_path: Path) -> None:
    extra = """
  SpacedFunction:
    Type: AWS::Serverless::Function
    Properties: {Runtime: python3.11, CodeUri: "my code/v1?", Handler: spaced.handler}
"""

    app = load_app(write_app(tmp_path, "", extra), stack_name="shop")

    assert app.function("SpacedFunction").code_dir == (tmp_path / "my code" / "v1?").resolve()


def test_an_unknown_intrinsic_is_an_error_naming_the_resource_and_property(tmp_path: Path) -> None:
    message = error_of(tmp_path, "", probe_function("X: !Foo bar"))

    assert message == "ProbeFunction: Environment.Variables.X: cannot resolve Fn::Foo"


@pytest.mark.parametrize(
    ("variable", "sections", "reason"),
    [
        ("!Ref Missing", "", "cannot resolve Ref Missing: no such parameter or resource"),
        (
            "!Ref Stage",
            "Parameters:\n  Stage: {Type: String}\n",
            "parameter Stage has no Default for the engine to use",
        ),
        ("!Select [3, [a, b]]", "", "Fn::Select: no item 3 in a list of 2"),
        ("!If [Unknown, a, b]", "", "no condition named Unknown"),
        ("!GetAtt WorkerFunction.Nope", "", "cannot resolve Fn::GetAtt WorkerFunction.Nope"),
        ("!Ref Queue", "", "cannot resolve a reference to Queue (AWS::SQS::Queue)"),
        ("!Ref Other", "", "Other is not created (its Condition is false)"),
        ("[a, b]", "", "expected a single value, not a list"),
    ],
)
def test_what_cannot_be_resolved_is_an_error_saying_where(
    tmp_path: Path, variable: str, sections: str, reason: str
) -> None:
    # Given a variable the engine cannot resolve
    resources = probe_function(f"X: {variable}") + NEIGHBOURS

    # When the app is loaded / Then the error names the resource, the property and the reason
    assert error_of(tmp_path, sections + NEVER, resources) == f"ProbeFunction: Environment.Variables.X: {reason}"


def test_code_in_s3_is_an_error(tmp_path: Path) -> None:
    extra = """
  RemoteFunction:
    Type: AWS::Serverless::Function
    Properties: {Runtime: python3.11, CodeUri: "s3://bucket/code.zip", Handler: remote.handler}
"""

    message = error_of(tmp_path, "", extra)

    assert message.startswith("RemoteFunction: Code: the engine runs only what a local CodeUri")


def test_an_invalid_sam_template_is_an_error_with_sams_reason(tmp_path: Path) -> None:
    extra = """
  BrokenFunction:
    Type: AWS::Serverless::Function
    Properties: {Runtime: python3.11, CodeUri: src/, Handler: broken.handler, Events: {Bad: {Type: Nope}}}
"""

    message = error_of(tmp_path, "", extra)

    assert "BrokenFunction" in message
    assert "Nope" in message


def test_reading_the_template_leaves_plain_yaml_loading_alone() -> None:
    # Given the template has been read, short-form tags included
    template = read_template(ROOT / "template.yaml")
    assert template["Resources"]["ProbeFunctionRole"]["Properties"]["Policies"][0]["Fn::If"][0] == "ProbeReadsSecrets"

    # Then yaml.safe_load still refuses CloudFormation tags, as suites are loaded with it
    with pytest.raises(yaml.constructor.ConstructorError):
        yaml.safe_load("value: !Ref Something")
