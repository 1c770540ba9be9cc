"""Tally: fold one round's probe results into the validation's progress and pick the next step."""

from __future__ import annotations

from typing import Any, cast

from aws_lambda_powertools.utilities.typing import LambdaContext

from tollgate_core.contracts import Progress, TallyEvent
from tollgate_core.observability import logger
from tollgate_core.progress import tally_round


@logger.inject_lambda_context
def handler(event: dict[str, Any], context: LambdaContext) -> Progress:
    # The workflow's own request (statemachine/validation.asl.json, `Tally round`).
    request = cast(TallyEvent, event)
    progress = tally_round(request["progress"], request["results"])
    logger.info("round tallied", extra={"next": progress["next"], "outcome": progress["outcome"]})
    return progress
