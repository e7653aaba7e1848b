"""A hypothesis state machine that drives the sans-IO machine through its step API directly.

:class:`TurnMachineRules` plays a driver: mostly a correct one (it performs the action the machine
asked for, with drawn events, verdicts and tool outputs), sometimes a buggy one (any step-API call
with any argument). A small reference model says which calls are legal after which action; at every
step the rules check that legal calls are taken, that illegal ones raise ``IllegalTransition`` and
move a live run to ``Failed``, that terminal states absorb everything, and that the machine's
account (state, error, trace, history) stays consistent. Use it as is::

    from agent_fsm.testing.stateful import TurnMachineRules
    TestTurnMachine = TurnMachineRules.TestCase

The illegal-event edges of ``AwaitingCompletion`` and ``ExecutingTool`` are only reachable this way:
no driver that follows the protocol feeds a model event while a tool runs.
"""

from __future__ import annotations

from typing import Any, ClassVar

from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, precondition, rule

from ..errors import CompletionError, IllegalTransition, ToolServerError
from ..events import Final, ReasoningDelta, TextDelta, ToolCallDelta, ToolCallReady, event_problem
from ..hooks import HOOK_NAMES, HookAction, ToolCallHookAction
from ..machine import TurnMachine
from ..machine.protocol import NEXT_EVENT, NEXT_TOOL_OUTPUT, STOP, Action, CallHook, RunTools, SendRequest, ToolOutput
from ..machine.table import FINAL, State
from ..messages import Message, Reasoning, Text, ToolCall, ToolFunction, Usage
from .coverage import EdgeCoverage
from .invariants import check_ending, check_history_invariants, check_trace

__all__ = ["Op", "TurnMachineRules"]

Op = tuple[str, Any]
"""A step-API call: the method's name and its one argument (``None`` for none)."""

_NO_ARG = frozenset({"start", "model_end", "close"})
_DROPPED = frozenset(
    {"model_event", "model_end", "model_failed", "hook_answer", "hook_failed", "tool_output", "tool_failed"}
)
"""The calls that feed an outcome back: after an immediate cancel they answer STOP, changing nothing."""
_EVENT_TYPES = frozenset({TextDelta, ReasoningDelta, Reasoning, ToolCallDelta, ToolCallReady, Final})
_STREAM_ENDS = ["end", "end", "failed", "end", "close", "end"]


def _ready(call_id: str) -> ToolCallReady:
    return ToolCallReady(ToolCall(call_id, ToolFunction("t", {"n": 1})), f"int_{call_id}")


def _events(new_id: str) -> st.SearchStrategy[Any]:
    """Model events that are legal in an open stream (a tool call gets a fresh id). Tool calls
    come first: hypothesis favours the first entries, and calls lead to the tool stage."""
    return st.sampled_from(
        [
            _ready(new_id),
            TextDelta("a"),
            _ready(new_id),
            ToolCallDelta(new_id, f"int_{new_id}", name="t"),
            ReasoningDelta("r", id="rs"),
            TextDelta(""),
            ToolCallDelta(new_id, f"int_{new_id}", arguments='{"n":'),
            ReasoningDelta("r"),
            Reasoning(("whole",), id="rs", signature="sig"),
            Final(Usage(3, 2, 5)),
        ]
    )


_VERDICTS: list[Any] = [
    None,
    HookAction.cont(),
    ToolCallHookAction.skip("no"),
    ToolCallHookAction.defer("ask"),
    HookAction.terminate("stop"),
    ToolCallHookAction.cont(),
    None,
    ToolCallHookAction.terminate("stop"),
    "not a verdict",
]
_ANSWERS = st.sampled_from(_VERDICTS)
_HOOK_OPS = st.sampled_from([*(("hook_answer", v) for v in _VERDICTS), ("hook_failed", RuntimeError("hook broke"))])
_ANY_OP = st.one_of(  # hypothesis favours the first branch: calls no state allows come first
    st.tuples(st.just("model_event"), st.sampled_from(["junk", None, 7])),
    st.tuples(st.sampled_from(sorted(_NO_ARG)), st.none()),
    st.tuples(st.just("model_event"), _events("c0")),
    st.tuples(st.just("model_failed"), st.sampled_from([CompletionError("boom", status=500), OSError("reset")])),
    st.tuples(st.just("hook_answer"), _ANSWERS),
    st.tuples(st.just("hook_failed"), st.just(RuntimeError("hook broke"))),
    st.tuples(st.just("tool_output"), st.sampled_from([ToolOutput((Text("out"),)), "not an output"])),
    st.tuples(st.just("tool_failed"), st.sampled_from([ToolServerError("server gone"), RuntimeError("x")])),
)


