"""The benchmark scenarios, the cheapest model stream, and the hand-written baseline loop.

Everything here is shared by ``bench/run.py`` (the engine) and ``bench/peers.py`` (the peers): each
scenario is a list of turns of model events, played by :class:`MinimalModel`, whose ``stream`` is a
bare async generator over a prebuilt list - the cheapest async event source Python has (measured:
~0.1 us per event, less than a class with ``__anext__``). The engine and the baseline read the
SAME source, so the model's own cost is the same small constant in both and does not dilute the
ratio.

The baseline, :func:`handwritten`, is the loop a careful programmer would write by hand for the
same logical work, and nothing more: per turn it builds the request, iterates the stream, yields
the very item objects the engine yields (``StreamAssistantItem`` per event, ``StreamUserItem``
per tool result, one ``FinalResponse``), joins the turn's text, appends the assistant message and
the tool results to the history, awaits the same ``echo`` function for each tool call, and adds
up usage. It does no validation, no hooks, no state bookkeeping: it is the floor.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator, AsyncIterator, Awaitable, Callable, Mapping, Sequence
from typing import Any

from agent_fsm.events import Final, ModelEvent, TextDelta, ToolCallReady
from agent_fsm.items import FinalResponse, StreamAssistantItem, StreamItem, StreamUserItem
from agent_fsm.messages import AssistantMessage, Message, Text, ToolCall, ToolFunction, ToolResult, Usage, UserMessage
from agent_fsm.request import CompletionRequest

S1_DELTAS = 2000
S1_DELTA_TEXT = "abcd"
S2_TURNS = 10
S2_FINAL_DELTAS = 50

Script = list[list[ModelEvent]]


def s1_script() -> Script:
    """One turn: 2,000 text deltas of 4 characters, then usage."""
    return [[*(TextDelta(S1_DELTA_TEXT) for _ in range(S1_DELTAS)), Final(Usage(10, S1_DELTAS, 10 + S1_DELTAS))]]


def s2_script() -> Script:
    """10 turns: turns 1-9 each call ``echo`` once; turn 10 streams 50 deltas."""
    turns: Script = []
    for t in range(1, S2_TURNS):
        call = ToolCall(f"call_{t}", ToolFunction("echo", {"text": f"ping {t}"}))
        turns.append([ToolCallReady(call, f"int_{t}"), Final(Usage(10 * t, 5, 10 * t + 5))])
    turns.append([*(TextDelta(S1_DELTA_TEXT) for _ in range(S2_FINAL_DELTAS)), Final(Usage(100, 50, 150))])
    return turns


def events_in(script: Script) -> int:
    """Model events in a script (the unit of "per event" costs)."""
    return sum(len(turn) for turn in script)


async def echo(text: str) -> str:
    """Echo the text back."""
    return text


class MinimalModel:
    """A model that plays a prebuilt script through a bare async generator: nothing else.

    It keeps no state: the turn is read off the request (two messages of history per earlier
    turn), so one model, and one ``Agent``, serve any number of runs, concurrent ones too.
    """

    __slots__ = ("turns",)

    def __init__(self, turns: Script) -> None:
        self.turns = turns

    def stream(self, request: CompletionRequest) -> AsyncIterator[ModelEvent]:
        return _play(self.turns[len(request.history) >> 1])


async def _play(events: Sequence[ModelEvent]) -> AsyncGenerator[ModelEvent, None]:
    for event in events:
        yield event


Tools = Mapping[str, Callable[..., Awaitable[Any]]]


async def handwritten(model: Any, prompt: str, tools: Tools, max_turns: int = 10) -> AsyncGenerator[StreamItem, None]:
    """The hand-written loop: the same items, history and tool calls as the engine, by hand."""
    history: list[Message] = [UserMessage((Text(prompt),))]
    usage = Usage()
    for _ in range(max_turns):
        request = CompletionRequest(history[-1], tuple(history[:-1]))  # type: ignore[arg-type]
        parts: list[Any] = []
        text: list[str] = []
        calls: list[ToolCallReady] = []
        async for event in model.stream(request):
            kind = type(event)
            if kind is TextDelta:
                text.append(event.text)
            elif kind is ToolCallReady:
                if text:
                    parts.append(Text("".join(text)))
                    text = []
                parts.append(event.tool_call)
                calls.append(event)
            elif kind is Final:
                usage = usage + event.usage
            yield StreamAssistantItem(event)
        final_text = "".join(text)
        if text:
            parts.append(Text(final_text))
        history.append(AssistantMessage(tuple(parts) or (Text(""),)))
        if not calls:
            yield FinalResponse(final_text, usage, tuple(history))
            return
        results = []
        for ready in calls:
            call = ready.tool_call
            value = await tools[call.function.name](**call.function.arguments)  # type: ignore[arg-type]
            result = ToolResult(call.id, (Text(value),), call_id=call.call_id)
            results.append(result)
            yield StreamUserItem(result, ready.internal_call_id)
        history.append(UserMessage(tuple(results)))
    raise RuntimeError("max turns")


async def consume(run: AsyncIterator[Any]) -> int:
    """Iterate every item, as a user does; count them."""
    n = 0
    async for _ in run:
        n += 1
    return n
