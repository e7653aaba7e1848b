"""Tools from MCP servers, against real servers: ``tests/mcp_server.py`` (the SDK's FastMCP) started
as a subprocess, over stdio and over streamable HTTP on 127.0.0.1.

After every test no subprocess of ours is left (checked by PID in /proc) and no task is left
running (``asyncio.all_tasks()``).
"""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Any, Literal

import attrs
import pytest

pytest.importorskip("mcp")

from agent_fsm import Agent, ToolCall, ToolFunction, Usage, tool
from agent_fsm.errors import ApprovalRequired, ConfigurationError, ToolServerError
from agent_fsm.events import Final, TextDelta, ToolCallReady
from agent_fsm.hooks import StreamingPromptHook, ToolCallHookAction
from agent_fsm.machine import approve
from agent_fsm.mcp import MCPServerHTTP, MCPServerStdio
from agent_fsm.messages import Image, Text, UserMessage
from agent_fsm.table import State
from agent_fsm.testing import ScriptedModel, check_deterministic, check_history_invariants
from agent_fsm.testing.record import arun_agent
from agent_fsm.tools import ToolServer, ToolSet, timed_out

from .support import collect, modules_after_a_run

SERVER = Path(__file__).with_name("mcp_server.py")
Transport = Literal["stdio", "http"]


# ---------------------------------------------------------------------------------------------- leak checks


def _children() -> set[int]:
    """PIDs of this process's children (zombies included: a zombie is a child nobody reaped)."""
    me, found = os.getpid(), set()
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            if int(stat.rsplit(")", 1)[1].split()[1]) == me:
                found.add(int(entry.name))
    return found


@pytest.fixture(autouse=True)
async def nothing_left() -> AsyncIterator[None]:
    before_children = _children()
    before_tasks = asyncio.all_tasks()
    yield
    left = asyncio.all_tasks() - before_tasks - {asyncio.current_task()}
    assert not left, f"tasks left running: {left}"
    assert _children() - before_children == set(), "a server subprocess was left behind"


# ---------------------------------------------------------------------------------------------- servers


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def http_url() -> Iterator[str]:
    """A FastMCP server over streamable HTTP, in its own process, for one test."""
    port = _free_port()
    proc = subprocess.Popen([sys.executable, str(SERVER), "http", str(port)], stderr=subprocess.DEVNULL)
    try:
        while True:  # until it listens (or dies, which fails the test)
            assert proc.poll() is None, "the HTTP test server exited at start"
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                time.sleep(0.05)
        yield f"http://127.0.0.1:{port}/mcp"
    finally:
        proc.terminate()
        proc.wait()


@pytest.fixture(params=["stdio", "http"])
def transport(request: pytest.FixtureRequest) -> Transport:
    return request.param  # type: ignore[no-any-return]


@pytest.fixture
def make_server(transport: Transport, request: pytest.FixtureRequest) -> Callable[..., Any]:
    """``make_server(**options)``: an MCP client of the test server over ``transport``."""
    url = request.getfixturevalue("http_url") if transport == "http" else None

    def make(**options: Any) -> MCPServerStdio | MCPServerHTTP:
        if url is not None:
            return MCPServerHTTP(url, **options)
        return MCPServerStdio(sys.executable, [str(SERVER)], **options)

    return make


# ---------------------------------------------------------------------------------------------- results


async def test_results_map_text_image_structured_content_and_is_error(make_server: Callable[..., Any]) -> None:
    async with make_server() as server:
        assert isinstance(server, ToolServer)
        echo = await server.call("echo", {"text": "hi"})
        assert (echo.content, echo.is_error) == ((Text("hi"),), False)
        image = await server.call("pixel", {})
        assert len(image.content) == 1 and isinstance(image.content[0], Image)
        assert image.content[0].media_type == "image/png" and image.content[0].data.startswith("iVBOR")
        weather = await server.call("weather", '{"city": "Oslo"}')
        assert weather.content == (Text('{"city": "Oslo", "temp": 21.5}'),)
        failed = await server.call("fail", {"reason": "no such city"})
        assert failed.is_error and "no such city" in failed.content[0].text  # type: ignore[union-attr]


