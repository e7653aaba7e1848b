"""First cut of ``make bench``: S1, the engine's cost per text delta against a hand-written loop.

Interleaved rounds; medians; the ratio is computed within the same run on the same machine.
"""

from __future__ import annotations

import asyncio
import statistics
import time
from collections.abc import AsyncIterator
from typing import Any

from agent_fsm import Agent, AssistantMessage, Text, Usage, UserMessage
from agent_fsm.events import Final, TextDelta
from agent_fsm.items import FinalResponse, StreamAssistantItem
from agent_fsm.request import CompletionRequest
from agent_fsm.testing import ScriptedModel

DELTAS = 2000
ROUNDS = 21


def s1_script() -> list[list[Any]]:
    return [[*(TextDelta("abcd") for _ in range(DELTAS)), Final(Usage(10, DELTAS, 10 + DELTAS))]]


async def handwritten(model: ScriptedModel, prompt: str) -> AsyncIterator[Any]:
    history: list[Any] = [UserMessage((Text(prompt),))]
    parts: list[str] = []
    usage = Usage()
    async for ev in model.stream(CompletionRequest(history[-1])):
        if type(ev) is TextDelta:
            parts.append(ev.text)
            yield StreamAssistantItem(ev)
        elif type(ev) is Final:
            usage = usage + ev.usage
            yield StreamAssistantItem(ev)
    text = "".join(parts)
    history.append(AssistantMessage((Text(text),)))
    yield FinalResponse(text, usage, tuple(history))


async def consume(run: Any) -> int:
    n = 0
    async for _ in run:
        n += 1
    return n


async def one_engine() -> float:
    agent = Agent(ScriptedModel(s1_script()))
    t = time.perf_counter()
    await consume(agent.stream_prompt("go"))
    return time.perf_counter() - t


async def one_baseline() -> float:
    model = ScriptedModel(s1_script())
    t = time.perf_counter()
    await consume(handwritten(model, "go"))
    return time.perf_counter() - t


async def main() -> None:
    engine: list[float] = []
    base: list[float] = []
    for _ in range(3):
        await one_engine()
        await one_baseline()
    for _ in range(ROUNDS):
        engine.append(await one_engine())
        base.append(await one_baseline())
    e, b = statistics.median(engine), statistics.median(base)
    per = DELTAS + 1
    print(f"S1 {DELTAS} text deltas: engine {e / per * 1e6:.3f} us/event, hand-written {b / per * 1e6:.3f} us/event")
    ratios = [x / y for x, y in zip(engine, base, strict=True)]
    print(f"S1 ratio engine/hand-written: median {statistics.median(ratios):.2f}x (rounds: {ROUNDS})")


if __name__ == "__main__":
    asyncio.run(main())
