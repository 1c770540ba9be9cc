"""Speed-ups of moto's Step Functions interpreter and its responses, in the engine's own moto: none changes a result.

Each patch replaces one piece of moto 5.2.5 with code that computes the same thing for less CPU or memory. A
patch first checks that what it replaces is, to the byte, the code it was written for (a digest of its source),
and refuses to apply otherwise: a moto upgrade must port or drop it, never run it blind. moto_main applies them
all before the server starts, unless TOLLGATE_MOTO_PATCHES=off (tests/integration/test_moto_patches.py runs the
bench's scenarios both ways and compares the execution histories event for event). docs/upstream-moto.md
proposes each change to moto, with what it saves.
"""

from __future__ import annotations

import copy
import functools
import hashlib
import importlib.util
import inspect
import os
import pickle
import sys
import threading
import types
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import jsonpath_ng
import moto
from jsonpath_ng.ext.parser import parse as parse_extended_jsonpath
from jsonpath_ng.parser import parse as parse_jsonpath

from tollgate.engine.moto_server import PARSED_DEFINITIONS_VARIABLE, PINNED_MOTO_VERSION

PINNED_JSONPATH_NG_VERSION = "1.16.0"
SWITCH_VARIABLE = "TOLLGATE_MOTO_PATCHES"
_PARSER = "moto.stepfunctions.parser.asl"
PARSER_BACKEND = "moto.stepfunctions.parser.models"
# Enough idle connections to the edge for a Map's 40 concurrent iterations in a few executions at once.
LAMBDA_CONNECTIONS = 100
JSONPATH_CACHE_SIZE = 4096
# The engine creates one state machine; a test may create a few more.
PARSED_DEFINITIONS = 16
# Part of the stored programs' directory name: a change to what is stored, or how, gets a new number.
_STORE_FORMAT = 1


class UnexpectedMotoCode(RuntimeError):
    """What a patch replaces is not the code the patch was written for."""


def _digest(source: str) -> str:
    return hashlib.sha256(source.encode("utf-8")).hexdigest()[:16]


def require_source(patch: str, target: object, expected_digest: str) -> None:
    """Refuse to patch unless `target` (a module, class or function) is the code `patch` was written for."""
    name = getattr(target, "__qualname__", None) or getattr(target, "__name__", repr(target))
    actual = _digest(inspect.getsource(target))  # type: ignore[arg-type]
    if actual != expected_digest:
        raise UnexpectedMotoCode(
            f"patch '{patch}': {name} in moto {moto.__version__} is not the code the patch was written for"
            f" (source digest {actual}, expected {expected_digest}): port the patch in"
            " tollgate/engine/moto_patches.py, or drop it"
        )


def _require_pinned_moto(patch: str) -> None:
    if moto.__version__ != PINNED_MOTO_VERSION:
        raise UnexpectedMotoCode(f"patch '{patch}' is written for moto {PINNED_MOTO_VERSION}, not {moto.__version__}")


def _module(name: str) -> Any:
    """A module of moto's, typed Any: the patches read and replace its attributes."""
    return importlib.import_module(name)


# Where moto parses a definition, each as it is in moto 5.2.5: at CreateStateMachine and at each execution's start.
DEFINITION_PARSING_MODULES = {
    PARSER_BACKEND: "be4646bb5c7f1aef",
    "moto.stepfunctions.parser.backend.execution_worker": "f2bc8ae7d18d64e7",
}


# --- 1. moto.batch (and with it all of EC2) imported only when a Batch task runs ---------------------------------

_BATCH_PACKAGE_SOURCE = "from .models import batch_backends  # noqa: F401\n"


def _batch_package_attribute(name: str) -> Any:
    """The package's one name, `batch_backends`, loaded the first time anyone asks for it."""
    if name != "batch_backends":
        raise AttributeError(f"module 'moto.batch' has no attribute '{name}'")
    from moto.batch.models import batch_backends

    package: Any = sys.modules["moto.batch"]
    package.batch_backends = batch_backends
    return batch_backends


