"""The turn loop's states and transitions: the one definition everything else is built from.

Theory of operation
-------------------
A *run* sends a prompt to a model, streams the answer, runs the tools the model calls, sends their
results back, and repeats until the model answers with text (``Done``), a hook or its caller
stops the run (``Cancelled``), the turn budget is spent (``MaxTurnsExceeded``), a usage limit is
reached (``UsageLimitExceeded``), or something fails (``Failed``).

* ``AwaitingCompletion`` - about to make a model call. A cancel asked for "after the turn" ends
  the run here (``Cancelled``); so does a spent turn budget (``MaxTurnsExceeded``) and a token
  total that has reached its limit (``UsageLimitExceeded``). Otherwise ``on_completion_call``
  decides, and the request is sent (``Streaming``) or not (``Cancelled``). Steering messages are
  merged into the prompt as the request is built; the last allowed call of an agent that wants a
  final answer is made with ``tool_choice="none"``.
* ``Streaming`` - a model response is streaming. Every model event is one *internal* transition
  (the state does not change) that emits a stream item; ``on_text_delta``, ``on_tool_call_delta``
  and ``on_stream_completion_response_finish`` guard theirs. A ``Final`` event closes the response:
  only the end of the stream may follow it. At the end, the turn's assistant message joins the
  history, and the run goes to ``ExecutingTool`` if the model called tools (or ends in
  ``UsageLimitExceeded`` if a token total is now over its limit); to ``AwaitingCompletion`` if it
  answered in text while steering messages wait, turns are left and no cancel was asked; else to
  ``Finalizing``.
* ``ExecutingTool`` - each call, in call order, passes ``on_tool_call`` (run / skip / terminate),
  runs (the driver runs it: up to ``tool_concurrency`` at once, in which case every
  ``on_tool_call`` of the turn is asked first), and passes ``on_tool_result`` before it is emitted.
  All results go into ONE user message, in call order: the next prompt (``AwaitingCompletion``).
  A batch of approved calls that would run more calls than the ``tool_calls`` limit allows is
  refused whole (``UsageLimitExceeded``).
* ``Finalizing`` - emits the ``FinalResponse`` (this turn's text, the run's usage, the history),
  then ``Done``. The machine takes that edge on its own, so nothing can interrupt it: the state
  has no abort edges.
* ``AwaitingApproval`` - some tool calls were deferred (``on_tool_call`` answered defer, or the
  tool requires approval): once every call of the batch has its verdict, the run stops here,
  before any call of the batch runs. For this run it is final; ``Agent.resume(snapshot,
  approvals=...)`` continues it in a new run.
* ``Done``, ``MaxTurnsExceeded``, ``Cancelled``, ``UsageLimitExceeded``, ``Failed`` - terminal and
  absorbing: any further
  event raises ``IllegalTransition`` and changes nothing. Entering one *seals* the history: the
  interrupted turn's partial assistant message is appended, and every tool call without a result
  gets a synthetic error result (in history only, never emitted), so the history stays valid to
  send back to a provider.

``cancel`` (the run's caller said stop now) and ``close`` (its consumer stopped iterating) leave
every live state for ``Cancelled``; they are distinct triggers, since only ``cancel`` can come
while the driver is still iterating (an answer the driver was waiting for is then dropped).

Hooks are guards. A hook's verdict rides on the trigger it guards (every trigger is fired with
``(verdict, payload)``), and the ``conditions`` of the rows below read it to pick the edge. For one
trigger, the first row whose conditions hold is taken. Hookless triggers carry "continue".

Never allowed: an event the table has no edge for in the current state, or whose every guard
fails - a model event outside ``Streaming``, anything after ``Final`` in a turn, a tool call that
reuses an id of the same turn, a hook answer nobody asked for. Each raises ``IllegalTransition``
and moves the run to ``Failed``; nothing is ignored silently.
"""

from __future__ import annotations

import enum
import logging
from collections.abc import Iterable, Mapping
from typing import Any, Final

from attrs import frozen
from transitions import Machine

from ..hooks import StreamingPromptHook as _H

__all__ = [
    "EDGES",
    "FINAL",
    "GUARD_WORDS",
    "LIVE",
    "STATES",
    "TABLE",
    "TERMINAL",
    "TRANSITIONS",
    "TRIGGER_HOOKS",
    "Edge",
    "State",
    "build_machine",
    "walk",
]

# transitions logs every callback at INFO: an application logging at INFO would pay for it on every
# event. The driver logs our state changes instead.
logging.getLogger("transitions.core").setLevel(logging.WARNING)