async def test_the_model_sees_each_tool_unchanged_with_its_prefix(make_server: Callable[..., Any]) -> None:
    async with make_server(prefix="t") as server:
        defs = {d.name: d for d in server.definitions()}
        assert "t_echo" in defs and "echo" not in defs
        assert defs["t_add"].description == "Add two integers."
        assert defs["t_add"].parameters["properties"]["unit"]["enum"] == ["km", "mi"]
        assert defs["t_add"].parameters["required"] == ["a", "b"]
        assert (await server.call("t_echo", {"text": "x"})).content == (Text("x"),)
        unknown = await server.call("echo", {"text": "x"})
        assert unknown.is_error and unknown.content[0].text.startswith("Unknown tool 'echo'. Available tools: t_echo,")  # type: ignore[union-attr]


@tool(name="add")
def _local_add(a: int, b: int, unit: Literal["km", "mi"] = "km") -> str:
    """The same signature as the server's add."""
    return f"{a + b} {unit}"


@pytest.mark.parametrize(
    "arguments",
    [
        {"a": "1", "unit": "yards"},
        {"a": 1, "b": True},
        '{"a": 1, "b": ',
        [1, 2],
    ],
)
async def test_argument_errors_read_exactly_like_a_local_tools(make_server: Callable[..., Any], arguments: Any) -> None:
    local = await ToolSet([_local_add]).call("add", arguments)
    async with make_server() as server:
        remote = await server.call("add", arguments)
    assert remote == local
    assert remote.is_error and "(the tool was not called)" in remote.content[0].text  # type: ignore[union-attr]


async def test_a_call_past_its_timeout_is_cancelled_on_the_server(
    make_server: Callable[..., Any], transport: Transport, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="agent_fsm")
    async with make_server(timeout=0.5) as server:
        output = await server.call("slow", {"seconds": 60})
        assert output == timed_out("slow", 0.5)
        assert output.content == (Text("Tool 'slow' timed out after 0.5 s."),)
        assert (await server.call("was_cancelled", {})).content == (Text("true"),)
    if transport == "stdio":  # what the server printed on being cancelled reached the log
        assert any("slow: cancelled" in r.getMessage() for r in caplog.records)


# ---------------------------------------------------------------------------------------------- failures


async def test_a_server_that_dies_raises_tool_server_error_naming_it(make_server: Callable[..., Any]) -> None:
    server = make_server()
    async with server:
        with pytest.raises(ToolServerError) as died:
            await server.call("die", {})
        assert repr(server) in str(died.value) and "is gone" in str(died.value)
        with pytest.raises(ToolServerError):  # and every later call
            await server.call("echo", {"text": "x"})
    # leaving `async with` after the server died raised nothing


def _kill_server() -> None:
    """SIGKILL the test server (a child of ours), and wait until it is dead."""
    for pid in _children():
        if str(SERVER).encode() in Path(f"/proc/{pid}/cmdline").read_bytes():
            os.kill(pid, signal.SIGKILL)
            while Path(f"/proc/{pid}").exists() and Path(f"/proc/{pid}/stat").read_text().split(") ")[1][0] != "Z":
                time.sleep(0.01)


async def test_a_server_killed_between_calls_fails_the_next_call(make_server: Callable[..., Any]) -> None:
    async with make_server() as server:
        assert (await server.call("echo", {"text": "alive"})).content == (Text("alive"),)
        _kill_server()
        with pytest.raises(ToolServerError, match="is gone"):
            await server.call("echo", {"text": "dead?"})


async def test_a_server_may_be_entered_in_one_task_and_left_in_another(make_server: Callable[..., Any]) -> None:
    server = make_server()
    await asyncio.create_task(server.__aenter__())  # as a fixture's setup, in a task of its own
    assert (await server.call("echo", {"text": "x"})).content == (Text("x"),)
    await server.__aexit__(None, None, None)  # as its teardown, here
    assert not server.connected
    with pytest.raises(ToolServerError, match="is not connected"):
        await server.call("echo", {"text": "x"})


