"""The turn loop's sans-IO machine and its step API.

The states, the table and the theory of operation are in :mod:`agent_fsm.machine.table`; this module runs
them. :class:`TurnMachine` is fed events and hook verdicts and answers with an *action* for its
driver (:mod:`agent_fsm.machine.protocol`) plus items in its ``outbox``. It never awaits, reads a clock or
does I/O, so any driver can run it: the async one in :mod:`agent_fsm.run.driver`, a plain loop in a
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
Its edges are read back (``EDGES``) and written out as code, one function per trigger
(:mod:`agent_fsm.machine._fire`, generated from the table by :mod:`agent_fsm.machine._codegen`):
each picks the first edge whose conditions hold and runs the steps ``transitions`` would run for
it - ``before``, ``on_exit``, the state change, ``on_enter``, ``after`` - as direct calls,
because ``Event.trigger`` costs about 8 us a transition, more than a whole hand-written turn of a
tool loop. The deltas of ``Streaming`` go one step further: when the guarding hook is not live the
verdict is always "continue", so their edge is chosen once, at start-up, and each delta only runs
that edge's callback. ``TurnMachine(fast_path=False)`` is the reference mode: every edge goes
through the shared ``transitions.Machine``'s ``Event.trigger`` (the run is passed to it as the
model, never registered on it, so nothing can leak). Property tests hold the two modes to
identical items, history, states and traces on random runs.

:class:`TurnMachine` is one class. What it keeps besides its position is held by objects it owns,
each with its own state and rules: the streaming turn (:class:`~agent_fsm.machine._turn.TurnBuffer`),
the turn's tool calls (:class:`~agent_fsm.machine._batch.ToolBatch`), and where the run stops
(:mod:`agent_fsm.machine._endings`: checkpoints and the sealing rule). The table's callbacks are
the machine's methods, because ``transitions`` calls them by name on its model; each one hands its
work to the collaborator concerned: the path it took (:mod:`~agent_fsm.machine._path`) is the
fourth. The module reads top to bottom: construction and restore, the step API, stepping and
firing, the guards, the model events' handlers, the callbacks, snapshots.

It is the package's one module over 400 lines, and its seam is the class itself: everything here
is a method of ``TurnMachine`` (``transitions`` resolves guards and callbacks by name on the
machine), and every piece of state that is not the machine's own position lives in one of the
collaborators above. Cutting it along those sections would split one class across files again -
the mixins this module replaced.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any, ClassVar, Final

from attrs import evolve
from mypy_extensions import mypyc_attr

from .. import _wellformed as wellformed
from ..errors import (
    AgentFSMError,
    ApprovalRequired,
    CompletionError,
    ConfigurationError,
    HookError,
    IllegalTransition,
    MaxTurnsExceeded,
    PromptCancelled,
    SnapshotError,
    ToolServerError,
    UsageLimitExceeded,
)
from ..events import Final as FinalEvent
from ..events import ReasoningDelta, TextDelta, ToolCallDelta, ToolCallReady, event_problem
from ..hooks import CONTINUE, TOOL_CONTINUE, HookAction, ToolCallHookAction, Verdict
from ..items import FinalResponse, StreamAssistantItem, StreamItem, StreamUserItem
from ..messages import AssistantMessage, Message, Reasoning, Text, Usage, UserMessage
from ..request import CompletionRequest, ToolDefinition, UsageLimits
from ._batch import ToolBatch
from ._endings import Checkpoint, seal
from ._fire import FIRE, Edges
from ._path import Path
from ._turn import TurnBuffer
from .fastpath import compile_fast, fast_edge
from .protocol import NEXT_EVENT, NEXT_TOOL_OUTPUT, STOP, Action, CallHook, RunTools, SendRequest, ToolOutput
from .snapshot import Approval, Snapshot
from .table import FINAL, TRIGGER_HOOKS, Edge, State, build_machine

__all__ = ["CANCELLED_BY_CALLER", "TurnMachine", "check_limits"]

S = State
_STREAMING: Final = S.Streaming
_VERDICTS: Final[Mapping[str, frozenset[str]]] = {
    trigger: frozenset(
        {"continue", "skip", "defer", "terminate"} if trigger == "tool_verdict" else {"continue", "terminate"}
    )
    for trigger in TRIGGER_HOOKS
}
"""The verdicts each hook-guarded trigger's hook may answer."""
_DEFER: Final = ToolCallHookAction.defer("the tool requires approval")
_FSM: Final = build_machine()
"""The one ``transitions.Machine``; runs are passed to it as models, never registered on it."""
_EVENTS: Final = _FSM.events
CANCELLED_BY_CALLER: Final = "the run was cancelled by its caller"
"""The reason of a :meth:`TurnMachine.cancel` given none."""
_CANCEL_MODES: Final = ("immediate", "after_turn")
_NONE: Final[frozenset[str]] = frozenset()
_HOOK_NAMES: Final = frozenset(TRIGGER_HOOKS.values())
_NO_USAGE: Final = Usage()
_TEXT_EDGE: Final = fast_edge("text_delta")
assert _TEXT_EDGE is not None, "the table must give text deltas an internal edge for the fast path"
_TEXT_DELTA_EDGE: Final = _TEXT_EDGE.index
"""The edge of :meth:`TurnMachine.fast_text_delta`."""
_ON_MAX_TURNS: Final = ("error", "final_answer")


