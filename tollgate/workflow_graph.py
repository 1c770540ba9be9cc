"""The validation workflow as a graph to draw: its states laid out from the ASL, and what an execution made of it.

The layout is layered and deterministic: a state's layer is its longest path from the start, a transition that
skips layers bends around the states between, and one that goes back (a retry, the next round) runs in a lane
beside the graph. A Map is drawn as a box around its iteration's states.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

DEFINITION_PATH = Path(__file__).resolve().parents[1] / "statemachine" / "validation.asl.json"

_NODE_HEIGHT = 40.0
_NODE_MIN_WIDTH = 120.0
_CHAR_WIDTH = 7.0  # a 12 px sans-serif character, generously: a name must fit its box
_NODE_PADDING = 28.0
_LAYER_GAP = 46.0
_NODE_GAP = 30.0
_LANE_GAP = 16.0
_START_MARGIN = 30.0  # above the first state: the start marker and its arrow
_MAP_PADDING = 18.0
_MAP_TITLE = 24.0
_CORNER = 6.0
# An ASL placeholder outside a string (`"TimeoutSeconds": ${ValidationTimeoutSeconds}`) is no JSON value.
_BARE_PLACEHOLDER = re.compile(r'(?<!")\$\{\w+\}(?!")')


@dataclass(frozen=True)
class StateBox:
    name: str
    type: str
    x: float
    y: float
    width: float
    height: float
    entered: int  # times an execution entered the state
    end: bool  # the workflow, or a Map iteration, may end here
    container: bool  # a Map, drawn around its iteration's states


@dataclass(frozen=True)
class Transition:
    source: str
    target: str
    kind: str  # next, choice, default or catch
    back: bool  # goes back to an earlier layer: a retry, the next round
    path: str  # SVG path data
    taken: int  # times an execution took it


@dataclass(frozen=True)
class StartMarker:
    x: float
    y: float
    target_y: float
    taken: bool


@dataclass(frozen=True)
class WorkflowGraph:
    width: float
    height: float
    states: list[StateBox]  # a Map before the states it holds
    transitions: list[Transition]
    starts: list[StartMarker]


def load_definition(path: Path = DEFINITION_PATH) -> dict[str, Any]:
    """An ASL file as JSON, its DefinitionSubstitutions placeholders left unresolved (null outside strings)."""
    definition: dict[str, Any] = json.loads(_BARE_PLACEHOLDER.sub("null", path.read_text(encoding="utf-8")))
    return definition


def entered_counts(history: Sequence[Mapping[str, Any]]) -> Counter[str]:
    """How often each state was entered, by name (state names are unique across a whole state machine)."""
    return Counter(
        event["stateEnteredEventDetails"]["name"] for event in history if event["type"].endswith("StateEntered")
    )


def transition_counts(history: Sequence[Mapping[str, Any]]) -> Counter[tuple[str, str]]:
    """How often each transition (from, to) was taken: a state's entry follows its previousEventId chain
    back to the exit of the state before it. Event ids restart with every execution in the history."""
    counts: Counter[tuple[str, str]] = Counter()
    by_id: dict[int, Mapping[str, Any]] = {}
    for event in history:
        if event["type"] == "ExecutionStarted":
            by_id = {}
        by_id[event["id"]] = event
        if event["type"].endswith("StateEntered"):
            source = _exited_before(event, by_id)
            if source is not None:
                counts[(source, event["stateEnteredEventDetails"]["name"])] += 1
    return counts


def _exited_before(event: Mapping[str, Any], by_id: Mapping[int, Mapping[str, Any]]) -> str | None:
    previous = by_id.get(event.get("previousEventId") or 0)
    while previous is not None and previous["type"] not in ("MapIterationStarted", "ExecutionStarted"):
        if previous["type"].endswith("StateExited"):
            name: str = previous["stateExitedEventDetails"]["name"]
            return name
        if previous["type"].endswith("StateEntered"):  # the chain went through another state: not a transition
            return None
        previous = by_id.get(previous.get("previousEventId") or 0)
    return None


def workflow_graph(definition: Mapping[str, Any], history: Sequence[Mapping[str, Any]]) -> WorkflowGraph:
    """The definition's states and transitions laid out, with how often `history` entered and took each."""
    block = _lay_out(definition["States"], definition["StartAt"])
    entered = entered_counts(history)
    taken = transition_counts(history)
    states = [replace(box, entered=entered[box.name]) for box in block.boxes]
    transitions = [
        Transition(edge.source, edge.target, edge.kind, edge.back, _path_data(edge), taken[(edge.source, edge.target)])
        for edge in block.edges
    ]
    starts = [StartMarker(x, y, target_y, entered[name] > 0) for name, x, y, target_y in block.starts]
    return WorkflowGraph(block.width, block.height, states, transitions, starts)


