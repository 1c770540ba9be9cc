"""The local Elastic Load Balancing: load balancers whose listeners are the URLs a run was given.

A CodeDeploy ECS deployment names its test and production listeners by ARN, and the hooks ask ELB where they
listen. moto's load balancers have DNS names that cannot point at this machine, so the edge answers
DescribeListeners and DescribeLoadBalancers from here instead, in ELB's query protocol, with ELB's errors.
"""

from __future__ import annotations

import re
import secrets
import threading
import uuid
import xml.etree.ElementTree as ElementTree
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from urllib.parse import urlsplit

from tollgate.engine.query_xml import add, error_response, finished
from tollgate.engine.stack import ACCOUNT_ID, PARTITION, REGION

API_VERSION = "2015-12-01"
_NAMESPACE = f"http://elasticloadbalancing.amazonaws.com/doc/{API_VERSION}/"
_ARN_PREFIX = f"arn:{PARTITION}:elasticloadbalancing:{REGION}:{ACCOUNT_ID}:"
_LISTENER_ARN = re.compile(r"^arn:aws[\w-]*:elasticloadbalancing:[\w-]+:\d{12}:listener/")
_LOAD_BALANCER_ARN = re.compile(r"^arn:aws[\w-]*:elasticloadbalancing:[\w-]+:\d{12}:loadbalancer/")
_DEFAULT_PORTS = {"http": 80, "https": 443}
# The hosted zone of every Application Load Balancer in us-east-1.
_ALB_HOSTED_ZONE = "Z35SXDOTRQ7X7K"


class ListenerProtocol(StrEnum):
    HTTP = "HTTP"
    HTTPS = "HTTPS"


class ListenerUrlError(ValueError):
    """A URL no listener can stand for; the message says which and why."""


class Elbv2Error(Exception):
    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


@dataclass(frozen=True)
class LocalListener:
    arn: str
    load_balancer_arn: str
    protocol: ListenerProtocol
    port: int


@dataclass(frozen=True)
class LocalLoadBalancer:
    arn: str
    name: str
    dns_name: str
    created: datetime


@dataclass(frozen=True)
class LocalListeners:
    """The listener ARNs of one load balancer, by the traffic CodeDeploy routes through them."""

    test: str | None
    production: str | None


@dataclass(frozen=True)
class _Endpoint:
    host: str
    protocol: ListenerProtocol
    port: int


def _endpoint(url: str) -> _Endpoint:
    parts = urlsplit(url)
    if parts.scheme not in _DEFAULT_PORTS or not parts.hostname:
        raise ListenerUrlError(f"{url!r}: a listener needs an http:// or https:// URL with a host")
    if parts.path not in ("", "/") or parts.query or parts.fragment:
        raise ListenerUrlError(f"{url!r}: a listener has a protocol, a host and a port, not a path or a query")
    try:
        port = parts.port or _DEFAULT_PORTS[parts.scheme]
    except ValueError:
        raise ListenerUrlError(f"{url!r}: the port is not a number from 1 to 65535") from None
    return _Endpoint(parts.hostname, ListenerProtocol(parts.scheme.upper()), port)


def _resource_id() -> str:
    """The hexadecimal id ELB puts at the end of its ARNs."""
    return secrets.token_hex(8)


