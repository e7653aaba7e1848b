"""Snapshots: versioned JSON, refused when foreign, and resume that repeats exactly what followed."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from agent_fsm import (
    Agent,
    HookAction,
    Snapshot,
    SnapshotError,
    StreamingPromptHook,
    Text,
    ToolCall,
    ToolCallHookAction,
    ToolDefinition,
    ToolFunction,
    ToolOutput,
    Usage,
)
from agent_fsm.codec import to_json
from agent_fsm.events import Final, TextDelta, ToolCallReady
from agent_fsm.items import StreamUserItem
from agent_fsm.machine.snapshot import SNAPSHOT_VERSION
from agent_fsm.machine.table import State
from agent_fsm.messages import JSONValue
from agent_fsm.testing import ScriptedModel, check_history_invariants
from agent_fsm.testing.strategies import turn_scripts

from .support import collect


class Echo:
    def definitions(self) -> tuple[ToolDefinition, ...]:
        return (ToolDefinition("echo", "Echo text.", {"type": "object", "properties": {"text": {"type": "string"}}}),)

    async def call(self, name: str, arguments: JSONValue) -> ToolOutput:
        if name != "echo" or not isinstance(arguments, dict) or not isinstance(arguments.get("text"), str):
            return ToolOutput((Text(f"cannot run {name} with {arguments!r}"),), is_error=True)
        return ToolOutput((Text(arguments["text"]),))


class PureHook(StreamingPromptHook):
    """Answers as a function of its arguments only, so a resumed run gets the same answers."""

    def on_tool_call(self, tool_name: str, tool_call_id: str, internal_call_id: str, args: Any) -> Any:
        if tool_call_id.endswith("_1"):
            return ToolCallHookAction.skip(f"no {tool_call_id}")
        return None

    def on_text_delta(self, text_delta: str, aggregated_text: str) -> Any:
        return HookAction.terminate("too long") if len(aggregated_text) > 40 else None


def agent_for(script: list[list[Any]], hook: object | None, concurrency: int) -> Agent:
    return Agent(ScriptedModel(script), tools=Echo(), max_turns=4, hook=hook, tool_concurrency=concurrency)


def ready(cid: str, text: str) -> ToolCallReady:
    return ToolCallReady(ToolCall(cid, ToolFunction("echo", {"text": text})), f"i-{cid}")


def test_Snapshot_json_round_trip_and_version_fields() -> None:
    agent = agent_for([[ready("c1", "a"), Final(Usage(1, 1))], [TextDelta("ok")]], None, 1)
    run = agent.stream_prompt("go")
    asyncio.run(collect(run))
    snap = run.snapshot()
    data = json.loads(snap.to_json())
    assert data["format"] == "agent-fsm/snapshot"
    assert data["version"] == SNAPSHOT_VERSION
    assert data["state"] == "Done"
    assert Snapshot.from_json(snap.to_json()) == snap


def test_Snapshot_from_another_machine_definition_is_refused() -> None:
    run = agent_for([[TextDelta("ok")]], None, 1).stream_prompt("go")
    data = json.loads(run.snapshot().to_json())
    data["definition"] = "0000000000000000"
    with pytest.raises(SnapshotError, match="machine definition"):
        Snapshot.from_dict(data)


def test_Snapshot_from_a_newer_schema_is_refused() -> None:
    data = json.loads(agent_for([[TextDelta("ok")]], None, 1).stream_prompt("go").snapshot().to_json())
    data["version"] = SNAPSHOT_VERSION + 1
    with pytest.raises(SnapshotError, match="newer"):
        Snapshot.from_dict(data)


def test_Snapshot_schema_1_is_migrated() -> None:
    current = json.loads(agent_for([[TextDelta("ok")]], None, 1).stream_prompt("go").snapshot().to_json())
    call = {"type": "toolCallReady", "toolCall": {"type": "toolcall", "id": "c1", "call_id": None,
            "function": {"name": "echo", "arguments": {"text": "x"}}}, "internalCallId": "i1"}  # fmt: skip
    v1 = {
        "format": "agent-fsm/snapshot", "version": 1, "definition": current["definition"], "state": "ExecutingTool",
        "history": current["history"] + [{"role": "assistant", "id": None, "content": [call["toolCall"]]}],
        "turns": 1, "max_turns": 4, "usage": current["usage"],
        "tools": {"calls": [call], "results": [], "approved": [True]},
    }  # fmt: skip
    snap = Snapshot.from_dict(v1)
    assert snap.version == SNAPSHOT_VERSION
    assert snap.stopped_in is State.ExecutingTool
    assert snap.tools is not None and [d.kind for d in snap.tools.decisions] == ["continue"]
    resumed = Agent(ScriptedModel([[TextDelta("done")]]), tools=Echo()).resume(snap)
    items, outcome = asyncio.run(collect(resumed))
    assert outcome is None
    assert resumed.history[-2].content[0].text == "x"


@pytest.mark.parametrize(
    ("mutate", "match"),
    [
        (lambda d: d.update(format="other"), "not an agent-fsm snapshot"),
        (lambda d: d.pop("turns"), "malformed snapshot"),
        (lambda d: d.update(history=[{"role": "robot"}]), "malformed snapshot"),
        (lambda d: d.update(version="2"), "no valid schema version"),
    ],
)
def test_Snapshot_malformed_data_gets_a_clear_error(mutate: Any, match: str) -> None:
    data = json.loads(agent_for([[TextDelta("ok")]], None, 1).stream_prompt("go").snapshot().to_json())
    mutate(data)
    with pytest.raises(SnapshotError, match=match):
        Snapshot.from_dict(data)


def test_resume_of_a_completed_run_is_refused() -> None:
    agent = agent_for([[TextDelta("ok")]], None, 1)
    run = agent.stream_prompt("go")
    asyncio.run(collect(run))
    with pytest.raises(SnapshotError, match="Done"):
        agent.resume(run.snapshot())


def test_resume_after_a_provider_failure_retries_the_failed_call() -> None:
    script: list[list[Any]] = [[ready("c1", "a"), Final(Usage(1, 1))], [TextDelta("par"), RuntimeError("overloaded")]]
    agent = agent_for(script, None, 1)
    run = agent.stream_prompt("go")
    _, outcome = asyncio.run(collect(run))
    assert run.state is State.Failed
    snap = run.snapshot()
    assert snap.state is State.AwaitingCompletion and snap.stopped_in is State.Failed
    assert snap.turns == 1 and snap.usage == Usage(1, 1)
    resumed = Agent(ScriptedModel([[TextDelta("recovered"), Final(Usage(2, 1))]]), tools=Echo()).resume(snap)
    items, outcome = asyncio.run(collect(resumed))
    assert outcome is None
    assert items[-1].response == "recovered"
    assert items[-1].usage == Usage(3, 2)
    check_history_invariants(resumed.history)


@given(
    script=turn_scripts(tools=["echo"], max_turns=4),
    data=st.data(),
    close_first=st.booleans(),
    pure_hook=st.booleans(),
    concurrency=st.integers(1, 3),
)
def test_property_resume_continues_byte_for_byte(
    script: list[list[Any]], data: st.DataObject, close_first: bool, pure_hook: bool, concurrency: int
) -> None:
    hook = PureHook() if pure_hook else None
    whole = agent_for(script, hook, concurrency).stream_prompt("go")
    whole_items, whole_outcome = asyncio.run(collect(whole))
    # cut anywhere, but often right after a tool result: the checkpoints of the tool stage
    results = [i for i, item in enumerate(whole_items) if isinstance(item, StreamUserItem)]
    if results and data.draw(st.booleans(), label="at a tool result"):
        cut = data.draw(st.sampled_from(results), label="cut")
    else:
        cut = data.draw(st.integers(0, max(len(whole_items) - 1, 0)), label="cut")

    async def interrupted() -> Snapshot:
        run = agent_for(script, hook, concurrency).stream_prompt("go")
        seen = 0
        async for _ in run:
            seen += 1
            if seen > cut:
                break
        if close_first:
            await run.aclose()
            return run.snapshot()
        snap = run.snapshot()
        await run.aclose()
        return snap

    snap = Snapshot.from_json(asyncio.run(interrupted()).to_json())
    if snap.state is State.Done:
        return
    resumed = Agent(ScriptedModel(script[snap.turns :]), tools=Echo(), max_turns=4, hook=hook,
                    tool_concurrency=concurrency).resume(snap)  # fmt: skip
    items, outcome = asyncio.run(collect(resumed))
    assert to_json(items) == to_json(whole_items[snap.items_emitted :])
    assert to_json(list(resumed.history)) == to_json(list(whole.history))
    assert resumed.state is whole.state
    assert type(outcome) is type(whole_outcome)


def test_Snapshot_json_keeps_the_key_order_of_tool_arguments() -> None:
    args = {"zeta": 1, "alpha": 2}
    agent = agent_for([[ToolCallReady(ToolCall("c1", ToolFunction("echo", args)), "i1"), ready("c2", "x")]], None, 1)
    run = agent.stream_prompt("go")

    async def first_result() -> None:
        async for item in run:
            if isinstance(item, StreamUserItem):
                break

    asyncio.run(first_result())
    snap = Snapshot.from_json(run.snapshot().to_json())
    assert snap.state is State.ExecutingTool
    assert snap.tools is not None
    assert list(snap.tools.calls[0].tool_call.function.arguments) == ["zeta", "alpha"]