async def test_a_server_that_cannot_start_raises_tool_server_error_naming_it() -> None:
    missing = MCPServerStdio("/no/such/mcp-server", ["--flag"])
    with pytest.raises(ToolServerError, match=r"MCPServerStdio\('/no/such/mcp-server --flag'\) could not be started"):
        async with missing:
            pass
    exits = MCPServerStdio(sys.executable, ["-c", "import sys; sys.exit(3)"])
    with pytest.raises(ToolServerError, match="could not be started"):
        async with exits:
            pass
    unreachable = MCPServerHTTP(f"http://127.0.0.1:{_free_port()}/mcp")
    with pytest.raises(ToolServerError, match=r"MCPServerHTTP\('http://127.0.0.1:\d+/mcp'\) could not be started"):
        async with unreachable:
            pass


async def test_stderr_goes_to_the_log_line_by_line(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="agent_fsm")
    server = MCPServerStdio(sys.executable, [str(SERVER)])
    async with server:
        await server.call("shout", {"text": "first"})
        await server.call("shout", {"text": "second"})
        await server.call("shout", {"text": "token=sk-abcdefghijklmnopqrstuvwx"})
    lines = [r.getMessage() for r in caplog.records if "mcp server stderr" in r.getMessage()]
    assert any("server starting" in m for m in lines)
    assert [m.split("line=")[1].split("'")[1] for m in lines if "shout:" in m][:2] == ["shout: first", "shout: second"]
    assert len([m for m in lines if "shout:" in m]) == 3
    assert any("shout: token=[REDACTED]" in m for m in lines)
    assert not any("sk-abcdefghijklmnopqrstuvwx" in r.getMessage() for r in caplog.records)
    assert all(repr(server.name)[1:-1] in m for m in lines)


async def test_env_is_merged_over_the_safe_default_environment(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="agent_fsm")
    monkeypatch.setenv("AGENT_FSM_TEST_UNSAFE", "inherited")
    code = (
        "import os, sys; e = os.environ; "
        "print('env', e.get('AGENT_FSM_TEST_UNSAFE'), e.get('GIVEN'), 'PATH' in e, file=sys.stderr)"
    )
    server = MCPServerStdio(sys.executable, ["-c", code], env={"GIVEN": "yes"})
    with pytest.raises(ToolServerError, match="could not be started"):  # it prints and exits
        async with server:
            pass
    assert any("env None yes True" in r.getMessage() for r in caplog.records)


def test_options_are_checked_when_made() -> None:
    with pytest.raises(ConfigurationError, match="timeout must be positive"):
        MCPServerStdio("python", timeout=0)
    with pytest.raises(ConfigurationError, match="set of tool names"):
        MCPServerStdio("python", requires_approval="echo")
    with pytest.raises(ConfigurationError, match="is not connected"):
        MCPServerStdio("python").definitions()


def test_secrets_never_name_a_server() -> None:
    server = MCPServerHTTP(
        "https://user:hunter2hunter2@example.com/mcp?api_key=sk-abcdefghijklmnop",
        headers={"Authorization": "Bearer sk-abcdefghijklmnop"},
    )
    assert "hunter2" not in server.name and "sk-abcdefghijklmnop" not in server.name
    assert "example.com/mcp" in server.name
    # a header's value is a secret whatever its shape, wherever it shows (here, in the URL)
    odd = MCPServerHTTP("https://example.com/mcp/plainsecretvalue42", headers={"X-Custom": "plainsecretvalue42"})
    assert "plainsecretvalue42" not in odd.name and "[REDACTED]" in odd.name


# ---------------------------------------------------------------------------------------------- agents


@tool
def double(n: int) -> int:
    """Double a number."""
    return 2 * n


def _script() -> list[list[Any]]:
    return [
        [
            ToolCallReady(ToolCall("c1", ToolFunction("srv_echo", {"text": "from mcp"})), "i1"),
            ToolCallReady(ToolCall("c2", ToolFunction("double", {"n": 21})), "i2"),
            ToolCallReady(ToolCall("c3", ToolFunction("srv_add", {"a": 2, "b": 3})), "i3"),
            Final(Usage(10, 3)),
        ],
        [TextDelta("done"), Final(Usage(20, 1))],
    ]


