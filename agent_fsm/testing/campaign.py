"""A fuzz campaign: many drawn cases on both drivers plus the step-API state machine, with edge
coverage. ``agent-fsm fuzz`` and ``make fuzz`` / ``make fuzz-ci`` run it.

Three phases share the examples:

- ``sync`` (most): cases on the sync driver, ~10x faster than asyncio; each is checked, re-run
  for determinism, re-run with every edge sent through ``transitions`` (the fast path must agree
  with the table), and re-run once per item with the consumer closing the run right after that
  item (closing at any point must leave a valid history); a case with run control is also re-run
  under every control - a cancel (now and after the turn) and a steering message after each item,
  a few limits (:func:`control_variants`);
- ``async``: cases on the real ``Agent`` - async hooks, concurrent tool tasks, tools stalling
  past real timeouts, hooks and tools that hang until the consumer cancels - each re-run for
  determinism and, when the sync driver can run it too, compared with it;
- ``stateful``: :class:`~agent_fsm.testing.stateful.TurnMachineRules`, a driver that sometimes
  misbehaves (the only way to reach the illegal-event edges of states no model event reaches).

A failure stops its phase after hypothesis has shrunk it; the report carries the error and the
minimal case as a cassette. Long campaigns run in batches of :data:`BATCH` examples, each its own
hypothesis run seeded from the campaign's seed, so memory stays flat.
"""

from __future__ import annotations

import asyncio
import time
import traceback
import zlib
from collections.abc import Callable, Mapping
from typing import Any, Final

import attrs
from attrs import define, field, frozen
from hypothesis import HealthCheck, Phase, Verbosity, given, seed, settings
from hypothesis.stateful import run_state_machine_as_test

from ..request import UsageLimits
from .case import FuzzCase, attach_case, check_case, failing_case, run_case
from .control import ControlStep
from .coverage import EdgeCoverage
from .record import check_deterministic
from .stateful import TurnMachineRules
from .strategies import fuzz_cases

__all__ = ["DEFAULT_SHARES", "FuzzReport", "PhaseReport", "Progress", "run_fuzz"]

DEFAULT_SHARES: Final[Mapping[str, float]] = {"sync": 0.75, "async": 0.1, "stateful": 0.15}
"""How the examples are split between the phases."""

STATEFUL_STEPS: Final = 30
BATCH: Final = 2000


@frozen
class Progress:
    """Where a campaign is: sent to ``on_progress`` a few times a second."""

    phase: str
    done: int
    total: int
    runs: int
    elapsed: float
    covered: int
    edges: int

    @property
    def rate(self) -> float:
        """Examples per second so far."""
        return self.done / self.elapsed if self.elapsed > 0 else 0.0


@frozen
class PhaseReport:
    name: str
    examples: int
    runs: int
    seconds: float
    failure: str | None = None
    case: str | None = None
    """The failure's minimal case as a cassette, when it is one (the stateful phase's is a
    program of step-API calls, which hypothesis prints in ``failure``)."""

    @property
    def rate(self) -> float:
        """Examples per second (drawing the case included)."""
        return self.examples / self.seconds if self.seconds > 0 else 0.0

    @property
    def run_rate(self) -> float:
        """Runs per second: each example is run several times (re-runs, variants)."""
        return self.runs / self.seconds if self.seconds > 0 else 0.0


@define
class FuzzReport:
    """What a campaign found: coverage of the table's edges, per-phase speed, failures."""

    seed: int
    coverage: EdgeCoverage = field(factory=EdgeCoverage)
    phases: list[PhaseReport] = field(factory=list)

    @property
    def failures(self) -> list[str]:
        return [p.failure for p in self.phases if p.failure is not None]

    @property
    def examples(self) -> int:
        return sum(p.examples for p in self.phases)

    @property
    def runs(self) -> int:
        return sum(p.runs for p in self.phases)

    @property
    def seconds(self) -> float:
        return sum(p.seconds for p in self.phases)

    @property
    def ok(self) -> bool:
        """The gate: no invariant failed, and every edge was exercised."""
        return not self.failures and not self.coverage.missing


def _settings(examples: int, **extra: Any) -> settings:
    extra.setdefault("verbosity", Verbosity.quiet)
    return settings(
        max_examples=max(examples, 1),
        database=None,
        deadline=None,
        derandomize=False,
        phases=(Phase.generate, Phase.shrink),
        suppress_health_check=list(HealthCheck),
        report_multiple_bugs=False,
        print_blob=False,
        **extra,
    )


class _Counter:
    """Counts examples and runs; reports progress at most five times a second."""

    def __init__(self, report: FuzzReport, total: int, on_progress: Callable[[Progress], None] | None) -> None:
        self.report, self.total, self.on_progress = report, total, on_progress
        self.done = self.runs = 0
        self.phase = ""
        self.start = time.perf_counter()
        self.last = 0.0

    def tick(self, runs: int = 1, examples: int = 1) -> None:
        """``examples`` examples done, which took ``runs`` runs."""
        self.done += examples
        self.runs += runs
        if self.on_progress is not None and time.perf_counter() - self.last >= 0.2:
            self.report_now()

    def report_now(self) -> None:
        if self.on_progress is None:
            return
        self.last = now = time.perf_counter()
        cov = self.report.coverage
        progress = Progress(self.phase, self.done, self.total, self.runs, now - self.start, cov.covered, len(cov.edges))
        self.on_progress(progress)


Tick = Callable[[int, int], None]


def _failure(phase: str, exc: BaseException) -> str:
    text = "".join(traceback.format_exception(exc))
    return f"phase {phase}: {type(exc).__name__}: {exc}\n\n{text}"


