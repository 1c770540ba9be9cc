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
class AimedSuite:
    suite: Suite
    target_listener: TargetListener | None  # when target.fromDeployment was resolved
    lambda_target: LambdaTarget | None  # when an invoke route invokes the deployment's target version


def aim_suite(
    suite: Suite,
    override_base_url: str | None,
    deployment: Callable[[], CodeDeployDeployment] | None,
    listeners: ListenerReader,
    function_arn_prefix: str,
) -> AimedSuite:
    """The suite with its target URL and invoked functions filled in.

    `override_base_url` (the stack's TargetBaseUrl, an ECS hook's targetBaseUrl) wins over `fromDeployment`;
    `deployment` reads the CodeDeploy deployment once asked, and is None for ECS-native deployments.
    """
    target_listener: TargetListener | None = None
    role = suite.needs_deployment_target
    if override_base_url or role is None:
        suite = suite.with_base_url(override_base_url)
    else:
        target_listener = listener_target(role, _deployment(deployment, "target.fromDeployment")(), listeners)
        suite = suite.with_base_url(target_listener["url"])
    lambda_target: LambdaTarget | None = None
    if suite.needs_function_target:
        lambda_target = _deployment(deployment, "invoke.function")().lambda_target(function_arn_prefix)
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


def _deployment(
    deployment: Callable[[], CodeDeployDeployment] | None, field: str
) -> Callable[[], CodeDeployDeployment]:
    if deployment is None:
        raise SuiteError(
            [
                f"{field}: only a CodeDeploy deployment names its listeners and function versions; "
                "for an ECS-native deployment give target.baseUrl (or hookDetails.targetBaseUrl) and invoke.function"
            ]
        )
    return deployment
