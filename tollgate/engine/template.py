"""The SAM templates the engine runs: transformed by SAM, their intrinsics resolved as in one local stack each.

template.yaml is Tollgate's app; a user's own template (`--app-template`) adds the functions of their service.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import re
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote, unquote

import samtranslator
import yaml
from samtranslator.yaml_helper import intrinsics_multi_constructor

from tollgate.engine.stack import (
    FUNCTION_TYPE,
    REGION,
    RULE_TYPE,
    STATE_MACHINE_TYPE,
    Stack,
    TemplateError,
    pseudo_parameters,
    text,
)

EXECUTION_STATUS_CHANGE = "Step Functions Execution Status Change"
# EventBridge's default when a target sets no RetryPolicy.
DEFAULT_EVENT_RETRIES = 185
# SAM takes code and definitions from S3 only; local paths travel through the transform as keys in this bucket.
LOCAL_BUCKET = "tollgate-local"
# SAM's translations, beside the template (build/ is not versioned), each named after everything it depends on:
# importing the translator and translating cost a fifth of a second, on every start, for a template that rarely
# changes between two runs.
TRANSFORM_CACHE_DIR = Path("build") / "sam-transform"
_TRANSFORM_CACHE_FORMAT = 1
ALIAS_TYPE = "AWS::Lambda::Alias"
# The UpdatePolicy SAM gives an AutoPublishAlias with a DeploymentPreference: CodeDeploy moves that alias.
_CODEDEPLOY_ALIAS_UPDATE = "CodeDeployLambdaAliasUpdate"
_STACK_NAME_CHARACTERS = re.compile(r"[^A-Za-z0-9-]+")


@dataclass(frozen=True)
class FunctionSpec:
    logical_id: str
    name: str
    arn: str
    handler: str
    code_dir: Path
    timeout_seconds: float
    environment: dict[str, str]
    execution_ended_statuses: tuple[str, ...] = ()  # from an EventBridge rule on execution status changes
    execution_ended_retries: int = 0  # that rule's RetryPolicy.MaximumRetryAttempts


@dataclass(frozen=True)
class StateMachineSpec:
    logical_id: str
    name: str
    arn: str
    definition: str  # DefinitionSubstitutions already applied, as CloudFormation does


@dataclass(frozen=True)
class StackOutput:
    key: str
    value: str
    description: str | None


@dataclass(frozen=True)
class AppTemplate:
    stack_name: str
    functions: dict[str, FunctionSpec]  # by function name
    state_machine: StateMachineSpec
    outputs: tuple[StackOutput, ...] = ()  # the template's Outputs, resolved as CloudFormation would

    def function(self, logical_id: str) -> FunctionSpec:
        for spec in self.functions.values():
            if spec.logical_id == logical_id:
                return spec
        raise KeyError(f"no function {logical_id} in the template")

    def hook_for(self, lifecycle_event: str) -> FunctionSpec | None:
        return next(
            (spec for spec in self.functions.values() if spec.environment.get("LIFECYCLE_EVENT") == lifecycle_event),
            None,
        )

    def lifecycle_events(self) -> list[str]:
        return [
            spec.environment["LIFECYCLE_EVENT"]
            for spec in self.functions.values()
            if "LIFECYCLE_EVENT" in spec.environment
        ]


@dataclass(frozen=True)
class AliasDeployment:
    """A function whose alias CodeDeploy shifts to each new version (AutoPublishAlias with a DeploymentPreference)."""

    function: str  # the function's name
    logical_id: str  # the function's
    alias: str
    application: str  # the CodeDeploy application SAM made for the stack's deployments
    deployment_group: str  # the function's deployment group in it


@dataclass(frozen=True)
class ServiceTemplate:
    """A user's own SAM template: functions the engine runs beside Tollgate's, some deployed through CodeDeploy."""

    path: Path
    stack_name: str
    functions: dict[str, FunctionSpec]  # by function name
    alias_deployments: tuple[AliasDeployment, ...] = ()

    def alias_deployment(self, function: str) -> AliasDeployment | None:
        """How CodeDeploy deploys the function with this name or logical id, if it does."""
        return next((found for found in self.alias_deployments if function in (found.function, found.logical_id)), None)


class _CfnLoader(yaml.SafeLoader):
    """YAML with CloudFormation's short-form tags, without changing what yaml.safe_load does elsewhere."""


# samtranslator's own yaml_parse registers this constructor on yaml.SafeLoader itself, for the whole process.
_CfnLoader.add_multi_constructor("!", intrinsics_multi_constructor)


