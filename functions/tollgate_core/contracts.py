"""Every document that flows between the workflow's states, and the names its fields take, defined once.

The hook writes the execution input, the probe and the tally return what the state machine stores
at a `ResultPath`, the reporter returns the execution output; `statemachine/validation.asl.json`
reads them with JSONPath. `tests/unit/test_workflow_contracts.py` checks every path it uses and every
value a `Choice` compares against this module.
"""

# No `from __future__ import annotations` here: TypedDict reads NotRequired[...] only from evaluated annotations.
from enum import StrEnum
from typing import Any, Literal, NotRequired, TypeAlias, TypedDict

JsonValue: TypeAlias = Any  # a value the user wrote in the suite (a JSON body, an expected JSON value)


class StageStatus(StrEnum):
    """Where a stage stands; also the validation's overall outcome in the progress."""

    PENDING = "pending"
    RUNNING = "running"
    PASSED = "passed"
    FAILED = "failed"
    SKIPPED = "skipped"  # not run: an earlier stage failed
    INTERRUPTED = "interrupted"  # started, then the validation ended early (summaries only)


class NextStep(StrEnum):
    """What the workflow does after a round; the state machine's `Next step?` choice reads it."""

    NEXT_STAGE = "next-stage"
    NEXT_ROUND = "next-round"
    REPORT = "report"


class HookStatus(StrEnum):
    """A lifecycle hook's status at CodeDeploy: the verdict is one of the two final ones."""

    PENDING = "Pending"  # nothing reported yet: CodeDeploy is still waiting
    SUCCEEDED = "Succeeded"
    FAILED = "Failed"


class LifecycleEvent(StrEnum):
    """The CodeDeploy lifecycle events Tollgate's hooks validate."""

    BEFORE_ALLOW_TRAFFIC = "BeforeAllowTraffic"  # Lambda deployments only: before the alias moves
    AFTER_ALLOW_TEST_TRAFFIC = "AfterAllowTestTraffic"  # ECS deployments only: on the test listener
    AFTER_ALLOW_TRAFFIC = "AfterAllowTraffic"  # ECS and Lambda deployments


# The hooks a Lambda deployment (SAM's PreTraffic and PostTraffic) runs.
LAMBDA_LIFECYCLE_EVENTS = (LifecycleEvent.BEFORE_ALLOW_TRAFFIC, LifecycleEvent.AFTER_ALLOW_TRAFFIC)


class Controller(StrEnum):
    """Who deploys and asked for the validation: the verdict goes back the way that controller expects it."""

    CODEDEPLOY = "CodeDeploy"  # waits for PutLifecycleEventHookExecutionStatus
    ECS = "ECS"  # polls the hook, which reads the execution


class EcsHookStatus(StrEnum):
    """What an ECS lifecycle hook answers; IN_PROGRESS makes ECS invoke it again after callBackDelay."""

    SUCCEEDED = "SUCCEEDED"
    FAILED = "FAILED"
    IN_PROGRESS = "IN_PROGRESS"


class LifecycleStage(StrEnum):
    """The stages of an ECS-native deployment at which a Lambda hook can run, in the order ECS runs them."""

    RECONCILE_SERVICE = "RECONCILE_SERVICE"
    PRE_SCALE_UP = "PRE_SCALE_UP"
    POST_SCALE_UP = "POST_SCALE_UP"
    TEST_TRAFFIC_SHIFT = "TEST_TRAFFIC_SHIFT"
    POST_TEST_TRAFFIC_SHIFT = "POST_TEST_TRAFFIC_SHIFT"
    PRE_PRODUCTION_TRAFFIC_SHIFT = "PRE_PRODUCTION_TRAFFIC_SHIFT"
    PRODUCTION_TRAFFIC_SHIFT = "PRODUCTION_TRAFFIC_SHIFT"
    POST_PRODUCTION_TRAFFIC_SHIFT = "POST_PRODUCTION_TRAFFIC_SHIFT"


class CheckKind(StrEnum):
    """What one item of a stage's fan-out is; the Map iteration's `Route or metric?` choice reads it."""

    ROUTE = "route"  # an HTTP request, sent by the probe function
    METRIC = "metric"  # a CloudWatch reading, taken by the metric reader function


class ListenerRole(StrEnum):
    """Which listener of a CodeDeploy ECS deployment's load balancer a suite's `target.fromDeployment` probes."""

    TEST = "testListener"  # the target group pair's testTrafficRoute
    PRODUCTION = "productionListener"  # its prodTrafficRoute


