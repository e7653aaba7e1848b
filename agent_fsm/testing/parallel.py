"""A fuzz campaign over several processes: ``agent-fsm fuzz --jobs N``.

Hypothesis runs in one thread, so a long campaign uses one core. Here each worker process runs
its share of the examples as a campaign of its own, seeded from the campaign's seed and its index
(so a given ``--seed --jobs`` pair always draws the same cases); coverage and speed are merged.
Workers report progress through a queue, which the parent folds into one :class:`Progress`.
"""

from __future__ import annotations

import logging
import multiprocessing
import queue
import time
import zlib
from collections.abc import Callable, Mapping
from concurrent.futures import Future, ProcessPoolExecutor
from typing import Any

from .campaign import FuzzReport, PhaseReport, Progress, run_fuzz
from .coverage import EdgeCoverage

__all__ = ["run_fuzz_parallel"]

_QUEUE: Any = None


def _init(progress_queue: Any, log_level: int) -> None:
    global _QUEUE
    _QUEUE = progress_queue
    logging.getLogger("agent_fsm").setLevel(log_level)  # a spawned worker starts unconfigured


def _worker(index: int, examples: int, seed_value: int, shares: Mapping[str, float]) -> FuzzReport:
    last = [0.0]

    def report(p: Progress) -> None:
        now = time.perf_counter()
        if now - last[0] >= 0.5 and _QUEUE is not None:
            last[0] = now
            _QUEUE.put((index, p.phase, p.done, p.runs, p.covered, p.edges))

    return run_fuzz(examples, seed_value, on_progress=report, shares=dict(shares))


def job_seed(seed_value: int, job: int) -> int:
    """The seed of one worker: stable across processes and runs."""
    return zlib.crc32(f"{seed_value}/job{job}".encode())


def run_fuzz_parallel(
    examples: int,
    seed_value: int,
    jobs: int,
    *,
    on_progress: Callable[[Progress], None] | None = None,
    shares: Mapping[str, float],
) -> FuzzReport:
    """Run ``examples`` examples over ``jobs`` worker processes; one merged report."""
    sizes = [examples // jobs + (1 if j < examples % jobs else 0) for j in range(jobs)]
    context = multiprocessing.get_context("spawn")
    progress_queue = context.Manager().Queue()
    start = time.perf_counter()
    latest: dict[int, tuple[str, int, int, int, int]] = {}
    initargs = (progress_queue, logging.getLogger("agent_fsm").getEffectiveLevel())
    with ProcessPoolExecutor(jobs, mp_context=context, initializer=_init, initargs=initargs) as pool:
        futures: list[Future[FuzzReport]] = [
            pool.submit(_worker, j, n, job_seed(seed_value, j), dict(shares)) for j, n in enumerate(sizes)
        ]
        while not all(f.done() for f in futures):
            try:
                index, *state = progress_queue.get(timeout=0.2)
            except queue.Empty:
                continue
            latest[index] = (state[0], state[1], state[2], state[3], state[4])
            if on_progress is not None:
                now = latest.values()
                phases = "+".join(sorted({s[0] for s in now}))
                done, runs = sum(s[1] for s in now), sum(s[2] for s in now)
                covered, edges = max(s[3] for s in now), max(s[4] for s in now)  # a lower bound until merged
                on_progress(Progress(phases, done, examples, runs, time.perf_counter() - start, covered, edges))
        reports = [f.result() for f in futures]
    return _merge(seed_value, reports)


def _merge(seed_value: int, reports: list[FuzzReport]) -> FuzzReport:
    merged = FuzzReport(seed_value, EdgeCoverage())
    for r in reports:
        merged.coverage.merge(r.coverage)
    names = list(dict.fromkeys(p.name for r in reports for p in r.phases))
    for name in names:
        parts = [p for r in reports for p in r.phases if p.name == name]
        failures = [p.failure for p in parts if p.failure is not None]
        merged.phases.append(
            PhaseReport(
                name,
                sum(p.examples for p in parts),
                sum(p.runs for p in parts),
                max(p.seconds for p in parts),  # the workers ran side by side: wall time
                "\n\n".join(failures) if failures else None,
                next((p.case for p in parts if p.case is not None), None),
            )
        )
    return merged
