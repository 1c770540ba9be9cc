"""The stack's parameters, deployed: what each function may do and where the probe runs, for each configuration.

The template goes through SAM's translator, then the engine resolves its intrinsics and conditions as
CloudFormation would with the given parameter values.
"""

from __future__ import annotations

import re
from functools import cache
from pathlib import Path
from typing import Any

import boto3
import pytest
from samtranslator.metrics.metrics import DummyMetricsPublisher, Metrics
from samtranslator.parser.parser import Parser
from samtranslator.translator.translator import Translator

from tollgate.engine.stack import REGION, Stack, pseudo_parameters
from tollgate.engine.template import read_template

TEMPLATE = Path(__file__).resolve().parents[2] / "template.yaml"
STACK = "shop"
HOOKS = [
    "AfterAllowTestTrafficHookFunction",
    "BeforeAllowTrafficHookFunction",
    "AfterAllowTrafficHookFunction",
    "EcsHookFunction",
]
MANAGED = "arn:aws:iam::aws:policy/"
LOGS_AND_TRACING = {
    MANAGED + "service-role/AWSLambdaBasicExecutionRole",
    MANAGED + "AWSXrayWriteOnlyAccess",  # what SAM attaches in the aws partition
    MANAGED + "AWSXRayDaemonWriteAccess",  # what the probe's own role attaches, in every partition
}
VPC_ACCESS = MANAGED + "service-role/AWSLambdaVPCAccessExecutionRole"
API = "arn:aws:lambda:us-east-1:123456789012:function:shop-api"
WORKER = "arn:aws:lambda:us-east-1:123456789012:function:shop-worker"


@cache
def deployed(**parameters: str) -> Stack:
    """The template as CloudFormation would create it with these parameter values, the others at their defaults."""
    document = read_template(TEMPLATE)
    for name, value in parameters.items():
        document["Parameters"][name]["Default"] = value
    # SAM takes code and definitions from S3 only; where they are does not matter here.
    document["Globals"]["Function"]["CodeUri"] = "s3://tollgate-test/functions.zip"
    document["Resources"]["ValidationStateMachine"]["Properties"]["DefinitionUri"] = "s3://tollgate-test/asl.json"
    metrics = Metrics("ServerlessTransform", DummyMetricsPublisher())
    translator = Translator(None, Parser(), boto_session=boto3.session.Session(region_name=REGION), metrics=metrics)
    try:
        return Stack(translator.translate(document, parameter_values=pseudo_parameters(STACK)), STACK)
    finally:
        metrics.publish()  # to nowhere: metrics left unpublished make samtranslator warn at exit


def functions_of(stack: Stack) -> list[str]:
    return list(stack.resources_of("AWS::Lambda::Function"))


def role_of(stack: Stack, function: str) -> str:
    return str(stack.resources[function]["Properties"]["Role"]["Fn::GetAtt"][0])


def grants(stack: Stack, function: str) -> dict[str, list[dict[str, Any]]]:
    """What a function's role may do: each action with the statements that allow it."""
    found: dict[str, list[dict[str, Any]]] = {}
    for policy in stack.property(role_of(stack, function), "Policies", []):
        for statement in policy["PolicyDocument"]["Statement"]:
            action = statement["Action"]
            for name in action if isinstance(action, list) else [action]:
                found.setdefault(name, []).append(statement)
    return found


def managed_policies(stack: Stack, function: str) -> set[str]:
    return set(stack.property(role_of(stack, function), "ManagedPolicyArns", []))


def environment(stack: Stack, function: str) -> dict[str, str]:
    variables: dict[str, str] = stack.property(function, "Environment")["Variables"]
    return variables


def rule_failures(**parameters: str) -> list[str]:
    """What the template's Rules say of these parameter values, as CloudFormation checks them: the failed ones."""
    template = read_template(TEMPLATE)
    values = {
        name: parameters.get(name, str(declared.get("Default"))) for name, declared in template["Parameters"].items()
    }
    lists = {name: [item.strip() for item in value.split(",")] for name, value in values.items()}

    def holds(expression: Any) -> bool:
        match expression:
            case {"Fn::Or": [*operands]}:
                return any(holds(operand) for operand in operands)
            case {"Fn::And": [*operands]}:
                return all(holds(operand) for operand in operands)
            case {"Fn::Not": [operand]}:
                return not holds(operand)
            case {"Fn::EachMemberEquals": [{"Ref": str() as name}, str() as value]}:
                return all(member == value for member in lists[name])
            case {"Fn::Equals": [{"Ref": str() as name}, str() as value]}:
                return values[name] == value
            case {"Fn::Contains": [{"Ref": str() as name}, str() as value]}:
                return value in lists[name]
        raise AssertionError(f"this test cannot evaluate {expression}")

    return [
        assertion["AssertDescription"]
        for rule in template["Rules"].values()
        for assertion in rule["Assertions"]
        if not holds(assertion["Assert"])
    ]


