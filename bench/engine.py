"""S1 and S2 for the engine and the hand-written loop, as timed samples (used by run.py and peers.py)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from scenarios import MinimalModel, Script, consume, echo, events_in, handwritten, s1_script, s2_script
from timing import Sample, timer

from agent_fsm import Agent, ToolSet, tool
from agent_fsm.items import FinalResponse
from agent_fsm.observe import Observer

SCENARIOS: dict[str, tuple[Script, int]] = {
    # name: (script, runs per timed batch - about 20-40 ms of work each)
    "S1": (s1_script(), 8),
    "S2": (s2_script(), 30),
}
TOOLS = {"echo": echo}


def make_agent(script: Script | Any, observers: Sequence[Observer] | None = None) -> Agent:
    """One agent for all runs of a scenario, as an application holds one (``script``: or a model).

    ``observers=None`` is the default (the logging observer); ``()`` observes nothing.
    """
    model = MinimalModel(script) if isinstance(script, list) else script
    return Agent(model, tools=ToolSet([tool(echo)]), max_turns=10, observers=observers)


def engine_sample(script: Script, batch: int, observers: Sequence[Observer] | None = None) -> Sample:
    agent = make_agent(script, observers)

    async def sample() -> float:
        t = timer()
        for _ in range(batch):
            await consume(agent.stream_prompt("go"))
        return timer() - t

    return sample


def baseline_sample(script: Script, batch: int) -> Sample:
    model = MinimalModel(script)

    async def sample() -> float:
        t = timer()
        for _ in range(batch):
            await consume(handwritten(model, "go", TOOLS))
        return timer() - t

    return sample


async def collect(run: Any) -> list[Any]:
    return [item async for item in run]


async def check_same_work(script: Script) -> None:
    """The baseline is only honest if it does the same work: same items, same history."""
    engine_items = await collect(make_agent(script).stream_prompt("go"))
    baseline_items = await collect(handwritten(MinimalModel(script), "go", TOOLS))
    if engine_items != baseline_items:
        for i, (a, b) in enumerate(zip(engine_items, baseline_items, strict=False)):
            if a != b:
                raise AssertionError(f"item {i} differs:\n engine   {a!r}\n baseline {b!r}")
        raise AssertionError(f"{len(engine_items)} engine items, {len(baseline_items)} baseline items")
    final = engine_items[-1]
    assert isinstance(final, FinalResponse), final


def per_run_events(script: Script) -> int:
    return events_in(script)
