"""Where a person opens an execution: its page in the Step Functions console, in the execution's own region."""

from __future__ import annotations

from urllib.parse import quote

# arn:<partition>:states:<region>:<account>:execution:<state machine>:<name>
_PARTITION_CONSOLE_DOMAINS = {
    "aws": "console.aws.amazon.com",
    "aws-us-gov": "console.amazonaws-us-gov.com",
    "aws-cn": "console.amazonaws.cn",
}


def execution_console_url(execution_arn: str) -> str | None:
    """The console page of an execution, or None for something that is not a Step Functions execution ARN."""
    parts = execution_arn.split(":")
    if len(parts) < 8 or parts[0] != "arn" or parts[2] != "states" or parts[5] != "execution":
        return None
    partition, region = parts[1], parts[3]
    domain = _PARTITION_CONSOLE_DOMAINS.get(partition)
    if domain is None or not region:
        return None
    host = f"{region}.{domain}" if partition == "aws" else domain
    return f"https://{host}/states/home?region={region}#/v2/executions/details/{quote(execution_arn, safe=':')}"
