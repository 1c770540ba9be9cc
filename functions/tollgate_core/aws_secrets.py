"""The AWS SecretResolver: references read through Powertools' cached Secrets Manager and SSM providers."""

from __future__ import annotations

from functools import cached_property
from typing import Any

import boto3
from aws_lambda_powertools.utilities.parameters import (
    GetParameterError,
    SecretsProvider,
    SSMProvider,
    TransformParameterError,
)
from botocore.exceptions import BotoCoreError, ClientError

from tollgate_core.secrets import SecretUnavailable, describe_reference

# Values live in the providers' cache for the life of the container, but no longer than five minutes: a
# rotated secret reaches the probe without a redeploy, while a validation's many attempts (seconds apart)
# still read each secret about once per five minutes instead of once per request.
MAX_AGE_SECONDS = 300


class AwsSecretResolver:
    """Reads a reference's value, from the providers' cache while it is younger than `max_age` seconds."""

    def __init__(self, session: boto3.session.Session, max_age: int = MAX_AGE_SECONDS) -> None:
        self._session = session
        self._max_age = max_age

    def resolve(self, reference: dict[str, str]) -> str:
        try:
            return self._read(reference)
        except (GetParameterError, TransformParameterError, BotoCoreError) as error:
            raise SecretUnavailable(f"{describe_reference(reference)} unavailable: {_reason(error)}") from None

    # Each provider's client is created at its first reference: a suite that only names SSM parameters
    # does not pay for a Secrets Manager client, and a client that cannot be created (no region) is a
    # failed attempt, not a failed Lambda.
    @cached_property
    def _secrets(self) -> SecretsProvider:
        return SecretsProvider(boto3_session=self._session)

    @cached_property
    def _ssm(self) -> SSMProvider:
        return SSMProvider(boto3_session=self._session)

    def _read(self, reference: dict[str, str]) -> str:
        if "ssm" in reference:
            return _text(reference, self._ssm.get(reference["ssm"], max_age=self._max_age, decrypt=True))
        if "key" not in reference:
            return _text(reference, self._secrets.get(reference["secretsManager"], max_age=self._max_age))
        # Read as a whole JSON document, so the keys of one secret share one read and one cache entry.
        document = self._secrets.get(reference["secretsManager"], max_age=self._max_age, transform="json")
        if not isinstance(document, dict) or reference["key"] not in document:
            raise SecretUnavailable(f"{describe_reference(reference)} unavailable: key not in the secret")
        return str(document[reference["key"]])


def aws_secret_resolver() -> AwsSecretResolver:
    """A resolver whose clients take region, credentials and `AWS_ENDPOINT_URL` from the environment."""
    return AwsSecretResolver(boto3.session.Session())


def _text(reference: dict[str, str], value: Any) -> str:
    if isinstance(value, str):
        return value
    raise SecretUnavailable(f"{describe_reference(reference)} unavailable: secret is binary, not a string")


def _reason(error: Exception) -> str:
    if isinstance(error, TransformParameterError):
        return "secret is not JSON"
    if isinstance(error, BotoCoreError):
        return type(error).__name__
    # Powertools raises GetParameterError inside its `except`, so the SDK's error is the implicit context.
    cause = error.__context__
    if isinstance(cause, ClientError):
        return str(cause.response["Error"]["Code"])
    return type(cause or error).__name__
