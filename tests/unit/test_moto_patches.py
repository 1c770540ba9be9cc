"""Each moto patch computes what moto computes, and refuses code it was not written for.

Patching moto changes the process it runs in, so whatever applies a patch runs in a Python of its own; the
pieces the patches install (the JSON copier, the parser cache, the shared clients) are tested here directly.
tests/integration/test_moto_patches.py shows the whole interpreter unchanged, history for history.
"""

from __future__ import annotations

import copy
import subprocess
import sys
import threading
from datetime import UTC, datetime
from enum import Enum
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from jsonpath_ng.ext.parser import parse as parse_extended_jsonpath
from jsonpath_ng.parser import parse as parse_jsonpath

from tollgate.engine.moto_patches import (
    PATCHES,
    ParsedDefinitions,
    SharedClients,
    UnexpectedMotoCode,
    _cached_parser,
    copy_json,
    patches_wanted,
    require_source,
)

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=5),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=5), children, max_size=4),
    max_leaves=30,
)


def containers(value: Any) -> list[Any]:
    if isinstance(value, dict):
        return [value, *(inner for item in value.values() for inner in containers(item))]
    if isinstance(value, list):
        return [value, *(inner for item in value for inner in containers(item))]
    return []


def run_python(code: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=False)


@settings(max_examples=300)
@given(json_values)
def test_a_json_value_is_copied_as_deepcopy_copies_it_and_shares_nothing_with_the_original(value: Any) -> None:
    # Given any JSON value / When it is copied
    copied = copy_json(value)

    # Then the copy equals deepcopy's, and no dict or list of it is one of the original's
    assert copied == copy.deepcopy(value)
    originals = {id(container) for container in containers(value)}
    assert not any(id(container) in originals for container in containers(copied))


def test_an_object_repeated_in_a_value_stays_one_object_in_the_copy_as_with_deepcopy() -> None:
    # Given a value holding the same dict twice, and a list that holds itself
    shared: dict[str, Any] = {"status": [200]}
    looping: list[Any] = [1]
    looping.append(looping)
    value = {"first": shared, "second": shared, "loop": looping}

    # When it is copied
    copied = copy_json(value)

    # Then the repetition and the cycle are kept, as deepcopy keeps them, in new objects
    assert copied["first"] is copied["second"]
    assert copied["first"] is not shared
    assert copied["loop"][1] is copied["loop"]
    assert copied["loop"] is not looping


class Colour(Enum):
    RED = "red"


def test_what_is_not_json_is_copied_by_deepcopy_itself() -> None:
    # Given a value with a tuple key, a datetime, an enum, a set and a dict subclass
    when = datetime(2026, 1, 1, tzinfo=UTC)

    class Ordered(dict[str, int]):
        pass

    value = {("a", 1): [when, Colour.RED, {1, 2}], "sub": Ordered(a=1)}

    # When it is copied
    copied = copy_json(value)

    # Then each part is what deepcopy makes of it
    assert copied == copy.deepcopy(value)
    assert copied[("a", 1)][1] is Colour.RED
    assert type(copied["sub"]) is Ordered
    assert copied["sub"] is not value["sub"]


@pytest.mark.parametrize(
    "path",
    ["$.probe.result.final", "$.stage.checks", "$.Payload", "$.suite.stages[0]", "$..name", "$.items[*].value"],
)
def test_a_cached_jsonpath_finds_and_updates_what_a_freshly_parsed_one_does(path: str) -> None:
    # Given a parser that caches each path's expression
    parse = _cached_parser(parse_extended_jsonpath)
    document = {
        "probe": {"result": {"final": True}},
        "stage": {"checks": [{"name": "a"}, {"name": "b"}]},
        "Payload": {"ok": 1},
        "suite": {"stages": [{"name": "smoke"}]},
        "items": [{"value": 1}, {"value": 2}],
    }

    # When the same path is evaluated many times, and a document updated through it in between
    expression = parse(path)
    before = repr(expression)
    expression.update_or_create(copy.deepcopy(document), {"written": True})
    found = [[match.value for match in parse(path).find(document)] for _ in range(3)]

    # Then it is one expression, left as it was, and it finds what a new parse finds
    assert parse(path) is expression
    assert repr(expression) == before
    fresh = [match.value for match in parse_extended_jsonpath(path).find(document)]
    assert found == [fresh] * 3