class SuiteSourceKind(StrEnum):
    """Where the hook found the suite that judged a deployment."""

    S3 = "s3"  # the suite catalog, or an s3:// URI in an ECS hook's hookDetails.suite
    FILE = "file"  # a suite file in the hook's package (the bundled suites), or the file `tollgate run` was given
    INLINE = "inline"  # a suite object in an ECS hook's hookDetails.suite


class MetricMeasure(StrEnum):
    """What a metric check compares with its threshold."""

    ERROR_RATE = "errorRatePercent"  # a target group's 5xx responses per request, in percent
    LATENCY = "latencyMs"  # a statistic of a target group's response time
    QUERY = "query"  # the one series of the user's GetMetricData queries that returns data


class NoDataPolicy(StrEnum):
    """What a window without datapoints means for a metric check; never decided silently."""

    PASS = "pass"  # noqa: S105 - a policy name, not a password
    FAIL = "fail"


class StatusDelivery(StrEnum):
    """What became of a status sent to CodeDeploy."""

    RECORDED = "recorded"
    ALREADY_COMPLETED = "already-completed"  # an earlier report won; this one changed nothing


class ExecutionStatus(StrEnum):
    """A Step Functions execution's status, as DescribeExecution and EventBridge give it."""

    RUNNING = "RUNNING"
    SUCCEEDED = "SUCCEEDED"
    FAILED = "FAILED"
    TIMED_OUT = "TIMED_OUT"
    ABORTED = "ABORTED"


# --- the suite, normalized: every default filled in -----------------------------------------------

SecretReference: TypeAlias = dict[str, str]  # {"secretsManager": ..., "key": ...} or {"ssm": ...}
HeaderValue: TypeAlias = str | SecretReference
StatusPattern: TypeAlias = str | int  # "2xx" or 204


class RetryPolicy(TypedDict):
    maxAttempts: int
    intervalSeconds: float
    backoffRate: float


class Expectations(TypedDict):
    status: list[StatusPattern]
    bodyContains: NotRequired[str]
    bodyMatches: NotRequired[str]
    json: NotRequired[dict[str, JsonValue]]
    headers: NotRequired[dict[str, str]]
    maxLatencyMs: NotRequired[float]


class FunctionInvocation(TypedDict):
    """A route that invokes a Lambda function instead of sending HTTP; `expect` judges the response payload."""

    function: NotRequired[str]  # name or ARN; the hook fills in the deployment's target version when absent
    payload: JsonValue
    timeoutSeconds: float  # how long an attempt waits for the answer; at most 60


class Route(TypedDict):
    kind: Literal[CheckKind.ROUTE]
    name: str
    path: str  # "" for an invoke route
    invoke: NotRequired[FunctionInvocation]  # an invoke route: path, method, headers, body and redirects unused
    method: str
    headers: dict[str, HeaderValue]
    body: JsonValue
    followRedirects: bool
    allowRedirectHosts: list[str]
    retry: RetryPolicy
    expect: Expectations


class Target(TypedDict):
    baseUrl: str  # "" until the hook resolves `fromDeployment`, or in a suite without HTTP routes
    fromDeployment: NotRequired[ListenerRole]
    headers: dict[str, HeaderValue]
    timeoutSeconds: float
    verifyTls: bool


class MetricThreshold(TypedDict):
    """At least one bound; a value outside either fails the check."""

    max: NotRequired[float]
    min: NotRequired[float]


class TargetGroupMetrics(TypedDict):
    """An Application Load Balancer target group, named as its CloudWatch dimensions name it."""

    loadBalancer: str  # app/<name>/<id>
    targetGroup: str  # targetgroup/<name>/<id>


class MetricDimension(TypedDict):
    Name: str
    Value: str


class MetricIdentity(TypedDict):
    Namespace: str
    MetricName: str
    Dimensions: NotRequired[list[MetricDimension]]


class MetricStat(TypedDict):
    Metric: MetricIdentity
    Period: int
    Stat: str
    Unit: NotRequired[str]


class MetricDataQuery(TypedDict):
    """One of GetMetricData's MetricDataQueries, as the user wrote it: a metric or an expression over others."""

    Id: str
    MetricStat: NotRequired[MetricStat]
    Expression: NotRequired[str]
    Label: NotRequired[str]
    ReturnData: NotRequired[bool]
    Period: NotRequired[int]


