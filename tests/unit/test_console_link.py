"""The console link printed beside every validation opens that execution, in its own region."""

from __future__ import annotations

import pytest

from tollgate_core.console_link import execution_console_url

EXECUTION = "arn:aws:states:eu-west-1:123456789012:execution:shop-validation:AfterAllowTraffic-0a29fe"


def test_an_execution_opens_in_its_regions_console() -> None:
    assert execution_console_url(EXECUTION) == (
        "https://eu-west-1.console.aws.amazon.com/states/home?region=eu-west-1"
        "#/v2/executions/details/arn:aws:states:eu-west-1:123456789012:execution:shop-validation:AfterAllowTraffic-0a29fe"
    )


def test_other_partitions_use_their_own_console() -> None:
    gov = execution_console_url(EXECUTION.replace("arn:aws:states:eu-west-1", "arn:aws-us-gov:states:us-gov-west-1"))
    china = execution_console_url(EXECUTION.replace("arn:aws:states:eu-west-1", "arn:aws-cn:states:cn-north-1"))

    assert gov is not None and gov.startswith("https://console.amazonaws-us-gov.com/states/home?region=us-gov-west-1#")
    assert china is not None and china.startswith("https://console.amazonaws.cn/states/home?region=cn-north-1#")


@pytest.mark.parametrize(
    "not_an_execution",
    [
        "",
        "arn:aws:states:eu-west-1:123456789012:stateMachine:shop-validation",
        "arn:aws:lambda:eu-west-1:123456789012:function:shop",
        "arn:aws-iso:states:us-iso-east-1:123456789012:execution:shop-validation:x",
    ],
)
def test_anything_else_has_no_link(not_an_execution: str) -> None:
    assert execution_console_url(not_an_execution) is None
