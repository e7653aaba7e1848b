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

Every transition goes through one shared ``transitions.Machine`` built from the table: the run is
its model, passed to ``Event.trigger`` on each call, so there is no per-run machine to build and
nothing registered that could leak. The internal edges of ``Streaming`` (one per delta) take a
fast path compiled from that machine's own edges (``EDGES``): when the guarding hook is not live
the verdict is always "continue", so the edge is chosen once, at start-up, and each delta only
runs that edge's callbacks. ``TurnMachine(fast_path=False)`` routes every edge through
``transitions`` instead; a test asserts both give identical items, history, states and traces.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any, Final, TypeAlias

from .errors import (
    AgentFSMError,
    CompletionError,
    ConfigurationError,
    HookError,
    IllegalTransition,
    MaxTurnsExceeded,
    PromptCancelled,
    ToolServerError,
)
from .events import Final as FinalEvent
from .events import ReasoningDelta, TextDelta, ToolCallDelta, ToolCallReady
from .hooks import HookAction, ToolCallHookAction, Verdict
from .items import FinalResponse, StreamAssistantItem, StreamItem, StreamUserItem
from .messages import AssistantMessage, Message, Reasoning, Text, ToolResult, Usage, UserMessage
from .protocol import NEXT_EVENT, NEXT_TOOL_OUTPUT, STOP, Action, CallHook, RunTools, SendRequest, ToolOutput
from .request import CompletionRequest, ToolDefinition
from .table import EDGES, TERMINAL, TRIGGER_HOOKS, VERDICT_CONDITIONS, Edge, State, build_machine
from .turn import TurnBuffer

__all__ = ["TurnMachine"]

S = State
_STREAMING: Final = S.Streaming
_CONTINUE: Final = HookAction.cont()
_TOOL_CONTINUE: Final = ToolCallHookAction.cont()
_ALLOWED_VERDICTS: Final[Mapping[str, frozenset[str]]] = {
    hook: frozenset({"continue", "skip", "terminate"} if hook == "on_tool_call" else {"continue", "terminate"})
    for hook in TRIGGER_HOOKS.values()
}

_FSM: Final = build_machine()
"""The one ``transitions.Machine``; runs are passed to it as models, never registered on it."""
_EVENTS: Final = _FSM.events

_Fn: TypeAlias = Callable[..., Any]
_Compiled: TypeAlias = tuple[int, tuple[tuple[_Fn, bool], ...], "State | None", tuple[_Fn, ...]]