@pytest.mark.parametrize("concurrency", [1, 3])
async def test_an_agent_calls_mcp_and_local_tools_in_one_turn(
    make_server: Callable[..., Any], transport: Transport, concurrency: int
) -> None:
    async with make_server(prefix="srv") as server:
        records = []
        for _ in range(2):
            agent = Agent(ScriptedModel(_script()), tools=[double, server], tool_concurrency=concurrency)
            record = await arun_agent(agent, "use the tools")
            if transport == "http":
                # The SDK's HTTP transport finishes each POST in a task of the server's (it closes
                # the response after handing the result over): the server's, not the run's, and
                # gone before the server closes (the autouse check says so).
                record = attrs.evolve(record, leaked_tasks=0)
            record.check()
            records.append(record)
        check_deterministic(*records)
    record = records[0]
    assert record.state is State.Done
    check_history_invariants(record.history)
    results = record.history[2]
    assert isinstance(results, UserMessage)
    assert [(r.id, r.content) for r in results.content] == [  # type: ignore[union-attr]
        ("c1", (Text("from mcp"),)),
        ("c2", (Text("42"),)),
        ("c3", (Text("5 km"),)),
    ]


async def test_duplicate_names_are_refused_naming_both_sources(make_server: Callable[..., Any]) -> None:
    @tool
    def echo(text: str) -> str:
        """A local echo."""
        return text

    server = make_server()
    model = ScriptedModel([[TextDelta("never"), Final(Usage(1, 1))]])
    agent = Agent(model, tools=[echo, server])  # not connected yet: not known yet
    async with server:
        with pytest.raises(ConfigurationError) as late:
            agent.stream_prompt("hi")
        assert model.calls == 0  # before any model request
        with pytest.raises(ConfigurationError) as early:  # connected: refused when the agent is made
            Agent(model, tools=[echo, server])
    for exc in (late.value, early.value):
        assert "two tools are named 'echo'" in str(exc)
        assert "@tool tests.test_mcp." in str(exc) and repr(server) in str(exc)


async def test_a_server_dying_mid_run_fails_the_run_with_its_history_sealed(make_server: Callable[..., Any]) -> None:
    script = [
        [
            ToolCallReady(ToolCall("c1", ToolFunction("double", {"n": 1})), "i1"),
            ToolCallReady(ToolCall("c2", ToolFunction("die", {})), "i2"),
            ToolCallReady(ToolCall("c3", ToolFunction("echo", {"text": "never"})), "i3"),
            Final(Usage(1, 1)),
        ],
    ]
    async with make_server() as server:
        run = Agent(ScriptedModel(script), tools=[double, server]).stream_prompt("go")
        _, error = await collect(run)
    assert isinstance(error, ToolServerError) and repr(server) in str(error)
    assert run.state is State.Failed
    check_history_invariants(run.history)
    results = run.history[-1]
    assert isinstance(results, UserMessage) and [r.id for r in results.content] == ["c1", "c2", "c3"]  # type: ignore[union-attr]


async def test_hooks_and_approvals_work_for_mcp_tools(make_server: Callable[..., Any]) -> None:
    class SkipDie(StreamingPromptHook):
        def on_tool_call(self, name: str, call_id: str, internal_call_id: str, args: Any) -> Any:
            return ToolCallHookAction.skip("not that one") if name == "m_die" else None

    script = [
        [
            ToolCallReady(ToolCall("c1", ToolFunction("m_die", {})), "i1"),
            ToolCallReady(ToolCall("c2", ToolFunction("m_echo", {"text": "approved"})), "i2"),
            Final(Usage(1, 1)),
        ],
        [TextDelta("ok"), Final(Usage(1, 1))],
    ]
    async with make_server(prefix="m", requires_approval={"echo"}) as server:
        agent = Agent(ScriptedModel(script), tools=[server], hook=SkipDie())
        _, error = await collect(agent.stream_prompt("go"))
        assert isinstance(error, ApprovalRequired) and [c.id for c in error.pending] == ["c2"]
        resumed = agent.resume(error.snapshot, approvals={"c2": approve})
        _, error = await collect(resumed)
        assert error is None and resumed.state is State.Done
    results = resumed.history[2]
    assert [r.content for r in results.content] == [(Text("not that one"),), (Text("approved"),)]  # type: ignore[union-attr]


