"""The suite catalog: where in S3 each deployment group's or ECS service's suite lives, one key per lifecycle event.

`tollgate publish` writes the key that the hooks read, so both compute it here.
"""

from __future__ import annotations

from dataclasses import dataclass

DEFAULT_SUITE_PREFIX = "tollgate/"
# Looked up in this order; the first that exists is the suite.
SUITE_EXTENSIONS = (".yaml", ".json")


@dataclass(frozen=True)
class CatalogEntry:
    """The keys, without extension, under which one service's suite for one lifecycle event is published."""

    stem: str  # <prefix><application>/<deploymentGroup>/<LifecycleEvent>, or <prefix>ecs/<cluster>/<service>/<STAGE>

    def keys(self) -> list[str]:
        return [self.stem + extension for extension in SUITE_EXTENSIONS]


def codedeploy_entry(prefix: str, application: str, deployment_group: str, lifecycle_event: str) -> CatalogEntry:
    return CatalogEntry(f"{prefix}{application}/{deployment_group}/{lifecycle_event}")


def ecs_entry(prefix: str, cluster: str, service: str, lifecycle_stage: str) -> CatalogEntry:
    return CatalogEntry(f"{prefix}ecs/{cluster}/{service}/{lifecycle_stage}")


def cluster_and_service(service_arn: str) -> tuple[str, str] | None:
    """(cluster, service) of an ECS service ARN (arn:aws:ecs:<region>:<account>:service/<cluster>/<service>)."""
    resource = service_arn.split(":", 5)[-1] if service_arn.startswith("arn:") else ""
    parts = resource.split("/")
    if len(parts) != 3 or parts[0] != "service" or not all(parts[1:]):
        return None
    return parts[1], parts[2]