class LocalLoadBalancers:
    """Application load balancers described locally: made with `add`, read through the edge."""

    def __init__(self) -> None:
        self._load_balancers: dict[str, LocalLoadBalancer] = {}
        self._listeners: dict[str, LocalListener] = {}
        self._lock = threading.Lock()

    def add(self, test_url: str | None, production_url: str | None, name: str | None = None) -> LocalListeners:
        """One load balancer with a listener for each URL given: where CodeDeploy's test and production traffic go.

        Both URLs must name the same host (the load balancer's DNS name) and different ports.
        """
        urls = [url for url in (test_url, production_url) if url is not None]
        if not urls:
            raise ListenerUrlError("a load balancer needs a test or a production URL")
        endpoints = [_endpoint(url) for url in urls]
        if len({endpoint.host for endpoint in endpoints}) > 1:
            raise ListenerUrlError(f"{' and '.join(urls)}: one load balancer has one host name")
        if len({endpoint.port for endpoint in endpoints}) < len(endpoints):
            raise ListenerUrlError(f"{' and '.join(urls)}: a load balancer listens on a port once")
        with self._lock:
            load_balancer = self._new_load_balancer(name, endpoints[0].host)
            arns = iter([self._new_listener(load_balancer, endpoint).arn for endpoint in endpoints])
        return LocalListeners(
            test=None if test_url is None else next(arns),
            production=None if production_url is None else next(arns),
        )

    def _new_load_balancer(self, name: str | None, host: str) -> LocalLoadBalancer:
        name = name or f"tollgate-local-{len(self._load_balancers) + 1}"
        if any(existing.name == name for existing in self._load_balancers.values()):
            raise ListenerUrlError(f"a load balancer named {name} exists already")
        arn = f"{_ARN_PREFIX}loadbalancer/app/{name}/{_resource_id()}"
        load_balancer = LocalLoadBalancer(arn, name, host, datetime.now(UTC))
        self._load_balancers[arn] = load_balancer
        return load_balancer

    def _new_listener(self, load_balancer: LocalLoadBalancer, endpoint: _Endpoint) -> LocalListener:
        path = load_balancer.arn.split(":loadbalancer/", 1)[1]
        arn = f"{_ARN_PREFIX}listener/{path}/{_resource_id()}"
        listener = LocalListener(arn, load_balancer.arn, endpoint.protocol, endpoint.port)
        self._listeners[arn] = listener
        return listener

    def describe_listeners(self, listener_arns: list[str], load_balancer_arn: str | None) -> list[LocalListener]:
        if listener_arns and load_balancer_arn:
            raise Elbv2Error("ValidationError", "Listener ARNs and a load balancer ARN cannot be specified together")
        if load_balancer_arn:
            return self._listeners_of(load_balancer_arn)
        if not listener_arns:
            raise Elbv2Error("ValidationError", "Either listener ARNs or a load balancer ARN must be specified")
        _check_arns(listener_arns, _LISTENER_ARN, "listener")
        with self._lock:
            found = [self._listeners[arn] for arn in listener_arns if arn in self._listeners]
        if len(found) < len(listener_arns):
            raise Elbv2Error("ListenerNotFound", "One or more listeners not found")
        return found

    def _listeners_of(self, load_balancer_arn: str) -> list[LocalListener]:
        (load_balancer,) = self.describe_load_balancers([load_balancer_arn], [])
        with self._lock:
            return [
                listener for listener in self._listeners.values() if listener.load_balancer_arn == load_balancer.arn
            ]

    def describe_load_balancers(self, arns: list[str], names: list[str]) -> list[LocalLoadBalancer]:
        """The load balancers with these ARNs, or these names, or all of them."""
        if arns and names:
            raise Elbv2Error("ValidationError", "Load balancer ARNs and names cannot be specified together")
        _check_arns(arns, _LOAD_BALANCER_ARN, "load balancer")
        with self._lock:
            every = list(self._load_balancers.values())
        if not arns and not names:
            return every
        by_key = {load_balancer.arn if arns else load_balancer.name: load_balancer for load_balancer in every}
        if not set(arns or names) <= by_key.keys():
            raise Elbv2Error("LoadBalancerNotFound", "One or more load balancers not found")
        return [by_key[key] for key in dict.fromkeys(arns or names)]

    def answer(self, form: dict[str, str]) -> tuple[int, bytes]:
        """The HTTP status and XML body for one query-protocol request (its form fields)."""
        request_id = str(uuid.uuid4())
        try:
            return 200, self._call(form, request_id)
        except Elbv2Error as error:
            return 400, _error_response(error, request_id)

    def _call(self, form: dict[str, str], request_id: str) -> bytes:
        action = form.get("Action", "")
        if action == "DescribeListeners":
            listeners = self.describe_listeners(_members(form, "ListenerArns"), form.get("LoadBalancerArn"))
            return _describe_listeners_response(listeners, request_id)
        if action == "DescribeLoadBalancers":
            load_balancers = self.describe_load_balancers(_members(form, "LoadBalancerArns"), _members(form, "Names"))
            return _describe_load_balancers_response(load_balancers, request_id)
        raise Elbv2Error("InvalidAction", f"{action or 'the action'} is not served locally")


def _check_arns(arns: list[str], pattern: re.Pattern[str], kind: str) -> None:
    for arn in arns:
        if not pattern.match(arn):
            raise Elbv2Error("ValidationError", f"'{arn}' is not a valid {kind} ARN")


def _members(form: dict[str, str], name: str) -> list[str]:
    """A list parameter as the query protocol sends it: Name.member.1, Name.member.2, ..."""
    prefix = f"{name}.member."
    numbered = [(key.removeprefix(prefix), value) for key, value in form.items() if key.startswith(prefix)]
    return [value for index, value in sorted(numbered, key=lambda item: int(item[0])) if index.isdigit()]


def _describe_listeners_response(listeners: list[LocalListener], request_id: str) -> bytes:
    root, result = _response("DescribeListeners")
    members = ElementTree.SubElement(result, "Listeners")
    for listener in listeners:
        member = ElementTree.SubElement(members, "member")
        add(member, "ListenerArn", listener.arn)
        add(member, "LoadBalancerArn", listener.load_balancer_arn)
        add(member, "Port", str(listener.port))
        add(member, "Protocol", listener.protocol)
    return finished(root, request_id)


def _describe_load_balancers_response(load_balancers: list[LocalLoadBalancer], request_id: str) -> bytes:
    root, result = _response("DescribeLoadBalancers")
    members = ElementTree.SubElement(result, "LoadBalancers")
    for load_balancer in load_balancers:
        member = ElementTree.SubElement(members, "member")
        add(member, "LoadBalancerArn", load_balancer.arn)
        add(member, "DNSName", load_balancer.dns_name)
        add(member, "CanonicalHostedZoneId", _ALB_HOSTED_ZONE)
        add(member, "CreatedTime", load_balancer.created.strftime("%Y-%m-%dT%H:%M:%S.%fZ"))
        add(member, "LoadBalancerName", load_balancer.name)
        add(member, "Scheme", "internet-facing")
        add(ElementTree.SubElement(member, "State"), "Code", "active")
        add(member, "Type", "application")
        add(member, "IpAddressType", "ipv4")
    return finished(root, request_id)


def _response(action: str) -> tuple[ElementTree.Element, ElementTree.Element]:
    root = ElementTree.Element(f"{action}Response", xmlns=_NAMESPACE)
    return root, ElementTree.SubElement(root, f"{action}Result")


def _error_response(error: Elbv2Error, request_id: str) -> bytes:
    return error_response(_NAMESPACE, error.code, error.message, request_id)