# --- layout -------------------------------------------------------------------------------------------------

Point = tuple[float, float]


@dataclass
class _Edge:
    source: str
    target: str
    kind: str
    back: bool
    points: list[Point]


@dataclass
class _Block:
    """A laid-out graph (the workflow's, or a Map iteration's), its origin at its top left corner."""

    width: float
    height: float
    boxes: list[StateBox] = field(default_factory=list)  # none entered yet
    edges: list[_Edge] = field(default_factory=list)
    starts: list[tuple[str, float, float, float]] = field(default_factory=list)  # state, x, y, target's top

    def moved(self, dx: float, dy: float) -> _Block:
        return _Block(
            self.width,
            self.height,
            [replace(box, x=box.x + dx, y=box.y + dy) for box in self.boxes],
            [_Edge(e.source, e.target, e.kind, e.back, [(x + dx, y + dy) for x, y in e.points]) for e in self.edges],
            [(name, x + dx, y + dy, top + dy) for name, x, y, top in self.starts],
        )


@dataclass(frozen=True)
class _Link:
    source: str
    target: str
    kind: str


_Ports = dict[tuple[_Link, bool], float]  # (transition, leaving its source): x where it meets the state


def _links(name: str, state: Mapping[str, Any]) -> list[_Link]:
    """A state's transitions, in the order a reader of the ASL meets them."""
    return [
        *(_Link(name, choice["Next"], "choice") for choice in state.get("Choices", [])),
        *([_Link(name, state["Default"], "default")] if "Default" in state else []),
        *([_Link(name, state["Next"], "next")] if "Next" in state else []),
        *(_Link(name, catcher["Next"], "catch") for catcher in state.get("Catch", [])),
    ]


def _inner(state: Mapping[str, Any]) -> Mapping[str, Any] | None:
    """A Map's iteration: its ItemProcessor (or, in older definitions, its Iterator)."""
    inner = state.get("ItemProcessor") or state.get("Iterator")
    return inner if isinstance(inner, Mapping) else None


class _Graph:
    """One level of states: who links to whom, and which links go back."""

    def __init__(self, states: Mapping[str, Any], start_at: str) -> None:
        self.states = states
        self.links = {
            name: [link for link in _links(name, state) if link.target in states] for name, state in states.items()
        }
        self.order: list[str] = []  # depth-first discovery from the start, then states nothing reaches
        self.back: set[_Link] = set()
        self._finished: list[str] = []
        for root in [start_at, *states]:
            if root not in self.order:
                self._visit(root, set())

    def _visit(self, name: str, on_path: set[str]) -> None:
        self.order.append(name)
        on_path.add(name)
        for link in self.links[name]:
            if link.target in on_path:
                self.back.add(link)
            elif link.target not in self.order:
                self._visit(link.target, on_path)
        on_path.discard(name)
        self._finished.append(name)

    def forward(self) -> list[_Link]:
        return [link for name in self.order for link in self.links[name] if link not in self.back]

    def layers(self) -> dict[str, int]:
        """Each state's longest path from a root, going forward only."""
        layer = dict.fromkeys(self.states, 0)
        forward = self.forward()
        for name in reversed(self._finished):
            for link in forward:
                if link.source == name:
                    layer[link.target] = max(layer[link.target], layer[name] + 1)
        return layer


@dataclass
class _Slot:
    """A state's place in a layer, or a bend point of a transition that crosses the layer."""

    key: str | _Link
    width: float
    height: float
    x: float = 0.0
    y: float = 0.0

    @property
    def center(self) -> float:
        return self.x + self.width / 2