class State(enum.Enum):
    """The states of a run."""

    AwaitingCompletion = "AwaitingCompletion"
    Streaming = "Streaming"
    ExecutingTool = "ExecutingTool"
    Finalizing = "Finalizing"
    Done = "Done"
    MaxTurnsExceeded = "MaxTurnsExceeded"
    Cancelled = "Cancelled"
    Failed = "Failed"
    AwaitingApproval = "AwaitingApproval"
    UsageLimitExceeded = "UsageLimitExceeded"

    # Members are singletons: hashing by identity is correct, and a C-level hash keeps the
    # machine's per-step dict lookups cheap (Enum's own hashes the name in Python).
    __hash__ = object.__hash__


S = State
TERMINAL: Final = frozenset({S.Done, S.MaxTurnsExceeded, S.Cancelled, S.Failed, S.UsageLimitExceeded})
"""Where a run ends for good."""
FINAL: Final = TERMINAL | {S.AwaitingApproval}
"""Where a run stops: the terminal states, and ``AwaitingApproval``, which ``Agent.resume`` continues."""
LIVE: Final = (S.AwaitingCompletion, S.Streaming, S.ExecutingTool, S.Finalizing)

STATES: Final[list[dict[str, Any]]] = [
    {"name": S.AwaitingCompletion},
    {"name": S.Streaming},
    {"name": S.ExecutingTool},
    {"name": S.Finalizing},
    {"name": S.Done, "final": True},
    {"name": S.MaxTurnsExceeded, "final": True, "on_enter": "end_max_turns"},
    {"name": S.Cancelled, "final": True, "on_enter": "end_cancelled"},
    {"name": S.Failed, "final": True, "on_enter": "end_failed"},
    {"name": S.AwaitingApproval, "final": True, "on_enter": "end_awaiting_approval"},
    {"name": S.UsageLimitExceeded, "final": True, "on_enter": "end_usage_limit"},
]

# Edges every live state has: the caller cancelling the run now, the consumer closing it, a hook
# raising, an illegal event.
_ABORTS: Final[list[dict[str, Any]]] = [
    {"trigger": "cancel", "dest": S.Cancelled},
    {"trigger": "close", "dest": S.Cancelled},
    {"trigger": "hook_error", "dest": S.Failed},
    {"trigger": "illegal_event", "dest": S.Failed},
]

# fmt: off
TABLE: Final[dict[State, list[dict[str, Any]]]] = {
    S.AwaitingCompletion: [
        {"trigger": "turn_end_cancel", "dest": S.Cancelled,        "conditions": "cancel_requested"},
        {"trigger": "turn_limit",      "dest": S.MaxTurnsExceeded, "conditions": "budget_spent"},
        {"trigger": "usage_limit",     "dest": S.UsageLimitExceeded, "conditions": "tokens_reached"},
        {"trigger": "request",         "dest": S.Streaming,        "conditions": ["verdict_continues",
                                                                                  "final_answer_due"],
         "after": ["begin_turn", "forbid_tools"]},
        {"trigger": "request",         "dest": S.Streaming,        "conditions": "verdict_continues",
         "after": "begin_turn"},
        {"trigger": "request",         "dest": S.Cancelled,        "conditions": "verdict_terminates"},
        *_ABORTS,
    ],
    S.Streaming: [
        {"trigger": "text_delta",      "dest": None,               "conditions": "verdict_continues",
         "after": "emit_text"},
        {"trigger": "text_delta",      "dest": S.Cancelled,        "conditions": "verdict_terminates"},
        {"trigger": "tool_call_delta", "dest": None,               "conditions": "verdict_continues",
         "after": "emit_tool_call_delta"},
        {"trigger": "tool_call_delta", "dest": S.Cancelled,        "conditions": "verdict_terminates"},
        {"trigger": "reasoning_delta", "dest": None,               "after": "emit_reasoning_delta"},
        {"trigger": "reasoning",       "dest": None,               "after": "emit_reasoning"},
        {"trigger": "tool_call_ready", "dest": None,               "conditions": "call_id_is_new",
         "after": "queue_tool_call"},
        {"trigger": "final",           "dest": None,               "conditions": "verdict_continues",
         "after": "emit_final"},
        {"trigger": "final",           "dest": S.Cancelled,        "conditions": "verdict_terminates"},
        {"trigger": "stream_end",      "dest": S.UsageLimitExceeded, "conditions": ["has_tool_calls",
                                                                                    "tokens_exceeded"],
         "before": ["commit_turn", "begin_tools"]},
        {"trigger": "stream_end",      "dest": S.ExecutingTool,    "conditions": "has_tool_calls",
         "before": "commit_turn", "after": "begin_tools"},
        {"trigger": "stream_end",      "dest": S.AwaitingCompletion, "conditions": "steering_continues",
         "unless": "has_tool_calls", "before": "commit_turn"},
        {"trigger": "stream_end",      "dest": S.Finalizing,       "unless": "has_tool_calls",
         "before": "commit_turn"},
        {"trigger": "model_error",     "dest": S.Failed},
        *_ABORTS,
    ],
    S.ExecutingTool: [
        {"trigger": "tool_verdict",    "dest": None,               "conditions": "verdict_continues",
         "after": "approve_tool"},
        {"trigger": "tool_verdict",    "dest": None,               "conditions": "verdict_skips",
         "after": "skip_tool"},
        {"trigger": "tool_verdict",    "dest": None,               "conditions": "verdict_defers",
         "after": "defer_tool"},
        {"trigger": "tool_verdict",    "dest": S.Cancelled,        "conditions": "verdict_terminates"},
        {"trigger": "await_approval",  "dest": S.AwaitingApproval, "conditions": "calls_deferred"},
        {"trigger": "usage_limit",     "dest": S.UsageLimitExceeded, "conditions": "tool_calls_exceeded"},
        {"trigger": "tool_output",     "dest": None,               "after": "record_output"},
        {"trigger": "tool_result",     "dest": None,               "conditions": "verdict_continues",
         "after": "emit_tool_result"},
        {"trigger": "tool_result",     "dest": S.Cancelled,        "conditions": "verdict_terminates"},
        {"trigger": "tools_done",      "dest": S.AwaitingCompletion, "after": "send_tool_results"},
        {"trigger": "tool_error",      "dest": S.Failed},
        *_ABORTS,
    ],
    S.Finalizing: [  # transient: the machine takes this edge on its own, so nothing can interrupt it
        {"trigger": "finish",          "dest": S.Done,             "after": "emit_final_response"},
    ],
    S.Done: [],
    S.MaxTurnsExceeded: [],
    S.Cancelled: [],
    S.Failed: [],
    S.AwaitingApproval: [],
    S.UsageLimitExceeded: [],
}
# fmt: on

