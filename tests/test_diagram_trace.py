"""agent_fsm.diagram traces: JSON that survives table reorders and refuses edges the table lacks."""

from __future__ import annotations

import json
from typing import Any

import attrs
import pytest

from agent_fsm import AgentFSMError
from agent_fsm.diagram import TraceError, trace_from_json, trace_to_json
from agent_fsm.diagram._gallery import demo_trace
from agent_fsm.diagram._trace import check_trace
from agent_fsm.events import TextDelta
from agent_fsm.machine import TurnMachine
from agent_fsm.machine.table import EDGES, Edge, State


@pytest.fixture(scope="module")
def demo() -> tuple[tuple[Edge, int], ...]:
    return demo_trace()


def _edge(trigger: str, source: State, dest: State | None = None) -> Edge:
    return next(e for e in EDGES if e.trigger == trigger and e.source is source and e.dest is dest)


def _steps(demo: tuple[tuple[Edge, int], ...]) -> list[dict[str, Any]]:
    steps: list[dict[str, Any]] = json.loads(trace_to_json(demo))["steps"]
    return steps


def _with_steps(steps: list[dict[str, Any]]) -> str:
    return json.dumps({"format": "agent-fsm trace", "version": 1, "steps": steps})


def test_trace_json_round_trips_the_demo_run(demo: tuple[tuple[Edge, int], ...]) -> None:
    text = trace_to_json(demo)
    assert trace_from_json(text) == demo
    assert trace_from_json(text.encode()) == demo
    assert trace_to_json(trace_from_json(text)) == text


def test_trace_json_counts_deltas_instead_of_listing_them(demo: tuple[tuple[Edge, int], ...]) -> None:
    steps = _steps(demo)
    assert len(steps) == len(demo) < 40
    assert steps[1] == {"trigger": "reasoning_delta", "source": "Streaming", "dest": None, "conditions": {}, "count": 6}
    assert steps[0]["conditions"] == {"verdict_continues": True}


def test_trace_json_is_one_step_per_line(demo: tuple[tuple[Edge, int], ...]) -> None:
    lines = trace_to_json(demo).splitlines()
    assert lines[0] == '{"format": "agent-fsm trace", "version": 1, "steps": ['
    assert lines[-1] == "]}"
    assert len(lines) == len(demo) + 2


def test_trace_json_of_an_empty_trace() -> None:
    assert trace_from_json(trace_to_json(())) == ()


def test_trace_from_json_names_edges_not_positions(demo: tuple[tuple[Edge, int], ...]) -> None:
    """A trace stays valid when the table is reordered: steps carry no edge index."""
    assert all("index" not in step for step in _steps(demo))


def test_trace_from_json_of_a_live_machine() -> None:
    m = TurnMachine("hi", max_turns=2)
    m.start()
    for text in ("a", "b", "c"):
        m.model_event(TextDelta(text))
    m.close()
    assert trace_from_json(trace_to_json(m.trace)) == m.trace
    assert [n for _, n in m.trace] == [1, 3, 1]


def test_trace_from_json_refuses_an_edge_the_table_lacks(demo: tuple[tuple[Edge, int], ...]) -> None:
    steps = _steps(demo)
    steps[3]["trigger"] = "text_chunk"
    with pytest.raises(TraceError, match=r"trace step 3: the machine has no edge text_chunk Streaming -> \(internal\)"):
        trace_from_json(_with_steps(steps))


def test_trace_from_json_refuses_a_guard_outcome_the_table_lacks(demo: tuple[tuple[Edge, int], ...]) -> None:
    steps = _steps(demo)
    steps[0]["conditions"] = {"verdict_skips": True}
    with pytest.raises(TraceError, match=r"step 0: the machine has no edge request AwaitingCompletion -> Streaming"):
        trace_from_json(_with_steps(steps))


def test_trace_error_is_ours_and_a_value_error() -> None:
    assert issubclass(TraceError, AgentFSMError)
    assert issubclass(TraceError, ValueError)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("not json", "a trace must be JSON"),
        ("[]", "not an agent-fsm trace"),
        ('{"format": "agent-fsm trace", "version": 2, "steps": []}', "unsupported trace version 2"),
        ('{"format": "agent-fsm trace", "version": 1}', 'needs a "steps" list'),
        ('{"format": "agent-fsm trace", "version": 1, "steps": [1]}', "step 0: expected an object"),
    ],
)
def test_trace_from_json_refuses_what_is_not_a_trace(text: str, message: str) -> None:
    with pytest.raises(TraceError, match=message):
        trace_from_json(text)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"count": 0}, "count must be an int >= 1"),
        ({"count": True}, "count must be an int >= 1"),
        ({"source": "Sleeping"}, "source 'Sleeping' is not a state"),
        ({"dest": 3}, "dest 3 is not a state"),
        ({"trigger": None}, "trigger must be a string"),
        ({"conditions": {"verdict_continues": "yes"}}, "conditions must map condition names to true/false"),
        ({"extra": 1}, "expected the keys conditions, count, dest, source, trigger"),
    ],
)
def test_trace_from_json_refuses_malformed_steps(
    demo: tuple[tuple[Edge, int], ...], change: dict[str, Any], message: str
) -> None:
    steps = _steps(demo)
    steps[0] = {**steps[0], **change}
    with pytest.raises(TraceError, match=f"trace step 0: {message}"):
        trace_from_json(_with_steps(steps))


def test_check_trace_refuses_a_step_that_does_not_continue_the_path() -> None:
    request = _edge("request", State.AwaitingCompletion, State.Streaming)
    finish = _edge("finish", State.Finalizing, State.Done)
    with pytest.raises(TraceError, match="step 1: finish leaves Finalizing, but the run was in Streaming"):
        check_trace([(request, 1), (finish, 1)])


def test_check_trace_refuses_repeating_an_edge_that_changes_state() -> None:
    request = _edge("request", State.AwaitingCompletion, State.Streaming)
    with pytest.raises(TraceError, match="cannot repeat"):
        check_trace([(request, 2)])


def test_check_trace_refuses_what_is_not_an_edge_of_the_machine() -> None:
    request = _edge("request", State.AwaitingCompletion, State.Streaming)
    with pytest.raises(TraceError, match="step 0: expected \\(Edge, count\\)"):
        check_trace([("request", 1)])  # type: ignore[list-item]
    with pytest.raises(TraceError, match="no edge request"):
        check_trace([(attrs.evolve(request, callbacks=("launch_missiles",)), 1)])


def test_check_trace_accepts_a_path_starting_mid_run() -> None:
    """A resumed run's trace starts where its snapshot was taken."""
    delta = _edge("text_delta", State.Streaming)
    end = _edge("stream_end", State.Streaming, State.Finalizing)
    assert check_trace([(delta, 4), (end, 1)]) == ((delta, 4), (end, 1))