class TurnMachine:
    """One run of the turn loop, driven from outside through the step API.

    Call :meth:`start`, perform each returned action and feed its outcome back with the matching
    method (see :mod:`agent_fsm.protocol`); drain :attr:`outbox` after every step. A machine runs
    one run; it is cheap to make.

    Args:
        prompt: the user's prompt; a ``str`` is wrapped in a ``UserMessage``.
        history: the messages before the prompt.
        max_turns: the exact number of model calls the run may make (at least 1).
        live_hooks: the hook methods to ask; every other hook counts as "continue".
        tool_concurrency: how many tool calls may run at once; above 1, every ``on_tool_call`` of
            a turn is asked before any of its calls runs.
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
        self._request_fields = (preamble, tuple(tools), temperature, max_tokens, additional_params)

        self.outbox: deque[StreamItem] = deque()
        """Items to emit, in order; drain it after every step."""
        self._emit = self.outbox.append
        self.turns = 0
        """Model calls made so far."""
        self.usage = Usage()
        """Token usage so far: the sum of every ``Final``."""
        self.error: AgentFSMError | None = None
        """How the run ended, once terminal and not ``Done``."""
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
        self._calls: list[ToolCallReady] = []
        self._results: list[ToolResult | None] = []
        self._verdict_ix = 0
        self._result_ix = 0
        self._approved: list[int] = []
        self._running: deque[int] = deque()
        self._started = False
        self._trace: list[list[int]] = [[-1, 0]]  # [edge index, times in a row]; a sentinel first
        self._fast = fast_path
        generic: dict[type, Callable[[Any], Action]] = {
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
                    generic[event_type] = fast.__get__(self)
        self._on_event = generic

    # ------------------------------------------------------------------ step API

    @property
    def history(self) -> tuple[Message, ...]:
        """The given history, the prompt, and every message of the run so far."""
        return tuple(self._history)

    @property
    def done(self) -> bool:
        """Whether the run has reached a terminal state."""
        return self.state in TERMINAL

    @property
    def trace(self) -> tuple[tuple[Edge, int], ...]:
        """The edges taken so far, in order; a run of the same edge is one entry with its count."""
        return tuple((EDGES[i], n) for i, n in self._trace[1:])

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
        return handler(event)

    @property
    def event_handlers(self) -> Mapping[type, Callable[[Any], Action]]:
        """The handler :meth:`model_event` dispatches each event type to.

        Calling ``event_handlers[type(event)](event)`` is exactly ``model_event(event)`` minus one
        call: a driver's hot loop may use it (the async driver does). Unknown types are absent.
        """
        return self._on_event

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
        self._drop_pending()
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

    def steps_since(self, mark: int) -> tuple[list[tuple[Edge, int]], int]:
        """The edges taken since ``mark`` (a value this method returned before; start with 0).

        Cheap enough to call after every step: drivers use it to log state changes.
        """
        trace = self._trace
        end = len(trace)
        return [(EDGES[i], n) for i, n in trace[max(mark, 1) : end]], end

    def close(self, reason: str = "the run was closed by its consumer") -> Action:
        """Cancel the run from outside (its consumer stopped). Does nothing once terminal."""
        if self.state not in TERMINAL:
            self._drop_pending()
            self._fire("close", HookAction.terminate(reason), None)
        return STOP

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

    def _tool_step(self) -> Action | None:
        """What the tool stage needs next, or None once the run has left it.

        Verdicts are asked in call order, at most ``window`` calls ahead of the results: one at
        a time when tools run one by one, all of them first when they run concurrently.
        """
        calls = self._calls
        n = len(calls)
        window = n if self.tool_concurrency > 1 else 1
        while self.state is S.ExecutingTool:
            i = self._verdict_ix
            if i < n and i < self._result_ix + window:
                if "on_tool_call" in self.live:
                    call = calls[i]
                    fn = call.tool_call.function
                    self._pending = ("tool_verdict", i, "on_tool_call")
                    return CallHook("on_tool_call", (fn.name, call.tool_call.id, call.internal_call_id, fn.arguments))
                self._fire("tool_verdict", _TOOL_CONTINUE, i)
                continue
            if self._approved:
                batch, self._approved = self._approved, []
                self._running.extend(batch)
                return RunTools(tuple(calls[j].tool_call for j in batch))
            i = self._result_ix
            if i < n:
                result = self._results[i]
                if result is None:
                    return NEXT_TOOL_OUTPUT
                if "on_tool_result" in self.live:
                    call = calls[i]
                    fn = call.tool_call.function
                    self._pending = ("tool_result", i, "on_tool_result")
                    args = (fn.name, call.tool_call.id, call.internal_call_id, fn.arguments, result.text)
                    return CallHook("on_tool_result", args)
                self._fire("tool_result", _CONTINUE, i)
                continue
            self._fire("tools_done", _CONTINUE, None)
        return None

    def _expect_stream(self, what: str) -> None:
        if self.state is not S.Streaming or self._request_pending or self._pending is not None:
            raise self._illegal(what, "no model stream is open")

    def _event_allowed(self, trigger: str) -> None:
        if self._final_seen and self.state is S.Streaming:
            raise self._illegal(trigger, "the turn's Final has arrived; only the end of the stream may follow")
        self._expect_stream(trigger)

    def _drop_pending(self) -> None:
        """Forget the hook question in flight. A ``Final`` waiting on its hook still counts: the
        model reported (and billed) that usage whatever the hook does."""
        pending, self._pending = self._pending, None
        if pending is not None and pending[0] == "final":
            self.usage = self.usage + pending[1].usage

    def _ask(self, trigger: str, payload: Any, hook: str, args: tuple[Any, ...]) -> CallHook:
        self._open = False
        self._pending = (trigger, payload, hook)
        return CallHook(hook, args)

    # --- model events: each is one trigger; a live hook is asked first

    def _on_text_delta(self, event: TextDelta) -> Action:
        self._event_allowed("text_delta")
        if self._track_text:
            return self._ask("text_delta", event, "on_text_delta", (event.text, self._agg + event.text))
        self._fire("text_delta", _CONTINUE, event)
        return NEXT_EVENT

    def _on_tool_call_delta(self, event: ToolCallDelta) -> Action:
        self._event_allowed("tool_call_delta")
        if "on_tool_call_delta" in self.live:
            args = (event.id, event.internal_call_id, event.name, event.arguments)
            return self._ask("tool_call_delta", event, "on_tool_call_delta", args)
        self._fire("tool_call_delta", _CONTINUE, event)
        return NEXT_EVENT

    def _on_reasoning_delta(self, event: ReasoningDelta) -> Action:
        self._event_allowed("reasoning_delta")
        self._fire("reasoning_delta", _CONTINUE, event)
        return NEXT_EVENT

    def _on_reasoning(self, event: Reasoning) -> Action:
        self._event_allowed("reasoning")
        self._fire("reasoning", _CONTINUE, event)
        return NEXT_EVENT

    def _on_tool_call(self, event: ToolCallReady) -> Action:
        self._event_allowed("tool_call")
        self._fire("tool_call", _CONTINUE, event)
        return NEXT_EVENT

    def _on_final(self, event: FinalEvent) -> Action:
        self._event_allowed("final")
        self._final_seen = True
        self._open = False
        hook = "on_stream_completion_response_finish"
        if hook in self.live:
            return self._ask("final", event, hook, (self._history[-1], event))
        self._fire("final", _CONTINUE, event)
        return NEXT_EVENT if self.state is S.Streaming else STOP

    # ------------------------------------------------------------------ firing

    def _fire(self, trigger: str, verdict: Verdict, payload: Any, *, must: bool = True) -> bool:
        """Take the first edge of ``trigger`` whose conditions hold in the current state.

        Internal edges run their callbacks right here when the fast path is on; every other
        edge goes through ``transitions``. With ``must``, finding no edge raises.
        """
        state = self.state
        candidates = _DISPATCH[trigger].get(state)
        if candidates is None:
            raise self._illegal(trigger, f"{state.value} has no {trigger} edge")
        for edge in candidates:
            if all(bool(cond(self, verdict, payload)) is target for cond, target in edge[1]):
                break
        else:
            if not must:
                return False
            raise self._illegal(trigger, _refusal(trigger, payload))
        index, _, dest, callbacks = edge
        last = self._trace[-1]
        if last[0] == index:
            last[1] += 1
        else:
            self._trace.append([index, 1])
        if dest is None and self._fast:
            for callback in callbacks:
                callback(self, verdict, payload)
        else:
            if dest is not None:
                self._open = False
            _EVENTS[trigger].trigger(self, verdict, payload)
        return True

    def _illegal(self, event: str, detail: str) -> IllegalTransition:
        """Move to ``Failed`` (unless already terminal) and return the error to raise."""
        state = self.state
        err = IllegalTransition(state.value, event, (), detail)
        if state in TERMINAL:
            err.history = tuple(self._history)
        else:
            self._drop_pending()
            self._fire("illegal_event", _CONTINUE, err)
        return err

    # ------------------------------------------------------------------ conditions (the guards)

    def verdict_continues(self, verdict: Verdict, payload: Any) -> bool:
        return verdict.kind == "continue"

    def verdict_skips(self, verdict: Verdict, payload: Any) -> bool:
        return verdict.kind == "skip"

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

    # ------------------------------------------------------------------ callbacks (the effects)

    def begin_turn(self, verdict: Verdict, payload: Any) -> None:
        self.turns += 1
        self._turn = TurnBuffer()
        self._final_seen = False
        self._agg = ""
        history = self._history
        prompt = history[-1]
        assert isinstance(prompt, UserMessage)
        preamble, tools, temperature, max_tokens, additional = self._request_fields
        self.request = CompletionRequest(
            prompt, tuple(history[:-1]), preamble, tools, temperature, max_tokens,
            dict(additional) if additional is not None else None,
        )  # fmt: skip
        self._request_pending = True

    def emit_text(self, verdict: Verdict, event: TextDelta) -> None:
        # The hottest callback: one per text delta. It extends the turn's current text run in
        # place (what ``TurnBuffer.add_text`` does) without the extra call.
        turn = self._turn
        run = turn._text_run  # type: ignore[union-attr]
        if run is None:
            turn.add_text(event.text)  # type: ignore[union-attr]
        else:
            run.append(event.text)
        self._emit(StreamAssistantItem(event))

    def emit_tool_call_delta(self, verdict: Verdict, event: ToolCallDelta) -> None:
        self._turn.break_text()  # type: ignore[union-attr]
        self.outbox.append(StreamAssistantItem(event))

    def emit_reasoning_delta(self, verdict: Verdict, event: ReasoningDelta) -> None:
        self._turn.add_reasoning_delta(event)  # type: ignore[union-attr]
        self.outbox.append(StreamAssistantItem(event))

    def emit_reasoning(self, verdict: Verdict, event: Reasoning) -> None:
        self._turn.add_reasoning(event)  # type: ignore[union-attr]
        self.outbox.append(StreamAssistantItem(event))

    def queue_tool_call(self, verdict: Verdict, event: ToolCallReady) -> None:
        self._turn.add_tool_call(event)  # type: ignore[union-attr]
        self.outbox.append(StreamAssistantItem(event))

    def add_usage(self, verdict: Verdict, event: FinalEvent) -> None:
        self.usage = self.usage + event.usage

    def emit_final(self, verdict: Verdict, event: FinalEvent) -> None:
        self.outbox.append(StreamAssistantItem(event))

    def commit_turn(self, verdict: Verdict, payload: Any) -> None:
        turn = self._turn
        assert turn is not None
        self._history.append(turn.message())
        self._last_text = turn.text()
        self._calls = list(turn.tool_calls)
        self._turn = None

    def begin_tools(self, verdict: Verdict, payload: Any) -> None:
        self._results = [None] * len(self._calls)
        self._verdict_ix = self._result_ix = 0
        self._approved = []
        self._running.clear()

    def approve_tool(self, verdict: Verdict, index: int) -> None:
        self._approved.append(index)
        self._verdict_ix += 1

    def skip_tool(self, verdict: Verdict, index: int) -> None:
        call = self._calls[index].tool_call
        self._results[index] = ToolResult(call.id, (Text(verdict.reason),), call.call_id)
        self._verdict_ix += 1

    def record_output(self, verdict: Verdict, output: ToolOutput) -> None:
        index = self._running.popleft()
        call = self._calls[index].tool_call
        self._results[index] = ToolResult(call.id, output.content or (Text(""),), call.call_id, output.is_error)

    def emit_tool_result(self, verdict: Verdict, index: int) -> None:
        result = self._results[index]
        assert result is not None
        self.outbox.append(StreamUserItem(result, self._calls[index].internal_call_id))
        self._result_ix += 1

    def send_tool_results(self, verdict: Verdict, payload: Any) -> None:
        self._history.append(UserMessage(tuple(r for r in self._results if r is not None)))
        self._calls = []
        self._results = []

    def emit_final_response(self, verdict: Verdict, payload: Any) -> None:
        self.outbox.append(FinalResponse(self._last_text, self.usage, tuple(self._history)))

    # --- entering a terminal state: seal the history, record how the run ended

    def end_max_turns(self, verdict: Verdict, payload: Any) -> None:
        prompt = self._history[-1]
        assert isinstance(prompt, UserMessage)
        self.error = MaxTurnsExceeded(self.max_turns, tuple(self._history), prompt)

    def end_cancelled(self, verdict: Verdict, payload: Any) -> None:
        self._seal(f"the run was cancelled ({verdict.reason})")
        self.error = PromptCancelled(verdict.reason, tuple(self._history))

    def end_failed(self, verdict: Verdict, error: AgentFSMError) -> None:
        self._seal(f"the run failed ({error})")
        error.history = tuple(self._history)
        self.error = error

    def _seal(self, why: str) -> None:
        """Close what the run left open, so that its history stays valid to send back."""
        self._pending = None
        self._open = False
        calls: list[ToolCallReady] = []
        results: list[ToolResult | None] = []
        turn = self._turn
        if turn is not None:
            self._turn = None
            if not turn.is_empty:
                self._history.append(AssistantMessage(turn.content()))
                calls, results = turn.tool_calls, [None] * len(turn.tool_calls)
        elif self._calls:
            calls, results = self._calls, self._results
        if calls:
            text = f"Tool call not executed: {why}"
            self._history.append(
                UserMessage(
                    tuple(
                        r if r is not None else ToolResult(c.tool_call.id, (Text(text),), c.tool_call.call_id, True)
                        for c, r in zip(calls, results, strict=True)
                    )
                )
            )
            self._calls, self._results = [], []


def _refusal(trigger: str, payload: Any) -> str:
    if trigger == "tool_call" and isinstance(payload, ToolCallReady):
        return f"tool call id {payload.tool_call.id!r} was already used in this turn"
    return "no edge's guard holds"


def _compile_dispatch() -> dict[str, dict[State, tuple[_Compiled, ...]]]:
    """Per trigger and source state, the candidate edges with their functions resolved."""
    out: dict[str, dict[State, list[_Compiled]]] = {}
    for e in EDGES:
        conditions = tuple((getattr(TurnMachine, name), target) for name, target in e.conditions)
        callbacks = tuple(getattr(TurnMachine, name) for name in e.callbacks)
        out.setdefault(e.trigger, {}).setdefault(e.source, []).append((e.index, conditions, e.dest, callbacks))
    return {trigger: {state: tuple(c) for state, c in by_state.items()} for trigger, by_state in out.items()}


_DISPATCH: Final = _compile_dispatch()

_EVENT_TRIGGERS: Final[Mapping[type, tuple[str, str]]] = {
    TextDelta: ("text_delta", "_on_text_delta"),
    ToolCallDelta: ("tool_call_delta", "_on_tool_call_delta"),
    ReasoningDelta: ("reasoning_delta", "_on_reasoning_delta"),
    Reasoning: ("reasoning", "_on_reasoning"),
}


def _compile_fast() -> dict[type, tuple[str, _Fn]]:
    """One function per delta event, for when its guarding hook is not live.

    The verdict is then always "continue", so the edge is chosen here, once, from ``Streaming``'s
    candidates (only edges whose guards read nothing but the verdict qualify). Each delta then
    checks that a stream is open (else the generic handler raises the right error), counts the
    edge in the trace, and runs the edge's callbacks.
    """
    fast: dict[type, tuple[str, _Fn]] = {}
    for event_type, (trigger, generic_name) in _EVENT_TRIGGERS.items():
        edges = [e for e in EDGES if e.trigger == trigger and e.source is _STREAMING]
        verdict = _TOOL_CONTINUE if trigger == "tool_verdict" else _CONTINUE
        chosen = None
        for e in edges:
            if any(name not in VERDICT_CONDITIONS for name, _ in e.conditions):
                break
            if all(bool(getattr(TurnMachine, name)(None, verdict, None)) is target for name, target in e.conditions):
                chosen = e
                break
        if chosen is None or not chosen.internal:
            continue
        fast[event_type] = (trigger, _make_fast(chosen, getattr(TurnMachine, generic_name)))
    return fast


def _make_fast(edge: Edge, generic: _Fn) -> _Fn:
    index = edge.index
    callbacks = tuple(getattr(TurnMachine, name) for name in edge.callbacks)
    if len(callbacks) != 1:
        raise TypeError(f"fast-path edge {edge.label} must have exactly one callback")
    (callback,) = callbacks

    def fast(self: TurnMachine, event: Any) -> Action:
        if not self._open:
            return generic(self, event)  # type: ignore[no-any-return]
        last = self._trace[-1]
        if last[0] == index:
            last[1] += 1
        else:
            self._trace.append([index, 1])
        callback(self, _CONTINUE, event)
        return NEXT_EVENT

    fast.__qualname__ = f"fast_{edge.trigger}"
    return fast


_FAST: Final = _compile_fast()
