"""Tool approval that can wait: deferred calls, a resumable stop, approvals routed by call id."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from agent_fsm import (
    Agent,
    ApprovalRequired,
    ConfigurationError,
    Snapshot,
    StreamingPromptHook,
    ToolCall,
    ToolCallHookAction,
    ToolFunction,
    Usage,
    approve,
    deny,
    tool,
)
from agent_fsm.events import Final, TextDelta, ToolCallReady
from agent_fsm.items import StreamUserItem
from agent_fsm.table import State
from agent_fsm.testing import ScriptedModel, check_history_invariants

from .support import collect

RAN: list[str] = []


@tool(requires_approval=True)
def delete_file(path: str) -> str:
    """Delete a file (needs a human's approval)."""
    RAN.append(path)
    return f"deleted {path}"


@tool
def list_files() -> str:
    """List files."""
    RAN.append("ls")
    return "a.txt b.txt c.txt"


def call(cid: str, name: str, **args: Any) -> ToolCallReady:
    return ToolCallReady(ToolCall(cid, ToolFunction(name, args)), f"int-{cid}")


def first_turn() -> list[Any]:
    return [call("ls", "list_files"), call("d1", "delete_file", path="a.txt"), call("d2", "delete_file", path="b.txt"),
            Final(Usage(10, 5))]  # fmt: skip


def second_turn() -> list[list[Any]]:
    return [[TextDelta("Done as far as allowed."), Final(Usage(20, 5))]]


def build_agent(script: list[list[Any]], concurrency: int = 3) -> Agent:
    return Agent(ScriptedModel(script), tools=[delete_file, list_files], tool_concurrency=concurrency, max_turns=4)


@pytest.fixture(autouse=True)
def _clear() -> None:
    RAN.clear()


async def test_requires_approval_stops_the_run_before_any_call_of_the_batch_runs() -> None:
    run = build_agent([first_turn()]).stream_prompt("clean up")
    items, outcome = await collect(run)
    assert isinstance(outcome, ApprovalRequired)
    assert run.state is State.AwaitingApproval
    assert [c.id for c in outcome.pending] == ["d1", "d2"]
    assert RAN == [], "nothing of the batch ran"
    assert not any(isinstance(i, StreamUserItem) for i in items)
    check_history_invariants(outcome.history)
    snap = outcome.snapshot
    assert snap.state is State.ExecutingTool and snap.stopped_in is State.AwaitingApproval
    assert [c.tool_call.id for c in snap.pending_approvals] == ["d1", "d2"]


@pytest.mark.parametrize("order", [["d1", "d2"], ["d2", "d1"]])
async def test_approvals_given_out_of_order_are_routed_by_call_id(order: list[str]) -> None:
    _, outcome = await collect(build_agent([first_turn()]).stream_prompt("clean up"))
    assert isinstance(outcome, ApprovalRequired)
    decisions = {"d2": deny("keep b.txt"), "d1": approve}
    approvals = {cid: decisions[cid] for cid in order}
    resumed = build_agent(second_turn()).resume(outcome.snapshot, approvals=approvals)
    items, outcome2 = await collect(resumed)
    assert outcome2 is None
    assert RAN == ["ls", "a.txt"]
    results = {r.id: (r.text, r.is_error) for r in resumed.history[2].content}
    assert results == {"ls": ("a.txt b.txt c.txt", False), "d1": ("deleted a.txt", False), "d2": ("keep b.txt", False)}
    emitted = [i.tool_result.id for i in items if isinstance(i, StreamUserItem)]
    assert emitted == ["ls", "d1", "d2"], "results are emitted in call order"


async def test_a_call_left_without_an_approval_stays_deferred() -> None:
    _, outcome = await collect(build_agent([first_turn()]).stream_prompt("clean up"))
    assert isinstance(outcome, ApprovalRequired)
    again = build_agent(second_turn()).resume(outcome.snapshot, approvals={"d1": approve})
    _, outcome2 = await collect(again)
    assert isinstance(outcome2, ApprovalRequired)
    assert [c.id for c in outcome2.pending] == ["d2"]
    assert RAN == []
    final = build_agent(second_turn()).resume(outcome2.snapshot, approvals={"d2": approve})
    _, outcome3 = await collect(final)
    assert outcome3 is None
    assert RAN == ["ls", "a.txt", "b.txt"]


async def test_an_approval_for_an_unknown_call_is_refused() -> None:
    _, outcome = await collect(build_agent([first_turn()]).stream_prompt("clean up"))
    assert isinstance(outcome, ApprovalRequired)
    with pytest.raises(ConfigurationError, match="nope"):
        build_agent(second_turn()).resume(outcome.snapshot, approvals={"nope": approve})


async def test_a_hook_can_defer_and_sequential_runs_stop_at_the_first_deferred_call() -> None:
    class AskHuman(StreamingPromptHook):
        def on_tool_call(self, tool_name: str, tool_call_id: str, internal_call_id: str, args: Any) -> Any:
            return ToolCallHookAction.defer("a human decides") if tool_name == "list_files" else None

    script = [[call("ls", "list_files"), call("x", "list_files")], *second_turn()]
    agent = Agent(ScriptedModel(script), tools=[list_files], tool_concurrency=1, hook=AskHuman())
    _, outcome = await collect(agent.stream_prompt("go"))
    assert isinstance(outcome, ApprovalRequired)
    assert [c.id for c in outcome.pending] == ["ls"], "one at a time when tools run one by one"
    decisions = outcome.snapshot.tools.decisions if outcome.snapshot.tools else ()
    assert [(d.kind, d.reason) for d in decisions] == [("defer", "a human decides")]


def test_approval_flow_across_a_process_restart(tmp_path: Path) -> None:
    _, outcome = asyncio.run(collect(build_agent([first_turn()]).stream_prompt("clean up")))
    assert isinstance(outcome, ApprovalRequired)
    path = tmp_path / "snapshot.json"
    path.write_text(outcome.snapshot.to_json(), encoding="utf-8")
    assert Snapshot.from_json(path.read_text(encoding="utf-8")) == outcome.snapshot
    root = Path(__file__).resolve().parent.parent
    proc = subprocess.run(
        [sys.executable, "-m", "tests.approval_process", str(path), json.dumps({"d2": False, "d1": True})],
        capture_output=True, text=True, cwd=root, check=False, timeout=60,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    result = json.loads(proc.stdout)
    assert result["state"] == "Done"
    tool_results = result["history"][2]["content"]
    assert [(r["id"], r["content"][0]["text"]) for r in tool_results] == [
        ("ls", "a.txt b.txt c.txt"),
        ("d1", "deleted a.txt"),
        ("d2", "the operator said no"),
    ]
    assert result["items"][-1]["type"] == "finalResponse"


async def test_at_concurrency_1_each_deferred_call_is_its_own_approval_round() -> None:
    """README, Approvals: one round per deferred call at concurrency 1, one per batch above."""
    _, first = await collect(build_agent([first_turn()], concurrency=1).stream_prompt("clean up"))
    assert isinstance(first, ApprovalRequired)
    assert [c.id for c in first.pending] == ["d1"]
    assert RAN == ["ls"], "the calls before the first deferred one ran"
    _, second = await collect(
        build_agent(second_turn(), concurrency=1).resume(first.snapshot, approvals={"d1": approve})
    )
    assert isinstance(second, ApprovalRequired)
    assert [c.id for c in second.pending] == ["d2"]
    assert RAN == ["ls", "a.txt"]
    _, done = await collect(
        build_agent(second_turn(), concurrency=1).resume(second.snapshot, approvals={"d2": approve})
    )
    assert done is None
    assert RAN == ["ls", "a.txt", "b.txt"]
