"""Where the engine's time goes in S1 and S2, by layer, measured directly (no profiler overhead).

* **machine** - the sans-IO ``TurnMachine`` alone, fed the same events synchronously: for S1 the
  text-delta handler (``event_handlers[TextDelta]``) with the outbox drained after each event;
  for S2 a whole run through ``drive_sync`` with a sync runner that returns what ``echo`` would.
* **tools** - ``ToolSet.call("echo", ...)`` alone (argument checking, timeout, result), 9 per S2 run.
* **driver** - the rest of the full run: ``AgentRun._drive`` (awaiting the stream, dispatch,
  yielding items), the consumer's ``async for``, and the model stream itself.

Every layer, the whole engine run and the whole hand-written loop are timed in the same
interleaved rounds (so the subtraction is between numbers measured side by side), together with
the hand-written work of each layer (a sync loop building the same items; a bare
``await echo(...)``), so the table also says how much each layer costs above the floor.
"""

from __future__ import annotations

import asyncio
import gc
import statistics
import time
from collections.abc import Callable
from typing import Any

import engine
from scenarios import S1_DELTAS, echo, s1_script, s2_script

from agent_fsm import Text, ToolSet, tool
from agent_fsm.events import TextDelta
from agent_fsm.items import StreamAssistantItem
from agent_fsm.machine import TurnMachine
from agent_fsm.machine.protocol import NEXT_EVENT, ToolOutput
from agent_fsm.run.sync_driver import drive_sync

S2_TOOL_CALLS = 9


def _machine_s1() -> float:
    deltas = s1_script()[0][:-1]
    m = TurnMachine("go", max_turns=1)
    m.start()
    handler = m.event_handlers[TextDelta]
    out = m.outbox
    pop = out.popleft
    t = time.perf_counter()
    for event in deltas:
        result = handler(event)  # the fast path hands its one item over (the outbox stays empty)
        while out:
            pop()
        if type(result) is not StreamAssistantItem and result is not NEXT_EVENT:
            raise AssertionError(result)
    return (time.perf_counter() - t) / len(deltas)


def _floor_s1() -> float:
    deltas = s1_script()[0][:-1]
    parts: list[str] = []
    t = time.perf_counter()
    for event in deltas:
        if type(event) is TextDelta:
            parts.append(event.text)
        StreamAssistantItem(event)
    return (time.perf_counter() - t) / len(deltas)


_S2 = s2_script()


def _sync_model(request: Any) -> Any:
    return iter(_S2[len(request.history) >> 1])


def _sync_echo(call: Any) -> ToolOutput:
    return ToolOutput((Text(call.function.arguments["text"]),))


def _machine_s2() -> float:
    runs = 20
    t = time.perf_counter()
    for _ in range(runs):
        drive_sync(TurnMachine("go", max_turns=10), _sync_model, run_tool=_sync_echo)
    return (time.perf_counter() - t) / runs


_TOOLS = ToolSet([tool(echo)])
_LOOP = asyncio.new_event_loop()


def _tools_call() -> float:
    async def run() -> float:
        n = 200
        t = time.perf_counter()
        for _ in range(n):
            await _TOOLS.call("echo", {"text": "ping"})
        return (time.perf_counter() - t) / n

    return _LOOP.run_until_complete(run())


def _floor_call() -> float:
    async def run() -> float:
        n = 200
        t = time.perf_counter()
        for _ in range(n):
            await echo(**{"text": "ping"})
        return (time.perf_counter() - t) / n

    return _LOOP.run_until_complete(run())


def _per(sample: Any, per: int) -> Callable[[], float]:
    """A timed batch of whole runs (from :mod:`engine`), per ``per`` units."""

    def run() -> float:
        elapsed: float = _LOOP.run_until_complete(sample())
        return elapsed / per

    return run


def measure(rounds: int) -> dict[str, Any]:
    """Median per-layer costs, in us."""
    s1, b1 = engine.SCENARIOS["S1"]
    s2, b2 = engine.SCENARIOS["S2"]
    fns: dict[str, Callable[[], float]] = {
        "full_s1": _per(engine.engine_sample(s1, b1), b1 * (S1_DELTAS + 1)),
        "hand_s1": _per(engine.baseline_sample(s1, b1), b1 * (S1_DELTAS + 1)),
        "machine_s1": _machine_s1,
        "floor_s1": _floor_s1,
        "full_s2": _per(engine.engine_sample(s2, b2), b2),
        "hand_s2": _per(engine.baseline_sample(s2, b2), b2),
        "machine_s2": _machine_s2,
        "tools_call": _tools_call,
        "floor_call": _floor_call,
    }
    for fn in fns.values():
        fn()
    times: dict[str, list[float]] = {k: [] for k in fns}
    names = list(fns)
    for r in range(rounds):
        k = r % len(names)
        for name in names[k:] + names[:k]:
            gc.collect()
            times[name].append(fns[name]())
    med = {k: statistics.median(v) * 1e6 for k, v in times.items()}
    tools_s2 = med["tools_call"] * S2_TOOL_CALLS
    return {
        "rounds": rounds,
        "S1": {
            "deltas": S1_DELTAS,
            "full_us": med["full_s1"],
            "handwritten_us": med["hand_s1"],
            "machine_us": med["machine_s1"],
            "machine_floor_us": med["floor_s1"],
            "driver_us": med["full_s1"] - med["machine_s1"],
        },
        "S2": {
            "full_us": med["full_s2"],
            "handwritten_us": med["hand_s2"],
            "machine_us": med["machine_s2"],
            "tools_us": tools_s2,
            "tool_call_us": med["tools_call"],
            "tool_call_floor_us": med["floor_call"],
            "driver_us": med["full_s2"] - med["machine_s2"] - tools_s2,
        },
    }
