"""The ``ExecutingTool`` stage of the machine: verdicts, runs and results of one turn's tool calls.

Calls are taken in call order. Each gets a verdict (``on_tool_call``, a recorded decision, or
"defer" for a tool that requires approval), at most ``window`` calls ahead of the results: one
at a time when tools run one by one, the whole batch first when they run concurrently. Approved
calls are handed to the driver in batches (``RunTools``); their outputs come back in batch order;
each result then passes ``on_tool_result`` and is emitted, in call order. If any verdict of the
window was "defer", the stage stops before running anything (``AwaitingApproval``).

This module holds the stage's state and its table callbacks; :class:`~agent_fsm.machine.TurnMachine`
inherits them. Like the machine, it does no I/O.
"""

from __future__ import annotations

from collections import deque
from typing import TYPE_CHECKING, Any, Final

from ..events import ToolCallReady
from ..hooks import HookAction, ToolCallHookAction, Verdict
from ..items import StreamItem, StreamUserItem
from ..messages import Message, Text, ToolResult, UserMessage
from .protocol import NEXT_TOOL_OUTPUT, Action, CallHook, RunTools, ToolOutput
from .table import State

if TYPE_CHECKING:
    from collections.abc import Callable

__all__ = ["ToolStage"]

_CONTINUE: Final = HookAction.cont()
_TOOL_CONTINUE: Final = ToolCallHookAction.cont()
_DEFER: Final = ToolCallHookAction.defer("the tool requires approval")


class ToolStage:
    """The tool stage's fields and callbacks (a mixin of ``TurnMachine``)."""

    # provided by TurnMachine
    state: State
    live: frozenset[str]
    tool_concurrency: int
    _pending: tuple[str, Any, str] | None
    _history: list[Message]
    _emit: Callable[[StreamItem], None]
    _approval_tools: frozenset[str]

    if TYPE_CHECKING:  # defined by TurnMachine or another stage

        def _fire(self, trigger: str, verdict: Verdict, payload: Any, *, must: bool = True) -> bool: ...

    def _reset_tools(self) -> None:
        self._calls: list[ToolCallReady] = []
        self._results: list[ToolResult | None] = []
        self._decided: dict[int, Verdict] = {}
        self._verdicts: dict[int, Verdict] = {}
        self._deferred: list[int] = []
        self._verdict_ix = 0
        self._result_ix = 0
        self._approved: list[int] = []
        self._running: deque[int] = deque()

    def _tool_step(self) -> Action | None:
        """What the tool stage needs next, or None once the run has left the stage."""
        calls = self._calls
        n = len(calls)
        window = n if self.tool_concurrency > 1 else 1
        while self.state is State.ExecutingTool:
            i = self._verdict_ix
            if i < n and i < self._result_ix + window:
                decided = self._decided.pop(i, None)
                if decided is not None:
                    self._fire("tool_verdict", decided, i)
                elif calls[i].tool_call.function.name in self._approval_tools:
                    self._fire("tool_verdict", _DEFER, i)
                elif "on_tool_call" in self.live:
                    call = calls[i]
                    fn = call.tool_call.function
                    self._pending = ("tool_verdict", i, "on_tool_call")
                    return CallHook("on_tool_call", (fn.name, call.tool_call.id, call.internal_call_id, fn.arguments))
                else:
                    self._fire("tool_verdict", _TOOL_CONTINUE, i)
                continue
            if self._fire("await_approval", _CONTINUE, None, must=False):
                return None
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

    # ------------------------------------------------------------------ conditions and callbacks

    def calls_deferred(self, verdict: Verdict, payload: Any) -> bool:
        return bool(self._deferred)

    def begin_tools(self, verdict: Verdict, payload: Any) -> None:
        self._results = [None] * len(self._calls)
        self._decided = {}
        self._verdicts = {}
        self._deferred = []
        self._verdict_ix = self._result_ix = 0
        self._approved = []
        self._running.clear()

    def approve_tool(self, verdict: Verdict, index: int) -> None:
        self._approved.append(index)
        self._verdicts[index] = verdict
        self._verdict_ix += 1

    def skip_tool(self, verdict: Verdict, index: int) -> None:
        call = self._calls[index].tool_call
        self._results[index] = ToolResult(call.id, (Text(verdict.reason),), call.call_id)
        self._verdicts[index] = verdict
        self._verdict_ix += 1

    def defer_tool(self, verdict: Verdict, index: int) -> None:
        self._deferred.append(index)
        self._verdicts[index] = verdict
        self._verdict_ix += 1

    def record_output(self, verdict: Verdict, output: ToolOutput) -> None:
        index = self._running.popleft()
        call = self._calls[index].tool_call
        self._results[index] = ToolResult(call.id, output.content or (Text(""),), call.call_id, output.is_error)

    def emit_tool_result(self, verdict: Verdict, index: int) -> None:
        result = self._results[index]
        assert result is not None
        self._emit(StreamUserItem(result, self._calls[index].internal_call_id))
        self._result_ix += 1

    def send_tool_results(self, verdict: Verdict, payload: Any) -> None:
        self._history.append(UserMessage(tuple(r for r in self._results if r is not None)))
        self._calls = []
        self._results = []

    # ------------------------------------------------------------------ checkpoints

    @property
    def pending_approvals(self) -> tuple[ToolCallReady, ...]:
        """The calls waiting for an approval (in ``AwaitingApproval``), in call order."""
        return tuple(self._calls[i] for i in self._deferred)

    def _stage_decisions(self) -> list[Verdict]:
        """The verdicts already given for the calls after the last processed result, in order."""
        return [self._verdicts[i] for i in range(self._result_ix, self._verdict_ix)]
