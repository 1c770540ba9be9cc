"""IAM in template.yaml: each function holds only what it needs, on this stack's own resources.

Where AWS offers no resource-level permission, `*` is required; each such case is listed here.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tollgate.engine.template import read_template

TEMPLATE = read_template(Path(__file__).resolve().parents[2] / "template.yaml")
RESOURCES: dict[str, Any] = TEMPLATE["Resources"]
HOOK_STATUS = "codedeploy:PutLifecycleEventHookExecutionStatus"
DESCRIBE_EXECUTION = "states:DescribeExecution"
# The state machine's own executions, named as template.yaml names the state machine.
OWN_EXECUTIONS = {
    "Fn::Sub": "arn:${AWS::Partition}:states:${AWS::Region}:${AWS::AccountId}:execution:${AWS::StackName}-validation:*"
}
# AWS requires "*" for these: CloudWatch Logs delivery for Step Functions, X-Ray and GetMetricData take no resource ARN.
STAR_REQUIRED = {
    "logs:CreateLogDelivery",
    "logs:GetLogDelivery",
    "logs:UpdateLogDelivery",
    "logs:DeleteLogDelivery",
    "logs:ListLogDeliveries",
    "logs:PutResourcePolicy",
    "logs:DescribeResourcePolicies",
    "logs:DescribeLogGroups",
    "xray:PutTraceSegments",
    "xray:PutTelemetryRecords",
    "xray:GetSamplingRules",
    "xray:GetSamplingTargets",
    "cloudwatch:GetMetricData",
}
# What each resource may do, through SAM policy templates or statements.
NEEDED = {
    "AfterAllowTestTrafficHookFunction": {"StepFunctionsExecutionPolicy", HOOK_STATUS},
    "AfterAllowTrafficHookFunction": {"StepFunctionsExecutionPolicy", HOOK_STATUS},
    "ProbeFunction": {"secretsmanager:GetSecretValue", "ssm:GetParameter"},
    "MetricReaderFunction": {"cloudwatch:GetMetricData"},
    "TallyFunction": set(),
    "ReporterFunction": {HOOK_STATUS, DESCRIBE_EXECUTION},
    "EcsHookFunction": {"StepFunctionsExecutionPolicy", DESCRIBE_EXECUTION},
    "ValidationStateMachine": {"LambdaInvokePolicy", *STAR_REQUIRED},
}
# The deployment group that invokes a hook is not part of this stack; the status call is scoped to this
# account and region's deployment groups.
HOOK_STATUS_RESOURCE = {
    "Fn::Sub": "arn:${AWS::Partition}:codedeploy:${AWS::Region}:${AWS::AccountId}:deploymentgroup:*"
}


def statements(policies: list[Any]) -> list[dict[str, Any]]:
    found = []
    for policy in policies:
        if "Fn::If" in policy:  # a conditional policy: both branches count
            found += statements([branch for branch in policy["Fn::If"][1:] if branch != {"Ref": "AWS::NoValue"}])
        elif "Statement" in policy:
            found += policy["Statement"]
    return found


def templates(policies: list[Any]) -> list[tuple[str, Any]]:
    return [
        (name, value) for policy in policies for name, value in policy.items() if name not in ("Statement", "Fn::If")
    ]


def actions(statement: dict[str, Any]) -> list[str]:
    action = statement["Action"]
    return action if isinstance(action, list) else [action]


def policies_of(logical_id: str) -> list[Any]:
    policies: list[Any] = RESOURCES[logical_id]["Properties"].get("Policies", [])
    return policies


@pytest.mark.parametrize("logical_id", sorted(NEEDED))
def test_each_resource_has_only_the_permissions_it_needs(logical_id: str) -> None:
    policies = policies_of(logical_id)
    granted = {name for name, _ in templates(policies)} | {a for s in statements(policies) for a in actions(s)}
    allowed = NEEDED[logical_id]

    unexpected = granted - allowed

    assert not unexpected, f"{logical_id} may do more than it needs: {unexpected}"


def test_no_action_is_a_wildcard() -> None:
    for logical_id in NEEDED:
        for statement in statements(policies_of(logical_id)):
            assert statement["Effect"] == "Allow"
            assert all("*" not in action for action in actions(statement)), (logical_id, statement)


def test_resources_are_this_stacks_own_except_where_aws_requires_more() -> None:
    for logical_id in NEEDED:
        for statement in statements(policies_of(logical_id)):
            resource = statement["Resource"]
            if resource == "*":
                assert set(actions(statement)) <= STAR_REQUIRED, (logical_id, statement)
            elif actions(statement) == [HOOK_STATUS]:
                assert resource == HOOK_STATUS_RESOURCE
            elif actions(statement) == [DESCRIBE_EXECUTION]:
                assert resource == OWN_EXECUTIONS
            else:
                assert resource in ({"Ref": "ProbeSecretArns"}, {"Ref": "ProbeParameterArns"}), (logical_id, statement)


def test_policy_templates_name_this_stacks_resources() -> None:
    own = {"ValidationStateMachine", "ProbeFunction", "MetricReaderFunction", "TallyFunction", "ReporterFunction"}
    for logical_id in NEEDED:
        for name, value in templates(policies_of(logical_id)):
            (reference,) = value.values()
            target = reference.get("Ref") or reference.get("Fn::GetAtt", [None])[0]
            assert target in own, (logical_id, name, value)


def test_the_executions_the_reporter_may_describe_are_this_state_machines() -> None:
    state_machine_name = RESOURCES["ValidationStateMachine"]["Properties"]["Name"]

    assert state_machine_name == {"Fn::Sub": "${AWS::StackName}-validation"}
    assert OWN_EXECUTIONS["Fn::Sub"].endswith(":execution:" + state_machine_name["Fn::Sub"] + ":*")


def test_ecs_may_only_invoke_the_ecs_hook() -> None:
    role = RESOURCES["EcsHookInvokeRole"]["Properties"]

    (trust,) = role["AssumeRolePolicyDocument"]["Statement"]
    assert (trust["Effect"], trust["Principal"], trust["Action"]) == (
        "Allow",
        {"Service": "ecs.amazonaws.com"},
        "sts:AssumeRole",
    )
    (policy,) = role["Policies"]
    (statement,) = policy["PolicyDocument"]["Statement"]
    assert (statement["Action"], statement["Resource"]) == (
        "lambda:InvokeFunction",
        {"Fn::GetAtt": ["EcsHookFunction", "Arn"]},
    )


def test_the_probe_reads_secrets_only_when_some_are_referenced() -> None:
    conditions = [policy["Fn::If"][0] for policy in policies_of("ProbeFunction")]

    assert conditions == ["ProbeReadsSecrets", "ProbeReadsParameters"]
    assert all(policy["Fn::If"][2] == {"Ref": "AWS::NoValue"} for policy in policies_of("ProbeFunction"))
