"""The `tollgate` command: run a suite on the embedded engine, inspect a validation, check a suite, or try the demo.

What only some commands use (the console's tables, the reports, the demo) is imported where it is used, so that
`tollgate validate` and the start of `tollgate run` do not pay for it.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Callable
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

from tollgate.ecs_run import DEFAULT_LIFECYCLE_STAGES, DEFAULT_STEPS, NoEcsHook, ecs_hook_function, run_ecs_deployment
from tollgate.engine.ecs import Strategy
from tollgate.engine.elbv2 import ListenerUrlError, LocalLoadBalancers
from tollgate.engine.engine import EngineError, LocalEngine
from tollgate.engine.launch import EngineLaunch
from tollgate.engine.template import AliasDeployment
from tollgate.inspection import (
    DEFAULT_SCAN,
    STATE_MACHINE_OUTPUT,
    AwsSettings,
    FoundValidation,
    Inspection,
    InspectionError,
    console_url,
    find_validations,
    inspect_execution,
    region_of,
    state_machine_of_stack,
)
from tollgate.local_run import (
    DEFAULT_LIFECYCLE_EVENT,
    LocalDeployment,
    RunOutcome,
    UnknownLifecycleEvent,
    hook_function_for,
    hook_variables,
    run_validation,
    unused_check_functions,
)
from tollgate.metric_data import MetricDataBatch, MetricDataError, load_metric_data, seed_metric_data
from tollgate.publish import add_publish_parser
from tollgate_core.checks import check_count
from tollgate_core.contracts import (
    LAMBDA_LIFECYCLE_EVENTS,
    Controller,
    EcsHookStatus,
    ExecutionStatus,
    HookStatus,
    LifecycleEvent,
    LifecycleStage,
)
from tollgate_core.suite import Suite, SuiteError, load_suite

if TYPE_CHECKING:
    from rich.console import Console

    from tollgate.console import ProgressPrinter
    from tollgate.demo.load_balancer import AlbMetricsPublisher
    from tollgate.report import EcsRunReport, RunReport

EXIT_SUCCEEDED, EXIT_FAILED, EXIT_USAGE, EXIT_RUNNING = 0, 1, 2, 3
SFN_ENDPOINT_VARIABLE = "TOLLGATE_SFN_ENDPOINT"
CODEDEPLOY, ECS = "codedeploy", "ecs"
LAMBDA_DEFAULT_LIFECYCLE_EVENT = LifecycleEvent.BEFORE_ALLOW_TRAFFIC
# ECS shifts at least 3 % of production traffic per linear step.
MAX_LINEAR_STEPS = 33
# What runs beside a validation: started once the engine is ready, stopped before the engine stops.
Alongside = Callable[[LocalEngine], AbstractContextManager[object]]


class UsageError(ValueError):
    """Options that do not go together; the message says which."""


def main(argv: list[str] | None = None, launch: EngineLaunch | None = None) -> int:
    """`launch`: moto already starting (tollgate.entry begins it for the commands that start an engine)."""
    arguments = _parser().parse_args(argv)
    arguments.engine_launch = launch
    try:
        code: int = arguments.command(arguments)
    except (
        SuiteError,
        MetricDataError,
        UnknownLifecycleEvent,
        NoEcsHook,
        EngineError,
        UsageError,
        InspectionError,
    ) as error:
        print(error, file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        print(arguments.interrupted, file=sys.stderr)
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
    run.add_argument(
        "--lifecycle-event",
        help=f"CodeDeploy: the hook to run (default: {DEFAULT_LIFECYCLE_EVENT}; "
        f"{LAMBDA_DEFAULT_LIFECYCLE_EVENT} with --app-template)",
    )
    run.add_argument(
        "--lifecycle-stage",
        choices=[stage.value for stage in LifecycleStage],
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
    _add_deployment_arguments(run)
    _add_report_arguments(run)
    run.add_argument(
        "--sfn-endpoint",
        default=os.environ.get(SFN_ENDPOINT_VARIABLE),
        help=f"Step Functions API to use instead of the embedded one [${SFN_ENDPOINT_VARIABLE}]",
    )
    run.set_defaults(command=_run, interrupted="interrupted; the engine was stopped")

    _add_inspect_parser(commands)
    add_publish_parser(commands)

    validate = commands.add_parser("validate", help="check a suite file without running it")
    validate.add_argument("suite", type=Path)
    validate.set_defaults(command=_validate, interrupted="interrupted")

    demo = commands.add_parser("demo", help="run the bundled suite against the bundled demo service")
    demo.add_argument("--broken", action="store_true", help="break the demo service to see a rollback")
    _add_controller_arguments(demo)
    demo.set_defaults(
        command=_demo,
        lifecycle_event=None,
        lifecycle_stage=None,
        steps=None,
        interrupted="interrupted; the engine was stopped",
    )
    return parser


def _add_deployment_arguments(parser: argparse.ArgumentParser) -> None:
    deployment = parser.add_argument_group(
        "CodeDeploy: the deployment the hook reads (suite catalog, listeners, Lambda function versions)"
    )
    deployment.add_argument(
        "--application",
        metavar="NAME",
        help="with --deployment-group: publish the suite to the engine's suite catalog under this deployment "
        "group, where the hook finds it (and records its S3 version)",
    )
    deployment.add_argument("--deployment-group", metavar="NAME", help="the deployment's deployment group")
    deployment.add_argument(
        "--test-listener",
        metavar="URL",
        help="the deployment's load balancer answers test traffic here (target.fromDeployment: testListener)",
    )
    deployment.add_argument(
        "--production-listener",
        metavar="URL",
        help="and production traffic here, on the same host and another port "
        "(target.fromDeployment: productionListener)",
    )
    deployment.add_argument(
        "--app-template",
        action="append",
        default=[],
        type=Path,
        metavar="PATH",
        help="load this SAM template's functions (your own service) into the engine: the deployment is a Lambda "
        "deployment of its function with AutoPublishAlias and DeploymentPreference, validated by the "
        f"{' or '.join(LAMBDA_LIFECYCLE_EVENTS)} hook, and invoke routes call its functions; repeatable",
    )
    deployment.add_argument(
        "--function",
        metavar="NAME",
        help="the --app-template function the Lambda deployment ships (name or logical id; default: the only one "
        "with AutoPublishAlias and DeploymentPreference)",
    )


def _add_report_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--report-json", type=Path, metavar="PATH", help="write the report to this file")
    parser.add_argument(
        "--junit",
        type=Path,
        metavar="PATH",
        help="write JUnit XML to this file: a testsuite per stage, a testcase per check and round",
    )
    parser.add_argument(
        "--html",
        type=Path,
        metavar="PATH",
        help="write a self-contained HTML report to this file: the verdict, the workflow graph, a timeline",
    )
    parser.add_argument("--quiet", action="store_true", help="print only the verdict")


def _add_inspect_parser(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    inspect = commands.add_parser(
        "inspect",
        help="read a validation that ran on Step Functions (AWS or any other) into the table and reports of `run`",
        description="Read a validation from its execution: by ARN, or by its stack and deployment id. "
        f"Exit codes: {EXIT_SUCCEEDED} the deployment received Succeeded, {EXIT_FAILED} Failed, "
        f"{EXIT_USAGE} not found or bad arguments, {EXIT_RUNNING} still running (without --wait).",
    )
    inspect.add_argument("execution_arn", nargs="?", metavar="EXECUTION_ARN", help="the validation's execution")
    found = inspect.add_argument_group("or find it by deployment (the most recent validation it carries)")
    found.add_argument(
        "--stack", metavar="NAME", help=f"the Tollgate stack: its {STATE_MACHINE_OUTPUT} output names the state machine"
    )
    found.add_argument(
        "--deployment-id", metavar="ID", help="CodeDeploy deployment id (d-...) or ECS service deployment id"
    )
    found.add_argument(
        "--lifecycle-event", metavar="NAME", help="only a validation of this CodeDeploy lifecycle event or ECS stage"
    )
    found.add_argument(
        "--scan",
        type=int,
        default=DEFAULT_SCAN,
        metavar="N",
        help="search the state machine's N most recent executions (default: %(default)s)",
    )
    inspect.add_argument("--wait", action="store_true", help="wait for a running validation's verdict, with progress")
    aws = inspect.add_argument_group("AWS, as the AWS CLI takes it")
    aws.add_argument("--region", help="default: the execution ARN's region, else the configured one")
    aws.add_argument("--profile", help="a named profile of the AWS configuration")
    aws.add_argument("--endpoint-url", metavar="URL", help="a Step Functions (and CloudFormation) API other than AWS's")
    _add_report_arguments(inspect)
    inspect.set_defaults(command=_inspect, interrupted="interrupted; the validation goes on in Step Functions")


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
    junit_path: Path | None = None
    html_path: Path | None = None
    quiet: bool = False
    sfn_endpoint: str | None = None
    ecs: _EcsDeployment | None = None  # None: CodeDeploy calls the hook
    metric_data: tuple[MetricDataBatch, ...] = ()  # put in the local CloudWatch once the engine is ready
    deployment: LocalDeployment = field(
        default_factory=LocalDeployment
    )  # CodeDeploy's deployment, its function filled in once loaded
    app_templates: tuple[Path, ...] = ()
    function: str | None = None  # the --app-template function a Lambda deployment ships


def _run(arguments: argparse.Namespace) -> int:
    ecs = _ecs_deployment(arguments)
    deployment = _codedeploy_deployment(arguments, ecs)
    default_event = LAMBDA_DEFAULT_LIFECYCLE_EVENT if arguments.app_template else DEFAULT_LIFECYCLE_EVENT
    request = _RunRequest(
        arguments.suite,
        arguments.target,
        arguments.lifecycle_event or default_event,
        arguments.report_json,
        arguments.junit,
        arguments.html,
        arguments.quiet,
        arguments.sfn_endpoint,
        ecs,
        tuple(load_metric_data(arguments.metric_data, run_started=datetime.now(UTC))),
        deployment,
        tuple(arguments.app_template),
        arguments.function,
    )
    return _validate_on_engine(request, arguments.engine_launch)


def _codedeploy_deployment(arguments: argparse.Namespace, ecs: _EcsDeployment | None) -> LocalDeployment:
    """The CodeDeploy deployment options, checked together."""
    given = [
        option
        for option, value in (
            ("--application", arguments.application),
            ("--deployment-group", arguments.deployment_group),
            ("--test-listener", arguments.test_listener),
            ("--production-listener", arguments.production_listener),
            ("--function", arguments.function),
        )
        if value
    ] + (["--app-template"] if arguments.app_template else [])
    if ecs is not None and given:
        raise UsageError(f"{', '.join(given)}: CodeDeploy deployments only; ECS reads hookDetails")
    if bool(arguments.application) != bool(arguments.deployment_group):
        raise UsageError("--application and --deployment-group go together: they name the suite's catalog entry")
    _check_listeners(arguments.test_listener, arguments.production_listener)
    if arguments.app_template:
        _check_lambda_deployment(arguments)
    elif arguments.function:
        raise UsageError("--function names a function of an --app-template")
    return LocalDeployment(
        arguments.application, arguments.deployment_group, arguments.test_listener, arguments.production_listener
    )


def _check_listeners(test_listener: str | None, production_listener: str | None) -> None:
    """The listener URLs, checked before the engine starts as its load balancer checks them when it makes one."""
    given = [
        option
        for option, url in (("--test-listener", test_listener), ("--production-listener", production_listener))
        if url
    ]
    if not given:
        return
    try:
        # A load balancer of its own, thrown away: the engine's is made with the deployment, once the engine runs.
        LocalLoadBalancers().add(test_listener, production_listener)
    except ListenerUrlError as error:
        raise UsageError(f"{' and '.join(given)}: {error}") from None


def _check_lambda_deployment(arguments: argparse.Namespace) -> None:
    """A Lambda deployment: its templates exist, its hook is a Lambda one, and no load balancer routes its traffic."""
    missing = [str(path) for path in arguments.app_template if not path.is_file()]
    if missing:
        raise UsageError(f"--app-template {', '.join(missing)}: no such file")
    if (arguments.lifecycle_event or LAMBDA_DEFAULT_LIFECYCLE_EVENT) not in LAMBDA_LIFECYCLE_EVENTS:
        raise UsageError(
            f"--app-template with --lifecycle-event {arguments.lifecycle_event}: a Lambda deployment runs "
            f"{' and '.join(LAMBDA_LIFECYCLE_EVENTS)} hooks"
        )
    if arguments.test_listener or arguments.production_listener:
        raise UsageError(
            "--test-listener and --production-listener: a Lambda deployment (--app-template) routes no traffic "
            "through a load balancer; aim HTTP routes with target.baseUrl or --target"
        )


def _lambda_deployment(engine: LocalEngine, request: _RunRequest) -> LocalDeployment:
    """The deployment, with the --app-template function it ships when there is one."""
    if not engine.services:
        return request.deployment
    deployments = [found for service in engine.services for found in service.alias_deployments]
    chosen = deployments
    if request.function:
        chosen = [found for found in deployments if request.function in (found.function, found.logical_id)]
        if not chosen:
            raise UsageError(_not_deployed(engine, request.function, deployments))
    if not chosen:
        raise UsageError(
            "--app-template: no function has AutoPublishAlias and DeploymentPreference, so CodeDeploy deploys none"
        )
    if len(chosen) > 1:
        names = ", ".join(f"{found.function} ({found.logical_id})" for found in chosen)
        raise UsageError(f"--app-template: name the function the deployment ships with --function: {names}")
    return replace(request.deployment, function=chosen[0])


def _not_deployed(engine: LocalEngine, function: str, deployments: list[AliasDeployment]) -> str:
    """Why --function names no deployed function: no template has it, or it has no DeploymentPreference."""
    deployed = ", ".join(f"{found.function} ({found.logical_id})" for found in deployments) or "none"
    known = [spec for service in engine.services for spec in service.functions.values()]
    if any(function in (spec.name, spec.logical_id) for spec in known):
        return (
            f"--function {function}: CodeDeploy does not deploy it (it has no AutoPublishAlias and "
            f"DeploymentPreference); deployed through CodeDeploy: {deployed}"
        )
    return (
        f"--function {function}: no --app-template has a function of that name or logical id; "
        f"deployed through CodeDeploy: {deployed}"
    )


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
    from tollgate.demo.load_balancer import AlbMetricsPublisher
    from tollgate.demo.service import SUITE_PATH as DEMO_SUITE_PATH
    from tollgate.demo.service import DemoService, demo_target_group
    from tollgate.demo.users import SimulatedUsers

    ecs = _ecs_deployment(arguments)
    target_group = demo_target_group()
    # The users browse while the engine starts, as they would before any deployment: their requests wait in the
    # access log, so the metric check's first round already has the requests its minRequests asks for.
    with DemoService(broken=arguments.broken) as service, SimulatedUsers(service.url):
        print(f"demo service {'(broken) ' if arguments.broken else ''}at {service.url}")

        def load_balancer(engine: LocalEngine) -> AlbMetricsPublisher:
            return AlbMetricsPublisher(service.access_log, engine.client("cloudwatch"), target_group)

        request = _RunRequest(DEMO_SUITE_PATH, service.url, ecs=ecs)
        return _validate_on_engine(request, arguments.engine_launch, alongside=load_balancer)


def _validate_on_engine(
    request: _RunRequest, launch: EngineLaunch | None, alongside: Alongside = lambda engine: nullcontext()
) -> int:
    """Check the suite here first (same messages as the hook), then run it as CodeDeploy or ECS would.

    CloudWatch is seeded once the engine is ready; `alongside` runs from then until the validation ended.
    """
    from rich.console import Console

    from tollgate.console import ProgressPrinter, print_report, print_verdict

    suite = load_suite(request.suite_path).with_base_url(request.target)
    console = Console(highlight=False, emoji=False)
    engine = LocalEngine(sfn_endpoint=request.sfn_endpoint, app_templates=request.app_templates, launch=launch)
    if request.ecs:
        engine.expect_invocation(ecs_hook_function(engine).name)
    else:
        hook = hook_function_for(engine, request.lifecycle_event)
        request = replace(request, deployment=_lambda_deployment(engine, request))
        variables = hook_variables(request.suite_path, request.target, request.deployment, request.lifecycle_event)
        engine.configure_function(hook.name, variables)  # its init runs while the engine starts
    for name in unused_check_functions(engine, suite):
        engine.leave_cold(name)
    with engine:
        if not request.quiet:
            console.print(
                f"[dim]engine ready in {engine.startup_seconds:.1f} s; function logs: {engine.log_path}[/dim]"
            )
        _seed_cloudwatch(engine, request, console)
        with alongside(engine):
            outcome, report = _run_on(engine, request, suite, None if request.quiet else ProgressPrinter(console))
        definition = json.loads(engine.state_machine.definition)
    _write_reports(report, suite, request.report_path, request.junit_path)
    if request.html_path:
        from tollgate.html_report import write_html_report

        write_html_report(request.html_path, report, outcome.history, definition, suite_source=str(request.suite_path))
    if request.quiet:
        print_verdict(console, report)
    else:
        print_report(console, report)
    # No console link: the execution ran on this machine, and the Step Functions console shows only AWS's.
    return EXIT_SUCCEEDED if report["reportedStatus"] == HookStatus.SUCCEEDED else EXIT_FAILED


def _write_reports(report: RunReport, suite: Suite, report_path: Path | None, junit_path: Path | None) -> None:
    if report_path:
        report_path.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    if junit_path:
        from tollgate.junit import write_junit

        write_junit(junit_path, report, suite)


def _seed_cloudwatch(engine: LocalEngine, request: _RunRequest, console: Console) -> None:
    if not request.metric_data:
        return
    datums = seed_metric_data(engine.client("cloudwatch"), request.metric_data)
    if not request.quiet:
        console.print(f"[dim]CloudWatch seeded with {datums} datums in {len(request.metric_data)} requests[/dim]")


def _run_on(
    engine: LocalEngine, request: _RunRequest, suite: Suite, progress: ProgressPrinter | None
) -> tuple[RunOutcome, RunReport]:
    """The run as it happened (its execution history included) and its report."""
    from tollgate.report import build_ecs_report, build_report

    if request.ecs is None:
        outcome = run_validation(
            engine,
            request.suite_path,
            request.target,
            request.lifecycle_event,
            progress,
            deployment=request.deployment,
        )
        return outcome, build_report(outcome, suite)
    # The hook receives the suite inline, in its configuration's hookDetails, as the user wrote it.
    import yaml

    document = yaml.safe_load(request.suite_path.read_text(encoding="utf-8"))
    ecs = request.ecs
    deployment = run_ecs_deployment(
        engine, document, request.target, (ecs.lifecycle_stage,), ecs.strategy, ecs.steps, progress
    )
    return deployment.combined(), build_ecs_report(deployment, suite)


@dataclass(frozen=True)
class _InspectRequest:
    execution_arn: str | None
    stack: str | None
    deployment_id: str | None
    lifecycle_event: str | None
    scan: int
    aws: AwsSettings


def _inspect(arguments: argparse.Namespace) -> int:
    """Exit as the deployment's answer: 0 Succeeded, 1 Failed, 3 still running; 2 when there is nothing to read."""
    from rich.console import Console

    from tollgate.console import ProgressPrinter, print_report, print_verdict

    request = _inspect_request(arguments)
    console = Console(highlight=False, emoji=False)
    arn, region = _execution_to_inspect(request, console, arguments.quiet)
    sfn = request.aws.client("stepfunctions", region)
    progress = ProgressPrinter(console) if arguments.wait and not arguments.quiet else None
    inspection = inspect_execution(sfn, arn, progress, arguments.wait, console_url(arn, request.aws))
    if not arguments.quiet:
        console.print(f"execution {arn}", soft_wrap=True)
        if inspection.console_url:
            console.print(f"console: {inspection.console_url}", soft_wrap=True)
    report = inspection.report
    _write_reports(report, inspection.suite, arguments.report_json, arguments.junit)
    if arguments.html:
        from tollgate.html_report import write_html_report
        from tollgate.workflow_graph import load_definition

        write_html_report(
            arguments.html,
            report,
            inspection.history,
            load_definition(),
            suite_source="the execution's input (the suite as the hook normalized it)",
            console_url=inspection.console_url,
        )
    printable = _printable(inspection)
    if arguments.quiet:
        print_verdict(console, printable)
    else:
        print_report(console, printable)
    return _inspection_exit_code(inspection, console)


