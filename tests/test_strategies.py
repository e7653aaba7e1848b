"""The kit's hypothesis strategies draw what their docstrings promise."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

import pytest
from hypothesis import HealthCheck, Phase, given, seed, settings
from hypothesis import strategies as st

from agent_fsm import Agent
from agent_fsm.events import Final, ReasoningDelta, TextDelta, ToolCallDelta, ToolCallReady
from agent_fsm.hooks import HOOK_NAMES, live_hooks
from agent_fsm.messages import Reasoning
from agent_fsm.protocol import ToolOutput
from agent_fsm.testing import FuzzAgent, HookPolicy, ScriptedModel, ToolBehaviours, check_deterministic, run_agent
from agent_fsm.testing.strategies import (
    MALFORMATIONS,
    WRONG_TYPED_EVENTS,
    PolicyHook,
    agents,
    fuzz_cases,
    hook_policies,
    malformed_scripts,
    tool_behaviours,
    turn_scripts,
)

EVENTS = (TextDelta, ReasoningDelta, Reasoning, ToolCallDelta, ToolCallReady, Final)


def sample(strategy: st.SearchStrategy[Any], n: int = 400) -> list[Any]:
    """``n`` values drawn with a fixed seed and no shrinking: what "the strategy draws X" is
    checked against (deterministic, so never flaky)."""
    out: list[Any] = []

    @seed(0)
    @settings(
        max_examples=n, database=None, deadline=None, phases=(Phase.generate,), suppress_health_check=list(HealthCheck)
    )
    @given(strategy)
    def collect(value: Any) -> None:
        out.append(value)

    collect()
    return out


@functools.cache
def samples(name: str) -> list[Any]:
    strategies: dict[str, st.SearchStrategy[Any]] = {
        "scripts": turn_scripts(tools=["lookup"]),
        "malformed": malformed_scripts(tools=["lookup"]),
        "hooks": hook_policies(hangs=True),
        "plain hooks": hook_policies(),
        "tools": tool_behaviours(hangs=True),
        "cases": fuzz_cases(),
    }
    return sample(strategies[name])


def calls(turn: list[Any]) -> list[ToolCallReady]:
    return [e for e in turn if isinstance(e, ToolCallReady)]


@given(script=turn_scripts(tools=["lookup", "book"]))
def test_turn_scripts_are_provider_like(script: list[list[Any]]) -> None:
    assert 1 <= len(script) <= 5
    ids = [c.tool_call.id for turn in script for c in calls(turn)]
    assert len(ids) == len(set(ids)), "call ids are unique across the script"
    for t, turn in enumerate(script):
        assert all(isinstance(e, EVENTS) for e in turn), "a well-formed script holds only events"
        if t < len(script) - 1:
            assert calls(turn), "every turn but the last calls tools"
        finals = [i for i, e in enumerate(turn) if isinstance(e, Final)]
        assert finals in ([], [len(turn) - 1]), "Final, when present, is once and last"
        ready_ids = {c.tool_call.id for c in calls(turn)}
        assert {e.id for e in turn if isinstance(e, ToolCallDelta)} <= ready_ids, "deltas belong to calls"


@pytest.mark.parametrize(
    ("what", "found"),
    [
        ("a turn ending in text", lambda s: not calls(s[-1]) and any(isinstance(e, TextDelta) for e in s[-1])),
        ("a last turn calling tools", lambda s: bool(calls(s[-1]))),
        ("parallel calls", lambda s: any(len(calls(t)) >= 2 for t in s)),
        ("streamed call arguments", lambda s: any(isinstance(e, ToolCallDelta) and e.arguments for t in s for e in t)),
        ("signed reasoning", lambda s: any(isinstance(e, Reasoning) and e.signature for t in s for e in t)),
        ("reasoning deltas", lambda s: any(isinstance(e, ReasoningDelta) for t in s for e in t)),
        ("an unknown tool", lambda s: any(c.tool_call.function.name == "no_such_tool" for t in s for c in calls(t))),
        ("several turns", lambda s: len(s) >= 3),
        ("a turn without Final", lambda s: any(not any(isinstance(e, Final) for e in t) for t in s)),
    ],
)
def test_turn_scripts_draw(what: str, found: Callable[[list[list[Any]]], bool]) -> None:
    assert any(found(s) for s in samples("scripts")), what


def test_turn_scripts_arguments_follow_the_tool_schema_mostly() -> None:
    tool = ToolBehaviours.from_json_value({"behaviours": [{"name": "lookup", "kind": "text"}]}).tools()[0]

    def args(script: list[list[Any]]) -> list[Any]:
        return [
            c.tool_call.function.arguments for t in script for c in calls(t) if c.tool_call.function.name == "lookup"
        ]

    def fits(a: Any) -> bool:
        return not isinstance(tool.prepare(a), ToolOutput)

    drawn = [a for script in sample(turn_scripts(tools=[tool]), 200) for a in args(script)]
    valid = sum(fits(a) for a in drawn)
    assert valid > len(drawn) / 2, "most arguments fit the schema"
    assert valid < len(drawn), "some do not"
    assert any(a for a in drawn if fits(a)), "some valid ones are not empty"


def _fault(name: str) -> Callable[[list[list[Any]]], bool]:
    def after_final(t: list[Any]) -> bool:
        i = next((i for i, e in enumerate(t) if isinstance(e, Final)), None)
        return i is not None and i < len(t) - 1

    def duplicate(t: list[Any]) -> bool:
        ids = [c.tool_call.id for c in calls(t)]
        return len(ids) != len(set(ids))

    checks: dict[str, Callable[[list[Any]], bool]] = {
        "event_after_final": after_final,
        "second_final": lambda t: sum(isinstance(e, Final) for e in t) >= 2,
        "duplicate_call_id": duplicate,
        "bad_json_arguments": lambda t: any(isinstance(c.tool_call.function.arguments, str) for c in calls(t)),
        "model_error": lambda t: any(isinstance(e, BaseException) for e in t),
        "empty_turn": lambda t: t == [],
        "not_an_event": lambda t: any(not isinstance(e, (*EVENTS, BaseException)) for e in t),
        "delta_after_ready": lambda t: any(
            isinstance(e, ToolCallDelta) and any(c.tool_call.id == e.id for c in calls(t[:i])) for i, e in enumerate(t)
        ),
        "shuffled": lambda t: bool(t) and isinstance(t[0], Final) and len(t) > 1,
        "unknown_tool": lambda t: any(c.tool_call.function.name == "no_such_tool" for c in calls(t)),
        "wrong_typed_event": lambda t: any(any(e is w for w in WRONG_TYPED_EVENTS.values()) for e in t),
    }
    check = checks[name]
    return lambda script: any(check(t) for t in script)


@pytest.mark.parametrize("fault", MALFORMATIONS)
def test_malformed_scripts_draw_every_fault(fault: str) -> None:
    assert any(map(_fault(fault), samples("malformed")))


@given(hook=hook_policies())
def test_hook_policies_override_exactly_the_methods_they_answer(hook: PolicyHook) -> None:
    assert set(live_hooks(hook)) == set(hook.policy.answers)
    assert hook.policy.async_methods <= set(hook.policy.answers)
    assert HookPolicy.from_json_value(hook.policy.to_json_value()) == hook.policy


@pytest.mark.parametrize("kind", ["continue", "none", "terminate", "skip", "invalid", "hang"])
def test_hook_policies_draw_every_answer(kind: str) -> None:
    assert any(kind in kinds for hook in samples("hooks") for kinds in hook.policy.answers.values())
    assert any(hook.policy.raises for hook in samples("hooks")), "and some raise"


def test_hook_policies_hang_only_when_asked() -> None:
    assert not any(hook.policy.hangs for hook in samples("plain hooks"))


@given(hook=hook_policies(allow_async=False))
def test_PolicyHook_fresh_answers_like_the_original(hook: PolicyHook) -> None:
    other = hook.fresh()
    for name in hook.policy.answers:
        for i in range(7):
            results = []
            for h in (hook, other):
                try:
                    results.append(repr(getattr(h, name)("x", "y", "z", {}, "r")))
                except RuntimeError as exc:
                    results.append(f"raised {exc}")
            assert results[0] == results[1], f"{name} call {i}"
    assert hook.calls == other.calls


@given(behaviours=tool_behaviours(hangs=True))
def test_tool_behaviours_are_unique_and_stall_briefly(behaviours: ToolBehaviours) -> None:
    assert len(set(behaviours.names)) == len(behaviours.names) >= 1
    for b in behaviours.behaviours:
        stalls = b.kind in ("stall", "stubborn")
        assert (b.timeout is not None and b.timeout <= 0.005) if stalls else b.timeout is None
    assert [d.name for d in behaviours.definitions()] == list(behaviours.names)


@pytest.mark.parametrize("kind", ["text", "json", "raise", "stall", "stubborn", "hang"])
def test_tool_behaviours_draw_every_kind(kind: str) -> None:
    assert any(b.kind == kind for behaviours in samples("tools") for b in behaviours.behaviours)
    assert any(behaviours.server_fails_at for behaviours in samples("tools")), "and servers that fail"


@settings(max_examples=30)
@given(agent=agents())
def test_agents_draw_a_ready_agent_that_rebuilds_identically(agent: FuzzAgent) -> None:
    assert isinstance(agent, Agent) and isinstance(agent.model, ScriptedModel)
    assert 1 <= agent.max_turns <= 5 and 1 <= agent.tool_concurrency <= 3
    check_deterministic(run_agent(agent), run_agent(agent.fresh()))


@given(case=fuzz_cases(driver="sync"))
def test_fuzz_cases_on_the_sync_driver_never_hang(case: Any) -> None:
    assert case.sync_runnable
    assert case.hook is None or not case.hook.async_methods


def test_fuzz_cases_draw_every_hook_method_closing_and_both_drivers() -> None:
    cases = samples("cases")
    for name in HOOK_NAMES:
        assert any(c.hook is not None and name in c.hook.answers for c in cases), name
    assert any(c.close_after == 0 for c in cases) and any(c.close_after for c in cases)
    assert {c.driver for c in cases} == {"sync", "async"}
    assert any(c.history for c in cases), "some runs continue a conversation"