def _lay_out(states: Mapping[str, Any], start_at: str) -> _Block:
    graph = _Graph(states, start_at)
    inner_blocks = {
        name: _lay_out(inner["States"], inner["StartAt"])
        for name, state in states.items()
        if (inner := _inner(state)) is not None
    }
    layer_of = graph.layers()
    layers = _slots_by_layer(graph, layer_of, inner_blocks)
    _place(layers, graph)
    left_lanes, right_lanes = _lane_sides(graph, layers, layer_of)
    dx = _LANE_GAP * (len(left_lanes) + 1)
    for slot in (slot for layer in layers for slot in layer):
        slot.x += dx
    slots = {slot.key: slot for layer in layers for slot in layer if isinstance(slot.key, str)}
    bends = {link: [slot for layer in layers for slot in layer if slot.key == link] for link in graph.forward()}
    width = max((slot.x + slot.width for slot in slots.values()), default=0.0) + _LANE_GAP * (len(right_lanes) + 1)
    block = _Block(width, max((slot.y + slot.height for slot in slots.values()), default=0.0))
    block.boxes = [_state_box(name, states[name], slots[name]) for name in graph.order]
    ports = _ports(graph, slots, bends)
    block.edges = [_forward_edge(link, slots, bends[link], layers, ports) for link in graph.forward()]
    block.edges += [
        _back_edge(link, slots, _LANE_GAP * (len(left_lanes) - lane)) for lane, link in enumerate(left_lanes)
    ]
    block.edges += [
        _back_edge(link, slots, width - _LANE_GAP * (len(right_lanes) - lane)) for lane, link in enumerate(right_lanes)
    ]
    first = slots[start_at]
    block.starts.append((start_at, first.center, first.y - _START_MARGIN + 6, first.y))
    for name, inner_block in inner_blocks.items():
        slot = slots[name]
        nested = inner_block.moved(slot.x + (slot.width - inner_block.width) / 2, slot.y + _MAP_TITLE)
        block.boxes += nested.boxes
        block.edges += nested.edges
        block.starts += nested.starts
    return block


def _slots_by_layer(graph: _Graph, layer_of: Mapping[str, int], inner: Mapping[str, _Block]) -> list[list[_Slot]]:
    layers: list[list[_Slot]] = [[] for _ in range(max(layer_of.values(), default=0) + 1)]
    for name in graph.order:
        width, height = _box_size(name, inner.get(name))
        layers[layer_of[name]].append(_Slot(name, width, height))
    for link in graph.forward():
        for layer in range(layer_of[link.source] + 1, layer_of[link.target]):
            layers[layer].append(_Slot(link, 0.0, 0.0))
    return layers


def _box_size(name: str, inner: _Block | None) -> tuple[float, float]:
    if inner is not None:
        width = max(inner.width, len(name) * _CHAR_WIDTH + _NODE_PADDING) + 2 * _MAP_PADDING
        return width, inner.height + _MAP_TITLE + _MAP_PADDING
    return max(_NODE_MIN_WIDTH, len(name) * _CHAR_WIDTH + _NODE_PADDING), _NODE_HEIGHT


def _place(layers: list[list[_Slot]], graph: _Graph) -> None:
    """Top to bottom: each slot under the states that lead to it, then pushed right of its left neighbour."""
    centers: dict[str | _Link, float] = {}
    top = _START_MARGIN
    for layer in layers:
        wanted = {slot.key: _wanted_center(slot, graph, centers) for slot in layer}
        layer.sort(key=lambda slot: _sort_key(wanted[slot.key]))
        right: float | None = None  # where the next slot may start, right of the one before it
        for slot in layer:
            center = wanted[slot.key]
            left = center - slot.width / 2 if center is not None else (right or 0.0)
            slot.x = left if right is None else max(left, right)
            right = slot.x + slot.width + _NODE_GAP
            centers[slot.key] = slot.center
        depth = max(slot.height for slot in layer)
        for slot in layer:
            slot.y = top + (depth - slot.height) / 2
        top += depth + _LAYER_GAP
    left = min(slot.x for layer in layers for slot in layer)
    for layer in layers:
        for slot in layer:
            slot.x -= left


def _sort_key(center: float | None) -> float:
    """Slots in a layer go in the order of the states above them; a slot with none keeps its place in front."""
    return center if center is not None else float("-inf")


def _wanted_center(slot: _Slot, graph: _Graph, centers: Mapping[str | _Link, float]) -> float | None:
    if isinstance(slot.key, _Link):  # a bend point: under the one before it on its transition
        return centers.get(slot.key, centers.get(slot.key.source))
    sources = [centers[link.source] for link in graph.forward() if link.target == slot.key and link.source in centers]
    return sum(sources) / len(sources) if sources else None


