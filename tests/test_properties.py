"""Property tests over drawn fuzz cases: invariants, determinism, and equivalent drivers and paths.

Each draws whole cases from the testing kit (``strategies.fuzz_cases``): scripts well-formed and
malformed, hook policies, tool behaviours, limits, and a consumer that may close the run early.
"""

from __future__ import annotations

from hypothesis import given

from agent_fsm.machine.table import State
from agent_fsm.testing import FuzzCase, check_deterministic, run_case
from agent_fsm.testing.strategies import fuzz_cases


@given(case=fuzz_cases(driver="async"))
def test_property_every_run_keeps_the_invariants(case: FuzzCase) -> None:
    record = run_case(case)
    record.check()
    assert (record.outcome is None) == (record.state is State.Done)


@given(case=fuzz_cases(driver="async"))
def test_property_same_inputs_give_byte_identical_items_and_history(case: FuzzCase) -> None:
    check_deterministic(run_case(case), run_case(case))


@given(case=fuzz_cases(driver="sync"))
def test_property_sync_driver_gives_what_the_async_driver_gives(case: FuzzCase) -> None:
    sync, real = run_case(case), run_case(case.on("async"))
    check_deterministic(sync, real, what="the sync and async drivers")
    assert sync.trace == real.trace


@given(case=fuzz_cases(driver="sync"))
def test_property_fast_path_matches_transitions_trigger(case: FuzzCase) -> None:
    fast, slow = run_case(case, fast_path=True), run_case(case, fast_path=False)
    check_deterministic(fast, slow, what="the fast path and transitions")
    assert fast.usage == slow.usage
