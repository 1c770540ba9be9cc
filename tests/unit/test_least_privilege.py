"""IAM in template.yaml: each function holds only what it needs, on this stack's own resources, when it needs it.

Where AWS offers no resource-level permission, `*` is required; each such case is listed here. What the
parameters turn on is proven on the deployed values in test_template_parameters.py.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tollgate.engine.template import read_template

TEMPLATE = read_template(Path(__file__).resolve().parents[2] / "template.yaml")
RESOURCES: dict[str, Any] = TEMPLATE["Resources"]
NO_VALUE = {"Ref": "AWS::NoValue"}
HOOK_STATUS = "codedeploy:PutLifecycleEventHookExecutionStatus"
GET_DEPLOYMENT = "codedeploy:GetDeployment"
DESCRIBE_EXECUTION = "states:DescribeExecution"
READ_LISTENERS = {"elasticloadbalancing:DescribeListeners", "elasticloadbalancing:DescribeLoadBalancers"}
READ_CATALOG = {"s3:GetObject", "s3:ListBucket"}
INVOKE = "lambda:InvokeFunction"
# The state machine's own executions, named as template.yaml names the state machine.
OWN_EXECUTIONS = {
    "Fn::Sub": "arn:${AWS::Partition}:states:${AWS::Region}:${AWS::AccountId}:execution:${AWS::StackName}-validation:*"
}
# AWS requires "*" for these: CloudWatch Logs delivery for Step Functions, X-Ray, GetMetricData and ELB's
# Describe actions take no resource ARN.
LOG_DELIVERY = {
    "logs:CreateLogDelivery",
    "logs:GetLogDelivery",
    "logs:UpdateLogDelivery",
    "logs:DeleteLogDelivery",
    "logs:ListLogDeliveries",
    "logs:PutResourcePolicy",
    "logs:DescribeResourcePolicies",
    "logs:DescribeLogGroups",
}
TRACING = {"xray:PutTraceSegments", "xray:PutTelemetryRecords", "xray:GetSamplingRules", "xray:GetSamplingTargets"}
STAR_REQUIRED = {*LOG_DELIVERY, *TRACING, "cloudwatch:GetMetricData", *READ_LISTENERS}
CODEDEPLOY_HOOK = {"StepFunctionsExecutionPolicy", HOOK_STATUS, GET_DEPLOYMENT, *READ_LISTENERS, *READ_CATALOG}
CODEDEPLOY_HOOKS = [
    "AfterAllowTestTrafficHookFunction",
    "BeforeAllowTrafficHookFunction",
    "AfterAllowTrafficHookFunction",
]
SUITE_READERS = [*CODEDEPLOY_HOOKS, "EcsHookFunction"]
# What each resource may do, through SAM policy templates or statements (its own role's, for a function with one).
NEEDED = {
    **dict.fromkeys(CODEDEPLOY_HOOKS, CODEDEPLOY_HOOK),
    "EcsHookFunction": {"StepFunctionsExecutionPolicy", DESCRIBE_EXECUTION, *READ_CATALOG},
    "ProbeFunction": {"secretsmanager:GetSecretValue", "ssm:GetParameter", INVOKE},
    "MetricReaderFunction": {"cloudwatch:GetMetricData"},
    "TallyFunction": set(),
    "ReporterFunction": {HOOK_STATUS, DESCRIBE_EXECUTION},
    "ValidationStateMachine": {"LambdaInvokePolicy", *LOG_DELIVERY, *TRACING},
    "EcsHookInvokeRole": {INVOKE},
}
# A permission that only some stacks need is granted under the condition that says so, and nowhere else.
GRANTED_ONLY_IF = {
    "s3:GetObject": "HooksReadSuiteCatalog",
    "s3:ListBucket": "HooksReadSuiteCatalog",
    "secretsmanager:GetSecretValue": "ProbeReadsSecrets",
    "ssm:GetParameter": "ProbeReadsParameters",
}
# The deployment group that invokes a hook is not part of this stack; its calls are scoped to this account and
# region's deployment groups.
DEPLOYMENT_GROUPS = {"Fn::Sub": "arn:${AWS::Partition}:codedeploy:${AWS::Region}:${AWS::AccountId}:deploymentgroup:*"}
CATALOG_SUITES = {"Fn::Sub": "arn:${AWS::Partition}:s3:::${SuiteBucket}/${SuitePrefix}*"}
CATALOG_BUCKET = {"Fn::Sub": "arn:${AWS::Partition}:s3:::${SuiteBucket}"}
RESOURCE_OF = {
    HOOK_STATUS: DEPLOYMENT_GROUPS,
    GET_DEPLOYMENT: DEPLOYMENT_GROUPS,
    DESCRIBE_EXECUTION: OWN_EXECUTIONS,
    "s3:GetObject": CATALOG_SUITES,
    "s3:ListBucket": CATALOG_BUCKET,
    "secretsmanager:GetSecretValue": {"Ref": "ProbeSecretArns"},
    "ssm:GetParameter": {"Ref": "ProbeParameterArns"},
}
# Each function the user lists once, and its versions and aliases (<arn>:*).
LISTED_FUNCTIONS_AND_THEIR_VERSIONS = {
    "Fn::Split": [
        ",",
        {
            "Fn::Sub": [
                "${Functions},${QualifiedFunctions}:*",
                {
                    "Functions": {"Fn::Join": [",", {"Ref": "InvokableFunctionArns"}]},
                    "QualifiedFunctions": {"Fn::Join": [":*,", {"Ref": "InvokableFunctionArns"}]},
                },
            ]
        },
    ]
}
INVOKE_RESOURCE_OF = {
    "ProbeFunction": LISTED_FUNCTIONS_AND_THEIR_VERSIONS,
    "EcsHookInvokeRole": {"Fn::GetAtt": ["EcsHookFunction", "Arn"]},
}
MANAGED_POLICY = "arn:${AWS::Partition}:iam::aws:policy/"


def is_sam(logical_id: str) -> bool:
    return str(RESOURCES[logical_id]["Type"]).startswith("AWS::Serverless::")


def role_of(logical_id: str) -> str | None:
    """The role a SAM function names in its Role property, if it has its own."""
    role = RESOURCES[logical_id]["Properties"].get("Role")
    return None if role is None else str(role["Fn::GetAtt"][0])


def as_sam_policy(policy: Any) -> Any:
    """An IAM role's inline policy in SAM's Policies shape, a condition around it kept."""
    if "Fn::If" in policy:
        condition, when_true, when_false = policy["Fn::If"]
        return {"Fn::If": [condition, as_sam_policy(when_true), as_sam_policy(when_false)]}
    if policy == NO_VALUE:
        return policy
    return {"Statement": policy["PolicyDocument"]["Statement"]}


def policies_of(logical_id: str) -> list[Any]:
    """A resource's permissions in SAM's Policies shape: its own, its role's, or the IAM role's it is."""
    role = role_of(logical_id) if is_sam(logical_id) else logical_id
    if role is None:
        policies: list[Any] = RESOURCES[logical_id]["Properties"].get("Policies", [])
        return policies
    return [as_sam_policy(policy) for policy in RESOURCES[role]["Properties"].get("Policies", [])]


def guarded_statements(policies: list[Any], condition: str | None = None) -> list[tuple[str | None, dict[str, Any]]]:
    """Every statement with the condition it is granted under (None: always). Both branches of an !If count."""
    found = []
    for policy in policies:
        if "Fn::If" in policy:
            name, when_true, when_false = policy["Fn::If"]
            found += guarded_statements([when_true], name)
            found += guarded_statements([when_false], f"not {name}")
        elif "Statement" in policy:
            found += [(condition, statement) for statement in policy["Statement"]]
    return found


def statements(policies: list[Any]) -> list[dict[str, Any]]:
    return [statement for _, statement in guarded_statements(policies)]


def templates(policies: list[Any]) -> list[tuple[str, Any]]:
    return [
        (name, value)
        for policy in policies
        for name, value in policy.items()
        if name not in ("Statement", "Fn::If", "Ref")
    ]


def actions(statement: dict[str, Any]) -> list[str]:
    action = statement["Action"]
    return action if isinstance(action, list) else [action]


def conditions_granting(logical_id: str, action: str) -> set[str | None]:
    return {
        condition
        for condition, statement in guarded_statements(policies_of(logical_id))
        if action in actions(statement)
    }


def test_every_resource_that_holds_permissions_is_accounted_for() -> None:
    holders = {
        logical_id
        for logical_id, resource in RESOURCES.items()
        if resource["Type"] in ("AWS::Serverless::Function", "AWS::Serverless::StateMachine", "AWS::IAM::Role")
    }
    own_roles = {role_of(logical_id) for logical_id in holders if is_sam(logical_id)}

    assert holders - own_roles == set(NEEDED)


@pytest.mark.parametrize("logical_id", sorted(NEEDED))
def test_each_resource_has_only_the_permissions_it_needs(logical_id: str) -> None:
    policies = policies_of(logical_id)
    granted = {name for name, _ in templates(policies)} | {a for s in statements(policies) for a in actions(s)}

    assert granted == NEEDED[logical_id], f"{logical_id} may do more or less than it needs"


def test_no_action_is_a_wildcard_and_nothing_is_denied() -> None:
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
                continue
            for action in actions(statement):
                expected = INVOKE_RESOURCE_OF[logical_id] if action == INVOKE else RESOURCE_OF[action]
                assert resource == expected, (logical_id, action)


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


def test_every_codedeploy_hook_is_one_lifecycle_events_function_with_the_same_permissions() -> None:
    # Given the functions that CodeDeploy invokes, one per lifecycle event
    hooks = {
        logical_id: resource["Properties"]
        for logical_id, resource in RESOURCES.items()
        if resource.get("Properties", {}).get("Handler") == "hook.app.handler"
    }

    # Then there is one for each validating event, each named as CodeDeploy's managed policies require
    assert sorted(hooks) == sorted(CODEDEPLOY_HOOKS)
    events = [properties["Environment"]["Variables"]["LIFECYCLE_EVENT"] for properties in hooks.values()]
    assert sorted(events) == ["AfterAllowTestTraffic", "AfterAllowTraffic", "BeforeAllowTraffic"]
    for properties in hooks.values():
        event = properties["Environment"]["Variables"]["LIFECYCLE_EVENT"]
        assert properties["FunctionName"] == {"Fn::Sub": "CodeDeployHook_${AWS::StackName}-" + event}
    # And all of them may do exactly the same
    assert len({repr(properties["Policies"]) for properties in hooks.values()}) == 1


def test_the_codedeploy_hooks_always_read_deployments_and_listeners_and_the_ecs_hook_never() -> None:
    for logical_id in CODEDEPLOY_HOOKS:
        for action in (GET_DEPLOYMENT, *READ_LISTENERS):
            assert conditions_granting(logical_id, action) == {None}, (logical_id, action)
    for action in (GET_DEPLOYMENT, HOOK_STATUS, *READ_LISTENERS):
        assert conditions_granting("EcsHookFunction", action) == set()


@pytest.mark.parametrize("action", sorted(GRANTED_ONLY_IF))
def test_what_some_stacks_need_is_granted_only_under_its_condition(action: str) -> None:
    holders = [logical_id for logical_id in NEEDED if conditions_granting(logical_id, action)]

    assert holders, f"nobody may {action}"
    for logical_id in holders:
        assert conditions_granting(logical_id, action) == {GRANTED_ONLY_IF[action]}, logical_id


def test_conditional_policies_grant_nothing_otherwise() -> None:
    for logical_id in NEEDED:
        for policy in policies_of(logical_id):
            if "Fn::If" in policy:
                assert policy["Fn::If"][2] == NO_VALUE, logical_id


def test_every_hook_reads_the_catalog_from_its_bucket_and_prefix_only() -> None:
    for logical_id in SUITE_READERS:
        variables = RESOURCES[logical_id]["Properties"]["Environment"]["Variables"]
        catalog = [
            statement for statement in statements(policies_of(logical_id)) if set(actions(statement)) & READ_CATALOG
        ]

        assert (variables["SUITE_BUCKET"], variables["SUITE_PREFIX"]) == (
            {"Ref": "SuiteBucket"},
            {"Ref": "SuitePrefix"},
        )
        assert {statement["Action"] for statement in catalog} == READ_CATALOG, logical_id
        (listing,) = [statement for statement in catalog if statement["Action"] == "s3:ListBucket"]
        # Listing only names keys under the prefix; without it a missing suite would look like a refusal.
        assert listing["Condition"] == {"StringLike": {"s3:prefix": {"Fn::Sub": "${SuitePrefix}*"}}}


def test_s3_is_only_read_and_only_the_current_version() -> None:
    for logical_id in NEEDED:
        granted = {action for statement in statements(policies_of(logical_id)) for action in actions(statement)}
        s3 = {action for action in granted if action.startswith("s3:")}
        assert s3 <= READ_CATALOG, (logical_id, s3)


def test_the_probe_may_invoke_only_the_listed_functions_and_only_when_some_are() -> None:
    assert conditions_granting("ProbeFunction", INVOKE) == {"ProbeInvokesFunctions"}
    assert TEMPLATE["Conditions"]["ProbeInvokesFunctions"] == {
        "Fn::Not": [{"Fn::Equals": [{"Fn::Join": ["", {"Ref": "InvokableFunctionArns"}]}, ""]}]
    }


def test_the_probe_runs_in_the_vpc_only_with_subnets_and_security_groups_both_given() -> None:
    probe = RESOURCES["ProbeFunction"]["Properties"]

    assert probe["VpcConfig"] == {
        "Fn::If": [
            "ProbeInVpc",
            {"SubnetIds": {"Ref": "ProbeSubnetIds"}, "SecurityGroupIds": {"Ref": "ProbeSecurityGroupIds"}},
            NO_VALUE,
        ]
    }
    assert TEMPLATE["Conditions"]["ProbeInVpc"] == {
        "Fn::And": [{"Condition": "ProbeSubnetsGiven"}, {"Condition": "ProbeSecurityGroupsGiven"}]
    }


def test_the_probes_network_interfaces_are_allowed_only_inside_the_vpc() -> None:
    # SAM would attach AWSLambdaVPCAccessExecutionRole to its own role whenever VpcConfig is present, even
    # when the !If around it leaves the probe outside: the probe has its own role, where the policy is conditional.
    role = RESOURCES[str(role_of("ProbeFunction"))]["Properties"]

    assert role["ManagedPolicyArns"] == [
        {"Fn::Sub": MANAGED_POLICY + "service-role/AWSLambdaBasicExecutionRole"},
        {"Fn::Sub": MANAGED_POLICY + "AWSXRayDaemonWriteAccess"},
        {
            "Fn::If": [
                "ProbeInVpc",
                {"Fn::Sub": MANAGED_POLICY + "service-role/AWSLambdaVPCAccessExecutionRole"},
                NO_VALUE,
            ]
        },
    ]
    assert role["AssumeRolePolicyDocument"]["Statement"] == [
        {"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"}
    ]
    assert "Policies" not in RESOURCES["ProbeFunction"]["Properties"]  # SAM ignores them beside a Role


def test_ecs_may_only_invoke_the_ecs_hook() -> None:
    role = RESOURCES["EcsHookInvokeRole"]["Properties"]

    (trust,) = role["AssumeRolePolicyDocument"]["Statement"]
    assert (trust["Effect"], trust["Principal"], trust["Action"]) == (
        "Allow",
        {"Service": "ecs.amazonaws.com"},
        "sts:AssumeRole",
    )
    (statement,) = statements(policies_of("EcsHookInvokeRole"))
    assert (statement["Action"], statement["Resource"]) == (INVOKE, INVOKE_RESOURCE_OF["EcsHookInvokeRole"])