async def test_closing_a_run_cancels_its_mcp_call(make_server: Callable[..., Any]) -> None:
    script = [[ToolCallReady(ToolCall("c1", ToolFunction("slow", {"seconds": 600})), "i1"), Final(Usage(1, 1))]]
    async with make_server(timeout=None) as server:
        run = Agent(ScriptedModel(script), tools=[server]).stream_prompt("go")
        consumer = asyncio.ensure_future(collect(run))
        assert (await server.call("wait_started", {})).content == (Text("true"),)  # the call runs on the server
        consumer.cancel()  # as an application stopping the task that consumes the run
        with pytest.raises(asyncio.CancelledError):
            await consumer
        assert run.state is State.Cancelled
        assert (await server.call("was_cancelled", {})).content == (Text("true"),)
    check_history_invariants(run.history)


async def test_spans_and_log_events_name_the_server(make_server: Callable[..., Any]) -> None:
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

    from agent_fsm.log import LoggingObserver
    from agent_fsm.otel import OTelObserver

    from .observe_helpers import captured_logs

    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    async with make_server(prefix="srv") as server:
        agent = Agent(
            ScriptedModel(_script()), tools=[double, server], observers=[LoggingObserver(), OTelObserver(provider)]
        )
        with captured_logs(logging.INFO) as events:
            _, error = await collect(agent.stream_prompt("go"))
    assert error is None
    finished = {e["gen_ai.tool.name"]: e for e in events if e["event"] == "tool call finished"}
    assert finished["srv_echo"]["tool_server"] == server.name
    assert "tool_server" not in finished["double"]
    spans = {s.name: s for s in exporter.get_finished_spans() if s.name.startswith("execute_tool")}
    assert spans["execute_tool srv_add"].attributes["agent_fsm.tool.server"] == server.name  # type: ignore[index]
    assert "agent_fsm.tool.server" not in (spans["execute_tool double"].attributes or {})


# ---------------------------------------------------------------------------------------------- the command line


def _cli(*argv: str) -> Any:
    from agent_fsm.cli import build_parser

    return build_parser().parse_args(["run", *argv])


async def test_cli_run_offers_the_tools_of_mcp_servers(
    transport: Transport, request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch, capsys: Any
) -> None:
    from .wire_server import WIRE_DIR, Reply, WireServer

    if not WIRE_DIR.exists():
        pytest.skip(f"the shared recordings are absent ({WIRE_DIR})")
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    if transport == "stdio":
        option = ["--mcp", f"{sys.executable} {SERVER}"]
    else:
        option = ["--mcp-url", request.getfixturevalue("http_url")]
    async with WireServer() as model_server:
        for name in ("tool_call_gpt4o_mini.sse", "text_after_tool_gpt4o_mini.sse"):
            model_server.queue(Reply(body=(WIRE_DIR / "openai_chat" / name).read_bytes()))
        args = _cli("--model", "openai:gpt-4o-mini", "--base-url", f"{model_server.url}/v1", *option, "Capital?")
        code = await asyncio.to_thread(args.handler, args)
        first, second = (r.body for r in model_server.requests)
    assert code == 0
    out = capsys.readouterr().out
    assert "London (said the MCP server)" in out.split("tool result <- ", 1)[1].split("\n", 1)[0]
    assert "assistant: The capital of the UK is London.\n" in out
    assert b'"get_capital"' in first  # the model was offered the server's tools
    assert b"London (said the MCP server)" in second  # and the server's result went back


def test_cli_run_says_when_an_mcp_server_cannot_start(capsys: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test-not-a-real-key")
    args = _cli("--model", "openai:gpt-4o-mini", "--mcp", "/no/such/server --stdio", "hi")
    assert args.handler(args) == 2
    err = capsys.readouterr().err
    assert err.startswith("agent-fsm run: MCPServerStdio('/no/such/server --stdio') could not be started: ")
    assert err.count("\n") == 1
    args = _cli("--model", "openai:gpt-4o-mini", "--mcp", "'unclosed", "hi")
    assert args.handler(args) == 2
    assert '--mcp "\'unclosed": No closing quotation' in capsys.readouterr().err


def test_mcp_and_jsonschema_are_never_imported_unless_asked_for() -> None:
    imports = "import agent_fsm.cli, agent_fsm.tools.toolbox, agent_fsm.testing.strategies"
    assert modules_after_a_run(imports, ("mcp", "jsonschema")) == []
