"""Header secrets: references in the suite, values only inside the probe at call time."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from moto import mock_aws

from tests.support.suites import route, stage, suite_document
from tests.support.target import Behaviour, TargetService
from tollgate_core.aws_secrets import AwsSecretResolver
from tollgate_core.probing import ProbeRequest, probe_attempt
from tollgate_core.suite import SuiteError, parse_suite


@pytest.fixture
def aws() -> Iterator[AwsSecretResolver]:
    with mock_aws():
        secretsmanager = boto3.client("secretsmanager", region_name="us-east-1")
        ssm = boto3.client("ssm", region_name="us-east-1")
        secretsmanager.create_secret(Name="shop/api", SecretString=json.dumps({"token": "s3cr3t-token"}))
        ssm.put_parameter(Name="/shop/cookie", Value="session=abc123", Type="SecureString")
        yield AwsSecretResolver(secretsmanager, ssm)


@pytest.mark.parametrize("header", ["Authorization", "cookie", "X-Api-Key", "X-Auth-Token", "Client-Secret"])
def test_plain_values_of_sensitive_headers_are_rejected(header: str) -> None:
    document = suite_document(stage("smoke", route("health", headers={header: "plain"})))

    with pytest.raises(SuiteError) as raised:
        parse_suite(document)

    assert raised.value.problems == [
        f"stages[0].routes[0].headers.{header}: a plain value would show in the execution history and logs; "
        'use a reference {"secretsManager": "<arn or name>", "key": "<json key>"} '
        'or {"ssm": "<SecureString parameter>"}'
    ]


def test_references_are_valid_and_travel_as_references() -> None:
    reference = {"secretsManager": "shop/api", "key": "token"}
    document = suite_document(stage("smoke", route("health")))
    document["target"]["headers"] = {"Authorization": reference, "X-Trace": "plain is fine here"}

    suite = parse_suite(document)

    assert suite.target["headers"]["Authorization"] == reference


def test_malformed_references_are_rejected() -> None:
    document = suite_document(stage("smoke", route("health", headers={"Authorization": {"vault": "x"}})))

    with pytest.raises(SuiteError, match=r"stages\[0\].routes\[0\].headers.Authorization"):
        parse_suite(document)


def probe_with(headers: dict[str, Any], base_url: str, resolver: Any) -> dict[str, Any]:
    suite = parse_suite(
        suite_document(stage("smoke", route("r", headers=headers, retry={"maxAttempts": 1})), base_url=base_url)
    )
    request = ProbeRequest("smoke", suite.stages[0]["routes"][0], suite.target, 1, 1)
    return probe_attempt(request, secrets=resolver)


def test_the_probe_sends_resolved_values_and_never_returns_them(aws: AwsSecretResolver) -> None:
    headers = {"Authorization": {"secretsManager": "shop/api", "key": "token"}, "Cookie": {"ssm": "/shop/cookie"}}
    with TargetService({"/r": Behaviour()}) as target:
        result = probe_with(headers, target.url, aws)
        sent = target.requests[-1]["headers"]

    assert (sent["Authorization"], sent["Cookie"]) == ("s3cr3t-token", "session=abc123")
    assert result["ok"] is True
    assert "s3cr3t" not in json.dumps(result)


def test_a_missing_secret_fails_the_probe_naming_the_reference_only(aws: AwsSecretResolver) -> None:
    with TargetService({"/r": Behaviour()}) as target:
        result = probe_with({"Authorization": {"secretsManager": "shop/missing"}}, target.url, aws)

    assert result["ok"] is False
    assert result["reason"] == "secret shop/missing unavailable: ResourceNotFoundException"
    assert target.requests == []


def test_secrets_are_read_once_per_container(aws: AwsSecretResolver) -> None:
    reference = {"ssm": "/shop/cookie"}

    first = aws.resolve(reference)
    boto3.client("ssm", region_name="us-east-1").delete_parameter(Name="/shop/cookie")

    assert aws.resolve(reference) == first
