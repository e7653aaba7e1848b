"""The machine's edges as straight-line code: one method per trigger. GENERATED - do not edit.

Written from the table by ``python -m agent_fsm.machine._codegen`` (``make codegen``; see that
module for why); ``tests/test_codegen.py`` fails when this file is not what the table gives.

:class:`Edges` is the base of :class:`~agent_fsm.machine.TurnMachine`. Its ``fire_<trigger>(verdict,
payload, must)`` takes the first edge of the trigger from the machine's state whose conditions
hold, in table order (as ``transitions`` tries them): it counts the edge in the machine's path,
then runs what ``transitions`` runs for it, as direct calls - or, with ``fast_path=False``, has
``transitions`` take it (``_reference``). It returns whether an edge was taken. When no edge's
conditions hold it raises ``IllegalTransition`` if ``must``, else returns False; a state with no
edge of the trigger at all always raises. The guards and callbacks the table names are declared
here and written by the machine.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Final

from mypy_extensions import mypyc_attr

from ..errors import IllegalTransition
from ..hooks import Verdict
from ._path import Path
from .table import State

__all__ = ["FIRE", "Edges"]
_AwaitingCompletion: Final = State.AwaitingCompletion
_Streaming: Final = State.Streaming
_ExecutingTool: Final = State.ExecutingTool
_Finalizing: Final = State.Finalizing
_Done: Final = State.Done
_MaxTurnsExceeded: Final = State.MaxTurnsExceeded
_Cancelled: Final = State.Cancelled
_Failed: Final = State.Failed
_AwaitingApproval: Final = State.AwaitingApproval
_UsageLimitExceeded: Final = State.UsageLimitExceeded


@mypyc_attr(allow_interpreted_subclasses=True)
class Edges:
    """Taking the table's edges; the machine supplies the state, the path and every named step."""

    state: State
    _path: Path
    _open: bool
    _fast: bool

    def _reference(self, trigger: str, verdict: Verdict, payload: Any) -> None:
        raise NotImplementedError

    def _refused(self, trigger: str, payload: Any) -> IllegalTransition:
        raise NotImplementedError

    def _illegal(self, event: str, detail: str) -> IllegalTransition:
        raise NotImplementedError

    # the table's guards

    def budget_spent(self, verdict: Verdict, payload: Any) -> bool:
        raise NotImplementedError

    def call_id_is_new(self, verdict: Verdict, payload: Any) -> bool:
        raise NotImplementedError

    def calls_deferred(self, verdict: Verdict, payload: Any) -> bool:
        raise NotImplementedError

    def cancel_requested(self, verdict: Verdict, payload: Any) -> bool:
        raise NotImplementedError

    def final_answer_due(self, verdict: Verdict, payload: Any) -> bool:
        raise NotImplementedError

    def has_tool_calls(self, verdict: Verdict, payload: Any) -> bool:
        raise NotImplementedError

    def steering_continues(self, verdict: Verdict, payload: Any) -> bool:
        raise NotImplementedError

    def tokens_exceeded(self, verdict: Verdict, payload: Any) -> bool:
        raise NotImplementedError

    def tokens_reached(self, verdict: Verdict, payload: Any) -> bool:
        raise NotImplementedError

    def tool_calls_exceeded(self, verdict: Verdict, payload: Any) -> bool:
        raise NotImplementedError

    # the table's callbacks

    def approve_tool(self, verdict: Verdict, payload: Any) -> None:
        raise NotImplementedError

    def begin_tools(self, verdict: Verdict, payload: Any) -> None:
        raise NotImplementedError

    def begin_turn(self, verdict: Verdict, payload: Any) -> None:
        raise NotImplementedError

    def commit_turn(self, verdict: Verdict, payload: Any) -> None:
        raise NotImplementedError

    def defer_tool(self, verdict: Verdict, payload: Any) -> None:
        raise NotImplementedError

    def emit_final(self, verdict: Verdict, payload: Any) -> None:
        raise NotImplementedError

    def emit_final_response(self, verdict: Verdict, payload: Any) -> None:
        raise NotImplementedError

    def emit_reasoning(self, verdict: Verdict, payload: Any) -> None:
        raise NotImplementedError

    def emit_reasoning_delta(self, verdict: Verdict, payload: Any) -> None:
        raise NotImplementedError

    def emit_text(self, verdict: Verdict, payload: Any) -> None:
        raise NotImplementedError

    def emit_tool_call_delta(self, verdict: Verdict, payload: Any) -> None:
        raise NotImplementedError

    def emit_tool_result(self, verdict: Verdict, payload: Any) -> None:
        raise NotImplementedError

    def end_awaiting_approval(self, verdict: Verdict, payload: Any) -> None:
        raise NotImplementedError

    def end_cancelled(self, verdict: Verdict, payload: Any) -> None:
        raise NotImplementedError

    def end_failed(self, verdict: Verdict, payload: Any) -> None:
        raise NotImplementedError

    def end_max_turns(self, verdict: Verdict, payload: Any) -> None:
        raise NotImplementedError

    def end_usage_limit(self, verdict: Verdict, payload: Any) -> None:
        raise NotImplementedError

    def forbid_tools(self, verdict: Verdict, payload: Any) -> None:
        raise NotImplementedError

    def queue_tool_call(self, verdict: Verdict, payload: Any) -> None:
        raise NotImplementedError

    def record_output(self, verdict: Verdict, payload: Any) -> None:
        raise NotImplementedError

    def send_tool_results(self, verdict: Verdict, payload: Any) -> None:
        raise NotImplementedError

    def skip_tool(self, verdict: Verdict, payload: Any) -> None:
        raise NotImplementedError

    # the triggers

    def fire_turn_end_cancel(self, verdict: Verdict, payload: Any, must: bool = True) -> bool:
        state = self.state
        if state is _AwaitingCompletion:
            if self.cancel_requested(verdict, payload):
                # edge 0: turn_end_cancel, AwaitingCompletion -> Cancelled
                path = self._path
                if path.edge == 0:
                    path.count += 1
                else:
                    path.take(0)
                self._open = False
                if self._fast:
                    self.state = _Cancelled
                    self.end_cancelled(verdict, payload)
                else:
                    self._reference("turn_end_cancel", verdict, payload)
                return True
            if must:
                raise self._refused("turn_end_cancel", payload)
            return False
        raise self._illegal("turn_end_cancel", f"{state.value} has no turn_end_cancel edge")

    def fire_turn_limit(self, verdict: Verdict, payload: Any, must: bool = True) -> bool:
        state = self.state
        if state is _AwaitingCompletion:
            if self.budget_spent(verdict, payload):
                # edge 1: turn_limit, AwaitingCompletion -> MaxTurnsExceeded
                path = self._path
                if path.edge == 1:
                    path.count += 1
                else:
                    path.take(1)
                self._open = False
                if self._fast:
                    self.state = _MaxTurnsExceeded
                    self.end_max_turns(verdict, payload)
                else:
                    self._reference("turn_limit", verdict, payload)
                return True
            if must:
                raise self._refused("turn_limit", payload)
            return False
        raise self._illegal("turn_limit", f"{state.value} has no turn_limit edge")

    def fire_usage_limit(self, verdict: Verdict, payload: Any, must: bool = True) -> bool:
        state = self.state
        if state is _AwaitingCompletion:
            if self.tokens_reached(verdict, payload):
                # edge 2: usage_limit, AwaitingCompletion -> UsageLimitExceeded
                path = self._path
                if path.edge == 2:
                    path.count += 1
                else:
                    path.take(2)
                self._open = False
                if self._fast:
                    self.state = _UsageLimitExceeded
                    self.end_usage_limit(verdict, payload)
                else:
                    self._reference("usage_limit", verdict, payload)
                return True
            if must:
                raise self._refused("usage_limit", payload)
            return False
        if state is _ExecutingTool:
            if self.tool_calls_exceeded(verdict, payload):
                # edge 33: usage_limit, ExecutingTool -> UsageLimitExceeded
                path = self._path
                if path.edge == 33:
                    path.count += 1
                else:
                    path.take(33)
                self._open = False
                if self._fast:
                    self.state = _UsageLimitExceeded
                    self.end_usage_limit(verdict, payload)
                else:
                    self._reference("usage_limit", verdict, payload)
                return True
            if must:
                raise self._refused("usage_limit", payload)
            return False
        raise self._illegal("usage_limit", f"{state.value} has no usage_limit edge")

    def fire_request(self, verdict: Verdict, payload: Any, must: bool = True) -> bool:
        state = self.state
        if state is _AwaitingCompletion:
            if verdict.kind == "continue" and self.final_answer_due(verdict, payload):
                # edge 3: request, AwaitingCompletion -> Streaming
                path = self._path
                if path.edge == 3:
                    path.count += 1
                else:
                    path.take(3)
                self._open = False
                if self._fast:
                    self.state = _Streaming
                    self.begin_turn(verdict, payload)
                    self.forbid_tools(verdict, payload)
                else:
                    self._reference("request", verdict, payload)
                return True
            if verdict.kind == "continue":
                # edge 4: request, AwaitingCompletion -> Streaming
                path = self._path
                if path.edge == 4:
                    path.count += 1
                else:
                    path.take(4)
                self._open = False
                if self._fast:
                    self.state = _Streaming
                    self.begin_turn(verdict, payload)
                else:
                    self._reference("request", verdict, payload)
                return True
            if verdict.kind == "terminate":
                # edge 5: request, AwaitingCompletion -> Cancelled
                path = self._path
                if path.edge == 5:
                    path.count += 1
                else:
                    path.take(5)
                self._open = False
                if self._fast:
                    self.state = _Cancelled
                    self.end_cancelled(verdict, payload)
                else:
                    self._reference("request", verdict, payload)
                return True
            if must:
                raise self._refused("request", payload)
            return False
        raise self._illegal("request", f"{state.value} has no request edge")

    def fire_cancel(self, verdict: Verdict, payload: Any, must: bool = True) -> bool:
        state = self.state
        if state is _AwaitingCompletion:
            # edge 6: cancel, AwaitingCompletion -> Cancelled
            path = self._path
            if path.edge == 6:
                path.count += 1
            else:
                path.take(6)
            self._open = False
            if self._fast:
                self.state = _Cancelled
                self.end_cancelled(verdict, payload)
            else:
                self._reference("cancel", verdict, payload)
            return True
        if state is _Streaming:
            # edge 24: cancel, Streaming -> Cancelled
            path = self._path
            if path.edge == 24:
                path.count += 1
            else:
                path.take(24)
            self._open = False
            if self._fast:
                self.state = _Cancelled
                self.end_cancelled(verdict, payload)
            else:
                self._reference("cancel", verdict, payload)
            return True
        if state is _ExecutingTool:
            # edge 39: cancel, ExecutingTool -> Cancelled
            path = self._path
            if path.edge == 39:
                path.count += 1
            else:
                path.take(39)
            self._open = False
            if self._fast:
                self.state = _Cancelled
                self.end_cancelled(verdict, payload)
            else:
                self._reference("cancel", verdict, payload)
            return True
        raise self._illegal("cancel", f"{state.value} has no cancel edge")

    def fire_close(self, verdict: Verdict, payload: Any, must: bool = True) -> bool:
        state = self.state
        if state is _AwaitingCompletion:
            # edge 7: close, AwaitingCompletion -> Cancelled
            path = self._path
            if path.edge == 7:
                path.count += 1
            else:
                path.take(7)
            self._open = False
            if self._fast:
                self.state = _Cancelled
                self.end_cancelled(verdict, payload)
            else:
                self._reference("close", verdict, payload)
            return True
        if state is _Streaming:
            # edge 25: close, Streaming -> Cancelled
            path = self._path
            if path.edge == 25:
                path.count += 1
            else:
                path.take(25)
            self._open = False
            if self._fast:
                self.state = _Cancelled
                self.end_cancelled(verdict, payload)
            else:
                self._reference("close", verdict, payload)
            return True
        if state is _ExecutingTool:
            # edge 40: close, ExecutingTool -> Cancelled
            path = self._path
            if path.edge == 40:
                path.count += 1
            else:
                path.take(40)
            self._open = False
            if self._fast:
                self.state = _Cancelled
                self.end_cancelled(verdict, payload)
            else:
                self._reference("close", verdict, payload)
            return True
        raise self._illegal("close", f"{state.value} has no close edge")

    def fire_hook_error(self, verdict: Verdict, payload: Any, must: bool = True) -> bool:
        state = self.state
        if state is _AwaitingCompletion:
            # edge 8: hook_error, AwaitingCompletion -> Failed
            path = self._path
            if path.edge == 8:
                path.count += 1
            else:
                path.take(8)
            self._open = False
            if self._fast:
                self.state = _Failed
                self.end_failed(verdict, payload)
            else:
                self._reference("hook_error", verdict, payload)
            return True
        if state is _Streaming:
            # edge 26: hook_error, Streaming -> Failed
            path = self._path
            if path.edge == 26:
                path.count += 1
            else:
                path.take(26)
            self._open = False
            if self._fast:
                self.state = _Failed
                self.end_failed(verdict, payload)
            else:
                self._reference("hook_error", verdict, payload)
            return True
        if state is _ExecutingTool:
            # edge 41: hook_error, ExecutingTool -> Failed
            path = self._path
            if path.edge == 41:
                path.count += 1
            else:
                path.take(41)
            self._open = False
            if self._fast:
                self.state = _Failed
                self.end_failed(verdict, payload)
            else:
                self._reference("hook_error", verdict, payload)
            return True
        raise self._illegal("hook_error", f"{state.value} has no hook_error edge")

    def fire_illegal_event(self, verdict: Verdict, payload: Any, must: bool = True) -> bool:
        state = self.state
        if state is _AwaitingCompletion:
            # edge 9: illegal_event, AwaitingCompletion -> Failed
            path = self._path
            if path.edge == 9:
                path.count += 1
            else:
                path.take(9)
            self._open = False
            if self._fast:
                self.state = _Failed
                self.end_failed(verdict, payload)
            else:
                self._reference("illegal_event", verdict, payload)
            return True
        if state is _Streaming:
            # edge 27: illegal_event, Streaming -> Failed
            path = self._path
            if path.edge == 27:
                path.count += 1
            else:
                path.take(27)
            self._open = False
            if self._fast:
                self.state = _Failed
                self.end_failed(verdict, payload)
            else:
                self._reference("illegal_event", verdict, payload)
            return True
        if state is _ExecutingTool:
            # edge 42: illegal_event, ExecutingTool -> Failed
            path = self._path
            if path.edge == 42:
                path.count += 1
            else:
                path.take(42)
            self._open = False
            if self._fast:
                self.state = _Failed
                self.end_failed(verdict, payload)
            else:
                self._reference("illegal_event", verdict, payload)
            return True
        raise self._illegal("illegal_event", f"{state.value} has no illegal_event edge")

    def fire_text_delta(self, verdict: Verdict, payload: Any, must: bool = True) -> bool:
        state = self.state
        if state is _Streaming:
            if verdict.kind == "continue":
                # edge 10: text_delta, Streaming -> (stays)
                path = self._path
                if path.edge == 10:
                    path.count += 1
                else:
                    path.take(10)
                if self._fast:
                    self.emit_text(verdict, payload)
                else:
                    self._reference("text_delta", verdict, payload)
                return True
            if verdict.kind == "terminate":
                # edge 11: text_delta, Streaming -> Cancelled
                path = self._path
                if path.edge == 11:
                    path.count += 1
                else:
                    path.take(11)
                self._open = False
                if self._fast:
                    self.state = _Cancelled
                    self.end_cancelled(verdict, payload)
                else:
                    self._reference("text_delta", verdict, payload)
                return True
            if must:
                raise self._refused("text_delta", payload)
            return False
        raise self._illegal("text_delta", f"{state.value} has no text_delta edge")

    def fire_tool_call_delta(self, verdict: Verdict, payload: Any, must: bool = True) -> bool:
        state = self.state
        if state is _Streaming:
            if verdict.kind == "continue":
                # edge 12: tool_call_delta, Streaming -> (stays)
                path = self._path
                if path.edge == 12:
                    path.count += 1
                else:
                    path.take(12)
                if self._fast:
                    self.emit_tool_call_delta(verdict, payload)
                else:
                    self._reference("tool_call_delta", verdict, payload)
                return True
            if verdict.kind == "terminate":
                # edge 13: tool_call_delta, Streaming -> Cancelled
                path = self._path
                if path.edge == 13:
                    path.count += 1
                else:
                    path.take(13)
                self._open = False
                if self._fast:
                    self.state = _Cancelled
                    self.end_cancelled(verdict, payload)
                else:
                    self._reference("tool_call_delta", verdict, payload)
                return True
            if must:
                raise self._refused("tool_call_delta", payload)
            return False
        raise self._illegal("tool_call_delta", f"{state.value} has no tool_call_delta edge")

    def fire_reasoning_delta(self, verdict: Verdict, payload: Any, must: bool = True) -> bool:
        state = self.state
        if state is _Streaming:
            # edge 14: reasoning_delta, Streaming -> (stays)
            path = self._path
            if path.edge == 14:
                path.count += 1
            else:
                path.take(14)
            if self._fast:
                self.emit_reasoning_delta(verdict, payload)
            else:
                self._reference("reasoning_delta", verdict, payload)
            return True
        raise self._illegal("reasoning_delta", f"{state.value} has no reasoning_delta edge")

    def fire_reasoning(self, verdict: Verdict, payload: Any, must: bool = True) -> bool:
        state = self.state
        if state is _Streaming:
            # edge 15: reasoning, Streaming -> (stays)
            path = self._path
            if path.edge == 15:
                path.count += 1
            else:
                path.take(15)
            if self._fast:
                self.emit_reasoning(verdict, payload)
            else:
                self._reference("reasoning", verdict, payload)
            return True
        raise self._illegal("reasoning", f"{state.value} has no reasoning edge")

    def fire_tool_call_ready(self, verdict: Verdict, payload: Any, must: bool = True) -> bool:
        state = self.state
        if state is _Streaming:
            if self.call_id_is_new(verdict, payload):
                # edge 16: tool_call_ready, Streaming -> (stays)
                path = self._path
                if path.edge == 16:
                    path.count += 1
                else:
                    path.take(16)
                if self._fast:
                    self.queue_tool_call(verdict, payload)
                else:
                    self._reference("tool_call_ready", verdict, payload)
                return True
            if must:
                raise self._refused("tool_call_ready", payload)
            return False
        raise self._illegal("tool_call_ready", f"{state.value} has no tool_call_ready edge")

    def fire_final(self, verdict: Verdict, payload: Any, must: bool = True) -> bool:
        state = self.state
        if state is _Streaming:
            if verdict.kind == "continue":
                # edge 17: final, Streaming -> (stays)
                path = self._path
                if path.edge == 17:
                    path.count += 1
                else:
                    path.take(17)
                if self._fast:
                    self.emit_final(verdict, payload)
                else:
                    self._reference("final", verdict, payload)
                return True
            if verdict.kind == "terminate":
                # edge 18: final, Streaming -> Cancelled
                path = self._path
                if path.edge == 18:
                    path.count += 1
                else:
                    path.take(18)
                self._open = False
                if self._fast:
                    self.state = _Cancelled
                    self.end_cancelled(verdict, payload)
                else:
                    self._reference("final", verdict, payload)
                return True
            if must:
                raise self._refused("final", payload)
            return False
        raise self._illegal("final", f"{state.value} has no final edge")

    def fire_stream_end(self, verdict: Verdict, payload: Any, must: bool = True) -> bool:
        state = self.state
        if state is _Streaming:
            if self.has_tool_calls(verdict, payload) and self.tokens_exceeded(verdict, payload):
                # edge 19: stream_end, Streaming -> UsageLimitExceeded
                path = self._path
                if path.edge == 19:
                    path.count += 1
                else:
                    path.take(19)
                self._open = False
                if self._fast:
                    self.commit_turn(verdict, payload)
                    self.begin_tools(verdict, payload)
                    self.state = _UsageLimitExceeded
                    self.end_usage_limit(verdict, payload)
                else:
                    self._reference("stream_end", verdict, payload)
                return True
            if self.has_tool_calls(verdict, payload):
                # edge 20: stream_end, Streaming -> ExecutingTool
                path = self._path
                if path.edge == 20:
                    path.count += 1
                else:
                    path.take(20)
                self._open = False
                if self._fast:
                    self.commit_turn(verdict, payload)
                    self.state = _ExecutingTool
                    self.begin_tools(verdict, payload)
                else:
                    self._reference("stream_end", verdict, payload)
                return True
            if self.steering_continues(verdict, payload) and not self.has_tool_calls(verdict, payload):
                # edge 21: stream_end, Streaming -> AwaitingCompletion
                path = self._path
                if path.edge == 21:
                    path.count += 1
                else:
                    path.take(21)
                self._open = False
                if self._fast:
                    self.commit_turn(verdict, payload)
                    self.state = _AwaitingCompletion
                else:
                    self._reference("stream_end", verdict, payload)
                return True
            if not self.has_tool_calls(verdict, payload):
                # edge 22: stream_end, Streaming -> Finalizing
                path = self._path
                if path.edge == 22:
                    path.count += 1
                else:
                    path.take(22)
                self._open = False
                if self._fast:
                    self.commit_turn(verdict, payload)
                    self.state = _Finalizing
                else:
                    self._reference("stream_end", verdict, payload)
                return True
            if must:
                raise self._refused("stream_end", payload)
            return False
        raise self._illegal("stream_end", f"{state.value} has no stream_end edge")

    def fire_model_error(self, verdict: Verdict, payload: Any, must: bool = True) -> bool:
        state = self.state
        if state is _Streaming:
            # edge 23: model_error, Streaming -> Failed
            path = self._path
            if path.edge == 23:
                path.count += 1
            else:
                path.take(23)
            self._open = False
            if self._fast:
                self.state = _Failed
                self.end_failed(verdict, payload)
            else:
                self._reference("model_error", verdict, payload)
            return True
        raise self._illegal("model_error", f"{state.value} has no model_error edge")

    def fire_tool_verdict(self, verdict: Verdict, payload: Any, must: bool = True) -> bool:
        state = self.state
        if state is _ExecutingTool:
            if verdict.kind == "continue":
                # edge 28: tool_verdict, ExecutingTool -> (stays)
                path = self._path
                if path.edge == 28:
                    path.count += 1
                else:
                    path.take(28)
                if self._fast:
                    self.approve_tool(verdict, payload)
                else:
                    self._reference("tool_verdict", verdict, payload)
                return True
            if verdict.kind == "skip":
                # edge 29: tool_verdict, ExecutingTool -> (stays)
                path = self._path
                if path.edge == 29:
                    path.count += 1
                else:
                    path.take(29)
                if self._fast:
                    self.skip_tool(verdict, payload)
                else:
                    self._reference("tool_verdict", verdict, payload)
                return True
            if verdict.kind == "defer":
                # edge 30: tool_verdict, ExecutingTool -> (stays)
                path = self._path
                if path.edge == 30:
                    path.count += 1
                else:
                    path.take(30)
                if self._fast:
                    self.defer_tool(verdict, payload)
                else:
                    self._reference("tool_verdict", verdict, payload)
                return True
            if verdict.kind == "terminate":
                # edge 31: tool_verdict, ExecutingTool -> Cancelled
                path = self._path
                if path.edge == 31:
                    path.count += 1
                else:
                    path.take(31)
                self._open = False
                if self._fast:
                    self.state = _Cancelled
                    self.end_cancelled(verdict, payload)
                else:
                    self._reference("tool_verdict", verdict, payload)
                return True
            if must:  # type: ignore[unreachable]
                raise self._refused("tool_verdict", payload)
            return False
        raise self._illegal("tool_verdict", f"{state.value} has no tool_verdict edge")

    def fire_await_approval(self, verdict: Verdict, payload: Any, must: bool = True) -> bool:
        state = self.state
        if state is _ExecutingTool:
            if self.calls_deferred(verdict, payload):
                # edge 32: await_approval, ExecutingTool -> AwaitingApproval
                path = self._path
                if path.edge == 32:
                    path.count += 1
                else:
                    path.take(32)
                self._open = False
                if self._fast:
                    self.state = _AwaitingApproval
                    self.end_awaiting_approval(verdict, payload)
                else:
                    self._reference("await_approval", verdict, payload)
                return True
            if must:
                raise self._refused("await_approval", payload)
            return False
        raise self._illegal("await_approval", f"{state.value} has no await_approval edge")

    def fire_tool_output(self, verdict: Verdict, payload: Any, must: bool = True) -> bool:
        state = self.state
        if state is _ExecutingTool:
            # edge 34: tool_output, ExecutingTool -> (stays)
            path = self._path
            if path.edge == 34:
                path.count += 1
            else:
                path.take(34)
            if self._fast:
                self.record_output(verdict, payload)
            else:
                self._reference("tool_output", verdict, payload)
            return True
        raise self._illegal("tool_output", f"{state.value} has no tool_output edge")

    def fire_tool_result(self, verdict: Verdict, payload: Any, must: bool = True) -> bool:
        state = self.state
        if state is _ExecutingTool:
            if verdict.kind == "continue":
                # edge 35: tool_result, ExecutingTool -> (stays)
                path = self._path
                if path.edge == 35:
                    path.count += 1
                else:
                    path.take(35)
                if self._fast:
                    self.emit_tool_result(verdict, payload)
                else:
                    self._reference("tool_result", verdict, payload)
                return True
            if verdict.kind == "terminate":
                # edge 36: tool_result, ExecutingTool -> Cancelled
                path = self._path
                if path.edge == 36:
                    path.count += 1
                else:
                    path.take(36)
                self._open = False
                if self._fast:
                    self.state = _Cancelled
                    self.end_cancelled(verdict, payload)
                else:
                    self._reference("tool_result", verdict, payload)
                return True
            if must:
                raise self._refused("tool_result", payload)
            return False
        raise self._illegal("tool_result", f"{state.value} has no tool_result edge")

    def fire_tools_done(self, verdict: Verdict, payload: Any, must: bool = True) -> bool:
        state = self.state
        if state is _ExecutingTool:
            # edge 37: tools_done, ExecutingTool -> AwaitingCompletion
            path = self._path
            if path.edge == 37:
                path.count += 1
            else:
                path.take(37)
            self._open = False
            if self._fast:
                self.state = _AwaitingCompletion
                self.send_tool_results(verdict, payload)
            else:
                self._reference("tools_done", verdict, payload)
            return True
        raise self._illegal("tools_done", f"{state.value} has no tools_done edge")

    def fire_tool_error(self, verdict: Verdict, payload: Any, must: bool = True) -> bool:
        state = self.state
        if state is _ExecutingTool:
            # edge 38: tool_error, ExecutingTool -> Failed
            path = self._path
            if path.edge == 38:
                path.count += 1
            else:
                path.take(38)
            self._open = False
            if self._fast:
                self.state = _Failed
                self.end_failed(verdict, payload)
            else:
                self._reference("tool_error", verdict, payload)
            return True
        raise self._illegal("tool_error", f"{state.value} has no tool_error edge")

    def fire_finish(self, verdict: Verdict, payload: Any, must: bool = True) -> bool:
        state = self.state
        if state is _Finalizing:
            # edge 43: finish, Finalizing -> Done
            path = self._path
            if path.edge == 43:
                path.count += 1
            else:
                path.take(43)
            self._open = False
            if self._fast:
                self.state = _Done
                self.emit_final_response(verdict, payload)
            else:
                self._reference("finish", verdict, payload)
            return True
        raise self._illegal("finish", f"{state.value} has no finish edge")