def _inspect_request(arguments: argparse.Namespace) -> _InspectRequest:
    """The options, checked together: an ARN, or a stack and a deployment id."""
    by_deployment = arguments.stack is not None or arguments.deployment_id is not None
    if arguments.execution_arn and by_deployment:
        raise UsageError("give an EXECUTION_ARN, or --stack and --deployment-id, not both")
    if not arguments.execution_arn and not (arguments.stack and arguments.deployment_id):
        raise UsageError("give an EXECUTION_ARN, or --stack and --deployment-id")
    if arguments.lifecycle_event and not by_deployment:
        raise UsageError("--lifecycle-event applies to --deployment-id")
    if arguments.scan < 1:
        raise UsageError(f"--scan: at least 1 execution, not {arguments.scan}")
    return _InspectRequest(
        arguments.execution_arn,
        arguments.stack,
        arguments.deployment_id,
        arguments.lifecycle_event,
        arguments.scan,
        AwsSettings(arguments.region, arguments.profile, arguments.endpoint_url),
    )


def _execution_to_inspect(request: _InspectRequest, console: Console, quiet: bool) -> tuple[str, str | None]:
    """The execution ARN and its region: the one given, or the deployment's most recent validation."""
    if request.execution_arn:
        return request.execution_arn, region_of(request.execution_arn)
    assert request.stack and request.deployment_id  # checked with the options
    state_machine = state_machine_of_stack(request.aws.client("cloudformation"), request.stack)
    sfn = request.aws.client("stepfunctions", region_of(state_machine))
    found = find_validations(sfn, state_machine, request.deployment_id, request.lifecycle_event, request.scan)
    if not found:
        at = f" at {request.lifecycle_event}" if request.lifecycle_event else ""
        raise InspectionError(
            f"no validation of deployment {request.deployment_id}{at} among the {request.scan} most recent "
            f"executions of {state_machine}"
        )
    if not quiet and len(found) > 1:
        _print_found(console, request.deployment_id, found)
    return found[0].arn, region_of(found[0].arn)


