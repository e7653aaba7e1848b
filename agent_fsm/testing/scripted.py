"""``ScriptedModel``: the first-class test double for a model."""

from __future__ import annotations

from collections.abc import AsyncGenerator, Iterable, Sequence
from typing import Any

from ..errors import CompletionError
from ..events import ModelEvent
from ..request import CompletionRequest

__all__ = ["ScriptedModel"]


class ScriptedModel:
    """A model that plays a script: one list of events per model call, in order.

    An exception instance in a turn's list is raised at that point of the stream (an exception
    as a turn's first entry fails the call before any event). A call beyond the script raises
    ``CompletionError``. Every request is recorded in :attr:`requests`, and the events each call
    streamed in :attr:`played`; :attr:`closed` counts the streams that ended before they were
    exhausted (closed by the run, or raising), :attr:`exhausted` those played to the end, so
    ``calls == closed + exhausted`` once no stream is left open.

    Example::

        model = ScriptedModel([
            [ToolCallReady(ToolCall("c1", ToolFunction("add", {"a": 2, "b": 3})), "i1"), Final(Usage(5, 1))],
            [TextDelta("5"), Final(Usage(9, 1))],
        ])
    """

    def __init__(self, turns: Iterable[Sequence[ModelEvent | BaseException]], *, name: str = "scripted") -> None:
        self.turns: list[list[Any]] = [list(t) for t in turns]
        self.name = name
        self.requests: list[CompletionRequest] = []
        self.played: list[list[Any]] = []
        self.closed = 0
        self.exhausted = 0

    @property
    def calls(self) -> int:
        """Model calls made so far."""
        return len(self.requests)

    def stream(self, request: CompletionRequest) -> AsyncGenerator[ModelEvent, None]:
        index = len(self.requests)
        self.requests.append(request)
        self.played.append([])
        return self._play(index)

    async def _play(self, index: int) -> AsyncGenerator[ModelEvent, None]:
        finished = False
        played = self.played[index]
        try:
            if index >= len(self.turns):
                raise CompletionError(
                    f"ScriptedModel: call {index + 1} is beyond the script ({len(self.turns)} turn(s))"
                )
            for event in self.turns[index]:
                if isinstance(event, BaseException):
                    raise event
                played.append(event)
                yield event
            finished = True
        finally:
            if finished:
                self.exhausted += 1
            else:
                self.closed += 1
