"""The `tollgate` command: run a suite on the embedded engine, check a suite file, or try the demo."""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Callable
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import yaml
from rich.console import Console

from tollgate.console import ProgressPrinter, print_report, print_verdict
from tollgate.demo.load_balancer import AlbMetricsPublisher
from tollgate.demo.service import SUITE_PATH as DEMO_SUITE_PATH
from tollgate.demo.service import DemoService, demo_target_group
from tollgate.demo.users import SimulatedUsers
from tollgate.ecs_run import DEFAULT_LIFECYCLE_STAGES, DEFAULT_STEPS, NoEcsHook, ecs_hook_function, run_ecs_deployment
from tollgate.engine.ecs import Strategy
from tollgate.engine.engine import EngineError, LocalEngine
from tollgate.local_run import DEFAULT_LIFECYCLE_EVENT, UnknownLifecycleEvent, hook_function_for, run_validation
from tollgate.metric_data import MetricDataBatch, MetricDataError, load_metric_data, seed_metric_data
from tollgate.report import RunReport, build_ecs_report, build_report
from tollgate_core.checks import check_count
from tollgate_core.contracts import HookStatus, LifecycleStage
from tollgate_core.suite import Suite, SuiteError, load_suite

EXIT_SUCCEEDED, EXIT_FAILED, EXIT_USAGE = 0, 1, 2
SFN_ENDPOINT_VARIABLE = "TOLLGATE_SFN_ENDPOINT"
CODEDEPLOY, ECS = "codedeploy", "ecs"
# ECS shifts at least 3 % of production traffic per linear step.
MAX_LINEAR_STEPS = 33
# What runs beside a validation: started once the engine is ready, stopped before the engine stops.
Alongside = Callable[[LocalEngine], AbstractContextManager[object]]


class UsageError(ValueError):
    """Options that do not go together; the message says which."""


def main(argv: list[str] | None = None) -> int:
    arguments = _parser().parse_args(argv)
    try:
        code: int = arguments.command(arguments)
    except (SuiteError, MetricDataError, UnknownLifecycleEvent, NoEcsHook, EngineError, UsageError) as error:
        print(error, file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        print("interrupted; the engine was stopped", file=sys.stderr)
        return 130
    return code


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="tollgate", description="Validate a service the way a CodeDeploy or ECS lifecycle hook would."
    )
    commands = parser.add_subparsers(required=True, metavar="COMMAND")

    run = commands.add_parser("run", help="run a suite against a service on the local workflow engine")
    run.add_argument("--suite", required=True, type=Path, help="suite file (YAML or JSON)")
    run.add_argument("--target", help="base URL to probe; overrides the suite's target.baseUrl")
    _add_controller_arguments(run)
    run.add_argument("--lifecycle-event", help=f"CodeDeploy: the hook to run (default: {DEFAULT_LIFECYCLE_EVENT})")
    run.add_argument(
        "--lifecycle-stage",
        choices=list(LifecycleStage),
        help="ECS: the stage the hook validates (default: POST_TEST_TRAFFIC_SHIFT for blue-green, "
        "PRODUCTION_TRAFFIC_SHIFT for linear and canary)",
    )
    run.add_argument("--steps", type=int, help=f"ECS linear: traffic steps (default: {DEFAULT_STEPS})")
    run.add_argument(
        "--metric-data",
        action="append",
        default=[],
        type=Path,
        metavar="FILE",
        help="put this metric data in the local CloudWatch before the validation: JSON as "
        "`aws cloudwatch put-metric-data --cli-input-json` takes it, or a list of such documents; "
        'timestamps may be relative to the start of the run ("now", "-90s", "-5m", "-1h"); repeatable',
    )
    run.add_argument("--report-json", type=Path, help="write the report to this file")
    run.add_argument("--quiet", action="store_true", help="print only the verdict")
    run.add_argument(
        "--sfn-endpoint",
        default=os.environ.get(SFN_ENDPOINT_VARIABLE),
        help=f"Step Functions API to use instead of the embedded one [${SFN_ENDPOINT_VARIABLE}]",
    )
    run.set_defaults(command=_run)

    validate = commands.add_parser("validate", help="check a suite file without running it")
    validate.add_argument("suite", type=Path)
    validate.set_defaults(command=_validate)

    demo = commands.add_parser("demo", help="run the bundled suite against the bundled demo service")
    demo.add_argument("--broken", action="store_true", help="break the demo service to see a rollback")
    _add_controller_arguments(demo)
    demo.set_defaults(command=_demo, lifecycle_event=None, lifecycle_stage=None, steps=None)
    return parser


def _add_controller_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--controller", choices=[CODEDEPLOY, ECS], default=CODEDEPLOY, help="who deploys (default: %(default)s)"
    )
    parser.add_argument("--strategy", choices=list(Strategy), help="ECS: how traffic shifts (default: blue-green)")


@dataclass(frozen=True)
class _EcsDeployment:
    """How the local ECS deploys: the traffic shift, and the stage the hook validates."""

    strategy: Strategy
    lifecycle_stage: LifecycleStage
    steps: int


@dataclass(frozen=True)
class _RunRequest:
    suite_path: Path
    target: str | None
    lifecycle_event: str = DEFAULT_LIFECYCLE_EVENT
    report_path: Path | None = None
    quiet: bool = False
    sfn_endpoint: str | None = None
    ecs: _EcsDeployment | None = None  # None: CodeDeploy calls the hook
    metric_data: tuple[MetricDataBatch, ...] = ()  # put in the local CloudWatch once the engine is ready


