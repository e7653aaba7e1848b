"""Assembling one turn's assistant message from the events that streamed it.

The rules (DESIGN §4): parts stay in arrival order; adjacent text deltas join into one ``Text``;
each reasoning block is kept whole with its own id and signature; a complete ``Reasoning`` replaces
the deltas that streamed it (those with its id, or else the open id-less ones) in their place;
deltas no complete block follows become one ``Reasoning`` per id, where the first of them arrived.
"""

from __future__ import annotations

from ..events import ReasoningDelta, ToolCallReady
from ..messages import AssistantContent, AssistantMessage, Reasoning, Text, ToolCall

__all__ = ["TurnBuffer"]


class _ReasoningSlot:
    """Where a streamed reasoning block sits until its complete form (if any) arrives."""

    __slots__ = ("complete", "id", "pieces")

    def __init__(self, id: str | None) -> None:
        self.id = id
        self.pieces: list[str] = []
        self.complete: Reasoning | None = None

    def part(self) -> Reasoning:
        if self.complete is not None:
            return self.complete
        return Reasoning(("".join(self.pieces),), id=self.id)


class TurnBuffer:
    """Everything one model response has said so far, ready to become an ``AssistantMessage``."""

    __slots__ = ("_open_slots", "_parts", "_text_run", "tool_calls")

    def __init__(self) -> None:
        self._parts: list[list[str] | _ReasoningSlot | Reasoning | ToolCall] = []
        self._text_run: list[str] | None = None
        self._open_slots: dict[str | None, _ReasoningSlot] | None = None  # made by the first reasoning delta
        self.tool_calls: list[ToolCallReady] = []

    def add_text(self, text: str) -> None:
        run = self._text_run
        if run is None:
            run = self._text_run = []
            self._parts.append(run)
        run.append(text)

    def break_text(self) -> None:
        """An event other than text arrived: the next text delta starts a new ``Text`` part."""
        self._text_run = None

    def add_reasoning_delta(self, delta: ReasoningDelta) -> None:
        self._text_run = None
        slots = self._open_slots
        if slots is None:
            slots = self._open_slots = {}
        slot = slots.get(delta.id)
        if slot is None:
            slot = slots[delta.id] = _ReasoningSlot(delta.id)
            self._parts.append(slot)
        slot.pieces.append(delta.reasoning)

    def add_reasoning(self, block: Reasoning) -> None:
        self._text_run = None
        slot = None
        slots = self._open_slots
        if slots:
            if block.id is not None:
                slot = slots.pop(block.id, None)
            if slot is None:
                slot = slots.pop(None, None)
        if slot is None:
            self._parts.append(block)
        else:
            slot.complete = block

    def add_tool_call(self, ready: ToolCallReady) -> None:
        self._text_run = None
        self._parts.append(ready.tool_call)
        self.tool_calls.append(ready)

    @property
    def is_empty(self) -> bool:
        return not self._parts

    def text(self) -> str:
        """All the text of this turn, joined."""
        return "".join("".join(p) for p in self._parts if type(p) is list)

    def content(self) -> tuple[AssistantContent, ...]:
        out: list[AssistantContent] = []
        for p in self._parts:
            if type(p) is list:
                out.append(Text("".join(p)))
            elif type(p) is _ReasoningSlot:
                out.append(p.part())
            else:
                out.append(p)  # type: ignore[arg-type]
        return tuple(out)

    def message(self) -> AssistantMessage:
        """The turn as one assistant message; an empty turn says ``Text("")``."""
        return AssistantMessage(self.content() or (Text(""),))