def read_template(path: Path) -> dict[str, Any]:
    """The template as written, short-form tags in their long form."""
    try:
        document = yaml.load(path.read_text(encoding="utf-8"), Loader=_CfnLoader)  # noqa: S506
    except yaml.YAMLError as error:
        raise TemplateError(f"not YAML: {error}") from None
    if not isinstance(document, dict):
        raise TemplateError("not a template: a template is a YAML or JSON object")
    return document


def load_app(template_path: Path, stack_name: str = "tollgate-local") -> AppTemplate:
    """The functions and state machine of a SAM template, as CloudFormation would create them in one stack."""
    root = template_path.parent
    stack = _stack(template_path, stack_name)
    state_machine = _state_machine_spec(stack, root)
    rules = _execution_ended_rules(stack, state_machine.arn)
    functions = [_function_spec(stack, logical_id, root, rules) for logical_id in stack.resources_of(FUNCTION_TYPE)]
    outputs = tuple(_output(stack, key, output) for key, output in stack.outputs.items())
    return AppTemplate(stack_name, {spec.name: spec for spec in functions}, state_machine, outputs)


def load_service(template_path: Path, stack_name: str | None = None) -> ServiceTemplate:
    """The functions of a user's SAM template, as CloudFormation would create them in a stack of their own.

    The stack is named after the template's directory unless a name is given; CodeUri is relative to the template.
    """
    stack_name = stack_name or service_stack_name(template_path)
    root = template_path.parent
    stack = _stack(template_path, stack_name)
    functions = [_function_spec(stack, logical_id, root, {}) for logical_id in stack.resources_of(FUNCTION_TYPE)]
    by_name = {spec.name: spec for spec in functions}
    deployments = tuple(_alias_deployment(stack, logical_id, by_name) for logical_id in _codedeploy_aliases(stack))
    return ServiceTemplate(template_path, stack_name, by_name, deployments)


def service_stack_name(template_path: Path) -> str:
    """The template's directory name as a stack name: letters, digits and hyphens, starting with a letter."""
    name = _STACK_NAME_CHARACTERS.sub("-", template_path.resolve().parent.name).strip("-")
    return name if name[:1].isalpha() else f"app-{name}".rstrip("-")


def _stack(template_path: Path, stack_name: str) -> Stack:
    document = read_template(template_path)
    return Stack(_translated(document, stack_name, template_path.parent / TRANSFORM_CACHE_DIR), stack_name)


def _codedeploy_aliases(stack: Stack) -> list[str]:
    return [
        logical_id
        for logical_id in stack.resources_of(ALIAS_TYPE)
        if _CODEDEPLOY_ALIAS_UPDATE in stack.resources[logical_id].get("UpdatePolicy", {})
    ]


def _alias_deployment(stack: Stack, alias_id: str, functions: dict[str, FunctionSpec]) -> AliasDeployment:
    function = text(stack.property(alias_id, "FunctionName"), f"{alias_id}: FunctionName")
    spec = functions.get(function)
    if spec is None:
        raise TemplateError(f"{alias_id}: FunctionName: {function} is not a function of this template")
    update = stack.resources[alias_id]["UpdatePolicy"][_CODEDEPLOY_ALIAS_UPDATE]
    at = f"{alias_id}: UpdatePolicy.{_CODEDEPLOY_ALIAS_UPDATE}"
    return AliasDeployment(
        function=function,
        logical_id=spec.logical_id,
        alias=text(stack.property(alias_id, "Name"), f"{alias_id}: Name"),
        application=_codedeploy_name(stack, update.get("ApplicationName"), "ApplicationName", f"{at}.ApplicationName"),
        deployment_group=_codedeploy_name(
            stack, update.get("DeploymentGroupName"), "DeploymentGroupName", f"{at}.DeploymentGroupName"
        ),
    )


def _codedeploy_name(stack: Stack, value: Any, name_property: str, at: str) -> str:
    """The name of a CodeDeploy application or deployment group the alias's UpdatePolicy refers to.

    The Stack resolves no Ref to CodeDeploy resources, so their names are made here the way it makes the others':
    the resource's name property, or else <stack>-<LogicalId>.
    """
    match value:
        case {"Ref": str() as logical_id} if logical_id in stack.resources:
            explicit = stack.property(logical_id, name_property)
            return (
                f"{stack.name}-{logical_id}" if explicit is None else text(explicit, f"{logical_id}: {name_property}")
            )
        case None:
            raise TemplateError(f"{at}: missing")
        case _:
            return text(stack.resolve(value, at), at)


def _output(stack: Stack, key: str, output: dict[str, Any]) -> StackOutput:
    at = f"Outputs.{key}"
    description = output.get("Description")
    return StackOutput(
        key,
        text(stack.resolve(output["Value"], at), f"{at}.Value"),
        None if description is None else text(stack.resolve(description, at), f"{at}.Description"),
    )