def _run(arguments: argparse.Namespace) -> int:
    request = _RunRequest(
        arguments.suite,
        arguments.target,
        arguments.lifecycle_event or DEFAULT_LIFECYCLE_EVENT,
        arguments.report_json,
        arguments.quiet,
        arguments.sfn_endpoint,
        _ecs_deployment(arguments),
        tuple(load_metric_data(arguments.metric_data, run_started=datetime.now(UTC))),
    )
    return _validate_on_engine(request)


def _ecs_deployment(arguments: argparse.Namespace) -> _EcsDeployment | None:
    """The ECS options, checked together; None for CodeDeploy."""
    if arguments.controller == CODEDEPLOY:
        if arguments.lifecycle_stage or arguments.strategy or arguments.steps is not None:
            raise UsageError("--lifecycle-stage, --strategy and --steps apply to --controller ecs")
        return None
    if arguments.lifecycle_event:
        raise UsageError("--lifecycle-event applies to --controller codedeploy; ECS validates a --lifecycle-stage")
    strategy = Strategy(arguments.strategy or Strategy.BLUE_GREEN)
    if arguments.steps is not None and strategy is not Strategy.LINEAR:
        raise UsageError("--steps applies to --strategy linear")
    steps = DEFAULT_STEPS if arguments.steps is None else arguments.steps
    if not 1 <= steps <= MAX_LINEAR_STEPS:
        raise UsageError(f"--steps: from 1 to {MAX_LINEAR_STEPS} (ECS shifts at least 3 % per step), not {steps}")
    stage = LifecycleStage(arguments.lifecycle_stage or DEFAULT_LIFECYCLE_STAGES[strategy])
    return _EcsDeployment(strategy, stage, steps)


def _validate(arguments: argparse.Namespace) -> int:
    suite = load_suite(arguments.suite)
    routes, metrics = check_count(suite.stages)
    counted = f"{len(suite.stages)} stages, {routes} routes" + (f", {metrics} metric checks" if metrics else "")
    print(f"{arguments.suite}: valid ({counted})")
    return EXIT_SUCCEEDED


def _demo(arguments: argparse.Namespace) -> int:
    """The demo service and its users, behind a load balancer that publishes to the engine's CloudWatch."""
    ecs = _ecs_deployment(arguments)
    target_group = demo_target_group()
    # The users browse while the engine starts, as they would before any deployment: their requests wait in the
    # access log, so the metric check's first round already has the requests its minRequests asks for.
    with DemoService(broken=arguments.broken) as service, SimulatedUsers(service.url):
        print(f"demo service {'(broken) ' if arguments.broken else ''}at {service.url}")

        def load_balancer(engine: LocalEngine) -> AlbMetricsPublisher:
            return AlbMetricsPublisher(service.access_log, engine.client("cloudwatch"), target_group)

        return _validate_on_engine(_RunRequest(DEMO_SUITE_PATH, service.url, ecs=ecs), alongside=load_balancer)


def _validate_on_engine(request: _RunRequest, alongside: Alongside = lambda engine: nullcontext()) -> int:
    """Check the suite here first (same messages as the hook), then run it as CodeDeploy or ECS would.

    CloudWatch is seeded once the engine is ready; `alongside` runs from then until the validation ended.
    """
    suite = load_suite(request.suite_path).with_base_url(request.target)
    console = Console(highlight=False)
    engine = LocalEngine(sfn_endpoint=request.sfn_endpoint)
    if request.ecs:
        ecs_hook_function(engine)
    else:
        hook_function_for(engine, request.lifecycle_event)
    with engine:
        if not request.quiet:
            console.print(
                f"[dim]engine ready in {engine.startup_seconds:.1f} s; function logs: {engine.log_path}[/dim]"
            )
        _seed_cloudwatch(engine, request, console)
        with alongside(engine):
            report = _run_on(engine, request, suite, None if request.quiet else ProgressPrinter(console))
    if request.report_path:
        request.report_path.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    if request.quiet:
        print_verdict(console, report)
    else:
        print_report(console, report)
    return EXIT_SUCCEEDED if report["reportedStatus"] == HookStatus.SUCCEEDED else EXIT_FAILED


def _seed_cloudwatch(engine: LocalEngine, request: _RunRequest, console: Console) -> None:
    if not request.metric_data:
        return
    datums = seed_metric_data(engine.client("cloudwatch"), request.metric_data)
    if not request.quiet:
        console.print(f"[dim]CloudWatch seeded with {datums} datums in {len(request.metric_data)} requests[/dim]")


def _run_on(engine: LocalEngine, request: _RunRequest, suite: Suite, progress: ProgressPrinter | None) -> RunReport:
    if request.ecs is None:
        outcome = run_validation(engine, request.suite_path, request.target, request.lifecycle_event, progress)
        return build_report(outcome, suite)
    # The hook receives the suite inline, in its configuration's hookDetails, as the user wrote it.
    document = yaml.safe_load(request.suite_path.read_text(encoding="utf-8"))
    ecs = request.ecs
    deployment = run_ecs_deployment(
        engine, document, request.target, (ecs.lifecycle_stage,), ecs.strategy, ecs.steps, progress
    )
    return build_ecs_report(deployment, suite)


if __name__ == "__main__":
    sys.exit(main())
