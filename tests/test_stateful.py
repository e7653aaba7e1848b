"""The sans-IO machine under a hypothesis state machine that plays a driver, good and bad.

``TurnMachineRules`` (in the kit, so users can run it too) performs the action the machine asks
for, or once a run any step-API call at all, and checks at every step that legal calls are taken,
illegal ones raise ``IllegalTransition`` (moving a live run to ``Failed``), terminal states absorb,
and state, error, trace and history agree.
"""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import HealthCheck, Phase, seed, settings
from hypothesis.stateful import run_state_machine_as_test

from agent_fsm.machine import TurnMachine
from agent_fsm.machine.table import State
from agent_fsm.testing import EdgeCoverage
from agent_fsm.testing.stateful import TurnMachineRules

TestTurnMachineRules = TurnMachineRules.TestCase
TestTurnMachineRules.settings = settings(max_examples=100, stateful_step_count=30, deadline=None)


def _run(rules: type[TurnMachineRules], examples: int = 300) -> None:
    run_state_machine_as_test(
        rules,
        settings=settings(
            max_examples=examples,
            stateful_step_count=30,
            deadline=None,
            database=None,
            phases=(Phase.generate,),  # finding is the point here; shrinking would take most of the time
            suppress_health_check=list(HealthCheck),
        ),
    )


def test_TurnMachineRules_reach_every_illegal_event_edge() -> None:
    # Hypothesis' draws in one process also depend on what ran before (seeds alone do not fix
    # them), so search a few seeded batches until every edge is hit, instead of trusting one.
    coverage = EdgeCoverage()
    illegal = [e for e in coverage.edges if e.trigger == "illegal_event"]
    assert {e.source for e in illegal} == {State.AwaitingCompletion, State.Streaming, State.ExecutingTool}
    for batch in range(10):
        _run(seed(batch)(type("Covered", (TurnMachineRules,), {"coverage": coverage})), examples=100)
        if all(coverage.hits[e.index] for e in illegal):
            break
    assert all(coverage.hits[e.index] for e in illegal), coverage.table()


class _SilentAfterTheEnd(TurnMachine):
    """A mutant whose finished runs accept model events silently instead of refusing them."""

    def model_event(self, event: Any) -> Any:
        if self.done:
            from agent_fsm.machine.protocol import STOP

            return STOP
        return super().model_event(event)


class _ForgetsToFail(TurnMachine):
    """A mutant that stays in its state after refusing an event (``Failed`` must absorb it)."""

    def _illegal(self, event: str, detail: str) -> Any:
        from agent_fsm.errors import IllegalTransition

        return IllegalTransition(self.state.value, event, tuple(self.history), detail)


@pytest.mark.parametrize("mutant", [_SilentAfterTheEnd, _ForgetsToFail])
def test_TurnMachineRules_catch_a_machine_that_breaks_the_contract(
    mutant: type[TurnMachine], monkeypatch: pytest.MonkeyPatch
) -> None:
    from agent_fsm.testing import stateful

    monkeypatch.setattr(stateful, "TurnMachine", mutant)
    with pytest.raises(AssertionError):
        _run(TurnMachineRules, examples=500)


def test_a_stateful_failure_in_a_campaign_reports_the_minimal_program(monkeypatch: pytest.MonkeyPatch) -> None:
    from agent_fsm.testing import stateful
    from agent_fsm.testing.campaign import run_fuzz

    monkeypatch.setattr(stateful, "TurnMachine", _SilentAfterTheEnd)
    report = run_fuzz(200, 1, shares={"stateful": 1.0})
    (failure,) = report.failures
    assert "is not allowed after STOP but was taken" in failure
    assert "state = FuzzedTurnMachine()" in failure and "state.poke_a_finished_run(" in failure
    assert not report.ok
