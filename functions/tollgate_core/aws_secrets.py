"""Reading referenced secrets from Secrets Manager and SSM, cached for the life of the container.

Imported only when a probe meets a reference, so probes without secrets never load boto3.
"""

from __future__ import annotations

import json
from typing import Any

import boto3
from botocore.exceptions import BotoCoreError, ClientError

from tollgate_core.secrets import SecretUnavailable, describe_reference


class AwsSecretResolver:
    def __init__(self, secretsmanager: Any = None, ssm: Any = None) -> None:
        self._secretsmanager = secretsmanager
        self._ssm = ssm
        self._cache: dict[tuple[tuple[str, str], ...], str] = {}

    def resolve(self, reference: dict[str, str]) -> str:
        cache_key = tuple(sorted(reference.items()))
        if cache_key not in self._cache:
            try:
                self._cache[cache_key] = self._read(reference)
            except (ClientError, BotoCoreError, KeyError, ValueError) as error:
                raise SecretUnavailable(f"{describe_reference(reference)} unavailable: {_error_name(error)}") from None
        return self._cache[cache_key]

    def _read(self, reference: dict[str, str]) -> str:
        if "ssm" in reference:
            self._ssm = self._ssm or boto3.client("ssm")
            value: str = self._ssm.get_parameter(Name=reference["ssm"], WithDecryption=True)["Parameter"]["Value"]
            return value
        self._secretsmanager = self._secretsmanager or boto3.client("secretsmanager")
        secret: str = self._secretsmanager.get_secret_value(SecretId=reference["secretsManager"])["SecretString"]
        if "key" not in reference:
            return secret
        return str(json.loads(secret)[reference["key"]])


def _error_name(error: Exception) -> str:
    if isinstance(error, ClientError):
        return str(error.response["Error"]["Code"])
    if isinstance(error, KeyError):
        return "key not in the secret"
    if isinstance(error, ValueError):
        return "secret is not JSON"
    return type(error).__name__
