"""The local CloudFormation: DescribeStacks for the engine's own stack, its Outputs resolved from template.yaml.

The engine creates no stack, but `tollgate inspect --stack` finds the state machine in the stack's outputs, as
on AWS; this answers that one call in CloudFormation's query protocol, and refuses other stacks as AWS does.
"""

from __future__ import annotations

import uuid
import xml.etree.ElementTree as ElementTree
from dataclasses import dataclass
from datetime import UTC, datetime

from tollgate.engine.query_xml import add, error_response, finished
from tollgate.engine.stack import ACCOUNT_ID, PARTITION, REGION
from tollgate.engine.template import AppTemplate, StackOutput

_NAMESPACE = "http://cloudformation.amazonaws.com/doc/2010-05-15/"


class CloudFormationError(Exception):
    def __init__(self, code: str, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.status = status


@dataclass(frozen=True)
class LocalStack:
    name: str
    stack_id: str
    created: datetime
    outputs: tuple[StackOutput, ...]


def app_stack(app: AppTemplate) -> LocalStack:
    """The stack CloudFormation would create from the app's template, its Outputs resolved with the engine's names."""
    # A stack id is the stack's ARN with a UUID; this one stays the same for the same stack name.
    stack_uuid = uuid.uuid5(uuid.NAMESPACE_URL, f"tollgate-local/{app.stack_name}")
    stack_id = f"arn:{PARTITION}:cloudformation:{REGION}:{ACCOUNT_ID}:stack/{app.stack_name}/{stack_uuid}"
    return LocalStack(app.stack_name, stack_id, datetime.now(UTC), app.outputs)


class LocalCloudFormation:
    """Serves DescribeStacks for one stack; any other stack does not exist, any other action is refused."""

    def __init__(self, stack: LocalStack) -> None:
        self.stack = stack

    def answer(self, form: dict[str, str]) -> tuple[int, bytes]:
        """The HTTP status and XML body for one query-protocol request (its form fields)."""
        request_id = str(uuid.uuid4())
        try:
            stacks = self._call(form)
        except CloudFormationError as error:
            return error.status, _error_response(error, request_id)
        return 200, _describe_stacks_response(stacks, request_id)

    def _call(self, form: dict[str, str]) -> list[LocalStack]:
        action = form.get("Action", "")
        if action != "DescribeStacks":
            raise CloudFormationError("InvalidAction", f"{action or 'the action'} is not served locally")
        return self.describe_stacks(form.get("StackName") or None)

    def describe_stacks(self, stack_name: str | None) -> list[LocalStack]:
        if stack_name is None or stack_name in (self.stack.name, self.stack.stack_id):
            return [self.stack]
        raise CloudFormationError("ValidationError", f"Stack with id {stack_name} does not exist")


def _describe_stacks_response(stacks: list[LocalStack], request_id: str) -> bytes:
    root = ElementTree.Element("DescribeStacksResponse", xmlns=_NAMESPACE)
    members = ElementTree.SubElement(ElementTree.SubElement(root, "DescribeStacksResult"), "Stacks")
    for stack in stacks:
        member = ElementTree.SubElement(members, "member")
        add(member, "StackName", stack.name)
        add(member, "StackId", stack.stack_id)
        add(member, "CreationTime", stack.created.strftime("%Y-%m-%dT%H:%M:%S.%fZ"))
        add(member, "StackStatus", "CREATE_COMPLETE")
        outputs = ElementTree.SubElement(member, "Outputs")
        for output in stack.outputs:
            entry = ElementTree.SubElement(outputs, "member")
            add(entry, "OutputKey", output.key)
            add(entry, "OutputValue", output.value)
            if output.description is not None:
                add(entry, "Description", output.description)
    return finished(root, request_id)


def _error_response(error: CloudFormationError, request_id: str) -> bytes:
    return error_response(_NAMESPACE, error.code, error.message, request_id)