def _translated(document: dict[str, Any], stack_name: str, cache_dir: Path) -> dict[str, Any]:
    """SAM's translation of the document: kept from the last time this very document was translated, else made now.

    Either way it is read back from JSON, so a kept translation and a new one are the same values.
    """
    _point_local_paths_at_local_bucket(document)
    kept = cache_dir / f"{_translation_key(document, stack_name)}.json"
    try:
        translation: dict[str, Any] = json.loads(kept.read_text(encoding="utf-8"))
        return translation
    except (OSError, ValueError):  # not translated yet, or unreadable: translate
        pass
    template = _transform(document, stack_name)
    try:
        text = json.dumps(template)
    except (TypeError, ValueError):  # not JSON (a YAML date, say): used as it is, never kept
        return template
    _keep(kept, text)
    translation = json.loads(text)
    return translation


def _translation_key(document: dict[str, Any], stack_name: str) -> str:
    """What a translation depends on: the document (local paths already rewritten), the stack and samtranslator."""
    material = {
        "format": _TRANSFORM_CACHE_FORMAT,
        "samtranslator": samtranslator.__version__,
        "region": REGION,
        "stack": stack_name,
        "document": document,
    }
    return hashlib.sha256(json.dumps(material, sort_keys=True, default=repr).encode("utf-8")).hexdigest()


def _keep(path: Path, text: str) -> None:
    """Written whole or not at all, as processes may load one template at once; a cache that cannot be written
    is no cache, not an error."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        descriptor, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    except OSError:
        return
    try:
        with os.fdopen(descriptor, "w", encoding="utf-8") as file:
            file.write(text)
        os.replace(temporary, path)
    except OSError:
        Path(temporary).unlink(missing_ok=True)


def _transform(document: dict[str, Any], stack_name: str) -> dict[str, Any]:
    """The CloudFormation template SAM makes of a SAM template, with local code paths kept as S3 keys."""
    # Imported here: the translator and boto3 take a fifth of a second, which only a template not translated yet needs.
    import boto3
    from samtranslator.metrics.metrics import DummyMetricsPublisher, Metrics
    from samtranslator.model.exceptions import InvalidDocumentException
    from samtranslator.parser.parser import Parser
    from samtranslator.translator.translator import Translator

    metrics = Metrics("ServerlessTransform", DummyMetricsPublisher())
    # Its feature toggles warn, on every DeploymentPreference, of a toggle no local configuration can have.
    logging.getLogger("samtranslator.feature_toggle.feature_toggle").setLevel(logging.ERROR)
    # samtranslator's transform() asks this machine's AWS configuration for the region; the engine's is fixed.
    translator = Translator(None, Parser(), boto_session=boto3.session.Session(region_name=REGION), metrics=metrics)
    try:
        template: dict[str, Any] = translator.translate(document, parameter_values=pseudo_parameters(stack_name))
    except InvalidDocumentException as error:
        raise TemplateError("; ".join(cause.message for cause in error.causes)) from None
    finally:
        metrics.publish()  # to nowhere: metrics left unpublished make samtranslator warn at exit
    return template


def _point_local_paths_at_local_bucket(document: dict[str, Any]) -> None:
    function_globals = document.get("Globals", {}).get("Function", {})
    _local_path_as_s3_uri(function_globals, "CodeUri")
    for resource in document.get("Resources", {}).values():
        properties = resource.get("Properties", {})
        if resource.get("Type") == "AWS::Serverless::Function":
            _local_path_as_s3_uri(properties, "CodeUri")
        elif resource.get("Type") == "AWS::Serverless::StateMachine":
            _local_path_as_s3_uri(properties, "DefinitionUri")


def _local_path_as_s3_uri(properties: dict[str, Any], key: str) -> None:
    path = properties.get(key)
    if isinstance(path, str) and not path.startswith("s3://"):
        properties[key] = f"s3://{LOCAL_BUCKET}/{quote(path, safe='')}"


def _local_path(location: Any, bucket_key: str, key_key: str, root: Path, at: str) -> Path:
    if not isinstance(location, dict) or location.get(bucket_key) != LOCAL_BUCKET:
        raise TemplateError(f"{at}: the engine runs only what a local CodeUri or DefinitionUri points to")
    return (root / unquote(location[key_key])).resolve()


def _state_machine_spec(stack: Stack, root: Path) -> StateMachineSpec:
    state_machines = list(stack.resources_of(STATE_MACHINE_TYPE))
    if len(state_machines) != 1:
        raise TemplateError(f"the engine runs one state machine; the template declares {len(state_machines)}")
    (logical_id,) = state_machines
    return StateMachineSpec(
        logical_id=logical_id,
        name=stack.physical_name(logical_id, logical_id),
        arn=stack.arn(logical_id, logical_id),
        definition=_substituted_definition(stack, logical_id, root),
    )


def _substituted_definition(stack: Stack, logical_id: str, root: Path) -> str:
    definition = _definition(stack, logical_id, root)
    substitutions: dict[str, Any] = stack.property(logical_id, "DefinitionSubstitutions", {})
    for key, value in substitutions.items():
        definition = definition.replace("${" + key + "}", text(value, f"{logical_id}: DefinitionSubstitutions.{key}"))
    try:
        json.loads(definition)
    except json.JSONDecodeError as error:  # a placeholder left unsubstituted, for one
        raise TemplateError(f"{logical_id}: the substituted definition is not JSON: {error}") from None
    return definition


def _definition(stack: Stack, logical_id: str, root: Path) -> str:
    inline = stack.property(logical_id, "DefinitionString")
    if inline is not None:
        return text(inline, f"{logical_id}: DefinitionString")
    location = stack.property(logical_id, "DefinitionS3Location")
    path = _local_path(location, "Bucket", "Key", root, f"{logical_id}: DefinitionS3Location")
    return path.read_text(encoding="utf-8")


@dataclass(frozen=True)
class _ExecutionEndedRule:
    statuses: tuple[str, ...]
    retries: int


def _execution_ended_rules(stack: Stack, state_machine_arn: str) -> dict[str, _ExecutionEndedRule]:
    """The EventBridge rules on this state machine's execution status changes, by target ARN."""
    rules: dict[str, _ExecutionEndedRule] = {}
    for logical_id in stack.resources_of(RULE_TYPE):
        pattern = stack.property(logical_id, "EventPattern", {})
        detail = pattern.get("detail", {})
        if EXECUTION_STATUS_CHANGE not in pattern.get("detail-type", []):
            continue
        if state_machine_arn not in detail.get("stateMachineArn", [state_machine_arn]):
            continue
        statuses = detail.get("status")
        if not isinstance(statuses, list) or not all(isinstance(status, str) for status in statuses):
            raise TemplateError(f"{logical_id}: EventPattern.detail.status: the engine needs a list of statuses")
        for target in stack.property(logical_id, "Targets", []):
            retries = target.get("RetryPolicy", {}).get("MaximumRetryAttempts", DEFAULT_EVENT_RETRIES)
            rules[target.get("Arn")] = _ExecutionEndedRule(tuple(statuses), int(retries))
    return rules


