"""The turn loop's sans-IO machine and its step API.

The states, the table and the theory of operation are in :mod:`agent_fsm.table`; this module runs
them. :class:`TurnMachine` is fed events and hook verdicts and answers with an *action* for its
driver (:mod:`agent_fsm.protocol`) plus items in its ``outbox``. It never awaits, reads a clock or
does I/O, so any driver can run it: the async one in :mod:`agent_fsm.driver`, a plain loop in a
sync service, trio, or a durable-workflow engine. Example, with a model whose ``stream`` is sync::

    m = TurnMachine("2+3?", max_turns=4)
    action = m.start()
    while action is not STOP:
        if isinstance(action, SendRequest):
            for event in my_model(action.request):
                action = m.model_event(event)
                while m.outbox: emit(m.outbox.popleft())
                while isinstance(action, CallHook):
                    action = m.hook_answer(getattr(my_hook, action.name)(*action.args))
                if action is STOP: break
            else:
                action = m.model_end()
        elif isinstance(action, CallHook):
            action = m.hook_answer(getattr(my_hook, action.name)(*action.args))
        elif isinstance(action, RunTools) or action is NEXT_TOOL_OUTPUT:
            ...  # run the calls, feed each output in order: action = m.tool_output(output)
        while m.outbox: emit(m.outbox.popleft())
    m.state, m.history, m.error

One ``transitions.Machine``, built once from the table, is the definition everything runs from.
Its edges are read back (``EDGES``) and compiled (:mod:`agent_fsm.fastpath`): for each trigger,
the machine picks the first edge whose conditions hold and runs the steps ``transitions`` would
run for it - ``before``, ``on_exit``, the state change, ``on_enter``, ``after`` - as plain calls,
because ``Event.trigger`` costs about 8 us a transition, more than a whole hand-written turn of a
tool loop. The deltas of ``Streaming`` go one step further: when the guarding hook is not live the
verdict is always "continue", so their edge is chosen once, at start-up, and each delta only runs
that edge's callback. ``TurnMachine(fast_path=False)`` is the reference mode: every edge goes
through the shared ``transitions.Machine``'s ``Event.trigger`` (the run is passed to it as the
model, never registered on it, so nothing can leak). Property tests hold the two modes to
identical items, history, states and traces on random runs.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any, Final

from .endings import Checkpoint, Endings
from .errors import (
    AgentFSMError,
    CompletionError,
    ConfigurationError,
    HookError,
    IllegalTransition,
    SnapshotError,
    ToolServerError,
)
from .events import Final as FinalEvent
from .events import ReasoningDelta, TextDelta, ToolCallDelta, ToolCallReady, event_problem
from .fastpath import compile_dispatch, compile_fast
from .hooks import HookAction, ToolCallHookAction, Verdict
from .items import StreamAssistantItem, StreamItem
from .messages import AssistantMessage, Message, Reasoning, Text, Usage, UserMessage
from .protocol import NEXT_EVENT, STOP, Action, CallHook, SendRequest, ToolOutput
from .request import CompletionRequest, ToolDefinition
from .snapshot import Approval, Snapshot
from .stream_stage import StreamStage
from .table import EDGES, FINAL, TRIGGER_HOOKS, Edge, State, build_machine
from .tool_stage import ToolStage
from .turn import TurnBuffer

__all__ = ["TurnMachine", "appends", "emits"]

S = State
_STREAMING: Final = S.Streaming
_CONTINUE: Final = HookAction.cont()
_TOOL_CONTINUE: Final = ToolCallHookAction.cont()
_ALLOWED_VERDICTS: Final[Mapping[str, frozenset[str]]] = {
    hook: frozenset({"continue", "skip", "defer", "terminate"} if hook == "on_tool_call" else {"continue", "terminate"})
    for hook in TRIGGER_HOOKS.values()
}
_EMITTING: Final = frozenset(
    {"emit_text", "emit_tool_call_delta", "emit_reasoning_delta", "emit_reasoning", "queue_tool_call", "emit_final",
     "emit_tool_result", "emit_final_response"}
)  # fmt: skip
"""Callbacks that emit exactly one item each time their edge is taken."""
_EMITS: Final = tuple(any(cb in _EMITTING for cb in e.callbacks) for e in EDGES)
_APPENDING: Final = frozenset({"commit_turn", "send_tool_results"})
"""Callbacks that append exactly one message to the history each time their edge is taken."""


def emits(edge: Edge) -> bool:
    """Whether taking ``edge`` emits exactly one item (so a trace says which items each step emitted)."""
    return _EMITS[edge.index]


def appends(edge: Edge) -> bool:
    """Whether taking ``edge`` appends exactly one message to the history; only the ending's
    sealing adds messages otherwise (so a trace says how long the history was at each step)."""
    return any(cb in _APPENDING for cb in edge.callbacks)


_FSM: Final = build_machine()
"""The one ``transitions.Machine``; runs are passed to it as models, never registered on it."""
_EVENTS: Final = _FSM.events


class TurnMachine(StreamStage, ToolStage, Endings):
    """One run of the turn loop, driven from outside through the step API.

    Call :meth:`start`, perform each returned action and feed its outcome back with the matching
    method (see :mod:`agent_fsm.protocol`); drain :attr:`outbox` after every step. A machine runs
    one run; it is cheap to make. :meth:`snapshot` captures it; :meth:`restore` makes a machine
    that continues a snapshot.

    Args:
        prompt: the user's prompt; a ``str`` is wrapped in a ``UserMessage``.
        history: the messages before the prompt.
        max_turns: the exact number of model calls the run may make (at least 1).
        live_hooks: the hook methods to ask; every other hook counts as "continue".
        tool_concurrency: how many tool calls may run at once; above 1, every ``on_tool_call`` of
            a turn is asked before any of its calls runs.
        approval_tools: names of tools whose calls always wait for an approval.
        preamble, tools, temperature, max_tokens, additional_params: copied into every
            :class:`~agent_fsm.request.CompletionRequest`.
        fast_path: take the compiled fast path for ``Streaming``'s internal edges (default), or
            send every edge through ``transitions``.

    Raises:
        ConfigurationError: for a prompt, history, ``max_turns`` or ``tool_concurrency`` that is
            not valid.
    """

    state: State

    def __init__(
        self,
        prompt: str | UserMessage,
        history: Sequence[Message] | None = None,
        *,
        max_turns: int,
        live_hooks: Iterable[str] = (),
        tool_concurrency: int = 1,
        approval_tools: Iterable[str] = (),
        preamble: str | None = None,
        tools: Sequence[ToolDefinition] = (),
        temperature: float | None = None,
        max_tokens: int | None = None,
        additional_params: Mapping[str, Any] | None = None,
        fast_path: bool = True,
    ) -> None:
        if isinstance(prompt, str):
            prompt = UserMessage((Text(prompt),))
        if not isinstance(prompt, UserMessage):
            raise ConfigurationError(f"prompt must be a str or a UserMessage, not {type(prompt).__name__}")
        given = list(history or ())
        for i, message in enumerate(given):
            if not isinstance(message, UserMessage | AssistantMessage):
                raise ConfigurationError(f"history[{i}] is a {type(message).__name__}, not a message")
        if type(max_turns) is not int or max_turns < 1:
            raise ConfigurationError(f"max_turns must be an int >= 1, got {max_turns!r}")
        if type(tool_concurrency) is not int or tool_concurrency < 1:
            raise ConfigurationError(f"tool_concurrency must be an int >= 1, got {tool_concurrency!r}")
        live = frozenset(live_hooks)
        unknown = live - set(TRIGGER_HOOKS.values())
        if unknown:
            raise ConfigurationError(f"unknown hook name(s): {', '.join(sorted(unknown))}")

        self.state = S.AwaitingCompletion
        self.max_turns = max_turns
        self.tool_concurrency = tool_concurrency
        self.live = live
        self._approval_tools = frozenset(approval_tools)
        self._request_fields = (preamble, tuple(tools), temperature, max_tokens, additional_params)
        self._fast = fast_path

        self.outbox: deque[StreamItem] = deque()
        """Items to emit, in order; drain it after every step."""
        self._emit = self.outbox.append
        self.turns = 0
        """Model calls the run has made: each request counts once it is handed to the driver (which
        sends it at once; a consumer closing the run in between is the only exception)."""
        self.usage = Usage()
        """Token usage so far: the sum of every ``Final``."""
        self.error: AgentFSMError | None = None
        """How the run ended, once it stopped and not in ``Done``."""
        self.request: CompletionRequest | None = None
        """The request of the current (or last) model call."""

        self._history: list[Message] = [*given, prompt]
        self._turn: TurnBuffer | None = None
        self._open = False  # a stream is open and may take a delta on the fast path
        self._request_pending = False
        self._final_seen = False
        self._track_text = "on_text_delta" in live
        self._agg = ""
        self._last_text = ""
        self._pending: tuple[str, Any, str] | None = None
        self._reset_tools()
        self._started = False
        self._trace: list[list[int]] = [[-1, 0]]  # [edge index, times in a row]; a sentinel first
        self._emitted_before = 0  # items emitted by earlier runs of a resumed run
        self._checkpoint: Checkpoint = (S.AwaitingCompletion, len(self._history), 0, Usage(), (1, 0), None)
        handlers: dict[type, Callable[[Any], Action | StreamAssistantItem]] = {
            TextDelta: self._on_text_delta,
            ToolCallDelta: self._on_tool_call_delta,
            ReasoningDelta: self._on_reasoning_delta,
            Reasoning: self._on_reasoning,
            ToolCallReady: self._on_tool_call,
            FinalEvent: self._on_final,
        }
        if fast_path:
            for event_type, (trigger, fast) in _FAST.items():
                hook = TRIGGER_HOOKS.get(trigger)
                if hook is None or hook not in live:
                    handlers[event_type] = fast.__get__(self)
        self._on_event = handlers

    @classmethod
    def restore(
        cls,
        snapshot: Snapshot,
        *,
        approvals: Mapping[str, Approval] | None = None,
        max_turns: int | None = None,
        **kwargs: Any,
    ) -> TurnMachine:
        """A machine that continues ``snapshot`` (same keyword arguments as the constructor).

        Args:
            approvals: decisions for deferred tool calls, by call id; a deferred call without
                one stays deferred (the run stops for it again).
            max_turns: the run's budget; by default the snapshot's.

        Raises:
            SnapshotError: for a snapshot of a completed run.
            ConfigurationError: for an approval naming a call that is not waiting for one.
        """
        if snapshot.state not in (S.AwaitingCompletion, S.ExecutingTool):
            raise SnapshotError(f"a snapshot of a run in {snapshot.state.value} cannot be resumed")
        snapshot.validate()  # made in Python, it was not read through ``from_dict``
        waiting = snapshot.state is S.AwaitingCompletion
        if not snapshot.history or (waiting and not isinstance(snapshot.history[-1], UserMessage)):
            raise SnapshotError("malformed snapshot: a run waiting for a model call must end with a user message")
        self = cls(
            UserMessage((Text(""),)),
            max_turns=max_turns if max_turns is not None else snapshot.max_turns,
            **kwargs,
        )
        self._history = list(snapshot.history)
        self.turns = snapshot.turns
        self.usage = snapshot.usage
        self._emitted_before = snapshot.items_emitted
        approvals = dict(approvals or {})
        if snapshot.state is S.ExecutingTool:
            stage = snapshot.tools
            if stage is None:
                raise SnapshotError("malformed snapshot: the tool stage is missing")
            self.state = S.ExecutingTool
            self._calls = list(stage.calls)
            self.begin_tools(_CONTINUE, None)
            done = len(stage.results)
            self._results[:done] = stage.results
            self._verdict_ix = self._result_ix = done
            for offset, decision in enumerate(stage.decisions):
                i = done + offset
                if decision.kind == "defer":
                    decision = _apply_approval(self._calls[i], decision, approvals)
                self._decided[i] = decision
        if approvals:
            raise ConfigurationError(f"no deferred tool call has the id(s) {', '.join(sorted(approvals))}")
        self._checkpoint = self._live_checkpoint(self.state is S.ExecutingTool)
        return self

    # ------------------------------------------------------------------ step API

    @property
    def history(self) -> tuple[Message, ...]:
        """The given history, the prompt, and every message of the run so far."""
        return tuple(self._history)

    @property
    def done(self) -> bool:
        """Whether the run has stopped (a terminal state, or ``AwaitingApproval``)."""
        return self.state in FINAL

    @property
    def trace(self) -> tuple[tuple[Edge, int], ...]:
        """The edges taken so far, in order; a run of the same edge is one entry with its count."""
        return tuple((EDGES[i], n) for i, n in self._trace[1:])

    @property
    def items_emitted(self) -> int:
        """How many items the run has emitted (including the runs it was resumed from)."""
        return self._emitted_at(self._trace_mark())

    def start(self) -> Action:
        """Begin the run; returns the first action."""
        if self._started:
            raise self._illegal("start", "the run has already started")
        self._started = True
        return self._advance()

    def model_event(self, event: Any) -> Action:
        """Feed one event of the open model stream."""
        handler = self._on_event.get(type(event))
        if handler is None:
            raise self._illegal(f"model event {type(event).__name__}", "not a model event")
        self.check_event(event)
        result = handler(event)
        if isinstance(result, StreamAssistantItem):  # the fast path handed its item over: queue it
            self._emit(result)
            return NEXT_EVENT
        return result

    def check_event(self, event: object) -> None:
        """Refuse a model event whose fields have the wrong types (``TextDelta(None)``, a call
        without an id): the run fails with ``IllegalTransition``. :meth:`model_event` does this;
        a driver dispatching through :attr:`event_handlers` calls it first."""
        problem = event_problem(event)
        if problem is not None:
            raise self._illegal(f"model event {type(event).__name__}", f"malformed event: {problem}")

    def driver_failed(self, error: BaseException) -> Action:
        """The driver met an exception nobody expected (a bug, or user code misbehaving outside
        the hooks): the run fails with ``IllegalTransition`` chaining ``error``, never looking as
        if its consumer had closed it. Does nothing once stopped."""
        if self.state not in FINAL:
            err = self._illegal("driver error", f"unexpected {type(error).__name__}: {error}")
            err.__cause__ = error
        return STOP

    @property
    def event_handlers(self) -> Mapping[type, Callable[[Any], Action | StreamAssistantItem]]:
        """The handler :meth:`model_event` dispatches each event type to, for a driver's hot loop.

        A handler returns either an action, exactly as :meth:`model_event` does, or - when the
        event took the fast path - the one ``StreamAssistantItem`` it emitted, handed over
        directly instead of through the outbox (the stream stays open: feed the next event). The
        async driver uses this; ``model_event`` is the same minus the shortcut. Unknown event
        types are absent.
        """
        return self._on_event

    def _trace_mark(self) -> tuple[int, int]:
        return (len(self._trace), self._trace[-1][1])

    def _emitted_at(self, mark: tuple[int, int]) -> int:
        """Items emitted up to a trace mark: every step of an emitting edge emitted one item."""
        length, last_count = mark
        steps = self._trace[1:length]
        total = sum(n for i, n in steps[:-1] if _EMITS[i])
        if steps and _EMITS[steps[-1][0]]:
            total += last_count
        return self._emitted_before + total

    def model_end(self) -> Action:
        """The model stream is exhausted."""
        self._expect_stream("stream_end")
        self._fire("stream_end", _CONTINUE, None)
        return self._advance()

    def model_failed(self, error: BaseException) -> Action:
        """The model call failed, while opening or during iteration; ``error`` is what it raised."""
        if self.state is not S.Streaming or self._pending is not None:
            raise self._illegal("model_error", "no model call is in flight")
        if isinstance(error, CompletionError):
            err = error
        else:
            err = CompletionError(f"model stream failed: {type(error).__name__}: {error}")
            err.__cause__ = error
        self._fire("model_error", _CONTINUE, err)
        return STOP

    def hook_answer(self, answer: object) -> Action:
        """Feed what the hook named by the last ``CallHook`` returned (``None`` means continue)."""
        pending = self._pending
        if pending is None:
            raise self._illegal("hook answer", "no hook was asked")
        trigger, payload, hook = pending
        if answer is None:
            verdict: Verdict = _TOOL_CONTINUE if hook == "on_tool_call" else _CONTINUE
        elif isinstance(answer, Verdict) and answer.kind in _ALLOWED_VERDICTS[hook]:
            verdict = answer
        else:
            return self.hook_failed(TypeError(f"{hook} returned {answer!r}, which is not one of its verdicts"))
        self._pending = None
        if trigger == "text_delta" and verdict.kind == "continue":
            self._agg += payload.text
        self._fire(trigger, verdict, payload)
        if self.state is _STREAMING and not self._request_pending:
            self._open = not self._final_seen
            return NEXT_EVENT
        return self._advance()

    def hook_failed(self, error: BaseException) -> Action:
        """The hook named by the last ``CallHook`` raised ``error``."""
        pending = self._pending
        if pending is None:
            raise self._illegal("hook_error", "no hook was asked")
        self._pending = None
        err = HookError(pending[2], detail=f"{type(error).__name__}: {error}")
        err.__cause__ = error
        self._fire("hook_error", _CONTINUE, err)
        return STOP

    def tool_output(self, output: ToolOutput) -> Action:
        """Feed the output of the next call of the current ``RunTools`` batch."""
        if not isinstance(output, ToolOutput):
            raise self._illegal("tool_output", f"expected a ToolOutput, got {type(output).__name__}")
        if self.state is not S.ExecutingTool or not self._running or self._pending is not None:
            raise self._illegal("tool_output", "no tool call is running")
        self._fire("tool_output", _CONTINUE, output)
        return self._advance()

    def tool_failed(self, error: BaseException) -> Action:
        """The tool server failed as a whole (``ToolServerError``); a failing *tool* is an output."""
        if self.state is not S.ExecutingTool or not self._running or self._pending is not None:
            raise self._illegal("tool_error", "no tool call is running")
        if isinstance(error, AgentFSMError):
            err = error
        else:
            err = ToolServerError(f"tool server failed: {type(error).__name__}: {error}")
            err.__cause__ = error
        self._fire("tool_error", _CONTINUE, err)
        return STOP

    def close(self, reason: str = "the run was closed by its consumer") -> Action:
        """Cancel the run from outside (its consumer stopped). Does nothing once stopped."""
        if self.state not in FINAL:
            self._pending = None
            self._fire("close", HookAction.terminate(reason), None)
        return STOP

    def steps_since(self, mark: int) -> tuple[list[tuple[Edge, int]], int]:
        """The edges taken since ``mark`` (a value this method returned before; start with 0).

        Cheap enough to call after every step: drivers use it to log state changes.
        """
        trace = self._trace
        end = len(trace)
        return [(EDGES[i], n) for i, n in trace[max(mark, 1) : end]], end

    # ------------------------------------------------------------------ stepping

    def _advance(self) -> Action:
        """The next action: takes every step that needs nobody, stops at one that does."""
        while True:
            state = self.state
            if state is S.AwaitingCompletion:
                if self._fire("turn_limit", _CONTINUE, None, must=False):
                    continue
                if "on_completion_call" in self.live:
                    self._pending = ("request", None, "on_completion_call")
                    return CallHook("on_completion_call", (self._history[-1], tuple(self._history[:-1])))
                self._fire("request", _CONTINUE, None)
            elif state is S.Streaming:
                if self._request_pending:
                    self._request_pending = False
                    self._open = True
                    assert self.request is not None
                    return SendRequest(self.request)
                return NEXT_EVENT
            elif state is S.ExecutingTool:
                action = self._tool_step()
                if action is not None:
                    return action
            elif state is S.Finalizing:
                self._fire("finish", _CONTINUE, None)
            else:
                return STOP

    # ------------------------------------------------------------------ firing

    def _fire(self, trigger: str, verdict: Verdict, payload: Any, *, must: bool = True) -> bool:
        """Take the first edge of ``trigger`` whose conditions hold in the current state.

        The edge runs as compiled from the live machine (:mod:`agent_fsm.fastpath`), or, with
        ``fast_path=False``, through ``transitions``' own ``Event.trigger``. With ``must``,
        finding no edge raises ``IllegalTransition``.
        """
        candidates = _DISPATCH[trigger].get(self.state)
        if candidates is None:
            raise self._illegal(trigger, f"{self.state.value} has no {trigger} edge")
        for edge in candidates:
            for cond, target in edge[1]:
                if bool(cond(self, verdict, payload)) is not target:
                    break
            else:
                break
        else:
            if not must:
                return False
            raise self._illegal(trigger, _refusal(trigger, payload))
        index, _, dest, steps = edge
        last = self._trace[-1]
        if last[0] == index:
            last[1] += 1
        else:
            self._trace.append([index, 1])
        if dest is not None:
            self._open = False
        if self._fast:
            for step in steps:
                step(self, verdict, payload)
        else:
            _EVENTS[trigger].trigger(self, verdict, payload)
        return True

    def _illegal(self, event: str, detail: str) -> IllegalTransition:
        """Move to ``Failed`` (unless already stopped) and return the error to raise."""
        state = self.state
        err = IllegalTransition(state.value, event, (), detail)
        if state in FINAL:
            err.history = tuple(self._history)
        else:
            self._pending = None
            self._fire("illegal_event", _CONTINUE, err)
        return err

    # ------------------------------------------------------------------ conditions (the guards)

    def verdict_continues(self, verdict: Verdict, payload: Any) -> bool:
        return verdict.kind == "continue"

    def verdict_skips(self, verdict: Verdict, payload: Any) -> bool:
        return verdict.kind == "skip"

    def verdict_defers(self, verdict: Verdict, payload: Any) -> bool:
        return verdict.kind == "defer"

    def verdict_terminates(self, verdict: Verdict, payload: Any) -> bool:
        return verdict.kind == "terminate"

    def budget_spent(self, verdict: Verdict, payload: Any) -> bool:
        return self.turns >= self.max_turns

    def has_tool_calls(self, verdict: Verdict, payload: Any) -> bool:
        return self._turn is not None and bool(self._turn.tool_calls)

    def call_id_is_new(self, verdict: Verdict, payload: ToolCallReady) -> bool:
        assert self._turn is not None
        new_id = payload.tool_call.id
        return all(queued.tool_call.id != new_id for queued in self._turn.tool_calls)


def _apply_approval(call: ToolCallReady, deferred: Verdict, approvals: dict[str, Approval]) -> Verdict:
    decision = approvals.pop(call.tool_call.id, None)
    if decision is None:
        return deferred
    if not isinstance(decision, Approval):
        raise ConfigurationError(f"approval for {call.tool_call.id!r} must be approve or deny(reason): {decision!r}")
    return _TOOL_CONTINUE if decision.approved else ToolCallHookAction.skip(decision.reason)


def _refusal(trigger: str, payload: Any) -> str:
    if trigger == "tool_call_ready" and isinstance(payload, ToolCallReady):
        return f"tool call id {payload.tool_call.id!r} was already used in this turn"
    return "no edge's guard holds"


_DISPATCH: Final = compile_dispatch(TurnMachine)
_FAST: Final = compile_fast(
    TurnMachine,
    {
        TextDelta: ("text_delta", "_on_text_delta"),
        ToolCallDelta: ("tool_call_delta", "_on_tool_call_delta"),
        ReasoningDelta: ("reasoning_delta", "_on_reasoning_delta"),
        Reasoning: ("reasoning", "_on_reasoning"),
    },
)