def run_fuzz(
    examples: int,
    seed_value: int = 0,
    *,
    on_progress: Callable[[Progress], None] | None = None,
    shares: Mapping[str, float] = DEFAULT_SHARES,
) -> FuzzReport:
    """Run a campaign of about ``examples`` examples, reproducibly for a given seed.

    Args:
        examples: how many examples, over all phases.
        seed_value: the seed; the same seed draws the same cases.
        on_progress: called a few times a second, and at each phase's end.
        shares: the fraction of examples each phase gets (``sync``, ``async``, ``stateful``).
    """
    report = FuzzReport(seed_value)
    counter = _Counter(report, examples, on_progress)
    for phase, share in shares.items():
        n = round(examples * share)
        if n <= 0:
            continue
        counter.phase = phase
        done_before, runs_before, start = counter.done, counter.runs, time.perf_counter()
        failure = case = None
        try:
            for batch, size in enumerate(_batches(n)):
                _PHASES[phase](size, _batch_seed(seed_value, phase, batch), report.coverage, counter.tick)
        except Exception as exc:
            failure = _failure(phase, exc)
            found = failing_case(exc)
            case = None if found is None else found.to_cassette()
        seconds = time.perf_counter() - start
        report.phases.append(
            PhaseReport(phase, counter.done - done_before, counter.runs - runs_before, seconds, failure, case)
        )
        counter.report_now()
    return report


def _batch_seed(seed_value: int, phase: str, batch: int) -> int:
    """A seed per batch, the same in every process (``hash()`` of a str is not)."""
    return zlib.crc32(f"{seed_value}/{phase}/{batch}".encode())


def _batches(n: int) -> list[int]:
    full, rest = divmod(n, BATCH)
    return [BATCH] * full + ([rest] if rest else [])


def _sync_phase(n: int, seed_value: int, coverage: EdgeCoverage, tick: Tick) -> None:
    @seed(seed_value)
    @_settings(n)
    @given(case=fuzz_cases(driver="sync"))
    def sync_cases(case: FuzzCase) -> None:
        record = check_case(case, other_driver=False)
        coverage.add(record.trace)
        runs, current = 2, case
        try:
            check_deterministic(record, run_case(case, fast_path=False), what="the fast path and transitions")
            runs += 1
            for k in range(len(record.items) + (case.close_after is None)):
                current = attrs.evolve(case, close_after=k)
                closed = run_case(current)
                closed.check()
                coverage.add(closed.trace)
                runs += 1
            for current in control_variants(case, record.items):
                varied = run_case(current)
                varied.check()
                coverage.add(varied.trace)
                runs += 1
        except AssertionError as exc:
            attach_case(exc, current)
            raise
        tick(runs, 1)

    sync_cases()


def control_variants(case: FuzzCase, items: Any) -> list[FuzzCase]:
    """A case with run control (steps, limits or ``on_max_turns``) under every control, as closing
    varies ``close_after``: without its own control, then a cancel - now and after the turn - after
    each item of that run, a steering message after each item, and each of a few limits near what
    its model reports, with either ``on_max_turns``."""
    if not case.control and case.limits is None and case.on_max_turns == "error":
        return []
    bare = attrs.evolve(case, control=(), limits=None, on_max_turns="error")
    items = run_case(bare).items
    final = attrs.evolve(bare, on_max_turns="final_answer")
    out = [bare, final, attrs.evolve(final, max_turns=1)]  # with one turn, its only call is the final one
    for k in range(len(items) + 1):
        out.extend(attrs.evolve(bare, control=(ControlStep(k, kind),)) for kind in ("cancel", "cancel_after_turn"))
        if k:
            out.append(attrs.evolve(bare, control=(ControlStep(k, "steer"),)))
    usage = [i.content.usage for i in items if type(getattr(i, "content", None)).__name__ == "Final"]
    first_input = usage[0].input_tokens if usage else 0
    for limits in (
        UsageLimits(tool_calls=0),
        UsageLimits(tool_calls=1),
        UsageLimits(input_tokens=first_input),  # reached, not exceeded, by the first turn
        UsageLimits(input_tokens=max(first_input - 1, 0)),  # exceeded by the first turn
        UsageLimits(total_tokens=0),  # reached before the first call
    ):
        out.extend(attrs.evolve(bare, limits=limits, on_max_turns=m) for m in ("error", "final_answer"))
    return out


def _async_phase(n: int, seed_value: int, coverage: EdgeCoverage, tick: Tick) -> None:
    with asyncio.Runner() as runner:

        @seed(seed_value)
        @_settings(n)
        @given(case=fuzz_cases(driver="async"))
        def async_cases(case: FuzzCase) -> None:
            record = check_case(case, runner=runner)
            coverage.add(record.trace)
            tick(3 if case.sync_runnable else 2, 1)

        async_cases()


def _stateful_phase(n: int, seed_value: int, coverage: EdgeCoverage, tick: Tick) -> None:
    # Hypothesis runs a few machines per example it counts (it discards duplicates): each machine
    # is a run; the phase's examples are credited when it ends.
    rules = type(
        "FuzzedTurnMachine",
        (TurnMachineRules,),
        {"coverage": coverage, "on_teardown": staticmethod(lambda: tick(1, 0))},
    )
    # At normal verbosity hypothesis attaches the minimal failing program's steps to the error.
    config = _settings(n, stateful_step_count=STATEFUL_STEPS, verbosity=Verbosity.normal)
    run_state_machine_as_test(seed(seed_value)(rules), settings=config)
    tick(0, n)


_PHASES: Final[dict[str, Callable[[int, int, EdgeCoverage, Tick], None]]] = {
    "sync": _sync_phase,
    "async": _async_phase,
    "stateful": _stateful_phase,
}