FIRE: Final[dict[str, Callable[[Edges, Verdict, Any, bool], bool]]] = {
    "turn_end_cancel": Edges.fire_turn_end_cancel,
    "turn_limit": Edges.fire_turn_limit,
    "usage_limit": Edges.fire_usage_limit,
    "request": Edges.fire_request,
    "cancel": Edges.fire_cancel,
    "close": Edges.fire_close,
    "hook_error": Edges.fire_hook_error,
    "illegal_event": Edges.fire_illegal_event,
    "text_delta": Edges.fire_text_delta,
    "tool_call_delta": Edges.fire_tool_call_delta,
    "reasoning_delta": Edges.fire_reasoning_delta,
    "reasoning": Edges.fire_reasoning,
    "tool_call_ready": Edges.fire_tool_call_ready,
    "final": Edges.fire_final,
    "stream_end": Edges.fire_stream_end,
    "model_error": Edges.fire_model_error,
    "tool_verdict": Edges.fire_tool_verdict,
    "await_approval": Edges.fire_await_approval,
    "tool_output": Edges.fire_tool_output,
    "tool_result": Edges.fire_tool_result,
    "tools_done": Edges.fire_tools_done,
    "tool_error": Edges.fire_tool_error,
    "finish": Edges.fire_finish,
}
"""Each trigger's method, for a trigger known only at run time (a hook's answer)."""