def import_batch_models_on_first_use() -> None:
    """The Batch integration imports moto.batch.utils for an enum; moto/batch/__init__ then imports all of EC2.

    That is 100 MiB of resident memory and 0.7 s of CPU at the first CreateStateMachine, for a task type the
    validation never runs. The package is registered without running its __init__ (whose only line imports
    moto.batch.models for `batch_backends`); the first lookup of `batch_backends` does that import then.
    """
    _require_pinned_moto("import_batch_models_on_first_use")
    spec = importlib.util.find_spec("moto.batch")
    if spec is None or spec.origin is None or spec.loader is None:
        raise UnexpectedMotoCode("patch 'import_batch_models_on_first_use': moto.batch is not a package here")
    if Path(spec.origin).read_text(encoding="utf-8") != _BATCH_PACKAGE_SOURCE:
        raise UnexpectedMotoCode(
            "patch 'import_batch_models_on_first_use': moto/batch/__init__.py is not the one line it expects"
        )
    if "moto.batch" in sys.modules:
        raise UnexpectedMotoCode("patch 'import_batch_models_on_first_use': moto.batch is already imported")
    package = importlib.util.module_from_spec(spec)
    package.__getattr__ = _batch_package_attribute  # type: ignore[method-assign]
    sys.modules["moto.batch"] = package


# --- 2. JSON values copied by a copier for JSON, not by copy.deepcopy ----------------------------------------------

_ATOMIC = frozenset({str, int, float, bool, type(None)})


def copy_json(value: Any, memo: dict[int, Any] | None = None) -> Any:
    """copy.deepcopy, for JSON values 3x faster: same result, same sharing of repeated objects, same memo.

    dicts and lists (exactly those types) are copied here, str/int/float/bool/None are their own copy (as in
    copy.deepcopy); anything else goes to copy.deepcopy with the same memo.
    """
    cls = type(value)
    if cls in _ATOMIC:
        return value
    if memo is None:
        memo = {}
    copied = memo.get(id(value))
    if copied is not None:
        return copied
    if cls is dict:
        return _copy_dict(value, memo)
    if cls is list:
        return _copy_list(value, memo)
    return copy.deepcopy(value, memo)


def _copy_dict(value: dict[Any, Any], memo: dict[int, Any]) -> dict[Any, Any]:
    result: dict[Any, Any] = {}
    memo[id(value)] = result
    for key, item in value.items():
        result[key if type(key) in _ATOMIC else copy_json(key, memo)] = (
            item if type(item) in _ATOMIC else copy_json(item, memo)
        )
    return result


def _copy_list(value: list[Any], memo: dict[int, Any]) -> list[Any]:
    result: list[Any] = []
    memo[id(value)] = result
    append = result.append
    for item in value:
        append(item if type(item) in _ATOMIC else copy_json(item, memo))
    return result


# Stands in for the `copy` module in moto modules that use nothing of it but copy.deepcopy.
JSON_COPY = types.SimpleNamespace(deepcopy=copy_json)

# The interpreter's modules that deep-copy state values (module: digest of its source). Each calls copy.deepcopy
# and nothing else of `copy`: the state's input, result and error output; the value a JSONPath picked; the
# evaluation stack of a state's frame; the history.
DEEP_COPYING_MODULES = {
    f"{_PARSER}.eval.states": "b35fac28f8647c5a",
    f"{_PARSER}.eval.environment": "0c57e3472828e031",
    f"{_PARSER}.eval.event.event_manager": "5bdb7c20cc1bcf4e",
    f"{_PARSER}.component.common.string.string_expression": "7816418b4d1a9fbb",
    f"{_PARSER}.component.common.path.result_path": "33b4fae320351419",
    f"{_PARSER}.component.state.exec.execute_state": "6cc52e59c727d41e",
    f"{_PARSER}.component.state.exec.state_map.state_map": "d8637f74c8a5d857",
    f"{_PARSER}.component.state.exec.state_parallel.state_parallel": "5d2fe1712de91fd8",
    f"{_PARSER}.component.state.exec.state_task.service.state_task_service": "20abc4186424ccef",
}


def copy_state_values_as_json() -> None:
    """moto copies a state's values defensively with copy.deepcopy, many times per state and per Map iteration.

    The copies stay (each state still gets values no other state shares); only the copier changes.
    """
    _require_pinned_moto("copy_state_values_as_json")
    modules = [_module(name) for name in DEEP_COPYING_MODULES]
    for module in modules:
        require_source("copy_state_values_as_json", module, DEEP_COPYING_MODULES[module.__name__])
        if module.copy is not copy:
            raise UnexpectedMotoCode(f"patch 'copy_state_values_as_json': {module.__name__}.copy is not `copy`")
    for module in modules:
        module.copy = JSON_COPY


# --- 3. Each JSONPath parsed once, not at every evaluation ----------------------------------------------------------


def _cached_parser(parse: Callable[[str], Any]) -> Callable[[str], Any]:
    """jsonpath_ng's expressions are immutable once parsed (find and update build new data, never new nodes)."""
    return functools.lru_cache(maxsize=JSONPATH_CACHE_SIZE)(parse)


