"""The `tollgate` command: run a suite on the embedded engine, check a suite file, or try the demo."""

from __future__ import annotations

import argparse
import json
import os
import sys
from dataclasses import dataclass
from pathlib import Path

from rich.console import Console

from tollgate.console import ProgressPrinter, print_report, print_verdict
from tollgate.demo.service import SUITE_PATH as DEMO_SUITE_PATH
from tollgate.demo.service import DemoService
from tollgate.engine.engine import EngineError, LocalEngine
from tollgate.local_run import DEFAULT_LIFECYCLE_EVENT, UnknownLifecycleEvent, hook_function_for, run_validation
from tollgate.report import build_report
from tollgate_core.contracts import HookStatus
from tollgate_core.suite import SuiteError, load_suite

EXIT_SUCCEEDED, EXIT_FAILED, EXIT_USAGE = 0, 1, 2
SFN_ENDPOINT_VARIABLE = "TOLLGATE_SFN_ENDPOINT"


def main(argv: list[str] | None = None) -> int:
    arguments = _parser().parse_args(argv)
    try:
        code: int = arguments.command(arguments)
    except (SuiteError, UnknownLifecycleEvent, EngineError) as error:
        print(error, file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        print("interrupted; the engine was stopped", file=sys.stderr)
        return 130
    return code


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="tollgate", description="Validate a service the way a CodeDeploy hook would.")
    commands = parser.add_subparsers(required=True, metavar="COMMAND")

    run = commands.add_parser("run", help="run a suite against a service on the local workflow engine")
    run.add_argument("--suite", required=True, type=Path, help="suite file (YAML or JSON)")
    run.add_argument("--target", help="base URL to probe; overrides the suite's target.baseUrl")
    run.add_argument("--lifecycle-event", default=DEFAULT_LIFECYCLE_EVENT, help="hook to run (default: %(default)s)")
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
    demo.set_defaults(command=_demo)
    return parser


@dataclass(frozen=True)
class _RunRequest:
    suite_path: Path
    target: str | None
    lifecycle_event: str = DEFAULT_LIFECYCLE_EVENT
    report_path: Path | None = None
    quiet: bool = False
    sfn_endpoint: str | None = None


def _run(arguments: argparse.Namespace) -> int:
    request = _RunRequest(
        arguments.suite,
        arguments.target,
        arguments.lifecycle_event,
        arguments.report_json,
        arguments.quiet,
        arguments.sfn_endpoint,
    )
    return _validate_on_engine(request)


def _validate(arguments: argparse.Namespace) -> int:
    suite = load_suite(arguments.suite)
    routes = sum(len(stage["routes"]) for stage in suite.stages)
    print(f"{arguments.suite}: valid ({len(suite.stages)} stages, {routes} routes)")
    return EXIT_SUCCEEDED


def _demo(arguments: argparse.Namespace) -> int:
    with DemoService(broken=arguments.broken) as service:
        print(f"demo service {'(broken) ' if arguments.broken else ''}at {service.url}")
        return _validate_on_engine(_RunRequest(DEMO_SUITE_PATH, service.url))


def _validate_on_engine(request: _RunRequest) -> int:
    """Check the suite here first (same messages as the hook), then run it as CodeDeploy would."""
    suite = load_suite(request.suite_path).with_base_url(request.target)
    console = Console(highlight=False)
    engine = LocalEngine(sfn_endpoint=request.sfn_endpoint)
    hook_function_for(engine, request.lifecycle_event)
    with engine:
        if not request.quiet:
            console.print(
                f"[dim]engine ready in {engine.startup_seconds:.1f} s; function logs: {engine.log_path}[/dim]"
            )
        outcome = run_validation(
            engine,
            request.suite_path,
            request.target,
            request.lifecycle_event,
            on_progress=None if request.quiet else ProgressPrinter(console),
        )
    report = build_report(outcome, suite)
    if request.report_path:
        request.report_path.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    if request.quiet:
        print_verdict(console, report)
    else:
        print_report(console, report)
    return EXIT_SUCCEEDED if report["reportedStatus"] == HookStatus.SUCCEEDED else EXIT_FAILED


if __name__ == "__main__":
    sys.exit(main())