TRANSITIONS: Final[list[dict[str, Any]]] = [{"source": state, **row} for state, rows in TABLE.items() for row in rows]
"""The table flattened into the rows ``transitions.Machine`` takes."""

TRIGGER_HOOKS: Final[Mapping[str, str]] = {
    "request": _H.on_completion_call.__name__,
    "text_delta": _H.on_text_delta.__name__,
    "tool_call_delta": _H.on_tool_call_delta.__name__,
    "final": _H.on_stream_completion_response_finish.__name__,
    "tool_verdict": _H.on_tool_call.__name__,
    "tool_result": _H.on_tool_result.__name__,
}
"""Whose verdict each hook-guarded trigger carries."""

GUARD_WORDS: Final[Mapping[str, tuple[str, str]]] = {
    "verdict_continues": ("{hook} = continue", "{hook} != continue"),
    "verdict_skips": ("{hook} = skip", "{hook} != skip"),
    "verdict_defers": ("{hook} = defer", "{hook} != defer"),
    "verdict_terminates": ("{hook} = terminate", "{hook} != terminate"),
    "budget_spent": ("model calls = max_turns", "model calls < max_turns"),
    "call_id_is_new": ("call id not yet seen this turn", "call id already seen this turn"),
    "calls_deferred": ("calls deferred", "no calls deferred"),
    "has_tool_calls": ("tool calls queued", "no tool calls"),
    "cancel_requested": ("cancel after the turn asked", "no cancel asked"),
    "tokens_reached": ("a token total >= its limit", "every token total < its limit"),
    "tokens_exceeded": ("a token total > its limit", "no token total > its limit"),
    "tool_calls_exceeded": ("the batch would run more tool calls than allowed", "the batch fits the tool_calls limit"),
    "final_answer_due": ("last allowed call and on_max_turns = final_answer", "not the final-answer call"),
    "steering_continues": ("steering pending, turns left, no cancel asked", "no steering turn follows"),
}
"""Each condition in words, when it holds and when it must not (for diagrams and traces)."""

VERDICT_CONDITIONS: Final[Mapping[str, str]] = {
    "verdict_continues": "continue",
    "verdict_skips": "skip",
    "verdict_defers": "defer",
    "verdict_terminates": "terminate",
}
"""Conditions that read nothing but the verdict, each with the verdict kind it holds for (the fast
path decides them once, at import; the machine's guards of these names compare the same kind)."""