def test_by_default_the_hooks_run_bundled_suites_and_the_probe_stays_outside_any_vpc_and_invokes_nothing() -> None:
    # Given the stack deployed with every parameter at its default
    stack = deployed()

    # Then no function may touch S3 and the hooks know the catalog is off
    for function in functions_of(stack):
        assert not [action for action in grants(stack, function) if action.startswith("s3:")], function
    for hook in HOOKS:
        assert environment(stack, hook)["SUITE_BUCKET"] == ""
        assert environment(stack, hook)["SUITE_PREFIX"] == "tollgate/"
    # And the probe runs outside any VPC, may read no secret, invoke nothing, and has no network interface to make
    assert stack.property("ProbeFunction", "VpcConfig") is None
    assert grants(stack, "ProbeFunction") == {}
    assert managed_policies(stack, "ProbeFunction") == {
        MANAGED + "service-role/AWSLambdaBasicExecutionRole",
        MANAGED + "AWSXRayDaemonWriteAccess",
    }


@pytest.mark.parametrize(
    ("parameters", "refused"),
    [
        ({"SuiteBucket": "platform-suites", "TargetBaseUrl": "http://shared:8080"}, "TargetBaseUrl must be empty"),
        ({"BundledSuites": "none"}, "SuiteBucket must be set"),
        ({"InvokableFunctionArns": f"{API},"}, "InvokableFunctionArns has an empty member"),
        ({"InvokableFunctionArns": f"{API},,{WORKER}"}, "InvokableFunctionArns has an empty member"),
    ],
)
def test_a_platform_stack_refuses_settings_that_would_misjudge_every_service(
    parameters: dict[str, str], refused: str
) -> None:
    assert [failure for failure in rule_failures(**parameters) if refused in failure]
    assert rule_failures(SuiteBucket="platform-suites", BundledSuites="none") == []
    assert rule_failures(InvokableFunctionArns=f"{API},{WORKER}") == []


def test_the_codedeploy_hooks_fall_back_to_their_bundled_suites_unless_told_not_to() -> None:
    codedeploy_hooks = [hook for hook in HOOKS if hook != "EcsHookFunction"]
    by_default = deployed(SuiteBucket="platform-suites")
    assert [environment(by_default, hook)["SUITE_PATH"] for hook in codedeploy_hooks] == [
        "suites/after-allow-test-traffic.yaml",
        "suites/before-allow-traffic.yaml",
        "suites/after-allow-traffic.yaml",
    ]
    without = deployed(SuiteBucket="platform-suites", BundledSuites="none")
    assert [environment(without, hook)["SUITE_PATH"] for hook in codedeploy_hooks] == ["", "", ""]


def test_with_a_catalog_every_hook_reads_suites_under_its_prefix_and_nothing_else_does() -> None:
    # Given a stack whose suites are published in s3://shop-suites/teams/
    stack = deployed(SuiteBucket="shop-suites", SuitePrefix="teams/")

    # Then each hook is told where, and may read and list there only
    for hook in HOOKS:
        assert (environment(stack, hook)["SUITE_BUCKET"], environment(stack, hook)["SUITE_PREFIX"]) == (
            "shop-suites",
            "teams/",
        )
        granted = grants(stack, hook)
        assert [statement["Resource"] for statement in granted["s3:GetObject"]] == ["arn:aws:s3:::shop-suites/teams/*"]
        (listing,) = granted["s3:ListBucket"]
        assert listing["Resource"] == "arn:aws:s3:::shop-suites"
        assert listing["Condition"] == {"StringLike": {"s3:prefix": "teams/*"}}
        assert {action for action in granted if action.startswith("s3:")} == {"s3:GetObject", "s3:ListBucket"}
    # And no other function may touch S3
    for function in set(functions_of(stack)) - set(HOOKS):
        assert not [action for action in grants(stack, function) if action.startswith("s3:")], function


def test_the_codedeploy_hooks_read_deployments_and_listeners_whatever_the_parameters() -> None:
    for stack in (deployed(), deployed(SuiteBucket="shop-suites")):
        for hook in HOOKS[:3]:
            granted = grants(stack, hook)
            assert [statement["Resource"] for statement in granted["codedeploy:GetDeployment"]] == [
                "arn:aws:codedeploy:us-east-1:123456789012:deploymentgroup:*"
            ]
            for action in ("elasticloadbalancing:DescribeListeners", "elasticloadbalancing:DescribeLoadBalancers"):
                assert [statement["Resource"] for statement in granted[action]] == ["*"]
        assert not [
            action for action in grants(stack, "EcsHookFunction") if action.startswith(("codedeploy:", "elastic"))
        ]