def check_limits(max_turns: object, tool_concurrency: object) -> None:
    """Refuse a turn budget or a tool concurrency that is not an int >= 1 (the one place it is checked).

    Raises:
        ConfigurationError: naming the bad value.
    """
    for name, value in (("max_turns", max_turns), ("tool_concurrency", tool_concurrency)):
        if type(value) is not int or value < 1:
            raise ConfigurationError(f"{name} must be an int >= 1, got {value!r}")


def user_message(value: object, what: str) -> UserMessage:
    """``value`` as a user message: a ``str`` is wrapped in one (the one place a prompt or a
    steering message is accepted).

    Raises:
        ConfigurationError: for anything else, naming ``what`` it was meant to be.
    """
    if isinstance(value, str):
        return UserMessage((Text(value),))
    if not isinstance(value, UserMessage):
        raise ConfigurationError(f"{what} must be a str or a UserMessage, not {type(value).__name__}")
    return value


@mypyc_attr(allow_interpreted_subclasses=True)
class TurnMachine(Edges):
    """One run of the turn loop, driven from outside through the step API.

    Call :meth:`start`, perform each returned action and feed its outcome back with the matching
    method (see :mod:`agent_fsm.machine.protocol`); drain :attr:`outbox` after every step. A
    machine runs one run; it is cheap to make. :meth:`snapshot` captures it; :meth:`restore`
    makes a machine that continues a snapshot.

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
        limits: what the run may spend (:class:`~agent_fsm.request.UsageLimits`), or ``None``.
        on_max_turns: ``"error"`` (default: a last allowed call that asks for tools ends the run
            in ``MaxTurnsExceeded``) or ``"final_answer"`` (the last allowed call is made with
            ``tool_choice="none"``, so the model answers in text).

    Raises:
        ConfigurationError: for a prompt, history, ``max_turns`` or ``tool_concurrency`` that is
            not valid.
    """

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
        limits: UsageLimits | None = None,
        on_max_turns: str = "error",
    ) -> None:
        # A machine is made per run, and a short run is a few microseconds of work: what is the
        # same for most runs (no history, no hooks, no approvals) is shared, not rebuilt.
        prompt = user_message(prompt, "prompt")
        given: list[Message] = list(history) if history else []
        for i, message in enumerate(given):
            if not isinstance(message, UserMessage | AssistantMessage):
                raise ConfigurationError(f"history[{i}] is a {type(message).__name__}, not a message")
        check_limits(max_turns, tool_concurrency)
        if limits is not None and not isinstance(limits, UsageLimits):
            raise ConfigurationError(f"limits must be a UsageLimits or None, not {type(limits).__name__}")
        if on_max_turns not in _ON_MAX_TURNS:
            raise ConfigurationError(f"on_max_turns must be 'error' or 'final_answer', got {on_max_turns!r}")
        live: frozenset[str] = frozenset(live_hooks) if live_hooks else _NONE
        unknown = live - _HOOK_NAMES
        if unknown:
            raise ConfigurationError(f"unknown hook name(s): {', '.join(sorted(unknown))}")

        self.state = S.AwaitingCompletion
        self.max_turns = max_turns
        self.tool_concurrency = tool_concurrency
        self.live = live
        self._asks = frozenset(trigger for trigger, hook in TRIGGER_HOOKS.items() if hook in live) if live else _NONE
        """The hook-guarded triggers whose hook is asked; the others carry "continue"."""
        self._approval_tools = frozenset(approval_tools) if approval_tools else _NONE
        # what every request carries besides the turn's prompt and history (:meth:`begin_turn`)
        self._preamble = preamble
        self._tools: tuple[ToolDefinition, ...] = tools if type(tools) is tuple else tuple(tools)
        self._temperature = temperature
        self._max_tokens = max_tokens
        self._extra = dict(additional_params) if additional_params is not None else None
        self._fast = fast_path
        self.limits = limits
        self._final_answer = on_max_turns == "final_answer"
        self._steering: list[UserMessage] = []  # given to steer(), not yet delivered
        self._cancel_after: str | None = None  # the reason of a cancel asked for after the turn
        self._interrupted = False  # cancel() stopped the run: answers still on their way are dropped
        self._breach: tuple[str, int, int] | None = None  # the limit a guard found crossed
        self.tool_calls_run = 0
        """Tool calls the run has handed to its driver to execute (what ``UsageLimits.tool_calls`` caps)."""

        self.outbox: deque[StreamItem] = deque()
        """Items to emit, in order; drain it after every step."""
        self._emit = self.outbox.append
        self.turns = 0
        """Model calls the run has made: each request counts once it is handed to the driver (which
        sends it at once; a consumer closing or cancelling the run in between is the only exception)."""
        self.usage = _NO_USAGE
        """Token usage so far: the sum of every ``Final``."""
        self.error: AgentFSMError | None = None
        """How the run ended, once it stopped and not in ``Done``."""
        self.request: CompletionRequest | None = None
        """The request of the current (or last) model call."""

        given.append(prompt)
        self._history = given
        self._turn: TurnBuffer | None = None  # the turn that streams
        self._queued: list[ToolCallReady] = []  # the last turn's calls, until their batch begins
        self._batch: ToolBatch | None = None  # the calls of the tool stage
        self._open = False  # a stream is open and may take a delta on the fast path
        self._request_pending = False
        self._final_seen = False
        self._agg = ""
        self._last_text = ""
        self._pending: tuple[str, Any, str] | None = None  # (trigger, payload, hook) of the hook asked
        self._started = False
        self._path = Path()
        self._checkpoint = Checkpoint(S.AwaitingCompletion, len(given), 0, _NO_USAGE, (1, 0), None, 0)
        # Shared, never mutated: the handlers are plain functions, not methods bound to this
        # machine (a machine holding its own bound methods is a reference cycle, and every
        # finished run would wait for the garbage collector, whose passes then scan every live
        # run: half of S3's wall time).
        self._on_event = _handlers(self._asks) if fast_path else _GENERIC_HANDLERS

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
        ends_ok = bool(snapshot.history) and (isinstance(snapshot.history[-1], UserMessage) or bool(snapshot.steering))
        if not snapshot.history or (waiting and not ends_ok):
            raise SnapshotError(
                "malformed snapshot: a run waiting for a model call must end with a user message "
                "(or have steering messages to send)"
            )
        kwargs.setdefault("limits", snapshot.limits)
        self = cls(
            UserMessage((Text(""),)),
            max_turns=max_turns if max_turns is not None else snapshot.max_turns,
            **kwargs,
        )
        self._history = list(snapshot.history)
        self.turns = snapshot.turns
        self.usage = snapshot.usage
        self._steering = list(snapshot.steering)
        self._cancel_after = snapshot.cancel_after_turn
        self.tool_calls_run = snapshot.tool_calls_run
        self._path.emitted_before = snapshot.items_emitted
        left = dict(approvals or {})
        if snapshot.state is S.ExecutingTool:
            if snapshot.tools is None:
                raise SnapshotError("malformed snapshot: the tool stage is missing")
            self.state = S.ExecutingTool
            self._batch = ToolBatch.resume(snapshot.tools, left)
        if left:
            raise ConfigurationError(f"no deferred tool call has the id(s) {', '.join(sorted(left))}")
        self._checkpoint = self._live_checkpoint()
        return self

    # ------------------------------------------------------------------ step API

    @property
    def history(self) -> tuple[Message, ...]:
        """The given history, the prompt, and every message of the run so far."""
        return tuple(self._history)

    @property
    def prompt(self) -> UserMessage:
        """What the next (or current) model call sends: the prompt, then each turn's tool results."""
        prompt = self._history[-1]
        assert isinstance(prompt, UserMessage), "only read between a turn's request and its stream's end"
        return prompt

    @property
    def done(self) -> bool:
        """Whether the run has stopped (a terminal state, or ``AwaitingApproval``)."""
        return self.state in FINAL

    @property
    def trace(self) -> tuple[tuple[Edge, int], ...]:
        """The edges taken so far, in order; a run of the same edge is one entry with its count."""
        return self._path.edges()

    @property
    def items_emitted(self) -> int:
        """How many items the run has emitted (including the runs it was resumed from)."""
        return self._path.emitted_at(self._path.mark())

    @property
    def pending_approvals(self) -> tuple[ToolCallReady, ...]:
        """The calls waiting for an approval (in ``AwaitingApproval``), in call order."""
        return self._batch.pending_approvals if self._batch is not None else ()

    @property
    def pending_steering(self) -> tuple[UserMessage, ...]:
        """Messages given to :meth:`steer` that no model call has sent yet, in order."""
        return tuple(self._steering)

    @property
    def event_handlers(self) -> Mapping[type, Callable[[Any], Action | StreamAssistantItem]]:
        """The handler :meth:`model_event` dispatches each event type to, for a driver's hot loop.

        A handler returns either an action, exactly as :meth:`model_event` does, or - when the
        event took the fast path - the one ``StreamAssistantItem`` it emitted, handed over
        directly instead of through the outbox (the stream stays open: feed the next event). The
        async driver uses this; ``model_event`` is the same minus the shortcut. Each handler
        checks its event (:meth:`check_event`) itself. Unknown event types are absent. Each
        read makes a new mapping (drivers read it once per run).
        """
        return {event_type: fn.__get__(self) for event_type, fn in self._on_event.items()}

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
        result = handler(self, event)
        if isinstance(result, StreamAssistantItem):  # the fast path handed its item over: queue it
            self._emit(result)
            return NEXT_EVENT
        return result

    def check_event(self, event: object) -> None:
        """Refuse a model event whose fields have the wrong types (``TextDelta(None)``, a call
        without an id): the run fails with ``IllegalTransition``. Every handler of
        :attr:`event_handlers` (so :meth:`model_event` too) does this first; the fast path checks
        the event inline and leaves a malformed one to the handler that raises."""
        problem = event_problem(event)
        if problem is not None:
            raise self._malformed(event, problem)

    def _malformed(self, event: object, problem: str) -> IllegalTransition:
        return self._illegal(f"model event {type(event).__name__}", f"malformed event: {problem}")

    def driver_failed(self, error: BaseException) -> Action:
        """The driver met an exception nobody expected (a bug, or user code misbehaving outside
        the hooks): the run fails with ``IllegalTransition`` chaining ``error``, never looking as
        if its consumer had closed it. Does nothing once stopped."""
        if self.state not in FINAL:
            err = self._illegal("driver error", f"unexpected {type(error).__name__}: {error}")
            err.__cause__ = error
        return STOP

    def model_end(self) -> Action:
        """The model stream is exhausted."""
        if self._interrupted:
            return STOP
        self._expect_stream("stream_end")
        self.fire_stream_end(CONTINUE, None)
        return self._advance()

    def model_failed(self, error: BaseException) -> Action:
        """The model call failed, while opening or during iteration; ``error`` is what it raised."""
        if self._interrupted:
            return STOP
        if self.state is not S.Streaming or self._pending is not None:
            raise self._illegal("model_error", "no model call is in flight")
        self.fire_model_error(CONTINUE, _wrap(error, CompletionError, CompletionError, "model stream failed"))
        return STOP

    def hook_answer(self, answer: object) -> Action:
        """Feed what the hook named by the last ``CallHook`` returned (``None`` means continue)."""
        if self._interrupted:
            return STOP
        pending = self._pending
        if pending is None:
            raise self._illegal("hook answer", "no hook was asked")
        trigger, payload, hook = pending
        if answer is None:
            verdict: Verdict = TOOL_CONTINUE if trigger == "tool_verdict" else CONTINUE
        elif isinstance(answer, Verdict) and _is_verdict_of(answer, trigger):
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
        if self._interrupted:
            return STOP
        pending = self._pending
        if pending is None:
            raise self._illegal("hook_error", "no hook was asked")
        self._pending = None
        err = HookError(pending[2], detail=f"{type(error).__name__}: {error}")
        err.__cause__ = error
        self.fire_hook_error(CONTINUE, err)
        return STOP

    def tool_output(self, output: ToolOutput) -> Action:
        """Feed the output of the next call of the current ``RunTools`` batch."""
        if self._interrupted:
            return STOP
        if not isinstance(output, ToolOutput):
            raise self._illegal("tool_output", f"expected a ToolOutput, got {type(output).__name__}")
        self._expect_running("tool_output")
        self.fire_tool_output(CONTINUE, output)
        return self._advance()

    def tool_failed(self, error: BaseException) -> Action:
        """The tool server failed as a whole (``ToolServerError``); a failing *tool* is an output."""
        if self._interrupted:
            return STOP
        self._expect_running("tool_error")
        self.fire_tool_error(CONTINUE, _wrap(error, AgentFSMError, ToolServerError, "tool server failed"))
        return STOP

    def close(self, reason: str = "the run was closed by its consumer") -> Action:
        """Cancel the run from outside (its consumer stopped). Does nothing once stopped."""
        if self.state not in FINAL:
            self._pending = None
            self.fire_close(HookAction.terminate(reason), None)
        return STOP

    def cancel(self, mode: str = "immediate", reason: str | None = None) -> Action | None:
        """Stop the run from outside: now, or once the current turn has finished.

        ``"immediate"`` takes the ``cancel`` edge at once (``Cancelled``; the history is sealed);
        what the driver is waiting for (an event, a hook's answer, a tool's output) is dropped
        when it arrives, and items not yet drained from the outbox are discarded. ``"after_turn"``
        lets the current turn finish - its stream, its tools, their results - and ends the run
        ``Cancelled`` instead of the next model call; a turn that answers in text still ends
        ``Done``. Does nothing once the run has stopped.

        Returns:
            ``STOP`` once the run has stopped; ``None`` when it goes on (``"after_turn"``): carry
            on with the action you hold.

        Raises:
            ConfigurationError: for an unknown ``mode`` or a ``reason`` that is not a ``str``.
        """
        if mode not in _CANCEL_MODES:
            raise ConfigurationError(f"cancel mode must be 'immediate' or 'after_turn', got {mode!r}")
        if reason is not None and not isinstance(reason, str):
            raise ConfigurationError(f"cancel reason must be a str or None, got {type(reason).__name__}")
        if self.state in FINAL:
            return STOP
        why = CANCELLED_BY_CALLER if reason is None else reason
        if mode == "after_turn" or self.state is S.Finalizing:
            if self._cancel_after is None:
                self._cancel_after = why
            return None
        self._pending = None
        self._interrupted = True
        self.outbox.clear()
        self.fire_cancel(HookAction.terminate(why), None)
        return STOP

    def steer(self, message: str | UserMessage) -> None:
        """Queue a message for the next model call; it is merged into that call's prompt (after
        the tool results, in the same user message) when the request is built. A text answer
        with steering pending does not end the run if a turn is left: one more call is made
        with the pending messages as its prompt. Until delivered, a message is in no history
        and :attr:`pending_steering` lists it.

        Raises:
            ConfigurationError: for a message that is neither a ``str`` nor a ``UserMessage``.
        """
        self._steering.append(user_message(message, "a steering message"))

    def steps_since(self, mark: int) -> tuple[list[tuple[Edge, int]], int]:
        """The edges taken since ``mark`` (a value this method returned before; start with 0).

        Cheap enough to call after every step: drivers use it to log state changes.
        """
        path = self._path
        end = path.entries  # the sentinel's included
        if mark >= end:
            return [], end  # nothing new: the usual case, drivers call this after every step
        return list(path.since(max(mark, 1))), end

    # ------------------------------------------------------------------ stepping

    def _advance(self) -> Action:
        """The next action: takes every step that needs nobody, stops at one that does."""
        while True:
            state = self.state
            if state is S.AwaitingCompletion:
                cancel_after = self._cancel_after
                if cancel_after is not None and self.fire_turn_end_cancel(
                    HookAction.terminate(cancel_after), None, False
                ):
                    continue
                if self.fire_turn_limit(CONTINUE, None, False):
                    continue
                if self.limits is not None and self.fire_usage_limit(CONTINUE, None, False):
                    continue
                steering = len(self._steering)  # what this call delivers: what its hook is shown
                if "request" in self._asks:
                    return self._ask("request", steering, self._next_prompt(steering))
                self.fire_request(CONTINUE, steering)
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
                self.fire_finish(CONTINUE, None)
            else:
                return STOP

    def _tool_step(self) -> Action | None:
        """What the tool stage needs next, or None once the run has left the stage."""
        batch = self._batch
        assert batch is not None
        calls = batch.calls
        n = len(calls)
        window = n if self.tool_concurrency > 1 else 1
        while self.state is S.ExecutingTool:
            i = batch.verdict_ix
            if i < n and i < batch.result_ix + window:
                call = calls[i]
                verdict = batch.decided.pop(i, None)
                if verdict is not None:
                    self.fire_tool_verdict(verdict, i)
                elif call.tool_call.function.name in self._approval_tools:
                    self.fire_tool_verdict(_DEFER, i)
                elif "tool_verdict" in self._asks:
                    fn = call.tool_call.function
                    return self._ask(
                        "tool_verdict", i, (fn.name, call.tool_call.id, call.internal_call_id, fn.arguments)
                    )
                else:
                    self.fire_tool_verdict(TOOL_CONTINUE, i)
                continue
            if self.fire_await_approval(CONTINUE, None, False):
                return None
            if batch.approved:
                if self.limits is not None and self.fire_usage_limit(CONTINUE, None, False):
                    return None
                self.tool_calls_run += len(batch.approved)
                return RunTools(batch.take_approved())
            i = batch.result_ix
            if i < n:
                result = batch.results[i]
                if result is None:
                    return NEXT_TOOL_OUTPUT
                if "tool_result" in self._asks:
                    call = calls[i]
                    fn = call.tool_call.function
                    args = (fn.name, call.tool_call.id, call.internal_call_id, fn.arguments, result.text)
                    return self._ask("tool_result", i, args)
                self.fire_tool_result(CONTINUE, i)
                continue
            self.fire_tools_done(CONTINUE, None)
        return None

    def _ask(self, trigger: str, payload: Any, args: tuple[Any, ...]) -> CallHook:
        """Ask the hook that guards ``trigger``; its answer fires the trigger (``hook_answer``)."""
        hook = TRIGGER_HOOKS[trigger]
        self._open = False
        self._pending = (trigger, payload, hook)
        return CallHook(hook, args)

    def _expect_stream(self, what: str) -> None:
        if self.state is not S.Streaming or self._request_pending or self._pending is not None:
            raise self._illegal(what, "no model stream is open")

    def _expect_running(self, what: str) -> None:
        batch = self._batch
        if self.state is not S.ExecutingTool or batch is None or not batch.running or self._pending is not None:
            raise self._illegal(what, "no tool call is running")

    # ------------------------------------------------------------------ firing

    def _fire(self, trigger: str, verdict: Verdict, payload: Any) -> None:
        """Take the first edge of ``trigger`` (named at run time) whose conditions hold in the
        current state; finding none raises ``IllegalTransition``. Triggers named in the code are
        fired by calling their function of :mod:`agent_fsm.machine._fire` directly."""
        FIRE[trigger](self, verdict, payload, True)

    def _reference(self, trigger: str, verdict: Verdict, payload: Any) -> None:
        """The reference mode (``fast_path=False``): ``transitions``' own ``Event.trigger`` takes the
        edge :mod:`agent_fsm.machine._fire` has chosen (the run is passed to it as its model)."""
        _EVENTS[trigger].trigger(self, verdict, payload)

    def _refused(self, trigger: str, payload: Any) -> IllegalTransition:
        """No edge of ``trigger`` has conditions that hold: fail, and return the error to raise."""
        return self._illegal(trigger, _refusal(trigger, payload))

    def _illegal(self, event: str, detail: str) -> IllegalTransition:
        """Move to ``Failed`` (unless already stopped) and return the error to raise."""
        state = self.state
        err = IllegalTransition(state.value, event, (), detail)
        if state in FINAL:
            err.history = tuple(self._history)
        else:
            self._pending = None
            self.fire_illegal_event(CONTINUE, err)
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

    def calls_deferred(self, verdict: Verdict, payload: Any) -> bool:
        return self._batch is not None and bool(self._batch.deferred)

    def cancel_requested(self, verdict: Verdict, payload: Any) -> bool:
        return self._cancel_after is not None

    def tokens_reached(self, verdict: Verdict, payload: Any) -> bool:
        # the guards that find a limit crossed record which one, for the ending to name
        self._breach = self.limits.tokens_over(self.usage, strict=False) if self.limits is not None else None
        return self._breach is not None

    def tokens_exceeded(self, verdict: Verdict, payload: Any) -> bool:
        self._breach = self.limits.tokens_over(self.usage, strict=True) if self.limits is not None else None
        return self._breach is not None

    def tool_calls_exceeded(self, verdict: Verdict, payload: Any) -> bool:
        maximum = self.limits.tool_calls if self.limits is not None else None
        if maximum is None or self._batch is None:
            return False
        value = self.tool_calls_run + len(self._batch.approved)
        self._breach = ("tool_calls", maximum, value) if value > maximum else None
        return self._breach is not None

    def final_answer_due(self, verdict: Verdict, payload: Any) -> bool:
        return self._final_answer and self.turns + 1 >= self.max_turns

    def steering_continues(self, verdict: Verdict, payload: Any) -> bool:
        return bool(self._steering) and self.turns < self.max_turns and self._cancel_after is None

    # ------------------------------------------------------------------ model events

    def _event_allowed(self, trigger: str, event: object, problem: str | None) -> bool:
        """Whether the event may be taken; False for one that arrives after :meth:`cancel` (it
        is dropped); raises ``IllegalTransition`` for a malformed event (``problem``: what its
        type's check in :mod:`agent_fsm._wellformed` found) or one the table does not allow
        (every handler asks this first)."""
        if self._interrupted:
            return False
        if problem is not None:
            raise self._malformed(event, problem)
        if self._final_seen and self.state is S.Streaming:
            raise self._illegal(trigger, "the turn's Final has arrived; only the end of the stream may follow")
        self._expect_stream(trigger)
        return True

    def _on_text_delta(self, event: TextDelta) -> Action:
        if not self._event_allowed("text_delta", event, wellformed.text_delta(event)):
            return STOP
        if "text_delta" in self._asks:
            return self._ask("text_delta", event, (event.text, self._agg + event.text))
        self.fire_text_delta(CONTINUE, event)
        return NEXT_EVENT

    def _on_tool_call_delta(self, event: ToolCallDelta) -> Action:
        if not self._event_allowed("tool_call_delta", event, wellformed.tool_call_delta(event)):
            return STOP
        if "tool_call_delta" in self._asks:
            return self._ask("tool_call_delta", event, (event.id, event.internal_call_id, event.name, event.arguments))
        self.fire_tool_call_delta(CONTINUE, event)
        return NEXT_EVENT

    def _on_reasoning_delta(self, event: ReasoningDelta) -> Action:
        if not self._event_allowed("reasoning_delta", event, wellformed.reasoning_delta(event)):
            return STOP
        self.fire_reasoning_delta(CONTINUE, event)
        return NEXT_EVENT

    def _on_reasoning(self, event: Reasoning) -> Action:
        if not self._event_allowed("reasoning", event, wellformed.reasoning(event)):
            return STOP
        self.fire_reasoning(CONTINUE, event)
        return NEXT_EVENT

    def _on_tool_call(self, event: ToolCallReady) -> Action:
        if not self._event_allowed("tool_call_ready", event, wellformed.tool_call_ready(event)):
            return STOP
        self.fire_tool_call_ready(CONTINUE, event)
        return NEXT_EVENT

    def _on_final(self, event: FinalEvent) -> Action:
        if not self._event_allowed("final", event, wellformed.final(event)):
            return STOP
        # The model reported (and billed) this usage: it counts whatever the hook then says,
        # also when the hook raises or the run is closed while it is asked.
        self.usage = self.usage + event.usage
        self._final_seen = True
        self._open = False
        if "final" in self._asks:
            return self._ask("final", event, (self.prompt, event))
        self.fire_final(CONTINUE, event)
        return NEXT_EVENT if self.state is S.Streaming else STOP

    # ------------------------------------------------------------------ callbacks: a turn streams

    def begin_turn(self, verdict: Verdict, steering: int) -> None:
        if steering:  # delivered now, with the request: the checkpoint holds the prompt as sent
            prompt, before = self._next_prompt(steering)
            del self._steering[:steering]
            self._history[len(before) :] = [prompt]
        self._checkpoint = self._live_checkpoint()
        self.turns += 1
        self._turn = TurnBuffer()
        self._final_seen = False
        self._agg = ""
        extra = self._extra
        self.request = CompletionRequest(self.prompt, tuple(self._history[:-1]), self._preamble, self._tools,
                                         self._temperature, self._max_tokens,
                                         dict(extra) if extra is not None else None)  # fmt: skip
        self._request_pending = True

    def forbid_tools(self, verdict: Verdict, payload: Any) -> None:
        # the tools stay declared (a history holding tool calls stays valid); the model must answer
        assert self.request is not None
        self.request = evolve(self.request, tool_choice="none")

    def _next_prompt(self, steering: int) -> tuple[UserMessage, tuple[Message, ...]]:
        """The prompt and the history before it that the next call sends, with the first
        ``steering`` pending messages merged in (their parts after the prompt's, in order)."""
        history = self._history
        parts = tuple(part for message in self._steering[:steering] for part in message.content)
        last = history[-1]
        if isinstance(last, UserMessage):
            return (UserMessage(last.content + parts) if parts else last), tuple(history[:-1])
        return UserMessage(parts), tuple(history)

    def emit_text(self, verdict: Verdict, event: TextDelta) -> None:
        self._turn.add_text(event.text)  # type: ignore[union-attr]
        self._emit(StreamAssistantItem(event))

    def fast_text_delta(self, event: Any) -> Action | StreamAssistantItem:
        """The text delta's whole fast path, one call (see :mod:`.fastpath`): what ``fast`` does
        for other deltas - a stream is open and the event well-formed, else the generic handler
        raises; count the edge; run ``emit_text`` - with the item handed back, not queued."""
        text: object = event.text  # (``event: Any``: a compiled build must not refuse a malformed event itself)
        if not self._open or type(text) is not str:
            return self._on_text_delta(event)
        path = self._path
        if path.edge == _TEXT_DELTA_EDGE:
            path.count += 1
        else:
            path.take(_TEXT_DELTA_EDGE)
        turn = self._turn
        run = turn._text_run  # type: ignore[union-attr]  # TurnBuffer.add_text, inline
        if run is None:
            turn.add_text(text)  # type: ignore[union-attr]
        else:
            run.append(text)
        return StreamAssistantItem(event)

    written_fast: ClassVar[dict[str, str]] = {"emit_text": "fast_text_delta"}
    """For :func:`~.fastpath.compile_fast`: the fast functions this class writes itself."""

    def emit_tool_call_delta(self, verdict: Verdict, event: ToolCallDelta) -> None:
        self._turn.break_text()  # type: ignore[union-attr]
        self._emit(StreamAssistantItem(event))

    def emit_reasoning_delta(self, verdict: Verdict, event: ReasoningDelta) -> None:
        self._turn.add_reasoning_delta(event)  # type: ignore[union-attr]
        self._emit(StreamAssistantItem(event))

    def emit_reasoning(self, verdict: Verdict, event: Reasoning) -> None:
        self._turn.add_reasoning(event)  # type: ignore[union-attr]
        self._emit(StreamAssistantItem(event))

    def queue_tool_call(self, verdict: Verdict, event: ToolCallReady) -> None:
        self._turn.add_tool_call(event)  # type: ignore[union-attr]
        self._emit(StreamAssistantItem(event))

    def emit_final(self, verdict: Verdict, event: FinalEvent) -> None:
        self._emit(StreamAssistantItem(event))

    def commit_turn(self, verdict: Verdict, payload: Any) -> None:
        turn = self._turn
        assert turn is not None
        self._history.append(turn.message())
        self._last_text = turn.text()
        self._queued = turn.tool_calls
        self._turn = None

    def emit_final_response(self, verdict: Verdict, payload: Any) -> None:
        self._emit(FinalResponse(self._last_text, self.usage, tuple(self._history)))

    # ------------------------------------------------------------------ callbacks: the tool stage

    def begin_tools(self, verdict: Verdict, payload: Any) -> None:
        self._batch = ToolBatch(self._queued)
        self._queued = []

    def approve_tool(self, verdict: Verdict, index: int) -> None:
        self._batch.approve(index, verdict)  # type: ignore[union-attr]

    def skip_tool(self, verdict: Verdict, index: int) -> None:
        self._batch.skip(index, verdict)  # type: ignore[union-attr]

    def defer_tool(self, verdict: Verdict, index: int) -> None:
        self._batch.defer(index, verdict)  # type: ignore[union-attr]

    def record_output(self, verdict: Verdict, output: ToolOutput) -> None:
        self._batch.record(output)  # type: ignore[union-attr]

    def emit_tool_result(self, verdict: Verdict, index: int) -> None:
        result, call = self._batch.processed()  # type: ignore[union-attr]
        self._emit(StreamUserItem(result, call.internal_call_id))

    def send_tool_results(self, verdict: Verdict, payload: Any) -> None:
        batch = self._batch
        assert batch is not None
        self._history.append(batch.message())
        self._batch = None

    # ------------------------------------------------------------------ callbacks: the run stops

    def end_max_turns(self, verdict: Verdict, payload: Any) -> None:
        self._checkpoint = self._live_checkpoint()
        self.error = MaxTurnsExceeded(self.max_turns, tuple(self._history), self.prompt)

    def end_cancelled(self, verdict: Verdict, payload: Any) -> None:
        self._seal(f"the run was cancelled ({verdict.reason})")
        self.error = PromptCancelled(verdict.reason, tuple(self._history))

    def end_failed(self, verdict: Verdict, error: AgentFSMError) -> None:
        # the error's type only: its message may quote a provider's response, and the history is
        # sent back to a model
        self._seal(f"the run failed ({type(error).__name__})")
        error.history = tuple(self._history)
        self.error = error

    def end_usage_limit(self, verdict: Verdict, payload: Any) -> None:
        assert self._breach is not None
        limit, maximum, value = self._breach
        self._seal(f"the run reached its {limit} limit")
        self.error = UsageLimitExceeded(limit, maximum, value, self.usage, tuple(self._history))

    def end_awaiting_approval(self, verdict: Verdict, payload: Any) -> None:
        pending = tuple(c.tool_call for c in self.pending_approvals)
        self._seal("the call is awaiting approval")
        self.error = ApprovalRequired(pending, self.snapshot(), tuple(self._history))

    def _seal(self, why: str) -> None:
        if self._turn is None:  # else the turn's start, recorded by begin_turn, is the checkpoint
            self._checkpoint = self._live_checkpoint()
        self._pending = None
        self._open = False
        seal(self._history, self._turn, self._batch, why)
        self._turn = self._batch = None

    # ------------------------------------------------------------------ snapshots

    def snapshot(self) -> Snapshot:
        """The run as of its last completed step (see :mod:`agent_fsm.machine.snapshot`); any time."""
        cp = self._checkpoint_now()
        history = tuple(self._history[: cp.history_length])
        emitted = self._path.emitted_at(cp.mark)
        return Snapshot(
            cp.state, self.state, history, cp.turns, self.max_turns, cp.usage, emitted, cp.tools,
            steering=tuple(self._steering), limits=self.limits, tool_calls_run=cp.tool_calls,
            cancel_after_turn=self._cancel_after,
        )  # fmt: skip

    def _live_checkpoint(self) -> Checkpoint:
        """Where the machine is now: before a model call, or in the tool stage."""
        batch = self._batch
        state = S.AwaitingCompletion if batch is None else S.ExecutingTool
        tools = None if batch is None else batch.checkpoint()
        # calls handed out after the checkpoint's last result run again when it is resumed
        ran = self.tool_calls_run - (0 if batch is None else batch.handed_out_after_results())
        return Checkpoint(state, len(self._history), self.turns, self.usage, self._path.mark(), tools, ran)

    def _checkpoint_now(self) -> Checkpoint:
        if self.state in (S.AwaitingCompletion, S.ExecutingTool):
            return self._live_checkpoint()
        if self.state is S.Done:
            return Checkpoint(
                S.Done, len(self._history), self.turns, self.usage, self._path.mark(), None, self.tool_calls_run
            )
        return self._checkpoint  # Streaming: the turn's start; stopped: the last one before the end


