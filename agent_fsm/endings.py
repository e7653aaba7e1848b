"""Where a run stops: checkpoints, sealing the history, and recording how the run ended.

Entering a stop state (``MaxTurnsExceeded``, ``Cancelled``, ``Failed``, ``AwaitingApproval``)
first remembers the last checkpoint - what a snapshot of the stopped run resumes from - then
*seals* the history: the interrupted turn's partial assistant message is appended, and every
tool call without a result gets a synthetic error result (in history only, never emitted), so
the history stays valid to send back to a provider. ``TurnMachine`` inherits these.
"""

from __future__ import annotations

from collections import deque
from typing import TYPE_CHECKING, Any

from .errors import AgentFSMError, ApprovalRequired, MaxTurnsExceeded, PromptCancelled
from .events import ToolCallReady
from .hooks import Verdict
from .messages import AssistantMessage, Message, Text, ToolResult, Usage, UserMessage
from .snapshot import Snapshot, ToolStageSnapshot
from .table import State
from .turn import TurnBuffer

__all__ = ["Endings"]

# A checkpoint: (state to resume in, history length, turns, usage, trace mark, tool stage). The trace
# mark - (trace length, count of its last entry) - says how many items were emitted by then, counted
# only when a snapshot asks: nothing is counted per item.
TraceMark = tuple[int, int]
Checkpoint = tuple[State, int, int, Usage, TraceMark, "ToolStageSnapshot | None"]


class Endings:
    """Checkpoints and stop-state callbacks (a mixin of ``TurnMachine``)."""

    # provided by TurnMachine and the other stages
    state: State
    max_turns: int
    turns: int
    usage: Usage
    error: AgentFSMError | None
    _history: list[Message]
    _pending: tuple[str, Any, str] | None
    _open: bool
    _turn: TurnBuffer | None
    _calls: list[ToolCallReady]
    _results: list[ToolResult | None]
    _running: deque[int]
    _result_ix: int
    _checkpoint: Checkpoint

    if TYPE_CHECKING:  # defined by TurnMachine or another stage

        @property
        def items_emitted(self) -> int: ...

        def _trace_mark(self) -> TraceMark: ...

        def _emitted_at(self, mark: TraceMark) -> int: ...

        @property
        def pending_approvals(self) -> tuple[ToolCallReady, ...]: ...

        def _stage_decisions(self) -> list[Verdict]: ...

    def snapshot(self) -> Snapshot:
        """The run as of its last completed step (see :mod:`agent_fsm.snapshot`); any time."""
        state, length, turns, usage, mark, stage = self._checkpoint_now()
        emitted = self._emitted_at(mark)
        return Snapshot(state, self.state, tuple(self._history[:length]), turns, self.max_turns, usage, emitted, stage)

    def _live_checkpoint(self, in_tools: bool) -> Checkpoint:
        """The checkpoint the machine is at right now: before a model call, or in the tool stage."""
        if not in_tools:
            return (State.AwaitingCompletion, len(self._history), self.turns, self.usage, self._trace_mark(), None)
        done = tuple(r for r in self._results[: self._result_ix] if r is not None)
        stage = ToolStageSnapshot(tuple(self._calls), done, tuple(self._stage_decisions()))
        return (State.ExecutingTool, len(self._history), self.turns, self.usage, self._trace_mark(), stage)

    def _checkpoint_now(self) -> Checkpoint:
        if self.state in (State.AwaitingCompletion, State.ExecutingTool):
            return self._live_checkpoint(self.state is State.ExecutingTool)
        if self.state is State.Done:
            return (State.Done, len(self._history), self.turns, self.usage, self._trace_mark(), None)
        return self._checkpoint  # Streaming: the turn's start; stopped: the last one before the end

    def _checkpoint_turn_start(self) -> None:
        self._checkpoint = self._live_checkpoint(in_tools=False)

    # ------------------------------------------------------------------ stop-state callbacks

    def end_max_turns(self, verdict: Verdict, payload: Any) -> None:
        self._checkpoint = self._live_checkpoint(in_tools=False)
        prompt = self._history[-1]
        assert isinstance(prompt, UserMessage)
        self.error = MaxTurnsExceeded(self.max_turns, tuple(self._history), prompt)

    def end_cancelled(self, verdict: Verdict, payload: Any) -> None:
        self._seal(f"the run was cancelled ({verdict.reason})")
        self.error = PromptCancelled(verdict.reason, tuple(self._history))

    def end_failed(self, verdict: Verdict, error: AgentFSMError) -> None:
        # the error's type only: its message may quote a provider's response, and the history is
        # sent back to a model
        self._seal(f"the run failed ({type(error).__name__})")
        error.history = tuple(self._history)
        self.error = error

    def end_awaiting_approval(self, verdict: Verdict, payload: Any) -> None:
        pending = tuple(c.tool_call for c in self.pending_approvals)
        self._seal("the call is awaiting approval")
        self.error = ApprovalRequired(pending, self.snapshot(), tuple(self._history))

    def _seal(self, why: str) -> None:
        """Close what the run left open, so that its history stays valid to send back."""
        if self._turn is None:  # else the turn's start, recorded by begin_turn, is the checkpoint
            self._checkpoint = self._live_checkpoint(in_tools=bool(self._calls))
        self._pending = None
        self._open = False
        calls: list[ToolCallReady] = []
        results: list[ToolResult | None] = []
        running = set(self._running)  # handed to the driver, no output yet: they may have had effects
        turn = self._turn
        if turn is not None:
            self._turn = None
            if not turn.is_empty:
                self._history.append(AssistantMessage(turn.content()))
                calls, results = turn.tool_calls, [None] * len(turn.tool_calls)
        elif self._calls:
            calls, results = self._calls, self._results
        if calls:
            not_run = f"Tool call not executed: {why}"
            stopped = f"Tool call cancelled while running: {why}. It may have had effects."
            self._history.append(
                UserMessage(
                    tuple(
                        r
                        if r is not None
                        else ToolResult(
                            c.tool_call.id, (Text(stopped if i in running else not_run),), c.tool_call.call_id, True
                        )
                        for i, (c, r) in enumerate(zip(calls, results, strict=True))
                    )
                )
            )
            self._calls, self._results = [], []
