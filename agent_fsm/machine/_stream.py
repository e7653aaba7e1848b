"""The ``Streaming`` stage of the machine: model events in, items out, the turn's message assembled.

Each model event type maps to one trigger. A live hook for it is asked first (the machine returns
``CallHook`` and fires the trigger with the answer); without one, the trigger fires with
"continue" - and for deltas, the compiled fast path (:mod:`agent_fsm.machine.fastpath`) takes the edge
directly. The callbacks append to the turn's :class:`~agent_fsm.machine._turn.TurnBuffer` and emit each
event as it was received. This module holds those handlers and callbacks; ``TurnMachine``
inherits them.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Final

from ..errors import IllegalTransition
from ..events import Final as FinalEvent
from ..events import ReasoningDelta, TextDelta, ToolCallDelta, ToolCallReady
from ..hooks import HookAction, Verdict
from ..items import FinalResponse, StreamAssistantItem, StreamItem
from ..messages import Message, Reasoning, Usage, UserMessage
from ..request import CompletionRequest, ToolDefinition
from ._turn import TurnBuffer
from .protocol import NEXT_EVENT, STOP, Action, CallHook
from .table import State

__all__ = ["StreamStage"]

_CONTINUE: Final = HookAction.cont()


class StreamStage:
    """The streaming stage's handlers and callbacks (a mixin of ``TurnMachine``)."""

    # provided by TurnMachine
    state: State
    live: frozenset[str]
    turns: int
    usage: Usage
    request: CompletionRequest | None
    _history: list[Message]
    _emit: Callable[[StreamItem], None]
    _pending: tuple[str, Any, str] | None
    _calls: list[ToolCallReady]
    _request_fields: tuple[str | None, tuple[ToolDefinition, ...], float | None, int | None, Any]
    _turn: TurnBuffer | None
    _open: bool
    _request_pending: bool
    _final_seen: bool
    _track_text: bool
    _agg: str
    _last_text: str

    if TYPE_CHECKING:  # defined by TurnMachine or another stage

        def _fire(self, trigger: str, verdict: Verdict, payload: Any, *, must: bool = True) -> bool: ...

        def _illegal(self, event: str, detail: str) -> IllegalTransition: ...

        def _checkpoint_turn_start(self) -> None: ...

    def _expect_stream(self, what: str) -> None:
        if self.state is not State.Streaming or self._request_pending or self._pending is not None:
            raise self._illegal(what, "no model stream is open")

    def _event_allowed(self, trigger: str) -> None:
        if self._final_seen and self.state is State.Streaming:
            raise self._illegal(trigger, "the turn's Final has arrived; only the end of the stream may follow")
        self._expect_stream(trigger)

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
        self._event_allowed("tool_call_ready")
        self._fire("tool_call_ready", _CONTINUE, event)
        return NEXT_EVENT

    def _on_final(self, event: FinalEvent) -> Action:
        self._event_allowed("final")
        # The model reported (and billed) this usage: it counts whatever the hook then says,
        # also when the hook raises or the run is closed while it is asked.
        self.usage = self.usage + event.usage
        self._final_seen = True
        self._open = False
        hook = "on_stream_completion_response_finish"
        if hook in self.live:
            return self._ask("final", event, hook, (self._history[-1], event))
        self._fire("final", _CONTINUE, event)
        return NEXT_EVENT if self.state is State.Streaming else STOP

    # ------------------------------------------------------------------ callbacks (the effects)

    def begin_turn(self, verdict: Verdict, payload: Any) -> None:
        self._checkpoint_turn_start()
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
        self._calls = list(turn.tool_calls)
        self._turn = None

    def emit_final_response(self, verdict: Verdict, payload: Any) -> None:
        self._emit(FinalResponse(self._last_text, self.usage, tuple(self._history)))