def _wrap(error: BaseException, keep: type[AgentFSMError], kind: type[AgentFSMError], what: str) -> AgentFSMError:
    """``error`` if it is a ``keep``, else a ``kind`` naming it, with it as the cause."""
    if isinstance(error, keep):
        return error
    err = kind(f"{what}: {type(error).__name__}: {error}")
    err.__cause__ = error
    return err


def _is_verdict_of(answer: Any, trigger: str) -> bool:
    """Whether a hook's answer is a verdict its trigger takes: a kind it knows and a ``str``
    reason (which may become a tool result or an error's text). Read through ``Any``: compiled,
    a typed read would refuse a wrong type itself, with a ``TypeError`` from inside the machine."""
    return answer.kind in _VERDICTS[trigger] and type(answer.reason) is str


def _refusal(trigger: str, payload: Any) -> str:
    if trigger == "tool_call_ready" and isinstance(payload, ToolCallReady):
        return f"tool call id {payload.tool_call.id!r} was already used in this turn"
    return "no edge's guard holds"


_GENERIC_HANDLERS: Final[dict[type, Callable[[Any, Any], Action | StreamAssistantItem]]] = {
    TextDelta: TurnMachine._on_text_delta,
    ToolCallDelta: TurnMachine._on_tool_call_delta,
    ReasoningDelta: TurnMachine._on_reasoning_delta,
    Reasoning: TurnMachine._on_reasoning,
    ToolCallReady: TurnMachine._on_tool_call,
    FinalEvent: TurnMachine._on_final,
}
"""The handler of each model event's type."""
_FAST: Final = compile_fast(
    TurnMachine,
    {
        TextDelta: ("text_delta", "_on_text_delta"),
        ToolCallDelta: ("tool_call_delta", "_on_tool_call_delta"),
        ReasoningDelta: ("reasoning_delta", "_on_reasoning_delta"),
        Reasoning: ("reasoning", "_on_reasoning"),
    },
)
_FAST_HANDLERS: dict[frozenset[str], dict[type, Callable[[Any, Any], Action | StreamAssistantItem]]] = {}


def _handlers(asks: frozenset[str]) -> dict[type, Callable[[Any, Any], Action | StreamAssistantItem]]:
    """The handlers with the fast path: each delta whose guarding hook is not asked takes its fast
    function (made once per set of asked hooks, and shared)."""
    handlers = _FAST_HANDLERS.get(asks)
    if handlers is None:
        handlers = dict(_GENERIC_HANDLERS)
        for event_type, (trigger, fast) in _FAST.items():
            if trigger not in asks:
                handlers[event_type] = fast
        _FAST_HANDLERS[asks] = handlers
    return handlers
