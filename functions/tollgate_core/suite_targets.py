"""Aiming a suite at what the deployment ships: the listener it routes test or production traffic through, and
the function version it shifts an alias to."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from tollgate_core.codedeploy_deployment import CodeDeployDeployment
from tollgate_core.contracts import LambdaTarget, ListenerRole, TargetListener
from tollgate_core.ports import Listener, ListenerReader
from tollgate_core.suite import Suite, SuiteError

_DEFAULT_PORTS = {"http": 80, "https": 443}


@dataclass(frozen=True)
class CodeDeployFacts:
    """What a CodeDeploy deployment can tell about itself: the deployment, read once asked, and its listeners."""

    deployment: Callable[[], CodeDeployDeployment]
    listeners: ListenerReader


@dataclass(frozen=True)
class AimedSuite:
    suite: Suite
    target_listener: TargetListener | None  # when target.fromDeployment was resolved
    lambda_target: LambdaTarget | None  # when an invoke route invokes the deployment's target version


def aim_suite(
    suite: Suite, override_base_url: str | None, codedeploy: CodeDeployFacts | None, function_arn_prefix: str
) -> AimedSuite:
    """The suite with its target URL and invoked functions filled in.

    `override_base_url` (the stack's TargetBaseUrl, an ECS hook's targetBaseUrl) wins over `fromDeployment`;
    `codedeploy` is None for ECS-native deployments, which name no listeners and ship no function version.
    """
    target_listener: TargetListener | None = None
    role = suite.needs_deployment_target
    if override_base_url or role is None:
        suite = suite.with_base_url(override_base_url)
    else:
        facts = _codedeploy(codedeploy, "target.fromDeployment")
        target_listener = listener_target(role, facts.deployment(), facts.listeners)
        suite = suite.with_base_url(target_listener["url"])
    lambda_target: LambdaTarget | None = None
    if suite.needs_function_target:
        lambda_target = _codedeploy(codedeploy, "invoke.function").deployment().lambda_target(function_arn_prefix)
        suite = suite.with_function_target(lambda_target["arn"])
    return AimedSuite(suite, target_listener, lambda_target)


def listener_target(role: ListenerRole, deployment: CodeDeployDeployment, listeners: ListenerReader) -> TargetListener:
    arn = deployment.listener_arn(role)
    return {"role": role, "listenerArn": arn, "url": listener_url(listeners.read(arn), role)}


def listener_url(listener: Listener, role: ListenerRole) -> str:
    scheme = listener.protocol.lower()
    if scheme not in _DEFAULT_PORTS:
        raise SuiteError(
            [
                f"target.fromDeployment: {role}: listener {listener.arn} speaks {listener.protocol}; "
                "probes need an HTTP or HTTPS listener (an Application Load Balancer's)"
            ]
        )
    port = "" if _DEFAULT_PORTS[scheme] == listener.port else f":{listener.port}"
    return f"{scheme}://{listener.dns_name}{port}"


def function_arn_prefix(state_machine_arn: str) -> str:
    """arn:<partition>:lambda:<region>:<account>:function: in the stack's own partition, region and account."""
    _, partition, _, region, account, *_ = state_machine_arn.split(":")
    return f"arn:{partition}:lambda:{region}:{account}:function:"


def codedeploy_only_problem(suite: Suite) -> str | None:
    """Why a suite cannot judge an ECS-native deployment: it asks what only a CodeDeploy deployment tells."""
    if suite.needs_deployment_target:
        return _codedeploy_only("target.fromDeployment")
    if suite.needs_function_target:
        return _codedeploy_only("invoke.function")
    return None


def _codedeploy_only(field: str) -> str:
    return (
        f"{field}: only a CodeDeploy deployment names its listeners and function versions; "
        "for an ECS-native deployment give target.baseUrl (or hookDetails.targetBaseUrl) and invoke.function"
    )


def _codedeploy(codedeploy: CodeDeployFacts | None, field: str) -> CodeDeployFacts:
    if codedeploy is None:
        raise SuiteError([_codedeploy_only(field)])
    return codedeploy
