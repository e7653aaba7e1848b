"""The fuzz kit's fake MCP server: MCP-backed tool behaviours with the real clients' failure modes."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings

from agent_fsm import Agent
from agent_fsm.errors import ToolServerError
from agent_fsm.messages import Text
from agent_fsm.table import State
from agent_fsm.testing import ScriptedModel, check_deterministic, run_agent
from agent_fsm.testing.behaviours import ToolBehaviour, ToolBehaviours
from agent_fsm.testing.servers import FakeMCPServer, serve
from agent_fsm.testing.strategies import fuzz_cases, tool_behaviours
from agent_fsm.tools import invalid_arguments, timed_out

pytest.importorskip("jsonschema")

_SPEC = ToolBehaviours(
    [
        ToolBehaviour("say", "text", "v:"),
        ToolBehaviour("data", "json", "v"),
        ToolBehaviour("oops", "raise", "it broke"),
        ToolBehaviour("wait", "stall", timeout=0.001),
    ],
    served_by="mcp",
)


async def test_each_behaviour_answers_as_an_mcp_server_would() -> None:
    server = FakeMCPServer(_SPEC)
    assert (await server.call("say", {"text": "hi"})).content == (Text("v:hi"),)
    data = await server.call("data", {"text": "t", "n": 2})
    assert data.content == (Text('{"n": 2, "text": "t", "value": "v"}'),) and not data.is_error
    oops = await server.call("oops", {})
    assert oops.is_error and oops.content == (Text("it broke"),)  # isError: the server's own text
    assert await server.call("wait", {}) == timed_out("wait", 0.001)
    assert server.cancelled == ["wait"]  # the stalled call was cancelled on the server
    bad = await server.call("say", {"text": 5})
    assert bad.is_error and bad.content[0].text.endswith("$.text: expected string, got integer 5")  # type: ignore[union-attr]
    assert server.calls == 4  # the bad call never reached the server


async def test_a_dying_server_raises_from_that_call_on() -> None:
    server = FakeMCPServer(_SPEC, dies_at=2)
    await server.call("say", {})
    for _ in range(2):
        with pytest.raises(ToolServerError, match=r"FakeMCPServer\('fake-mcp'\) is gone: the server process exited"):
            await server.call("say", {})
    with pytest.raises(ToolServerError):
        FakeMCPServer(_SPEC, dies_at=1).call_sync("say", {})


def test_argument_errors_match_the_local_toolsets() -> None:
    local = serve(ToolBehaviours(_SPEC.behaviours))
    remote = serve(_SPEC)
    for args in ({"n": "x"}, {"text": 1, "extra": True}, "[1]", '{"n": '):
        expected = local.call_sync("say", args)
        assert remote.call_sync("say", args) == expected
        assert expected.is_error and expected.content[0].text.startswith(  # type: ignore[union-attr]
            invalid_arguments("say", ValueError()).content[0].text.split("\n")[0]  # type: ignore[arg-type,union-attr]
        )


@settings(max_examples=30)
@given(case=fuzz_cases())
def test_fuzz_cases_draw_mcp_backed_tools_and_keep_every_invariant(case: Any) -> None:
    from agent_fsm.testing import check_case, dump_cassette, load_cassette

    check_case(case)
    assert load_cassette(dump_cassette(case)).tools == case.tools  # an MCP-backed case replays as one


def test_the_fuzz_kit_draws_tools_served_by_mcp() -> None:
    seen: set[str] = set()

    @settings(max_examples=60, database=None)
    @given(behaviours=tool_behaviours())
    def draw(behaviours: ToolBehaviours) -> None:
        seen.add(behaviours.served_by)

    draw()
    assert seen == {"toolset", "mcp"}


def test_an_agent_run_over_the_fake_server_is_deterministic() -> None:
    from agent_fsm import ToolCall, ToolFunction, Usage
    from agent_fsm.events import Final, TextDelta, ToolCallReady

    script = [
        [
            ToolCallReady(ToolCall("c1", ToolFunction("say", {"text": "x"})), "i1"),
            ToolCallReady(ToolCall("c2", ToolFunction("wait", {})), "i2"),
            ToolCallReady(ToolCall("c3", ToolFunction("oops", {})), "i3"),
            Final(Usage(1, 1)),
        ],
        [TextDelta("ok"), Final(Usage(1, 1))],
    ]
    records = []
    for _ in range(2):
        record = run_agent(Agent(ScriptedModel(script), tools=serve(_SPEC)), "go")
        record.check()
        records.append(record)
    check_deterministic(*records)
    assert records[0].state is State.Done