def _function_spec(stack: Stack, logical_id: str, root: Path, rules: dict[str, _ExecutionEndedRule]) -> FunctionSpec:
    _require_python(stack, logical_id)
    arn = stack.arn(logical_id, logical_id)
    rule = rules.get(arn, _ExecutionEndedRule((), 0))
    return FunctionSpec(
        logical_id=logical_id,
        name=stack.physical_name(logical_id, logical_id),
        arn=arn,
        handler=_handler(stack, logical_id),
        code_dir=_local_path(stack.property(logical_id, "Code"), "S3Bucket", "S3Key", root, f"{logical_id}: Code"),
        timeout_seconds=_timeout_seconds(stack, logical_id),
        environment=_environment(stack, logical_id),
        execution_ended_statuses=rule.statuses,
        execution_ended_retries=rule.retries,
    )


def _require_python(stack: Stack, logical_id: str) -> None:
    runtime = stack.property(logical_id, "Runtime")
    if runtime is not None and not text(runtime, f"{logical_id}: Runtime").startswith("python"):
        raise TemplateError(f"{logical_id}: Runtime: the engine runs Python functions, not {runtime}")


def _timeout_seconds(stack: Stack, logical_id: str) -> float:
    timeout = text(stack.property(logical_id, "Timeout", 3), f"{logical_id}: Timeout")
    try:
        return float(timeout)
    except ValueError:
        raise TemplateError(f"{logical_id}: Timeout: {timeout!r} is not a number of seconds") from None


def _handler(stack: Stack, logical_id: str) -> str:
    handler = stack.property(logical_id, "Handler")
    if handler is None:
        raise TemplateError(f"{logical_id}: Handler: the engine runs functions with a handler, not images")
    return text(handler, f"{logical_id}: Handler")


def _environment(stack: Stack, logical_id: str) -> dict[str, str]:
    variables: dict[str, Any] = stack.property(logical_id, "Environment", {}).get("Variables", {})
    return {name: text(value, f"{logical_id}: Environment.Variables.{name}") for name, value in variables.items()}
