"""S3: 1,000 concurrent S2 runs on one event loop - wall time, peak RSS, memory per live run.

Run as a child process (``python bench/s3.py SYSTEM TRACE``), one per system and round, so that
peak RSS belongs to that system alone; it prints one JSON line. ``SYSTEM`` is ``engine`` or
``baseline`` (the hand-written loop of :mod:`scenarios`); ``TRACE`` (``1``/``0``) says whether to
do the tracemalloc pass.

For the runs to be concurrent at all, the model must suspend: :class:`NetworkModel` awaits
``asyncio.sleep(0)`` once when a stream opens (a stand-in for the network round trip), so the
1,000 runs interleave turn by turn; otherwise each would run to completion before the next began.

Three passes, in this order:

1. **RSS of live runs**: after a warm-up of 50 runs, 1,000 runs start and every one parks in
   the middle of the run (the model awaits a shared future when its fifth stream opens). With all
   parked, after ``gc.collect()``, the RSS minus the RSS before the runs were created, divided by
   1,000, is the memory per live run as the OS sees it (allocator slack included). Then the runs
   are released and finish. First, while the heap is still small: later passes leave free
   arenas behind that the next runs would reuse unseen.
2. **Wall time**: all runs gathered, start to last item (``WALL_PASSES`` passes, the median).
   ``peak_rss`` is the process's high-water mark (``ru_maxrss``) after these two passes.
3. **tracemalloc of live runs**: pass 1 again under ``tracemalloc``: traced bytes with every run
   parked minus traced bytes before the runs were created, divided by 1,000 - the Python objects
   each live run holds (its generator frames, machine, history, items in flight, the model
   stream). Last, because tracing slows everything and its own bookkeeping would inflate RSS.
"""

from __future__ import annotations

import asyncio
import gc
import json
import resource
import sys
import time
import tracemalloc
from collections.abc import AsyncGenerator, AsyncIterator, Sequence
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from engine import TOOLS, make_agent
from scenarios import consume, handwritten, s2_script

from agent_fsm.events import ModelEvent
from agent_fsm.request import CompletionRequest

RUNS = 1000
PARK_TURN = 4  # 0-based: the runs park at the start of their fifth model call
WALL_PASSES = 10


class NetworkModel:
    """:class:`scenarios.MinimalModel` plus one suspension when a stream opens, and a gate."""

    def __init__(self, turns: list[list[ModelEvent]]) -> None:
        self.turns = turns
        self.gate: asyncio.Future[None] | None = None
        self.parked = 0
        self.all_parked = asyncio.Event()

    def stream(self, request: CompletionRequest) -> AsyncIterator[ModelEvent]:
        return self._play(self.turns[len(request.history) >> 1], len(request.history) >> 1)

    async def _play(self, events: Sequence[ModelEvent], turn: int) -> AsyncGenerator[ModelEvent, None]:
        await asyncio.sleep(0)
        if turn == PARK_TURN and self.gate is not None:
            self.parked += 1
            if self.parked == RUNS:
                self.all_parked.set()
            await self.gate
        for event in events:
            yield event


def rss_bytes() -> int:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * resource.getpagesize()


def start_runs(system: str, model: NetworkModel) -> list[Any]:
    if system == "engine":
        agent = make_agent(model)
        return [consume(agent.stream_prompt("go")) for _ in range(RUNS)]
    return [consume(handwritten(model, "go", TOOLS)) for _ in range(RUNS)]


async def wall(system: str) -> float:
    model = NetworkModel(s2_script())
    runs = start_runs(system, model)
    t = time.perf_counter()
    counts = await asyncio.gather(*runs)
    elapsed = time.perf_counter() - t
    assert all(c == counts[0] for c in counts), "every run must yield the same items"
    return elapsed


async def parked(system: str, measure: Any) -> int:
    """Start RUNS runs, wait until all are parked mid-flight, return ``measure()`` delta."""
    model = NetworkModel(s2_script())
    loop = asyncio.get_running_loop()
    model.gate = loop.create_future()
    gc.collect()
    before = measure()
    tasks = [asyncio.ensure_future(r) for r in start_runs(system, model)]
    await model.all_parked.wait()
    gc.collect()
    during = measure()
    model.gate.set_result(None)
    await asyncio.gather(*tasks)
    return int(during - before)


async def main(system: str, trace: bool) -> dict[str, Any]:
    # Warm up: imports, first-call caches, the event loop's own allocations.
    global RUNS
    start_rss = rss_bytes()
    runs, RUNS = RUNS, 50
    await wall(system)
    RUNS = runs
    rss_delta = await parked(system, rss_bytes)
    walls = [await wall(system) for _ in range(WALL_PASSES)]
    peak_rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    traced_delta = None
    if trace:
        tracemalloc.start()
        traced_delta = await parked(system, lambda: tracemalloc.get_traced_memory()[0])
        tracemalloc.stop()
    return {
        "system": system,
        "runs": RUNS,
        "wall_s": sorted(walls)[len(walls) // 2],
        "walls_s": walls,
        "rss_per_live_run_bytes": rss_delta / RUNS,
        "traced_per_live_run_bytes": None if traced_delta is None else traced_delta / RUNS,
        "peak_rss_bytes": peak_rss,
        "start_rss_bytes": start_rss,
    }


if __name__ == "__main__":
    print(json.dumps(asyncio.run(main(sys.argv[1], sys.argv[2] == "1"))))