class MetricCheck(TypedDict):
    """A reading of the service's own traffic in CloudWatch, judged once per round like a route's probe."""

    kind: Literal[CheckKind.METRIC]
    name: str
    measure: MetricMeasure
    threshold: MetricThreshold
    lookbackSeconds: int  # the window: these seconds before the current minute, and the current minute so far
    noData: NoDataPolicy
    alb: NotRequired[TargetGroupMetrics]  # errorRatePercent and latencyMs
    stat: NotRequired[str]  # latencyMs: Average, Minimum, Maximum or a percentile such as p99
    minRequests: NotRequired[int]  # errorRatePercent and latencyMs: fewer requests in the window fail the check
    query: NotRequired[list[MetricDataQuery]]  # query


Check: TypeAlias = Route | MetricCheck


class Stage(TypedDict):
    name: str
    rounds: int
    intervalSeconds: int
    maxFailedProbes: int
    checks: list[Check]  # the suite's routes, then its metrics: one Map iteration each per round


class SuiteDocument(TypedDict):
    version: int
    target: Target
    retry: RetryPolicy
    maxConcurrency: int
    dryRun: bool  # run in full, decide, and still let the deployment through: the verdict is only reported
    stages: list[Stage]


# --- one probe attempt -------------------------------------------------------------------------------


class ProbeResult(TypedDict):
    """One attempt's result; the last one of a probe is the probe's result in the round.

    A metric check's reading has the same shape (one attempt, no status code, the measured value), so the
    tally, the verdict and the reports treat a metric check as one more route.
    """

    stage: str
    route: str  # the route's or the metric check's name
    round: int
    attempts: int  # attempts made so far, this one included
    ok: bool
    statusCode: int | None
    latencyMs: float | None
    reason: str | None
    final: bool  # no further attempt: this one passed or was the route's last
    retryInSeconds: int
    value: NotRequired[float | None]  # a metric check's measured value, in its threshold's unit


class AttemptsSoFar(TypedDict):
    """Before the first attempt the iteration carries only the count; afterwards a whole ProbeResult."""

    attempts: int


class PreviousAttempt(TypedDict):
    result: AttemptsSoFar


class ProbeEvent(TypedDict):
    """The probe function's event: one Map iteration's state."""

    stage: str
    round: int
    route: Route
    target: Target
    probe: PreviousAttempt


class LambdaError(TypedDict):
    """What a Catch stores: the error name and its cause (for a Lambda, the error document as JSON)."""

    Error: str
    Cause: NotRequired[str]


class ProbeIterationResult(TypedDict):
    result: ProbeResult


class MetricEvent(TypedDict):
    """The metric reader function's event: one metric check in one round."""

    stage: str
    round: int
    metric: MetricCheck


class CheckIteration(TypedDict):
    """The state of one Map iteration inside `Run checks`: a route's probe or a metric check's reading."""

    stage: str
    round: int
    check: Check
    target: Target
    probe: PreviousAttempt | ProbeIterationResult
    crash: NotRequired[LambdaError]


# --- progress through stages and rounds ------------------------------------------------------------


class LatencyAggregate(TypedDict):
    min: float
    max: float
    sum: float
    count: int


class RouteProgress(TypedDict):
    route: str
    probes: int
    failed: int
    attempts: int
    latencyMs: LatencyAggregate | None
    lastReason: str | None


class StageProgress(TypedDict):
    name: str
    status: StageStatus
    rounds: int
    intervalSeconds: int
    maxFailedProbes: int
    roundsRun: int
    probes: int
    failedProbes: int
    routes: list[RouteProgress]


class Progress(TypedDict):
    stageIndex: int
    round: int
    next: NextStep
    waitSeconds: int
    outcome: StageStatus  # RUNNING until the tally decides PASSED or FAILED
    reason: str | None
    stages: list[StageProgress]


class TallyEvent(TypedDict):
    progress: Progress
    results: list[ProbeResult]


# --- the execution: input, the state between states, output ---------------------------------------


class SuiteSource(TypedDict):
    """Exactly which suite judged the deployment: recorded in the execution input, its output and every report."""

    kind: SuiteSourceKind
    location: str  # s3://bucket/key, a file path, or "hookDetails.suite"
    versionId: NotRequired[str]  # an S3 object in a versioned bucket
    etag: NotRequired[str]  # an S3 object (without quotes)


class LambdaTarget(TypedDict):
    """The function version a Lambda deployment shifts its alias to, from the deployment's AppSpec."""

    function: str  # the AppSpec's Name
    alias: str
    currentVersion: str
    targetVersion: str
    arn: str  # the version's qualified ARN: what an invoke route without `function` invokes