def test_with_subnets_and_security_groups_the_probe_runs_in_the_vpc_with_what_its_interfaces_need() -> None:
    # Given a stack whose probe must reach internal load balancers
    stack = deployed(ProbeSubnetIds="subnet-0a1, subnet-0b2", ProbeSecurityGroupIds="sg-0c3")

    # Then the probe runs in those subnets with that group, and may manage its network interfaces
    assert stack.property("ProbeFunction", "VpcConfig") == {
        "SubnetIds": ["subnet-0a1", "subnet-0b2"],
        "SecurityGroupIds": ["sg-0c3"],
    }
    assert stack.property(role_of(stack, "ProbeFunction"), "ManagedPolicyArns").count(VPC_ACCESS) == 1
    # And no other function runs in the VPC or may
    for function in set(functions_of(stack)) - {"ProbeFunction"}:
        assert stack.property(function, "VpcConfig") is None, function
        assert managed_policies(stack, function) <= LOGS_AND_TRACING, function


@pytest.mark.parametrize(
    ("parameters", "failure"),
    [
        ({"ProbeSubnetIds": "subnet-0a1"}, "ProbeSubnetIds is set, so ProbeSecurityGroupIds must be set too"),
        ({"ProbeSecurityGroupIds": "sg-0c3"}, "ProbeSecurityGroupIds is set, so ProbeSubnetIds must be set too"),
    ],
)
def test_half_a_vpc_configuration_is_refused_at_deploy_time_and_would_leave_the_probe_outside(
    parameters: dict[str, str], failure: str
) -> None:
    # Given only one of the two lists
    # Then CloudFormation refuses the deployment, saying which list is missing
    (description,) = rule_failures(**parameters)
    assert description.startswith(failure)
    # And even without the rule, the probe would not half-join the VPC
    stack = deployed(**parameters)
    assert stack.property("ProbeFunction", "VpcConfig") is None
    assert VPC_ACCESS not in managed_policies(stack, "ProbeFunction")


def test_both_vpc_lists_or_neither_pass_the_rules() -> None:
    assert rule_failures() == []
    assert rule_failures(ProbeSubnetIds="subnet-0a1,subnet-0b2", ProbeSecurityGroupIds="sg-0c3") == []


def test_with_invokable_functions_the_probe_may_invoke_them_their_versions_and_aliases_only() -> None:
    # Given two functions that suites' invoke routes call, each listed once
    stack = deployed(InvokableFunctionArns=f"{API},{WORKER}")

    # Then the probe may invoke exactly those and their qualified ARNs (a version or an alias)
    (statement,) = grants(stack, "ProbeFunction")["lambda:InvokeFunction"]
    assert statement["Resource"] == [API, WORKER, f"{API}:*", f"{WORKER}:*"]
    assert set(grants(stack, "ProbeFunction")) == {"lambda:InvokeFunction"}
    # And no other function may invoke anything
    for function in set(functions_of(stack)) - {"ProbeFunction"}:
        assert "lambda:InvokeFunction" not in grants(stack, function), function


def test_one_invokable_function_is_granted_with_its_versions() -> None:
    (statement,) = grants(deployed(InvokableFunctionArns=API), "ProbeFunction")["lambda:InvokeFunction"]

    assert statement["Resource"] == [API, f"{API}:*"]


def test_the_probe_reads_secrets_and_parameters_independently_of_the_rest() -> None:
    secret = "arn:aws:secretsmanager:us-east-1:123456789012:secret:shop-token-AbCdEf"
    stack = deployed(ProbeSecretArns=secret, ProbeSubnetIds="subnet-0a1", ProbeSecurityGroupIds="sg-0c3")

    granted = grants(stack, "ProbeFunction")
    assert set(granted) == {"secretsmanager:GetSecretValue"}
    assert granted["secretsmanager:GetSecretValue"][0]["Resource"] == [secret]


def test_no_function_gets_a_managed_policy_beyond_logs_and_tracing_except_the_probe_in_a_vpc() -> None:
    for stack in (deployed(), deployed(SuiteBucket="shop-suites", InvokableFunctionArns=API)):
        for function in functions_of(stack):
            assert managed_policies(stack, function) <= LOGS_AND_TRACING, function


@pytest.mark.parametrize(
    ("parameter", "accepted", "refused"),
    [
        ("SuitePrefix", ["", "tollgate/", "teams/shop/"], ["tollgate", "/tollgate/", "team*/", "team?/"]),
        ("SuiteBucket", ["", "shop-suites", "shop.suites.example"], ["Shop", "s3://shop-suites", "shop-suites/teams"]),
    ],
)
def test_catalog_parameters_accept_only_what_keeps_the_grant_to_the_catalog(
    parameter: str, accepted: list[str], refused: list[str]
) -> None:
    pattern = read_template(TEMPLATE)["Parameters"][parameter]["AllowedPattern"]

    assert [value for value in accepted if not re.fullmatch(pattern, value)] == []
    assert [value for value in refused if re.fullmatch(pattern, value)] == []
