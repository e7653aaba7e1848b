"""A run's path as data: checked against the table, and saved as JSON for ``--trace FILE``.

A trace is what ``run.trace`` returns: the edges taken, in order, a run of the same edge being one
entry with its count (so a thousand text deltas are one entry, not a thousand). In JSON each step
names its edge by what identifies it in the table - trigger, source, dest and the guard's outcome
(each condition and whether it held) - never by its position, so a trace recorded before the
table was reordered still loads, and one naming an edge the table no longer has is refused.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any, TypeAlias

from ..errors import TraceError
from ..machine.table import EDGES, Edge, State, walk

__all__ = ["TRACE_FORMAT", "TRACE_VERSION", "Trace", "TraceError", "check_trace", "trace_from_json", "trace_to_json"]

Trace: TypeAlias = Sequence[tuple[Edge, int]]
"""Edges in the order taken, each with how many times in a row (``run.trace``)."""

TRACE_FORMAT = "agent-fsm trace"
TRACE_VERSION = 1

_EdgeKey: TypeAlias = tuple[str, State, State | None, frozenset[tuple[str, bool]]]


def _key(edge: Edge) -> _EdgeKey:
    return (edge.trigger, edge.source, edge.dest, frozenset(edge.conditions))


def _describe(trigger: str, source: State, dest: State | None, conditions: Mapping[str, bool]) -> str:
    guard = ", ".join(f"{name}={'true' if held else 'false'}" for name, held in sorted(conditions.items()))
    return f"{trigger} {source.value} -> {dest.value if dest else '(internal)'}" + (f" [{guard}]" if guard else "")


def check_trace(trace: Trace, edges: Sequence[Edge] = EDGES) -> tuple[tuple[Edge, int], ...]:
    """The trace as a tuple, once every step is an edge of ``edges`` continuing the path.

    The path may start in any state (a resumed run starts where its snapshot was taken); after
    that each step must leave the state the previous one reached, and only a self-loop can be
    taken several times in a row.

    Raises:
        TraceError: naming the first step that breaks a rule.
    """
    known = {_key(e): e for e in edges}
    out: list[tuple[Edge, int]] = []
    for i, step in enumerate(trace):
        if not (isinstance(step, tuple) and len(step) == 2 and isinstance(step[0], Edge)):
            raise TraceError(f"trace step {i}: expected (Edge, count), got {step!r}")
        edge, count = step
        if known.get(_key(edge)) != edge:
            raise TraceError(f"trace step {i}: the machine has no edge {edge.label} from {edge.source.value}")
        out.append((edge, count))
    try:
        walk(out)
    except ValueError as exc:
        raise TraceError(str(exc)) from None
    return tuple(out)


def trace_to_json(trace: Trace) -> str:
    """The trace as JSON, one step per line (readable in review, stable byte for byte).

    Raises:
        TraceError: for a trace :func:`check_trace` refuses.
    """
    steps = [
        json.dumps(
            {
                "trigger": edge.trigger,
                "source": edge.source.value,
                "dest": None if edge.dest is None else edge.dest.value,
                "conditions": {name: held for name, held in edge.conditions},
                "count": count,
            },
            ensure_ascii=False,
        )
        for edge, count in check_trace(trace)
    ]
    head = f'{{"format": {json.dumps(TRACE_FORMAT)}, "version": {TRACE_VERSION}, "steps": ['
    return head + ("\n  " + ",\n  ".join(steps) + "\n" if steps else "") + "]}\n"


def trace_from_json(text: str | bytes) -> tuple[tuple[Edge, int], ...]:
    """A trace saved by :func:`trace_to_json`, as edges of the current machine.

    Raises:
        TraceError: when the text is not such a trace, names an edge the machine does not have
            (the message names the step and the edge), or is not a path through the machine.
    """
    try:
        data = json.loads(text)
    except (ValueError, UnicodeDecodeError) as exc:
        raise TraceError(f"a trace must be JSON: {exc}") from exc
    if not isinstance(data, dict) or data.get("format") != TRACE_FORMAT:
        raise TraceError(f'not an agent-fsm trace: expected an object with "format": "{TRACE_FORMAT}"')
    if data.get("version") != TRACE_VERSION:
        raise TraceError(f"unsupported trace version {data.get('version')!r}; this agent-fsm reads {TRACE_VERSION}")
    steps = data.get("steps")
    if not isinstance(steps, list):
        raise TraceError('a trace needs a "steps" list')
    known = {_key(e): e for e in EDGES}
    trace = [_step(i, step, known) for i, step in enumerate(steps)]
    return check_trace(trace)


def _step(i: int, step: Any, known: Mapping[_EdgeKey, Edge]) -> tuple[Edge, int]:
    if not isinstance(step, dict):
        raise TraceError(f"trace step {i}: expected an object, got {step!r}")
    fields = {"trigger", "source", "dest", "conditions", "count"}
    if set(step) != fields:
        raise TraceError(
            f"trace step {i}: expected the keys {', '.join(sorted(fields))}, got {', '.join(sorted(step))}"
        )
    trigger, source, dest, conditions, count = (step[k] for k in ("trigger", "source", "dest", "conditions", "count"))
    if not isinstance(trigger, str):
        raise TraceError(f"trace step {i}: trigger must be a string, got {trigger!r}")
    if not (isinstance(conditions, dict) and all(isinstance(v, bool) for v in conditions.values())):
        raise TraceError(f"trace step {i}: conditions must map condition names to true/false, got {conditions!r}")
    if type(count) is not int or count < 1:
        raise TraceError(f"trace step {i}: count must be an int >= 1, got {count!r}")
    src = _state(i, "source", source)
    dst = None if dest is None else _state(i, "dest", dest)
    edge = known.get((trigger, src, dst, frozenset(conditions.items())))
    if edge is None:
        raise TraceError(
            f"trace step {i}: the machine has no edge {_describe(trigger, src, dst, conditions)}; "
            "was the trace recorded with another version of the table?"
        )
    return edge, count


def _state(i: int, field: str, value: Any) -> State:
    try:
        return State(value)
    except ValueError:
        raise TraceError(f"trace step {i}: {field} {value!r} is not a state of the machine") from None