def _print_found(console: Console, deployment_id: str, found: list[FoundValidation]) -> None:
    console.print(f"deployment {deployment_id} has {len(found)} validations; the most recent is inspected:")
    for validation in found:
        started = validation.started.strftime("%Y-%m-%d %H:%M:%S %Z")
        console.print(
            f"  {started}  {validation.lifecycle:<28} {validation.status:<9} {validation.arn}", soft_wrap=True
        )


def _printable(inspection: Inspection) -> RunReport:
    """The report as the console prints it; an ECS validation's line names the answer its hook gives.

    How many times ECS invoked the hook is not in the execution: 0 here, which the console leaves unsaid.
    """
    report = inspection.report
    if report["controller"] != Controller.ECS:
        return report
    ecs: EcsRunReport = {**report, "hookStatus": _ecs_hook_answer(inspection), "invocations": 0}
    return ecs


def _ecs_hook_answer(inspection: Inspection) -> EcsHookStatus:
    if inspection.execution_status is ExecutionStatus.RUNNING:
        return EcsHookStatus.IN_PROGRESS
    succeeded = inspection.report["reportedStatus"] == HookStatus.SUCCEEDED
    return EcsHookStatus.SUCCEEDED if succeeded else EcsHookStatus.FAILED


def _inspection_exit_code(inspection: Inspection, console: Console) -> int:
    if inspection.execution_status is ExecutionStatus.RUNNING:
        console.print("the validation is still running: --wait waits for its verdict")
        return EXIT_RUNNING
    return EXIT_SUCCEEDED if inspection.report["reportedStatus"] == HookStatus.SUCCEEDED else EXIT_FAILED


if __name__ == "__main__":
    sys.exit(main())