class TargetListener(TypedDict):
    """The listener `target.fromDeployment` resolved to, and the URL the probes hit."""

    role: ListenerRole
    listenerArn: str
    url: str


class Deployment(TypedDict):
    """A CodeDeploy deployment waiting on one lifecycle hook."""

    deploymentId: str
    lifecycleEventHookExecutionId: str
    lifecycleEvent: str
    controller: NotRequired[Controller]  # CodeDeploy; absent in executions started before ECS was served
    application: NotRequired[str]  # read from the deployment when the hook needed it (catalog, target, invoke)
    deploymentGroup: NotRequired[str]
    suiteSource: NotRequired[SuiteSource]  # absent in executions started before the catalog existed
    targetListener: NotRequired[TargetListener]
    lambdaTarget: NotRequired[LambdaTarget]


class EcsDeployment(TypedDict):
    """An ECS service deployment at one lifecycle stage (and traffic step) that its hook validates."""

    controller: Controller  # ECS
    executionId: str  # ECS's id of the service deployment
    lifecycleStage: str
    serviceArn: str
    targetServiceRevisionArn: str
    productionWeight: float  # the new revision's share of production traffic at this step, in percent
    suiteSource: NotRequired[SuiteSource]  # absent in executions started before the catalog existed


class EcsHookAnswer(TypedDict):
    """What the ECS hook returns to ECS."""

    hookStatus: EcsHookStatus
    callBackDelay: NotRequired[int]
    hookDetails: dict[str, Any]


class ValidationState(TypedDict):
    progress: Progress


class ExecutionInput(TypedDict):
    deployment: Deployment | EcsDeployment
    suite: SuiteDocument
    validation: ValidationState
    error: LambdaError | None


class RoundInput(TypedDict):
    """What `Prepare round` gathers for the Map: the only input its iterations see."""

    stage: Stage
    round: int
    target: Target
    maxConcurrency: int


class WorkflowState(ExecutionInput):
    """The document the top-level states pass along: the input plus what the current round added."""

    current: NotRequired[RoundInput]
    roundResults: NotRequired[list[ProbeResult]]


class TargetSummary(TypedDict):
    baseUrl: str
    verifyTls: bool


class ReportRequest(TypedDict):
    """The reporter's event from `Report to CodeDeploy`.

    The last three are absent from requests of executions started before they existed: the reporter then
    reports the verdict itself, and measures no time to verdict and links no console page.
    """

    deployment: Deployment | EcsDeployment
    target: TargetSummary
    progress: Progress
    error: LambdaError | None
    dryRun: NotRequired[bool]  # the suite's dryRun
    startedAt: NotRequired[str]  # the execution's start, ISO 8601 ($$.Execution.StartTime)
    executionArn: NotRequired[str]  # the execution's ARN ($$.Execution.Id)


class LatencySummary(TypedDict):
    min: float
    max: float
    mean: float


class RouteSummary(TypedDict):
    route: str
    passed: int
    failed: int
    attempts: int
    latencyMs: LatencySummary | None
    lastReason: str | None


class StageSummary(TypedDict):
    name: str
    status: StageStatus
    roundsRun: int
    probes: int
    failedProbes: int
    maxFailedProbes: int
    routes: list[RouteSummary]


class ValidationSummary(TypedDict):
    """The verdict and what led to it, per stage and per route."""

    status: HookStatus
    reason: str | None
    deployment: Deployment | EcsDeployment
    target: TargetSummary | None
    stages: list[StageSummary]
    summaryError: NotRequired[str]


class ExecutionOutput(ValidationSummary):
    """The reporter's answer: the execution's output, readable in the console.

    `status` is the validation's verdict. The deployment receives `reportedStatus`: the verdict, or Succeeded
    for a dry run, whose `wouldHaveFailed` says whether the verdict would have blocked it. Outputs of executions
    started before these fields existed lack them: there the deployment received `status`.
    """

    reportedStatus: NotRequired[HookStatus]  # what CodeDeploy received, or what the ECS hook answers
    dryRun: NotRequired[bool]
    wouldHaveFailed: NotRequired[bool]  # only for a dry run
    consoleUrl: NotRequired[str]  # the execution's page in the Step Functions console
    codeDeploy: NotRequired[StatusDelivery]  # only for CodeDeploy: ECS reads the verdict from this output


class LambdaInvokeResult(TypedDict):
    """What `arn:aws:states:::lambda:invoke` returns; the function's own answer is the Payload."""

    Payload: Any
    StatusCode: int
    ExecutedVersion: str
