"""The table is the design: its shape, and that the live machine holds exactly it."""

from __future__ import annotations

import subprocess
import sys

from agent_fsm.machine import TurnMachine
from agent_fsm.machine.table import (
    EDGES,
    FINAL,
    GUARD_WORDS,
    LIVE,
    STATES,
    TABLE,
    TERMINAL,
    TRANSITIONS,
    TRIGGER_HOOKS,
    State,
    build_machine,
)


def test_TABLE_every_state_has_its_row_and_terminal_rows_are_empty() -> None:
    assert set(TABLE) == set(State)
    for state in State:
        if state in FINAL:
            assert TABLE[state] == [], f"{state} is terminal and must have no edges"
        else:
            assert TABLE[state], f"{state} has no edges"


def test_TABLE_every_waiting_state_can_be_closed_failed_and_refuse_events() -> None:
    assert [row["trigger"] for row in TABLE[State.Finalizing]] == ["finish"], "Finalizing is transient"
    for state in LIVE:
        if state is State.Finalizing:
            continue
        triggers = {row["trigger"]: row["dest"] for row in TABLE[state]}
        assert triggers["close"] is State.Cancelled
        assert triggers["hook_error"] is State.Failed
        assert triggers["illegal_event"] is State.Failed


def test_STATES_declares_every_state_once_and_terminal_ones_final() -> None:
    names = [s["name"] for s in STATES]
    assert names == list(State)
    assert {s["name"] for s in STATES if s.get("final")} == FINAL
    assert {State.AwaitingApproval} == FINAL - TERMINAL


def test_EDGES_are_the_live_machines_edges_in_table_order() -> None:
    machine = build_machine()
    assert len(EDGES) == len(TRANSITIONS)
    for edge, row in zip(EDGES, TRANSITIONS, strict=True):
        assert (edge.trigger, edge.source, edge.dest) == (row["trigger"], row["source"], row["dest"])
        event = machine.events[edge.trigger]
        assert any((t.dest == (edge.dest.name if edge.dest else None)) for t in event.transitions[edge.source.name])


def test_EDGES_name_only_methods_the_machine_has() -> None:
    for edge in EDGES:
        for name, _target in edge.conditions:
            assert callable(getattr(TurnMachine, name)), name
            assert name in GUARD_WORDS, f"condition {name} has no words for diagrams"
        for name in edge.callbacks:
            assert callable(getattr(TurnMachine, name)), name
    for state in STATES:
        if "on_enter" in state:
            assert callable(getattr(TurnMachine, state["on_enter"]))


def test_Edge_label_reads_trigger_and_guard() -> None:
    labels = {e.label for e in EDGES}
    assert "tool_verdict [on_tool_call = skip]" in labels
    assert "text_delta [on_text_delta = terminate]" in labels
    assert "turn_limit [model calls = max_turns]" in labels
    assert "stream_end [no tool calls]" in labels
    assert set(TRIGGER_HOOKS) <= {e.trigger for e in EDGES}


def test_core_imports_neither_asyncio_nor_httpx() -> None:
    code = (
        "import sys\n"
        "import agent_fsm.machine, agent_fsm.machine.table, agent_fsm.codec, agent_fsm.machine._turn, agent_fsm.hooks\n"
        "import agent_fsm.run.sync_driver\n"
        "bad = [m for m in ('asyncio', 'httpx', 'anyio', 'trio') if m in sys.modules]\n"
        "print(','.join(bad))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "", f"the sans-IO core imported {out.stdout.strip()}"


def test_public_namespace_exports_each_name_once_and_all_resolve() -> None:
    import agent_fsm
    import agent_fsm.providers

    for package in (agent_fsm, agent_fsm.providers):
        names = package.__all__
        assert len(names) == len(set(names)), f"{package.__name__} exports a name twice"
        for name in names:
            assert getattr(package, name) is not None, f"{package.__name__}.{name} does not resolve"
    assert agent_fsm.State is State


def test_the_verdict_conditions_hold_for_exactly_their_verdict_kind() -> None:
    # The fast path decides these guards from VERDICT_CONDITIONS at import, without a machine; the
    # machine's guards of the same names must agree for every verdict kind.
    from agent_fsm.hooks import HookAction, ToolCallHookAction
    from agent_fsm.machine import TurnMachine
    from agent_fsm.machine.table import VERDICT_CONDITIONS

    m = TurnMachine("hi", max_turns=1)
    verdicts = [
        HookAction.cont(),
        HookAction.terminate("t"),
        ToolCallHookAction.skip("s"),
        ToolCallHookAction.defer("d"),
    ]
    assert {v.kind for v in verdicts} == set(VERDICT_CONDITIONS.values())
    for name, kind in VERDICT_CONDITIONS.items():
        for verdict in verdicts:
            assert getattr(m, name)(verdict, None) is (verdict.kind == kind), (name, verdict.kind)
