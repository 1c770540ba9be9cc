"""The local load balancers: listeners made from URLs, described to a boto3 elbv2 client at the edge as ELB would."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest
from botocore.exceptions import ClientError

from tests.support.service_model import output_problems
from tests.support.standalone_edge import edge_client, standalone_edge
from tollgate.engine.elbv2 import ListenerUrlError, LocalLoadBalancers

LISTENER_ARN = r"arn:aws:elasticloadbalancing:us-east-1:123456789012:listener/app/{name}/[0-9a-f]{{16}}/[0-9a-f]{{16}}"
UNKNOWN_LISTENER = (
    "arn:aws:elasticloadbalancing:us-east-1:123456789012:listener/app/shop/50dc6c495c0c9188/f2f7dc8efc522ab2"
)
UNKNOWN_LOAD_BALANCER = "arn:aws:elasticloadbalancing:us-east-1:123456789012:loadbalancer/app/shop/50dc6c495c0c9188"


@pytest.fixture
def load_balancers() -> LocalLoadBalancers:
    return LocalLoadBalancers()


@pytest.fixture
def elbv2(load_balancers: LocalLoadBalancers) -> Iterator[Any]:
    with standalone_edge(load_balancers=load_balancers) as edge:
        yield edge_client(edge, "elbv2")


def described_listeners(elbv2: Any, **request: Any) -> list[dict[str, Any]]:
    response = elbv2.describe_listeners(**request)
    assert output_problems("elbv2", "DescribeListeners", response) == []
    listeners: list[dict[str, Any]] = response["Listeners"]
    return listeners


def described_load_balancers(elbv2: Any, **request: Any) -> list[dict[str, Any]]:
    response = elbv2.describe_load_balancers(**request)
    assert output_problems("elbv2", "DescribeLoadBalancers", response) == []
    load_balancers: list[dict[str, Any]] = response["LoadBalancers"]
    return load_balancers


def error_code(call: Any, **request: Any) -> str:
    with pytest.raises(ClientError) as raised:
        call(**request)
    code: str = raised.value.response["Error"]["Code"]
    return code


def test_a_listener_per_url_tells_the_hook_where_test_and_production_traffic_go(
    load_balancers: LocalLoadBalancers, elbv2: Any
) -> None:
    # Given a load balancer made for a test URL and a production URL
    listeners = load_balancers.add("http://127.0.0.1:8081", "https://127.0.0.1:8443/", name="shop")
    assert listeners.test is not None
    assert listeners.production is not None

    # When a hook describes both listeners
    test, production = described_listeners(elbv2, ListenerArns=[listeners.test, listeners.production])

    # Then each has the URL's protocol and port, on one load balancer, with ARNs shaped like ELB's
    assert (test["ListenerArn"], test["Protocol"], test["Port"]) == (listeners.test, "HTTP", 8081)
    assert (production["ListenerArn"], production["Protocol"], production["Port"]) == (
        listeners.production,
        "HTTPS",
        8443,
    )
    assert test["LoadBalancerArn"] == production["LoadBalancerArn"]
    assert all(re.fullmatch(LISTENER_ARN.format(name="shop"), arn) for arn in (listeners.test, listeners.production))

    # And the load balancer's DNS name is the URLs' host
    (load_balancer,) = described_load_balancers(elbv2, LoadBalancerArns=[test["LoadBalancerArn"]])
    assert (load_balancer["DNSName"], load_balancer["LoadBalancerName"]) == ("127.0.0.1", "shop")
    assert load_balancer["Type"] == "application"


def test_a_url_without_a_port_listens_on_its_schemes_port(load_balancers: LocalLoadBalancers, elbv2: Any) -> None:
    listeners = load_balancers.add(None, "http://localhost")

    (production,) = described_listeners(elbv2, ListenerArns=[listeners.production])

    assert listeners.test is None
    assert (production["Protocol"], production["Port"]) == ("HTTP", 80)
    assert described_load_balancers(elbv2)[0]["DNSName"] == "localhost"


def test_a_load_balancers_listeners_are_described_by_its_arn(load_balancers: LocalLoadBalancers, elbv2: Any) -> None:
    # Given two load balancers
    first = load_balancers.add("http://127.0.0.1:8081", "http://127.0.0.1:8080")
    load_balancers.add(None, "http://127.0.0.1:9090")
    (listener,) = described_listeners(elbv2, ListenerArns=[first.test])

    # When one's listeners are asked for, Then only its two are described
    listeners = described_listeners(elbv2, LoadBalancerArn=listener["LoadBalancerArn"])
    assert {found["ListenerArn"] for found in listeners} == {first.test, first.production}
    assert len(described_load_balancers(elbv2)) == 2


def test_unknown_listeners_and_load_balancers_are_elbs_errors(load_balancers: LocalLoadBalancers, elbv2: Any) -> None:
    # Given a load balancer with one listener
    known = load_balancers.add(None, "http://127.0.0.1:8080").production

    # Then asking for a listener or load balancer it does not have is answered as ELB answers it
    assert error_code(elbv2.describe_listeners, ListenerArns=[known, UNKNOWN_LISTENER]) == "ListenerNotFound"
    assert error_code(elbv2.describe_load_balancers, LoadBalancerArns=[UNKNOWN_LOAD_BALANCER]) == "LoadBalancerNotFound"
    assert error_code(elbv2.describe_listeners, LoadBalancerArn=UNKNOWN_LOAD_BALANCER) == "LoadBalancerNotFound"
    assert error_code(elbv2.describe_load_balancers, Names=["nobody"]) == "LoadBalancerNotFound"
    assert error_code(elbv2.describe_listeners, ListenerArns=["not-an-arn"]) == "ValidationError"
    assert error_code(elbv2.describe_listeners) == "ValidationError"
    assert error_code(elbv2.describe_load_balancers, LoadBalancerArns=[UNKNOWN_LOAD_BALANCER], Names=["shop"]) == (
        "ValidationError"
    )


def test_boto3s_not_found_exceptions_match_the_local_errors(elbv2: Any) -> None:
    with pytest.raises(elbv2.exceptions.ListenerNotFoundException):
        elbv2.describe_listeners(ListenerArns=[UNKNOWN_LISTENER])


def test_actions_the_local_load_balancers_do_not_serve_are_refused(elbv2: Any) -> None:
    assert error_code(elbv2.describe_target_groups) == "InvalidAction"


@pytest.mark.parametrize(
    ("test_url", "production_url", "reason"),
    [
        ("ftp://127.0.0.1:21", None, "http:// or https://"),
        ("http://127.0.0.1:8080/api", None, "not a path"),
        ("http://127.0.0.1:8080", "http://localhost:8081", "one host name"),
        ("http://127.0.0.1:8080", "http://127.0.0.1:8080", "on a port once"),
        ("http://127.0.0.1:99999", None, "not a number from 1 to 65535"),
        (None, None, "a test or a production URL"),
    ],
)
def test_urls_no_listener_can_stand_for_are_refused_with_the_reason(
    load_balancers: LocalLoadBalancers, test_url: str | None, production_url: str | None, reason: str
) -> None:
    with pytest.raises(ListenerUrlError, match=reason):
        load_balancers.add(test_url, production_url)


def test_a_load_balancers_name_is_its_own(load_balancers: LocalLoadBalancers) -> None:
    load_balancers.add(None, "http://127.0.0.1:8080", name="shop")

    with pytest.raises(ListenerUrlError, match="named shop exists"):
        load_balancers.add(None, "http://127.0.0.1:9090", name="shop")
