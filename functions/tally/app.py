"""Tally: fold one round's probe results into the validation's progress and pick the next step."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from tollgate_core.observability import logger
from tollgate_core.progress import tally_round


@logger.inject_lambda_context
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    progress = tally_round(event["progress"], event["results"])
    logger.info("round tallied", extra={"next": progress["next"], "outcome": progress["outcome"]})
    return progress