def parse_each_jsonpath_once() -> None:
    """moto builds a new LALR parser and parses the path again each time a state reads or writes a JSONPath."""
    _require_pinned_moto("parse_each_jsonpath_once")
    if jsonpath_ng.__version__ != PINNED_JSONPATH_NG_VERSION:
        raise UnexpectedMotoCode(
            f"patch 'parse_each_jsonpath_once' relies on jsonpath-ng {PINNED_JSONPATH_NG_VERSION}'s expressions"
            f" being immutable, not checked for {jsonpath_ng.__version__}"
        )
    json_path = _module(f"{_PARSER}.utils.json_path")
    result_path = _module(f"{_PARSER}.component.common.path.result_path")
    require_source("parse_each_jsonpath_once", json_path.extract_json, "932245247973780c")
    require_source("parse_each_jsonpath_once", result_path.ResultPath._eval_body, "a6d93b4e5a332fad")
    if json_path.parse is not parse_extended_jsonpath or result_path.parse is not parse_jsonpath:
        raise UnexpectedMotoCode("patch 'parse_each_jsonpath_once': moto's parse is not jsonpath_ng's")
    json_path.parse = _cached_parser(parse_extended_jsonpath)
    result_path.parse = _cached_parser(parse_jsonpath)


# --- 4. One Lambda client for the process, not one per invocation ---------------------------------------------------


class SharedClients:
    """boto3 clients are thread-safe: the Map's concurrent iterations can share one per region and service."""

    def __init__(self, create: Callable[[str, str], Any]) -> None:
        self._create = create
        self._clients: dict[tuple[str, str, bool, str], Any] = {}
        self._lock = threading.Lock()

    def client_for(self, region: str, service: str, state_credentials: Any = None) -> Any:
        """moto's boto_client_for, whose client does not depend on state_credentials either."""
        from moto.core.models import botocore_stubber
        from moto.settings import moto_server_port

        key = (region, service, bool(botocore_stubber.enabled), moto_server_port())
        with self._lock:
            if key not in self._clients:
                self._clients[key] = self._create(region, service)
            return self._clients[key]

    def prepare(self, region: str, service: str) -> None:
        """Make the client in the background (once): the first Task then finds it, instead of waiting 60 ms."""
        threading.Thread(target=self.client_for, args=(region, service), name="tollgate-client", daemon=True).start()


def _lambda_client(region: str, service: str) -> Any:
    """What moto's boto_client_for builds, with a connection pool as large as a Map's concurrency."""
    import boto3
    from botocore.config import Config
    from moto.core.models import botocore_stubber
    from moto.settings import moto_server_port
    from moto.stepfunctions.parser.asl.component.common.timeouts.timeout import TimeoutSeconds

    endpoint = {} if botocore_stubber.enabled else {"endpoint_url": f"http://localhost:{moto_server_port()}"}
    return boto3.client(
        aws_access_key_id="ak",
        region_name=region,
        service_name=service,
        aws_secret_access_key="sk",  # noqa: S106 - moto's own placeholder credentials
        config=Config(
            parameter_validation=False,
            retries={"max_attempts": 0, "total_max_attempts": 1},
            connect_timeout=TimeoutSeconds.DEFAULT_TIMEOUT_SECONDS,
            read_timeout=TimeoutSeconds.DEFAULT_TIMEOUT_SECONDS,
            max_pool_connections=LAMBDA_CONNECTIONS,
        ),
        **endpoint,
    )


def share_one_lambda_client() -> None:
    """moto creates a boto3 client (and a TCP connection) for every Lambda invocation of a task state."""
    _require_pinned_moto("share_one_lambda_client")
    boto_client = _module(f"{_PARSER}.utils.boto_client")
    lambda_eval_utils = _module(f"{_PARSER}.component.state.exec.state_task.lambda_eval_utils")
    require_source("share_one_lambda_client", boto_client.boto_client_for, "1f44dc2ac8aa2179")
    require_source("share_one_lambda_client", lambda_eval_utils, "3b0e86edfb1661db")
    if lambda_eval_utils.boto_client_for is not boto_client.boto_client_for:
        raise UnexpectedMotoCode("patch 'share_one_lambda_client': lambda_eval_utils.boto_client_for is not moto's")
    parser_models = _module(PARSER_BACKEND)
    require_source("share_one_lambda_client", parser_models, DEFINITION_PARSING_MODULES[PARSER_BACKEND])
    clients = SharedClients(_lambda_client)
    lambda_eval_utils.boto_client_for = clients.client_for
    parser_models.StepFunctionsParserBackend.create_state_machine = _preparing_lambda_client(
        parser_models.StepFunctionsParserBackend.create_state_machine, clients
    )


