"""ECS lifecycle hook: start the validation workflow, then answer ECS's polls from the execution; never raise."""

from __future__ import annotations

from functools import cache
from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from tollgate_core.aws import StepFunctionsDescriber, StepFunctionsStarter
from tollgate_core.aws_deployment import S3SuiteStore
from tollgate_core.console_link import execution_console_url
from tollgate_core.contracts import EcsHookAnswer
from tollgate_core.ecs_hook import answer_hook
from tollgate_core.observability import logger, metrics
from tollgate_core.settings import EcsHookSettings

SETTINGS = EcsHookSettings.from_env()
# Of the invocation's time, what starting the execution and answering ECS may need after reading the suite.
START_AND_ANSWER_SECONDS = 10.0


@cache
def _adapters() -> tuple[StepFunctionsStarter, StepFunctionsDescriber, S3SuiteStore]:
    return StepFunctionsStarter(SETTINGS.state_machine_arn), StepFunctionsDescriber(), S3SuiteStore()


@logger.inject_lambda_context
@metrics.log_metrics
def handler(event: Any, context: LambdaContext) -> EcsHookAnswer:
    starter, reader, suites = _adapters()
    prepare_within = context.get_remaining_time_in_millis() / 1000 - START_AND_ANSWER_SECONDS
    answer = answer_hook(event, SETTINGS, starter, reader, suites, prepare_within)
    arn = answer["hookDetails"].get("executionArn")
    logger.info(
        "answer to ECS",
        extra={
            "hookStatus": answer["hookStatus"],
            "hookDetails": answer["hookDetails"],
            "consoleUrl": execution_console_url(arn) if isinstance(arn, str) else None,
        },
    )
    return answer