def _lane_sides(
    graph: _Graph, layers: list[list[_Slot]], layer_of: Mapping[str, int]
) -> tuple[list[_Link], list[_Link]]:
    """Back transitions run on the side where no state stands between them and their states."""
    left: list[_Link] = []
    right: list[_Link] = []
    for link in sorted(graph.back, key=lambda link: (graph.order.index(link.source), graph.order.index(link.target))):
        ends = [layers[layer_of[link.source]], layers[layer_of[link.target]]]
        last_in_both = all(layer[-1].key in (link.source, link.target) for layer in ends)
        first_in_both = all(layer[0].key in (link.source, link.target) for layer in ends)
        (right if last_in_both and not first_in_both else left).append(link)
    return left, right


def _state_box(name: str, state: Mapping[str, Any], slot: _Slot) -> StateBox:
    end = bool(state.get("End")) or state["Type"] in ("Succeed", "Fail")
    container = _inner(state) is not None
    return StateBox(name, state["Type"], slot.x, slot.y, slot.width, slot.height, 0, end, container)


def _forward_edge(
    link: _Link, slots: Mapping[str, _Slot], bends: list[_Slot], layers: list[list[_Slot]], ports: _Ports
) -> _Edge:
    source, target = slots[link.source], slots[link.target]
    points: list[Point] = [(ports[(link, True)], source.y + source.height)]
    for bend in bends:  # straight down through each layer it crosses, beside the states there
        layer = next(layer for layer in layers if bend in layer)
        points += [(bend.x, min(slot.y for slot in layer)), (bend.x, max(slot.y + slot.height for slot in layer))]
    points.append((ports[(link, False)], target.y))
    return _Edge(link.source, link.target, link.kind, False, points)


def _ports(graph: _Graph, slots: Mapping[str, _Slot], bends: Mapping[_Link, list[_Slot]]) -> _Ports:
    """Where transitions leave a state's bottom and enter its top: spread along the side in the order of the
    states at their other end, so that they neither overlap nor cross there."""

    def toward(link: _Link, leaving: bool) -> float:
        if bends[link]:
            return bends[link][0 if leaving else -1].center
        return slots[link.target if leaving else link.source].center

    ports: _Ports = {}
    forward = graph.forward()
    for name in graph.order:
        slot = slots[name]
        for leaving in (True, False):
            ends = [link for link in forward if (link.source if leaving else link.target) == name]
            for index, link in enumerate(sorted(ends, key=lambda link: toward(link, leaving))):
                ports[(link, leaving)] = slot.x + slot.width * (index + 1) / (len(ends) + 1)
    return ports


def _back_edge(link: _Link, slots: Mapping[str, _Slot], lane_x: float) -> _Edge:
    source, target = slots[link.source], slots[link.target]
    on_left = lane_x < source.x
    source_x = source.x if on_left else source.x + source.width
    target_x = target.x if on_left else target.x + target.width
    source_y = source.y + source.height / 2
    target_y = target.y + target.height / 2
    points = [(source_x, source_y), (lane_x, source_y), (lane_x, target_y), (target_x, target_y)]
    return _Edge(link.source, link.target, link.kind, True, points)


def _path_data(edge: _Edge) -> str:
    return _lane_path(edge.points) if edge.back else _curve_path(edge.points)


def _curve_path(points: Sequence[Point]) -> str:
    """Down through the points, each step a curve that leaves and arrives vertically."""
    (x, y), *rest = points
    parts = [f"M{x:.1f},{y:.1f}"]
    for next_x, next_y in rest:
        if next_x == x:
            parts.append(f"L{next_x:.1f},{next_y:.1f}")
        else:
            middle = (y + next_y) / 2
            parts.append(f"C{x:.1f},{middle:.1f} {next_x:.1f},{middle:.1f} {next_x:.1f},{next_y:.1f}")
        x, y = next_x, next_y
    return " ".join(parts)


def _lane_path(points: Sequence[Point]) -> str:
    """Straight runs between the points, each corner rounded."""
    parts = [f"M{points[0][0]:.1f},{points[0][1]:.1f}"]
    for (x0, y0), (x1, y1), (x2, y2) in zip(points, points[1:], points[2:], strict=False):
        before_x, before_y = x1 - _CORNER * _sign(x1 - x0), y1 - _CORNER * _sign(y1 - y0)
        after_x, after_y = x1 + _CORNER * _sign(x2 - x1), y1 + _CORNER * _sign(y2 - y1)
        parts.append(f"L{before_x:.1f},{before_y:.1f} Q{x1:.1f},{y1:.1f} {after_x:.1f},{after_y:.1f}")
    parts.append(f"L{points[-1][0]:.1f},{points[-1][1]:.1f}")
    return " ".join(parts)


def _sign(value: float) -> float:
    return float((value > 0) - (value < 0))