def _preparing_lambda_client(create: Callable[..., Any], clients: SharedClients) -> Callable[..., Any]:
    """CreateStateMachine, after which the Lambda client is made while moto waits for the first execution."""

    def create_state_machine(backend: Any, *args: Any, **kwargs: Any) -> Any:
        state_machine = create(backend, *args, **kwargs)
        clients.prepare(backend.region_name, "lambda")
        return state_machine

    return create_state_machine


# --- 5. A response's member keys looked up once per shape, not once per value -----------------------------------


def _member_keys(picker: Any, context: Any) -> tuple[tuple[str, bool], ...]:
    """The keys the picker tries for this member, in its order, and whether each is a dotted path.

    For a plain dict they depend on the member's shape and its parent shape alone (a dict has no Meta, and its
    class name is always `dict`), so they are worked out once per response and shape, by the picker itself.
    """
    shape = context.shape
    parent = getattr(shape, "parent", None)
    cache = picker.__dict__.setdefault("_tollgate_member_keys", {})
    slot = (context.key, id(shape), id(parent))
    entry = cache.get(slot)
    if entry is None or entry[0] is not shape or entry[1] is not parent:  # the entry holds both: ids are not reused
        keys = tuple((key, "." in key) for key in picker.get_possible_keys(context))
        entry = cache[slot] = (shape, parent, keys)
    keys_in_order: tuple[tuple[str, bool], ...] = entry[2]
    return keys_in_order


def _pick_member(original: Callable[[Any, Any], Any]) -> Callable[[Any, Any], Any]:
    utils = _module("moto.core.utils")
    missing, get_value = utils.MISSING, utils.get_value

    def pick(picker: Any, context: Any) -> Any:
        """AttributePicker.__call__; for a plain dict, with its keys from _member_keys and dict.get for a plain key."""
        obj = context.obj
        if type(obj) is not dict:
            return original(picker, context)
        for key, dotted in _member_keys(picker, context):
            value = get_value(obj, key, missing) if dotted else obj.get(key, missing)
            if value is not missing:
                break
        else:
            value = None
        if not picker.response_transformers:
            return value
        key_path = f"{context.key_path}.{context.key}"
        for transform_path, transform in picker.response_transformers.items():
            if key_path.endswith(transform_path):
                return transform(value)
        return value

    return pick


# What AttributePicker.__call__ relies on, each as it is in moto 5.2.5: the picker classes and alias providers
# of moto.core.serialize (the whole module, since the source of a class is found by parsing its module: 0.14 s at
# every engine start for eight classes) and the two functions of moto.core.utils it calls.
MEMBER_PICKING_CODE = {
    ("moto.core.serialize", None): "bb79b5b1196894de",
    ("moto.core.utils", "get_value"): "9b06b87ce416131e",
    ("moto.core.utils", "_get_value_for_key"): "563aa7bc75bd5bb0",
}


def look_up_member_keys_once_per_response() -> None:
    """moto's serializer works out, for every member of every value, which keys to try (six alias providers
    instantiated, xform_name for each): for a history of 7850 events that is 2.7 s of CPU per GetExecutionHistory."""
    _require_pinned_moto("look_up_member_keys_once_per_response")
    for (module_name, name), digest in MEMBER_PICKING_CODE.items():
        module = _module(module_name)
        require_source("look_up_member_keys_once_per_response", getattr(module, name) if name else module, digest)
    serialize = _module("moto.core.serialize")
    providers = [serialize.ExplicitAlias, serialize.ShapeNameAlias, serialize.NoAlias]
    providers += [serialize.ShapePrefixAlias, serialize.ClassPrefixAlias, serialize.ModelAlias]
    if providers != serialize.DEFAULT_ALIAS_PROVIDERS:
        raise UnexpectedMotoCode("patch 'look_up_member_keys_once_per_response': moto's alias providers changed")
    serialize.AttributePicker.__call__ = _pick_member(serialize.AttributePicker.__call__)


# --- 6. Each definition parsed once; every execution still gets a program of its own ------------------------------


class ParseTreeNotKept:
    """Stands in for the parse tree of a program read from the store: nothing in moto's server reads a tree after
    validating a definition, and anything that starts to should fail saying so, not with an AttributeError."""

    def __getattr__(self, name: str) -> Any:
        raise UnexpectedMotoCode(
            f"moto read '{name}' of a parse tree, which the store of parsed definitions does not keep: port"
            " patch 'parse_each_definition_once' in tollgate/engine/moto_patches.py"
        )