def test_a_path_that_does_not_parse_fails_every_time() -> None:
    # Given a parser that caches each path's expression
    parse = _cached_parser(parse_jsonpath)

    # When a broken path is parsed twice / Then both fail: only expressions are cached
    for _ in range(2):
        with pytest.raises(Exception, match="Parse error"):
            parse("$.[[")


def test_one_client_serves_every_thread_per_region_and_service() -> None:
    # Given clients shared through SharedClients, made by a factory that counts its calls
    made: list[tuple[str, str]] = []

    def factory(region: str, service: str) -> object:
        made.append((region, service))
        return object()

    clients = SharedClients(factory)
    seen: list[object] = []

    # When 40 threads ask for the Lambda client at once, and then another service and region are asked for
    def ask() -> None:
        seen.append(clients.client_for("us-east-1", "lambda", state_credentials=object()))

    threads = [threading.Thread(target=ask) for _ in range(40)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    other_service = clients.client_for("us-east-1", "sqs")
    other_region = clients.client_for("eu-west-1", "lambda")

    # Then one client was made for the 40, and one for each other service and region
    assert len({id(client) for client in seen}) == 1
    assert other_service is not seen[0]
    assert other_region is not seen[0]
    assert made == [("us-east-1", "lambda"), ("us-east-1", "sqs"), ("eu-west-1", "lambda")]


def test_a_patch_refuses_code_other_than_the_code_it_was_written_for() -> None:
    # Given a function whose source is not the expected one / When a patch checks it
    def changed_upstream() -> None:
        pass

    # Then the patch refuses, naming what to do
    with pytest.raises(UnexpectedMotoCode, match=r"changed_upstream.*port the patch"):
        require_source("some-patch", changed_upstream, "0000000000000000")


@pytest.mark.parametrize(("switch", "wanted"), [(None, True), ("", True), ("on", True), ("off", False)])
def test_the_switch_turns_the_patches_on_by_default_and_off_when_asked(switch: str | None, wanted: bool) -> None:
    assert patches_wanted(switch) is wanted


def test_a_switch_value_other_than_on_or_off_is_refused() -> None:
    with pytest.raises(ValueError, match="use `on`"):
        patches_wanted("false")


def test_every_patch_applies_to_the_pinned_moto_and_replaces_what_it_names() -> None:
    # Given a fresh Python with the pinned moto
    result = run_python(
        "import sys\n"
        "import jsonpath_ng.ext\n"
        # When every patch is applied
        "from tollgate.engine import moto_patches as p\n"
        "p.apply_patches()\n"
        "from moto.stepfunctions.parser.asl.eval import states\n"
        "from moto.stepfunctions.parser.asl.utils import json_path\n"
        "from moto.stepfunctions.parser.asl.component.state.exec.state_task import lambda_eval_utils\n"
        "from moto.core.serialize import AttributePicker\n"
        "from moto.stepfunctions.parser.asl.parse.asl_parser import AmazonStateLanguageParser\n"
        "from moto.stepfunctions.parser.models import StepFunctionsParserBackend\n"
        "print(states.copy is p.JSON_COPY, json_path.parse is not jsonpath_ng.ext.parse,\n"
        "      type(lambda_eval_utils.boto_client_for.__self__).__name__,\n"
        "      AttributePicker.__call__.__name__, type(AmazonStateLanguageParser.parse.__self__).__name__,\n"
        "      StepFunctionsParserBackend.create_state_machine.__qualname__.split('.')[0],\n"
        "      'moto.ec2' in sys.modules)\n"
    )

    # Then each replaced what it names, and nothing imported EC2
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == [
        "True",
        "True",
        "SharedClients",
        "pick",
        "ParsedDefinitions",
        "_preparing_lambda_client",
        "False",
    ]
    assert len(PATCHES) == 6


def test_batch_is_imported_when_first_used_and_is_then_moto_batch_as_released() -> None:
    # Given the Batch patch applied, and the interpreter's Batch integration imported (as parsing a definition does)
    result = run_python(
        "import sys\n"
        "from tollgate.engine.moto_patches import import_batch_models_on_first_use\n"
        "import_batch_models_on_first_use()\n"
        "from moto.stepfunctions.parser.asl.component.state.exec.state_task.service import "
        "state_task_service_batch\n"
        "before = 'moto.ec2' in sys.modules\n"
        # When something asks moto for the Batch backend, as a Batch request to the server does
        "from moto.backends import get_backend\n"
        "from moto.batch import batch_backends\n"
        "from moto.batch.models import BatchBackend\n"
        "backend = get_backend('batch')['123456789012']['us-east-1']\n"
        "print(before, 'moto.ec2' in sys.modules, backend is batch_backends['123456789012']['us-east-1'],\n"
        "      isinstance(backend, BatchBackend))\n"
    )

    # Then EC2 was not loaded until then, and the backend is the real one
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["False", "True", "True", "True"]


def test_the_batch_patch_refuses_when_batch_is_already_imported() -> None:
    # Given a process that imported moto.batch / When the Batch patch is applied
    result = run_python(
        "import moto.batch\n"
        "from tollgate.engine.moto_patches import import_batch_models_on_first_use\n"
        "import_batch_models_on_first_use()\n"
    )

    # Then it fails loudly instead of doing nothing
    assert result.returncode != 0
    assert "moto.batch is already imported" in result.stderr


SERIALIZE_BOTH_WAYS = """
import json
from datetime import datetime, timezone
from moto.core.serialize import XFormedAttributePicker, get_serializer_class
from moto.core.utils import get_service_model
from tollgate.engine.moto_patches import look_up_member_keys_once_per_response

def serialize(service, operation, result, transformers=None):
    model = get_service_model(service)
    serializer = get_serializer_class(service, model.protocol)(
        operation_model=model.operation_model(operation),
        pretty_print=False,
        value_picker=XFormedAttributePicker(response_transformers=transformers),
    )
    return serializer.serialize(result)

class Described:
    class Meta:
        serialization_aliases = {"stateMachineArn": "arn"}
    arn = "arn:aws:states:us-east-1:123456789012:stateMachine:m"
    status = "ACTIVE"
    name = "m"

state_input = json.dumps({"stage": "smoke", "round": 1})
events = [
    {"timestamp": "2026-01-01T00:00:00.123Z", "type": "ExecutionStarted", "id": 1, "previousEventId": 0,
     "executionStartedEventDetails": {"input": state_input, "inputDetails": {"truncated": False}, "roleArn": "r"}},
    {"timestamp": datetime(2026, 1, 1, tzinfo=timezone.utc), "type": "TaskScheduled", "id": 2, "previousEventId": 1,
     "taskScheduledEventDetails": {"resourceType": "lambda", "resource": "invoke", "region": "us-east-1",
                                   "parameters": state_input, "heartbeatInSeconds": None}},
    {"timestamp": "2026-01-01T00:00:01Z", "type": "TaskFailed", "id": 3, "previousEventId": 2,
     "taskFailedEventDetails": {"resourceType": "lambda", "resource": "invoke", "error": "E", "cause": "{}"},
     "TaskFailedEventDetails": {"error": "the shape-name alias wins over the member name"}},
    {"timestamp": "2026-01-01T00:00:02Z", "type": "MapIterationStarted", "id": 4, "previousEventId": 3,
     "mapIterationStartedEventDetails": {"name": "Run checks", "index": 7}, "previous_event_id": 99},
]
responses = [
    ("stepfunctions", "GetExecutionHistory", {"events": events, "nextToken": None}, None),
    ("stepfunctions", "GetExecutionHistory", {"events": events}, {"events.events.type": lambda value: value.lower()}),
    ("stepfunctions", "DescribeStateMachine", Described(), None),
    ("stepfunctions", "DescribeExecution", {"executionArn": "a", "status": "RUNNING",
     "startDate": "2026-01-01T00:00:00Z", "input": state_input, "inputDetails": {"included": True}}, None),
]
before = [serialize(*response) for response in responses]
look_up_member_keys_once_per_response()
after = [serialize(*response) for response in responses]
print(json.dumps([b == a for b, a in zip(before, after)]))
print(json.loads(before[0]["body"])["events"][2]["taskFailedEventDetails"]["error"])
"""


def test_responses_are_serialized_to_the_same_bytes_once_member_keys_are_looked_up_once() -> None:
    # Given responses moto serializes: histories (an alias key and a transformer among them), an object with Meta
    # When each is serialized before and after the patch
    result = run_python(SERIALIZE_BOTH_WAYS)

    # Then every response is the same, status, headers and body, and an alias still wins as it did
    assert result.returncode == 0, result.stderr
    same, alias_winner = result.stdout.splitlines()
    assert same == "[true, true, true, true]"
    assert alias_winner == "the shape-name alias wins over the member name"


class Program:
    """Stands in for the interpreter's program: components holding state of their own."""

    def __init__(self, states: list[str]) -> None:
        self.states = states


class CountingParser:
    def __init__(self) -> None:
        self.parsed: list[str] = []

    def __call__(self, definition: str) -> tuple[Program, object]:
        self.parsed.append(definition)
        if definition == "not ASL":
            raise ValueError("ASLParserException")
        return Program(["Prepare round", "Run checks"]), object()


def test_a_definition_is_parsed_once_and_every_caller_gets_a_program_of_its_own() -> None:
    # Given the remembered parse
    parser = CountingParser()
    definitions = ParsedDefinitions(parser)

    # When one definition is parsed three times (a create, then two executions)
    programs = [definitions.parse("definition")[0] for _ in range(3)]

    # Then it was parsed once, and each caller got an equal program that shares no component with another
    assert parser.parsed == ["definition"]
    assert all(program.states == ["Prepare round", "Run checks"] for program in programs)
    assert len({id(program) for program in programs}) == 3
    assert len({id(program.states) for program in programs}) == 3


def test_a_definition_that_does_not_parse_fails_every_time() -> None:
    parser = CountingParser()
    definitions = ParsedDefinitions(parser)

    for _ in range(2):
        with pytest.raises(ValueError, match="ASLParserException"):
            definitions.parse("not ASL")

    assert parser.parsed == ["not ASL", "not ASL"]


def test_the_definition_parsed_earliest_is_forgotten_first() -> None:
    # Given room for two definitions, three parsed
    parser = CountingParser()
    definitions = ParsedDefinitions(parser, size=2)
    for definition in ("first", "second", "third"):
        definitions.parse(definition)

    # When the second and the first are parsed again
    definitions.parse("second")
    definitions.parse("first")

    # Then only the first, forgotten, was parsed anew
    assert parser.parsed == ["first", "second", "third", "first"]


def test_the_next_engine_finds_the_definition_parsed_in_the_store(tmp_path: Path) -> None:
    # Given one engine's moto parsed a definition with a store
    ParsedDefinitions(CountingParser(), tmp_path).parse("definition")

    # When the next engine's moto parses the same definition
    parser = CountingParser()
    program, _ = ParsedDefinitions(parser, tmp_path).parse("definition")

    # Then it read the program from the store instead of parsing
    assert parser.parsed == []
    assert program.states == ["Prepare round", "Run checks"]


def test_a_stored_program_that_cannot_be_read_is_parsed_anew_and_replaced(tmp_path: Path) -> None:
    # Given a store whose entry for the definition is damaged
    ParsedDefinitions(CountingParser(), tmp_path).parse("definition")
    [stored] = tmp_path.iterdir()
    stored.write_bytes(b"not a pickle")

    # When the definition is parsed
    parser = CountingParser()
    program, _ = ParsedDefinitions(parser, tmp_path).parse("definition")

    # Then it was parsed, and the store holds the program again
    assert parser.parsed == ["definition"]
    assert program.states == ["Prepare round", "Run checks"]
    assert ParsedDefinitions(CountingParser(), tmp_path).parse("definition")[0].states == program.states


def test_a_store_that_cannot_be_written_costs_only_the_parse(tmp_path: Path) -> None:
    # Given a store path that is a file, not a directory
    blocked = tmp_path / "store"
    blocked.write_text("a file")

    # When a definition is parsed / Then the program comes back all the same
    assert ParsedDefinitions(CountingParser(), blocked).parse("definition")[0].states == ["Prepare round", "Run checks"]


def test_a_program_read_from_the_store_has_no_parse_tree_and_says_so_when_one_is_read(tmp_path: Path) -> None:
    # Given a program the next engine read from the store
    ParsedDefinitions(CountingParser(), tmp_path).parse("definition")
    _, tree = ParsedDefinitions(CountingParser(), tmp_path).parse("definition")

    # When something reads its parse tree / Then it fails naming the patch to port
    with pytest.raises(UnexpectedMotoCode, match="parse_each_definition_once"):
        tree.getChildCount()
