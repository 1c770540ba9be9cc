"""boto3 clients made at their first use.

A function that never calls a service does not load its model (about 50 ms a client: the hook reports to
CodeDeploy only when it cannot start a validation), and a client that cannot be made (no region) fails the
call that needed it, not the function's init.
"""

from __future__ import annotations

import threading
from typing import Any

import boto3
from botocore.config import Config

# Retries (mode and attempts) come from AWS_RETRY_MODE and AWS_MAX_ATTEMPTS, set in template.yaml.
CLIENT_CONFIG = Config(connect_timeout=5, read_timeout=15)
# boto3's default session is not safe to make clients from in two threads at once (the hook's deadline leaves a
# thread reading the suite while the handler reports Failed).
_MAKING = threading.Lock()


class LazyClient:
    def __init__(self, service: str, client: Any = None, config: Config = CLIENT_CONFIG) -> None:
        self._service = service
        self._client = client
        self._config = config

    @property
    def client(self) -> Any:
        if self._client is None:
            with _MAKING:
                self._client = self._client or boto3.client(self._service, config=self._config)
        return self._client