class ParsedDefinitions:
    """AmazonStateLanguageParser.parse, remembered: ANTLR parses a definition of the validation's size in 40-60 ms,
    0.1-0.15 s the first time in a process, and moto parses it at CreateStateMachine and again at every
    StartExecution. The remembered program is never handed out, only deep copies of it, so no two executions
    share a component; the parse tree (read only, to validate a new definition) is shared.

    With a `store`, programs are also kept on disk, pickled, so that the next engine's CreateStateMachine finds
    its definition parsed (the parse tree is not kept: nothing moto's server runs reads it after validating).
    """

    def __init__(
        self, parse: Callable[[str], tuple[Any, Any]], store: Path | None = None, size: int = PARSED_DEFINITIONS
    ) -> None:
        self._parse = parse
        self._store = store
        self._size = size
        self._parsed: dict[str, tuple[Any, Any]] = {}
        self._lock = threading.Lock()

    def parse(self, definition: str) -> tuple[Any, Any]:
        """A definition that does not parse raises as moto's parse does, every time."""
        with self._lock:
            parsed = self._parsed.get(definition)
        if parsed is None:
            parsed = self._stored(definition)
            if parsed is None:
                parsed = self._parse(definition)
                self._keep(definition, parsed[0])
            with self._lock:
                if len(self._parsed) >= self._size:
                    self._parsed.pop(next(iter(self._parsed)))
                self._parsed[definition] = parsed
        program, tree = parsed
        return copy.deepcopy(program), tree

    def _path(self, definition: str) -> Path | None:
        if self._store is None:
            return None
        return self._store / f"{hashlib.sha256(definition.encode('utf-8')).hexdigest()}.pickle"

    def _stored(self, definition: str) -> tuple[Any, Any] | None:
        path = self._path(definition)
        try:
            # The store is this checkout's own build directory, written only by this code: as trusted as its .pyc.
            if path is None or not path.exists():
                return None
            return pickle.loads(path.read_bytes()), ParseTreeNotKept()  # noqa: S301
        except Exception:  # noqa: BLE001 - unreadable or from other code: parse anew, and keep the new one
            return None

    def _keep(self, definition: str, program: Any) -> None:
        path = self._path(definition)
        if path is None:
            return
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            written = path.with_name(f"{path.name}.{os.getpid()}.{threading.get_ident()}")
            written.write_bytes(pickle.dumps(program))
            written.replace(path)  # whole or not at all, for the engines that start meanwhile
        except Exception:  # noqa: BLE001 - a store that cannot be written only costs the next engine a parse
            return


def parse_each_definition_once() -> None:
    """moto parses the definition at every StartExecution, as well as at CreateStateMachine."""
    _require_pinned_moto("parse_each_definition_once")
    asl_parser = _module(f"{_PARSER}.parse.asl_parser")
    require_source("parse_each_definition_once", asl_parser, "441f2b03ef50e2ed")
    for module_name, digest in DEFINITION_PARSING_MODULES.items():
        module = _module(module_name)
        require_source("parse_each_definition_once", module, digest)
        if module.AmazonStateLanguageParser is not asl_parser.AmazonStateLanguageParser:
            raise UnexpectedMotoCode(f"patch 'parse_each_definition_once': {module_name} parses with another parser")
    parser = asl_parser.AmazonStateLanguageParser
    store = os.environ.get(PARSED_DEFINITIONS_VARIABLE)
    python = f"{sys.version_info.major}.{sys.version_info.minor}"
    versioned = Path(store) / f"v{_STORE_FORMAT}-moto-{moto.__version__}-python-{python}" if store else None
    parser.parse = staticmethod(ParsedDefinitions(parser.parse, versioned).parse)


PATCHES: tuple[Callable[[], None], ...] = (
    import_batch_models_on_first_use,
    copy_state_values_as_json,
    parse_each_jsonpath_once,
    share_one_lambda_client,
    look_up_member_keys_once_per_response,
    parse_each_definition_once,
)


def patches_wanted(switch: str | None) -> bool:
    """TOLLGATE_MOTO_PATCHES: unset or `on` applies them, `off` runs moto as released; anything else is a mistake."""
    if switch in (None, "", "on"):
        return True
    if switch == "off":
        return False
    raise ValueError(f"{SWITCH_VARIABLE}={switch!r}: use `on` (the default) or `off`")


def apply_patches(patches: Iterable[Callable[[], None]] = PATCHES) -> None:
    for patch in patches:
        patch()
