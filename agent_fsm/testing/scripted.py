"""``ScriptedModel``: the first-class test double for a model."""

from __future__ import annotations

from collections.abc import AsyncGenerator, Iterable, Sequence
from typing import Any

from ..errors import CompletionError
from ..events import ModelEvent
from ..messages import AssistantMessage, ToolResult, UserMessage
from ..request import CompletionRequest

__all__ = ["ScriptedModel", "StatelessScriptedModel", "turn_of"]


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

    async def _play(self, index: int, slot: int | None = None) -> AsyncGenerator[ModelEvent, None]:
        finished = False
        played = self.played[index if slot is None else slot]
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


class StatelessScriptedModel(ScriptedModel):
    """A :class:`ScriptedModel` that knows which call it is from the request, not from memory.

    The turn played is :func:`turn_of` the request, so a new process (a worker that took over a
    run whose first worker died) plays the same script from the right place. Everything else is
    as for ``ScriptedModel``; :attr:`requests` and :attr:`played` record this object's calls.
    """

    def stream(self, request: CompletionRequest) -> AsyncGenerator[ModelEvent, None]:
        self.requests.append(request)
        self.played.append([])
        return self._play(turn_of(request), len(self.played) - 1)


def turn_of(request: CompletionRequest) -> int:
    """Which model call of its run ``request`` is, from 0: the assistant messages since the run's prompt.

    The run's prompt is the last user message that is not only tool results; every later model
    call sends the previous ones' assistant messages back.
    """
    messages = [*request.history, request.prompt]
    turn = 0
    for message in reversed(messages):
        if isinstance(message, AssistantMessage):
            turn += 1
        elif isinstance(message, UserMessage) and not all(isinstance(p, ToolResult) for p in message.content):
            break
    return turn
