"""Where the catalog keeps each service's suite: the keys `tollgate publish` writes and the hooks read."""

from __future__ import annotations

import pytest

from tollgate_core.suite_catalog import cluster_and_service, codedeploy_entry, ecs_entry


def test_a_deployment_groups_suite_is_keyed_by_application_group_and_event_in_yaml_then_json() -> None:
    entry = codedeploy_entry("tollgate/", "shop", "web-bg", "AfterAllowTestTraffic")
    assert entry.keys() == [
        "tollgate/shop/web-bg/AfterAllowTestTraffic.yaml",
        "tollgate/shop/web-bg/AfterAllowTestTraffic.json",
    ]


def test_an_ecs_services_suite_is_keyed_under_ecs_by_cluster_service_and_stage() -> None:
    assert ecs_entry("", "prod", "web", "PRODUCTION_TRAFFIC_SHIFT").stem == "ecs/prod/web/PRODUCTION_TRAFFIC_SHIFT"


@pytest.mark.parametrize(
    ("service_arn", "names"),
    [
        ("arn:aws:ecs:us-east-1:123456789012:service/prod/web", ("prod", "web")),
        ("arn:aws-cn:ecs:cn-north-1:123456789012:service/prod-cn/api-v2", ("prod-cn", "api-v2")),
        ("arn:aws:ecs:us-east-1:123456789012:service/web", None),  # the old format names no cluster
        ("arn:aws:ecs:us-east-1:123456789012:service//web", None),
        ("arn:aws:ecs:us-east-1:123456789012:service/prod/", None),
        ("arn:aws:ecs:us-east-1:123456789012:task/prod/0123456789abcdef", None),
        ("service/prod/web", None),
        ("", None),
    ],
)
def test_a_service_arn_names_its_cluster_and_service_or_nothing(
    service_arn: str, names: tuple[str, str] | None
) -> None:
    assert cluster_and_service(service_arn) == names