@frozen
class Edge:
    """One row of the table as the live machine holds it, numbered in table order."""

    index: int
    trigger: str
    source: State
    dest: State | None
    conditions: tuple[tuple[str, bool], ...]
    callbacks: tuple[str, ...]

    @property
    def internal(self) -> bool:
        """Whether the edge keeps the state (a self-loop that runs no enter/exit callbacks)."""
        return self.dest is None

    @property
    def guard(self) -> str:
        """The edge's conditions in words, e.g. ``on_tool_call = skip``; empty when unguarded."""
        hook = TRIGGER_HOOKS.get(self.trigger, "")
        return " and ".join(GUARD_WORDS[name][0 if target else 1].format(hook=hook) for name, target in self.conditions)

    @property
    def label(self) -> str:
        """Trigger and guard, as a diagram labels the edge: ``tool_verdict [on_tool_call = skip]``."""
        return f"{self.trigger} [{self.guard}]" if self.conditions else self.trigger


def walk(trace: Iterable[tuple[Edge, int]], start: State | None = None) -> State | None:
    """Follow a trace (edges, each with how many times in a row it was taken) through the table;
    the state it ends in (``start`` for an empty trace). The one statement of what a path is, for
    the diagrams' traces and the fuzz kit's invariants alike.

    The path starts in ``start`` (any state, if ``None``: a resumed run starts where its snapshot
    was taken); each step leaves the state the previous one reached; only an edge that stays in
    its state can be taken several times in a row.

    Raises:
        ValueError: ``trace step N: ...``, naming the first step that breaks a rule.
    """
    here = start
    for i, (edge, count) in enumerate(trace):
        if type(count) is not int or count < 1:
            raise ValueError(f"trace step {i}: count must be an int >= 1, got {count!r}")
        if here is not None and edge.source is not here:
            raise ValueError(
                f"trace step {i}: {edge.label} leaves {edge.source.value}, but the run was in {here.value}"
            )
        if count > 1 and edge.dest not in (None, edge.source):
            raise ValueError(f"trace step {i}: {edge.label} moves to another state, so it cannot repeat ({count}x)")
        here = edge.dest or edge.source
    return here


def build_machine(model: object = None) -> Machine:
    """A ``transitions.Machine`` built from the table (with ``model`` attached, if given)."""
    return Machine(
        model=[] if model is None else model,
        states=STATES,
        transitions=TRANSITIONS,
        initial=S.AwaitingCompletion,
        auto_transitions=False,
        send_event=False,
        queued=False,
        ignore_invalid_triggers=False,
    )


def _row_conditions(row: Mapping[str, Any]) -> tuple[tuple[str, bool], ...]:
    def listify(value: Any) -> list[Any]:
        if value is None:
            return []
        return list(value) if isinstance(value, list | tuple) else [value]

    return tuple([(c, True) for c in listify(row.get("conditions"))] + [(c, False) for c in listify(row.get("unless"))])


def read_edges(machine: Machine) -> tuple[Edge, ...]:
    """Every edge of a live machine, read back from its events, numbered in table order."""
    row_index = {
        (row["trigger"], row["source"], row["dest"], _row_conditions(row)): i for i, row in enumerate(TRANSITIONS)
    }
    found: list[tuple[int, Edge]] = []
    for trigger, event in machine.events.items():
        for source_name, transitions in event.transitions.items():
            for t in transitions:
                if t.prepare:
                    raise TypeError(f"edge {trigger} from {source_name}: 'prepare' callbacks are not supported")
                conditions = tuple((str(c.func), bool(c.target)) for c in t.conditions)
                source = State[source_name]
                dest = State[str(t.dest)] if t.dest is not None else None
                callbacks = tuple(str(cb) for cb in (*t.before, *t.after))
                edge = Edge(0, trigger, source, dest, conditions, callbacks)
                found.append((row_index[(trigger, source, dest, conditions)], edge))
    found.sort(key=lambda pair: pair[0])
    return tuple(Edge(i, e.trigger, e.source, e.dest, e.conditions, e.callbacks) for i, (_, e) in enumerate(found))


EDGES: Final[tuple[Edge, ...]] = read_edges(build_machine())
"""Every edge of the machine, in table order, read back from a live ``transitions.Machine``."""


def definition_hash() -> str:
    """A fingerprint of the machine definition (states and edges): snapshots carry it, so one
    taken with a different machine is refused instead of resumed into the wrong place."""
    import hashlib
    import json

    states = [[s["name"].value, bool(s.get("final")), s.get("on_enter")] for s in STATES]
    edges = [[e.trigger, e.source.value, e.dest.value if e.dest else None, e.conditions, e.callbacks] for e in EDGES]
    text = json.dumps([states, edges], separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()[:16]
