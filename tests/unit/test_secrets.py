"""Header secrets: references in the suite, values only inside the probe at call time."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3
import pytest
from moto import mock_aws

from tests.support.suites import route, stage, suite_document
from tests.support.target import Behaviour, TargetService
from tollgate_core.aws_secrets import MAX_AGE_SECONDS, AwsSecretResolver
from tollgate_core.checks import routes_of
from tollgate_core.contracts import ProbeResult
from tollgate_core.probing import ProbeRequest, probe_attempt
from tollgate_core.secrets import SecretUnavailable
from tollgate_core.suite import SuiteError, parse_suite


@dataclass
class Aws:
    """Moto's Secrets Manager and SSM, holding a JSON secret `shop/api` and a SecureString `/shop/cookie`."""

    session: boto3.session.Session
    secretsmanager: Any
    ssm: Any

    def resolver(self, max_age: int = MAX_AGE_SECONDS) -> AwsSecretResolver:
        return AwsSecretResolver(self.session, max_age)


@pytest.fixture
def aws() -> Iterator[Aws]:
    with mock_aws():
        session = boto3.session.Session(region_name="us-east-1")
        secretsmanager, ssm = session.client("secretsmanager"), session.client("ssm")
        secretsmanager.create_secret(Name="shop/api", SecretString=json.dumps({"token": "s3cr3t-token"}))
        ssm.put_parameter(Name="/shop/cookie", Value="session=abc123", Type="SecureString")
        yield Aws(session, secretsmanager, ssm)


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


def probe_with(headers: dict[str, Any], base_url: str, resolver: AwsSecretResolver) -> ProbeResult:
    suite = parse_suite(
        suite_document(stage("smoke", route("r", headers=headers, retry={"maxAttempts": 1})), base_url=base_url)
    )
    request = ProbeRequest("smoke", routes_of(suite.stages[0])[0], suite.target, 1, 1)
    return probe_attempt(request, secrets=resolver)


def test_the_probe_sends_resolved_values_and_never_returns_them(aws: Aws) -> None:
    # Given a Secrets Manager key and an SSM SecureString as header references
    headers = {"Authorization": {"secretsManager": "shop/api", "key": "token"}, "Cookie": {"ssm": "/shop/cookie"}}

    # When the probe sends its request
    with TargetService({"/r": Behaviour()}) as target:
        result = probe_with(headers, target.url, aws.resolver())
        sent = target.requests[-1]["headers"]

    # Then the service got the values, and the result does not hold them
    assert (sent["Authorization"], sent["Cookie"]) == ("s3cr3t-token", "session=abc123")
    assert result["ok"] is True
    assert "s3cr3t" not in json.dumps(result)


@pytest.mark.parametrize(
    ("reference", "reason"),
    [
        ({"secretsManager": "shop/missing"}, "secret shop/missing unavailable: ResourceNotFoundException"),
        ({"ssm": "/shop/missing"}, "ssm parameter /shop/missing unavailable: ParameterNotFound"),
        (
            {"secretsManager": "shop/api", "key": "password"},
            "secret shop/api key password unavailable: key not in the secret",
        ),
        (
            {"secretsManager": "shop/plain", "key": "token"},
            "secret shop/plain key token unavailable: secret is not JSON",
        ),
        (
            {"secretsManager": "shop/list", "key": "token"},
            "secret shop/list key token unavailable: key not in the secret",
        ),
        ({"secretsManager": "shop/binary"}, "secret shop/binary unavailable: secret is binary, not a string"),
    ],
)
def test_an_unreadable_reference_fails_the_probe_naming_the_reference_only(
    aws: Aws, reference: dict[str, str], reason: str
) -> None:
    # Given secrets that are not JSON objects, besides the fixture's
    aws.secretsmanager.create_secret(Name="shop/plain", SecretString="not json")
    aws.secretsmanager.create_secret(Name="shop/list", SecretString='["token"]')
    aws.secretsmanager.create_secret(Name="shop/binary", SecretBinary=b"\x00\x01")

    # When the probe meets a reference it cannot read
    with TargetService({"/r": Behaviour()}) as target:
        result = probe_with({"Authorization": reference}, target.url, aws.resolver())

    # Then the attempt fails with the reason, and no request is sent
    assert result["ok"] is False
    assert result["reason"] == reason
    assert target.requests == []


def test_a_value_is_read_once_while_it_is_younger_than_max_age(aws: Aws) -> None:
    # Given a resolver that has read a parameter
    resolver = aws.resolver()
    first = resolver.resolve({"ssm": "/shop/cookie"})

    # When the parameter disappears
    aws.ssm.delete_parameter(Name="/shop/cookie")

    # Then the cached value is still used
    assert resolver.resolve({"ssm": "/shop/cookie"}) == first


def test_keys_of_one_secret_share_one_read(aws: Aws) -> None:
    # Given a JSON secret with two keys, one of which has been read
    aws.secretsmanager.put_secret_value(SecretId="shop/api", SecretString=json.dumps({"token": "t", "user": "u"}))
    resolver = aws.resolver()
    resolver.resolve({"secretsManager": "shop/api", "key": "token"})

    # When the secret disappears
    aws.secretsmanager.delete_secret(SecretId="shop/api", ForceDeleteWithoutRecovery=True)

    # Then the other key is read from the same cached document
    assert resolver.resolve({"secretsManager": "shop/api", "key": "user"}) == "u"


def test_a_rotated_secret_is_read_again_once_the_cached_value_is_older_than_max_age(aws: Aws) -> None:
    # Given a resolver caching for one second, which has read a secret
    resolver = aws.resolver(max_age=1)
    reference = {"secretsManager": "shop/api", "key": "token"}
    resolver.resolve(reference)

    # When the secret is rotated
    aws.secretsmanager.put_secret_value(SecretId="shop/api", SecretString=json.dumps({"token": "rotated"}))

    # Then the old value is used until it is older than max_age, the new one after
    assert resolver.resolve(reference) == "s3cr3t-token"
    time.sleep(1.1)
    assert resolver.resolve(reference) == "rotated"


def test_a_client_that_cannot_be_created_fails_the_attempt_not_the_probe(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given an environment with no region anywhere
    for variable in ("AWS_REGION", "AWS_DEFAULT_REGION"):
        monkeypatch.delenv(variable, raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "no-config"))

    # When a reference is resolved
    with mock_aws(), pytest.raises(SecretUnavailable) as raised:
        AwsSecretResolver(boto3.session.Session()).resolve({"ssm": "/shop/cookie"})

    # Then the reason names the missing region
    assert str(raised.value) == "ssm parameter /shop/cookie unavailable: NoRegionError"