class TurnMachineRules(RuleBasedStateMachine):
    """Step-API calls, mostly legal, sometimes not, against a reference model of legality.

    Set ``coverage`` (on a subclass) to collect every finished machine's trace; ``on_teardown``
    is called once per finished machine (the fuzz CLI counts examples with it).
    """

    coverage: ClassVar[EdgeCoverage | None] = None
    on_teardown: ClassVar[staticmethod[[], None] | None] = None

    def __init__(self) -> None:
        super().__init__()
        self.m = TurnMachine("go", max_turns=1)
        self.action: Action | None = None  # None: not started
        self.started = False
        self.final_seen = False
        self.turn_ids: set[str] = set()
        self.seen_history: tuple[Message, ...] = ()
        self.items: list[Any] = []
        self.steps_in: dict[State, int] = {}
        self.events_in_turn = 0
        self.misbehave: tuple[State | None, int] = (None, 0)
        self.stream_len = 0
        self.cancelled_now = False  # cancel("immediate") stopped the run: late answers are dropped

    @initialize(
        max_turns=st.integers(1, 4),
        live=st.lists(st.sampled_from(HOOK_NAMES), unique=True),
        concurrency=st.integers(1, 3),
        misbehave_in=st.sampled_from(
            [None, State.ExecutingTool, State.AwaitingCompletion, State.Streaming, State.ExecutingTool, None]
        ),
        misbehave_after=st.integers(0, 2),
        stream_len=st.integers(1, 4),
    )
    def make_machine(
        self,
        max_turns: int,
        live: list[str],
        concurrency: int,
        misbehave_in: State | None,
        misbehave_after: int,
        stream_len: int,
    ) -> None:
        """A fresh machine. The driver misbehaves once, at its ``misbehave_after``-th step in
        state ``misbehave_in`` (if the run gets there), and streams ``stream_len`` events a turn."""
        self.m = TurnMachine("go", max_turns=max_turns, live_hooks=live, tool_concurrency=concurrency)
        self.seen_history = self.m.history
        self.misbehave = (misbehave_in, misbehave_after)
        self.stream_len = stream_len

    # ------------------------------------------------------------------ the rules

    @precondition(lambda self: not self.m.done)
    @rule(data=st.data())
    def step(self, data: st.DataObject) -> None:
        """One call: what a correct driver would do, or (once a run) anything at all."""
        state = self.m.state
        n = self.steps_in.get(state, 0)
        self.steps_in[state] = n + 1
        misbehave = self.misbehave == (state, n)
        op = data.draw(_ANY_OP if misbehave else self._legal_ops(), label="misbehaving call" if misbehave else "call")
        self._do(op)

    @precondition(lambda self: self.started and self.misbehave[0] is None)
    @rule(mode=st.sampled_from(["immediate", "after_turn"]))
    def cancel(self, mode: str) -> None:
        """The run's caller cancels it, now or after the turn, at any point (also once it ended).
        Only in runs that will not misbehave: those must get to the state they misbehave in."""
        was_done = self.m.done
        action = self.m.cancel(mode, f"stateful {mode}")
        assert (action is STOP) == self.m.done, f"cancel({mode!r}) answered {action!r} in {self.m.state.value}"
        if mode == "immediate" and not was_done:
            assert self.m.state is State.Cancelled, f"cancel left the run in {self.m.state.value}"
            assert not self.m.outbox, "cancel left items to emit"
            self.cancelled_now = True
            self.action = STOP

    @precondition(lambda self: self.misbehave[0] is None)
    @rule(text=st.sampled_from(["steer a", "steer b"]))
    def steer(self, text: str) -> None:
        """A steering message, at any point: it goes with the next request, or stays pending (in
        runs that will not misbehave, like ``cancel``)."""
        self.m.steer(text)

    @precondition(lambda self: self.m.done)
    @rule(op=_ANY_OP)
    def poke_a_finished_run(self, op: Op) -> None:
        """Terminal states absorb: every call but ``close`` raises, and nothing changes."""
        self._do(op)

    # ------------------------------------------------------------------ the reference model

    def _legal_ops(self) -> st.SearchStrategy[Op]:
        a = self.action
        # A run that will misbehave in the tool stage heads there: hooks continue, turns call tools.
        heading = self.misbehave[0] is State.ExecutingTool and self.m.state is not State.ExecutingTool
        if a is None:
            return st.just(("start", None))
        if isinstance(a, CallHook):
            return st.just(("hook_answer", None)) if heading else _HOOK_OPS
        if a is NEXT_TOOL_OUTPUT or isinstance(a, RunTools):
            outputs = [("tool_output", ToolOutput((Text("out"),)))] * 6 + [
                ("tool_output", ToolOutput((), is_error=True))
            ]
            return st.sampled_from([*outputs, ("tool_failed", ToolServerError("server gone")), ("close", None)])
        # a stream is open: it carries ``stream_len`` events, then mostly ends
        if self.events_in_turn < self.stream_len and not self.final_seen:
            if heading:
                return st.just(("model_event", _ready(f"c{len(self.turn_ids)}")))
            return self._stream_op("event")
        return st.just(("model_end", None)) if heading else st.sampled_from(_STREAM_ENDS).flatmap(self._stream_op)

    def _stream_op(self, kind: str) -> st.SearchStrategy[Op]:
        if kind == "event":
            return st.tuples(st.just("model_event"), _events(f"c{len(self.turn_ids)}"))
        if kind == "failed":
            return st.just(("model_failed", CompletionError("boom", status=500)))
        return st.just(("model_end" if kind == "end" else "close", None))

    def _allowed(self, op: Op) -> bool:
        """Whether the machine must take ``op`` (rather than raise ``IllegalTransition``)."""
        kind, arg = op
        if kind == "close":
            return True
        if kind == "start":  # once; on a run closed before it started, it just answers STOP
            return not self.started
        if self.cancelled_now and kind in _DROPPED:  # what the driver was waiting for: dropped
            # (a model event is checked first: one that is no event, or malformed, is still refused)
            return kind != "model_event" or (type(arg) in _EVENT_TYPES and event_problem(arg) is None)
        a = self.action
        if self.m.done or a is None:
            return False
        if isinstance(a, CallHook):
            return kind in ("hook_answer", "hook_failed")
        if a is NEXT_TOOL_OUTPUT or isinstance(a, RunTools):
            return kind == "tool_failed" or (kind == "tool_output" and isinstance(arg, ToolOutput))
        if kind == "model_event":
            known = isinstance(arg, TextDelta | ReasoningDelta | Reasoning | ToolCallDelta | ToolCallReady | Final)
            reused = isinstance(arg, ToolCallReady) and arg.tool_call.id in self.turn_ids
            return known and not self.final_seen and not reused
        return kind in ("model_end", "model_failed")

    def _do(self, op: Op) -> None:
        kind, arg = op
        m = self.m
        before, history = m.state, m.history
        call = getattr(m, kind)
        if self._allowed(op):
            action = call() if kind in _NO_ARG else call(arg)
            self._took(op, action)
            return
        refused: IllegalTransition | None = None
        try:
            call() if kind in _NO_ARG else call(arg)
        except IllegalTransition as err:
            refused = err
        if refused is None:
            raise AssertionError(f"{kind}({arg!r}) is not allowed after {self.action!r} but was taken")
        assert refused.state == before.value, f"IllegalTransition names {refused.state}, the run was in {before.value}"
        assert refused.history == m.history, "IllegalTransition carries the run's history"
        if before in FINAL:
            assert m.state is before, f"terminal {before.value} moved to {m.state.value}"
            assert m.history == history, "a terminal run's history changed"
        else:
            assert m.state is State.Failed, f"an illegal call left the run in {m.state.value}, not Failed"
            assert m.error is not None
        self.action = STOP

    def _took(self, op: Op, action: Action) -> None:
        kind, arg = op
        if kind == "start":
            self.started = True
            assert not self.m.done or action is STOP, "start on a finished run must answer STOP"
        assert (
            action is STOP
            or isinstance(action, SendRequest | CallHook | RunTools)
            or action
            in (
                NEXT_EVENT,
                NEXT_TOOL_OUTPUT,
            )
        ), f"{kind} returned {action!r}, which is not an action"
        if kind == "model_event":
            self.events_in_turn += 1
            if isinstance(arg, Final):
                self.final_seen = True
            elif isinstance(arg, ToolCallReady):
                self.turn_ids.add(arg.tool_call.id)
        if isinstance(action, SendRequest):
            self.final_seen = False
            self.turn_ids = set()
            self.events_in_turn = 0
        if self.m.done and self.action is STOP:
            assert not self.m.outbox, "a finished run emitted an item"
        self.action = action

    # ------------------------------------------------------------------ invariants

    @invariant()
    def state_is_legal_and_matches_the_action(self) -> None:
        m = self.m
        assert isinstance(m.state, State)
        if self.action is not None:
            assert (self.action is STOP) == m.done, f"action {self.action!r} in state {m.state.value}"
        check_trace(m.trace, m.state)

    @invariant()
    def history_only_grows(self) -> None:
        now, seen = self.m.history, self.seen_history
        kept = now[: len(seen)]
        if kept != seen:  # delivered steering extends the prompt it joins, and nothing else
            last, grown = seen[-1], kept[-1]
            extended = type(grown) is type(last) and grown.content[: len(last.content)] == last.content
            assert kept[:-1] == seen[:-1], "the history was rewritten, not appended to"
            assert extended, "the history's last message was rewritten, not extended by steering"
        self.seen_history = now

    @invariant()
    def a_finished_run_is_whole(self) -> None:
        m = self.m
        self.items.extend(m.outbox)
        m.outbox.clear()
        if m.done:
            check_history_invariants(m.history)
            check_ending(m.state, m.error, m.error)
            if m.error is not None:
                assert m.error.history == m.history, "the ending error carries the run's history"

    def teardown(self) -> None:
        if self.coverage is not None:
            self.coverage.add(self.m.trace)
        if self.on_teardown is not None:
            self.on_teardown()
