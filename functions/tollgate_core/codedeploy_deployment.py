"""A CodeDeploy deployment as the hook needs it: whose it is, which listeners it routes, which version it ships."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from tollgate_core.contracts import LambdaTarget, ListenerRole

_TRAFFIC_ROUTES = {ListenerRole.TEST: "testTrafficRoute", ListenerRole.PRODUCTION: "prodTrafficRoute"}


class DeploymentProblem(ValueError):
    """The deployment cannot give what the suite asks of it; the message names the deployment and the field."""


@dataclass(frozen=True)
class CodeDeployDeployment:
    deployment_id: str
    application: str
    deployment_group: str
    compute_platform: str  # ECS, Lambda or Server
    listener_arns: dict[ListenerRole, list[str]]  # from the first target group pair (ECS blue/green)
    app_spec: str | None  # the revision's AppSpec text, for Lambda deployments

    @classmethod
    def from_deployment_info(cls, info: dict[str, Any]) -> CodeDeployDeployment:
        """From GetDeployment's `deploymentInfo`."""
        deployment_id = str(info.get("deploymentId") or "?")
        for name in ("applicationName", "deploymentGroupName"):
            if not isinstance(info.get(name), str) or not info[name]:
                raise DeploymentProblem(f"deployment {deployment_id}: GetDeployment gave no {name}")
        pairs = (info.get("loadBalancerInfo") or {}).get("targetGroupPairInfoList") or [{}]
        return cls(
            deployment_id=deployment_id,
            application=info["applicationName"],
            deployment_group=info["deploymentGroupName"],
            compute_platform=str(info.get("computePlatform") or "Server"),
            listener_arns={
                role: list((pairs[0].get(route) or {}).get("listenerArns") or [])
                for role, route in _TRAFFIC_ROUTES.items()
            },
            app_spec=_app_spec(info.get("revision") or {}),
        )

    def listener_arn(self, role: ListenerRole) -> str:
        """The listener of that role; a deployment without one cannot say where to probe."""
        arns = self.listener_arns[role]
        if not arns:
            route = _TRAFFIC_ROUTES[role]
            raise DeploymentProblem(
                f"target.fromDeployment: {role}: deployment {self.deployment_id} ({self.compute_platform}, "
                f"{self.application}/{self.deployment_group}) routes no {route} through a load balancer listener; "
                "give target.baseUrl instead"
            )
        return arns[0]

    def lambda_target(self, function_arn_prefix: str) -> LambdaTarget:
        """The function version the deployment shifts to, from its AppSpec.

        `function_arn_prefix` (arn:<partition>:lambda:<region>:<account>:function:) qualifies a bare function name.
        """
        if self.compute_platform != "Lambda" or not self.app_spec:
            raise DeploymentProblem(
                f"invoke.function: deployment {self.deployment_id} ({self.compute_platform}, "
                f"{self.application}/{self.deployment_group}) deploys no Lambda function to invoke; "
                "name the function in invoke.function"
            )
        properties = _function_properties(self.app_spec, self.deployment_id)
        name, version = properties["Name"], properties["TargetVersion"]
        arn = name if name.startswith("arn:") else function_arn_prefix + name
        return {
            "function": name,
            "alias": properties["Alias"],
            "currentVersion": properties["CurrentVersion"],
            "targetVersion": version,
            "arn": f"{arn}:{version}",
        }


def _app_spec(revision: dict[str, Any]) -> str | None:
    for kind in ("appSpecContent", "string"):
        content = (revision.get(kind) or {}).get("content")
        if isinstance(content, str) and content:
            return content
    return None


def _function_properties(app_spec: str, deployment_id: str) -> dict[str, str]:
    """Name, Alias, CurrentVersion and TargetVersion of the AppSpec's one Lambda function, as text."""
    import yaml  # the AppSpec is YAML or JSON; only Lambda deployments read it

    where = f"deployment {deployment_id}: AppSpec"
    try:
        document = yaml.safe_load(app_spec)
    except yaml.YAMLError as error:
        raise DeploymentProblem(f"{where}: not YAML or JSON: {error}") from None
    resources = document.get("Resources") if isinstance(document, dict) else None
    functions = [
        resource
        for entry in (resources if isinstance(resources, list) else [])
        if isinstance(entry, dict)
        for resource in entry.values()
        if isinstance(resource, dict) and resource.get("Type") == "AWS::Lambda::Function"
    ]
    if len(functions) != 1:
        raise DeploymentProblem(f"{where}: Resources name {len(functions)} AWS::Lambda::Function; expected one")
    properties = functions[0].get("Properties")
    properties = properties if isinstance(properties, dict) else {}
    missing = [
        name for name in ("Name", "Alias", "CurrentVersion", "TargetVersion") if properties.get(name) in (None, "")
    ]
    if missing:
        raise DeploymentProblem(f"{where}: the function's Properties lack {', '.join(missing)}")
    return {name: str(properties[name]) for name in ("Name", "Alias", "CurrentVersion", "TargetVersion")}
