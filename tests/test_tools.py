"""The tool layer: ``@tool``, results, failures, timeouts, cancellation, methods, custom servers."""

from __future__ import annotations

import asyncio
import contextlib
import math
import threading
import time
from collections.abc import Iterator, Sequence
from typing import Any

import attrs
import pytest
import structlog

from agent_fsm.agent import Agent
from agent_fsm.errors import ConfigurationError, ToolServerError
from agent_fsm.events import Final, TextDelta, ToolCallReady
from agent_fsm.items import StreamItem, StreamUserItem
from agent_fsm.machine.protocol import ToolOutput
from agent_fsm.machine.table import State
from agent_fsm.messages import Image, Text, ToolCall, ToolFunction, ToolResult, Usage, UserMessage
from agent_fsm.request import ToolDefinition
from agent_fsm.testing import ScriptedModel, check_run
from agent_fsm.tools import DEFAULT_TOOL_TIMEOUT, Tool, ToolServer, ToolSet, to_output, tool

from .support import collect


@contextlib.contextmanager
def captured_logs() -> Iterator[list[dict[str, Any]]]:
    """structlog's ``capture_logs``, leaving structlog unconfigured again if it was (it does not)."""
    was_configured = structlog.is_configured()
    try:
        with structlog.testing.capture_logs() as logs:
            yield logs
    finally:
        if not was_configured:
            structlog.reset_defaults()


def call(cid: str, name: str, arguments: Any) -> ToolCallReady:
    return ToolCallReady(ToolCall(cid, ToolFunction(name, arguments)), f"int-{cid}")


def one_round(*calls: ToolCallReady) -> ScriptedModel:
    """A model that makes these calls, then answers "ok"."""
    return ScriptedModel([[*calls, Final(Usage(1, 1))], [TextDelta("ok"), Final(Usage(1, 1))]])


def results_of(items: Sequence[StreamItem]) -> list[ToolResult]:
    return [i.tool_result for i in items if isinstance(i, StreamUserItem)]


@tool
def add(a: int, b: int) -> int:
    """Add two integers."""
    return a + b


@tool
async def add_async(a: int, b: int) -> int:
    """Add two integers, asynchronously."""
    await asyncio.sleep(0)
    return a + b


# ------------------------------------------------------------------------------------ the decorator


async def test_tool_keeps_the_function_callable() -> None:
    assert add(2, 3) == 5
    assert await add_async(2, 3) == 5
    assert isinstance(add, Tool)
    assert add.name == "add"
    assert (add.is_async, add_async.is_async) == (False, True)


def test_tool_requires_approval_is_kept_as_metadata() -> None:
    @tool(requires_approval=True)
    def delete(path: str) -> None:
        """Delete a file."""

    assert delete.requires_approval
    tools = ToolSet([delete, add])
    assert tools.requires_approval("delete")
    assert not tools.requires_approval("add")
    assert not tools.requires_approval("missing")


def test_toolset_refuses_two_tools_with_one_name_and_non_tools() -> None:
    with pytest.raises(ConfigurationError, match="two tools are named 'add'"):
        ToolSet([add, tool(name="add")(add_async.fn)])
    with pytest.raises(ConfigurationError, match="not a tool: 42"):
        ToolSet([42])  # type: ignore[list-item]
    with pytest.raises(ConfigurationError, match="default_timeout must be positive"):
        ToolSet(default_timeout=0)


def test_toolset_makes_plain_functions_into_tools_and_keeps_their_order() -> None:
    def mul(a: int, b: int) -> int:
        """Multiply."""
        return a * b

    tools = ToolSet([mul, add])
    assert [d.name for d in tools.definitions()] == ["mul", "add"]
    assert [t.name for t in tools] == ["mul", "add"]
    assert "mul" in tools
    assert len(tools) == 2
    assert tools["mul"].fn is mul
    assert isinstance(tools, ToolServer)


async def test_a_tool_added_after_a_run_read_the_definitions_is_offered_to_the_next_run() -> None:
    tools = ToolSet([add])
    model = ScriptedModel([[TextDelta("a")], [TextDelta("b")]])
    agent = Agent(model, tools=tools)
    await collect(agent.stream_prompt("go"))
    assert tools.definitions() is tools.definitions()  # read once, kept

    @tool
    def sub(a: int, b: int) -> int:
        """Subtract."""
        return a - b

    tools.add(sub)
    await collect(agent.stream_prompt("go"))
    assert [[d.name for d in r.tools] for r in model.requests] == [["add"], ["add", "sub"]]


async def test_sync_and_async_tools_both_run() -> None:
    tools = ToolSet([add, add_async])
    assert await tools.call("add", {"a": 1, "b": 2}) == ToolOutput((Text("3"),))
    assert await tools.call("add_async", {"a": 1, "b": 2}) == ToolOutput((Text("3"),))


async def test_sync_tools_run_in_a_worker_thread_and_async_tools_on_the_loop() -> None:
    threads: dict[str, int] = {}

    @tool
    def sync_probe() -> None:
        """Where am I."""
        threads["sync"] = threading.get_ident()

    @tool
    async def async_probe() -> None:
        """Where am I."""
        threads["async"] = threading.get_ident()

    tools = ToolSet([sync_probe, async_probe])
    await tools.call("sync_probe", {})
    await tools.call("async_probe", {})
    assert threads["async"] == threading.get_ident()
    assert threads["sync"] != threading.get_ident()


async def test_callable_object_with_async_call_is_awaited_on_the_loop() -> None:
    class Fetch:
        """Fetch a page."""

        async def __call__(self, url: str) -> str:
            return f"page {url}"

    t = Tool.from_definition(ToolDefinition("fetch", "Fetch a page.", {"type": "object"}), Fetch())
    assert t.is_async
    assert await t.run({"url": "x"}) == ToolOutput((Text("page x"),))


# ------------------------------------------------------------------------------------ results


@attrs.frozen
class Forecast:
    city: str
    temperatures: tuple[float, ...]


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("plain text", (Text("plain text"),)),
        ("", (Text(""),)),
        ({"b": 1, "a": [1, 2]}, (Text('{"a": [1, 2], "b": 1}'),)),
        (Forecast("Oslo", (1.5, -2.0)), (Text('{"city": "Oslo", "temperatures": [1.5, -2.0]}'),)),
        (None, (Text("null"),)),
        (42, (Text("42"),)),
        ("ünïcode", (Text("ünïcode"),)),
        ({"k": "ünï"}, (Text('{"k": "ünï"}'),)),
        (Image("aGk=", "image/png"), (Image("aGk=", "image/png"),)),
        ([Text("chart:"), Image("aGk=", "image/png")], (Text("chart:"), Image("aGk=", "image/png"))),
        ([], (Text("[]"),)),
    ],
)
def test_to_output(value: Any, expected: tuple[Any, ...]) -> None:
    assert to_output(value) == ToolOutput(expected)


def test_to_output_keeps_a_tool_output_the_tool_made() -> None:
    made = ToolOutput((Text("quota exceeded"),), is_error=True)
    assert to_output(made) is made


async def test_a_result_json_cannot_hold_is_an_error_result() -> None:
    @tool
    def weird() -> Any:
        """Weird."""
        return {"x": math.nan}

    @tool
    def opaque() -> Any:
        """Opaque."""
        return object()

    tools = ToolSet([weird, opaque])
    out = await tools.call("weird", {})
    assert out.is_error
    assert out.content[0] == Text(
        "Tool 'weird' returned a value that cannot be converted to JSON: "
        "ValueError: Out of range float values are not JSON compliant"
    )
    out = await tools.call("opaque", {})
    assert out.is_error
    assert out.content[0].text.startswith(  # type: ignore[union-attr]
        "Tool 'opaque' returned a value that cannot be converted to JSON: TypeError:"
    )


async def test_image_results_reach_history_and_items_as_images() -> None:
    png = Image("iVBORw0KGgo=", "image/png")

    @tool
    def chart() -> list[Any]:
        """Draw a chart."""
        return [Text("here"), png]

    run = Agent(one_round(call("c1", "chart", {})), tools=[chart]).stream_prompt("draw")
    items, outcome = await collect(run)
    assert outcome is None
    expected = ToolResult("c1", (Text("here"), png))
    assert results_of(items) == [expected]
    assert run.history[2] == UserMessage((expected,))


# ------------------------------------------------------------------------------------ failures in a run


async def test_every_failure_is_an_error_result_and_the_run_goes_on() -> None:
    @tool
    def explode(why: str) -> str:
        """Fail."""
        raise ValueError(why)

    model = one_round(
        call("c1", "nope", {}),
        call("c2", "add", {"a": "1", "b": 2}),
        call("c3", "explode", {"why": "boom"}),
        call("c4", "add", '{"a": 1, "b": 2'),
        call("c5", "add", {"a": 1, "b": 2}),
    )
    run = Agent(model, tools=[add, explode]).stream_prompt("go")
    items, outcome = await collect(run)
    assert outcome is None
    assert run.state is State.Done
    check_run(items, run.history, outcome)
    results = results_of(items)
    assert [(r.id, r.is_error, r.text) for r in results] == [
        ("c1", True, "Unknown tool 'nope'. Available tools: add, explode."),
        ("c2", True, "Invalid arguments for tool 'add' (the tool was not called):\n"
                     '$.a: expected integer, got string "1"'),
        ("c3", True, "Tool 'explode' raised ValueError: boom"),
        ("c4", True, "Invalid arguments for tool 'add' (the tool was not called):\n"
                     "$: the arguments are not valid JSON (Expecting ',' delimiter at line 1 column 16): "
                     '{"a": 1, "b": 2'),
        ("c5", False, "3"),
    ]  # fmt: skip
    assert run.history[2] == UserMessage(tuple(results))
    assert model.requests[1].prompt == UserMessage(tuple(results))


async def test_an_exception_is_logged_with_its_traceback() -> None:
    @tool
    def explode() -> str:
        """Fail."""
        raise KeyError("missing")

    with captured_logs() as logs:
        out = await ToolSet([explode]).call("explode", {})
    assert out == ToolOutput((Text("Tool 'explode' raised KeyError: 'missing'"),), is_error=True)
    (entry,) = [e for e in logs if e["event"] == "tool raised"]
    assert entry["log_level"] == "warning"
    assert entry["tool"] == "explode"
    trace = entry["exception"]  # the formatted traceback, redacted
    assert trace.startswith("Traceback (most recent call last):")
    assert "in explode" in trace
    assert trace.rstrip().endswith("KeyError: 'missing'")


async def test_an_exception_without_message_names_its_type() -> None:
    @tool
    def explode() -> str:
        """Fail."""
        raise RuntimeError

    assert await ToolSet([explode]).call("explode", {}) == ToolOutput(
        (Text("Tool 'explode' raised RuntimeError"),), is_error=True
    )


# ------------------------------------------------------------------------------------ timeouts


async def test_per_tool_timeout_cancels_the_call_and_says_it_timed_out() -> None:
    events: list[str] = []

    @tool(timeout=0.02)
    async def slow() -> str:
        """Be slow."""
        try:
            await asyncio.sleep(10)
        except asyncio.CancelledError:
            events.append("cancelled")
            raise
        return "never"

    started = time.monotonic()
    with captured_logs() as logs:
        out = await ToolSet([slow]).call("slow", {})
    assert time.monotonic() - started < 1
    assert out == ToolOutput((Text("Tool 'slow' timed out after 0.02 s."),), is_error=True)
    assert events == ["cancelled"]
    assert [e["event"] for e in logs] == ["tool timed out"]


async def test_default_timeout_applies_unless_the_tool_sets_its_own() -> None:
    @tool
    async def slow() -> str:
        """Slow, default limit."""
        await asyncio.sleep(0.1)
        return "slow done"

    @tool(timeout=1.0)
    async def patient() -> str:
        """Slow, own limit."""
        await asyncio.sleep(0.05)
        return "patient done"

    @tool(timeout=math.inf)
    async def unlimited() -> str:
        """Slow, no limit."""
        await asyncio.sleep(0.05)
        return "unlimited done"

    tools = ToolSet([slow, patient, unlimited], default_timeout=0.02)
    assert await tools.call("slow", {}) == ToolOutput((Text("Tool 'slow' timed out after 0.02 s."),), is_error=True)
    assert await tools.call("patient", {}) == ToolOutput((Text("patient done"),))
    assert await tools.call("unlimited", {}) == ToolOutput((Text("unlimited done"),))
    assert ToolSet().default_timeout == DEFAULT_TOOL_TIMEOUT


async def test_agent_tool_timeout_is_the_default_of_its_toolset() -> None:
    @tool
    async def slow() -> str:
        """Slow."""
        await asyncio.sleep(1)
        return "never"

    run = Agent(one_round(call("c1", "slow", {})), tools=[slow], tool_timeout=0.02).stream_prompt("go")
    items, outcome = await collect(run)
    assert outcome is None
    assert results_of(items) == [ToolResult("c1", (Text("Tool 'slow' timed out after 0.02 s."),), is_error=True)]


async def test_a_sync_tool_that_times_out_is_reported_without_waiting_for_its_thread() -> None:
    release = threading.Event()

    @tool(timeout=0.02)
    def stuck() -> str:
        """Block."""
        release.wait(1)
        return "late"

    started = time.monotonic()
    out = await ToolSet([stuck]).call("stuck", {})
    release.set()
    assert time.monotonic() - started < 0.5
    assert out == ToolOutput((Text("Tool 'stuck' timed out after 0.02 s."),), is_error=True)


async def test_a_timeout_error_raised_by_the_tool_is_not_reported_as_a_timeout() -> None:
    @tool(timeout=5)
    async def upstream() -> str:
        """Call upstream."""
        raise TimeoutError("upstream did not answer")

    assert await ToolSet([upstream]).call("upstream", {}) == ToolOutput(
        (Text("Tool 'upstream' raised TimeoutError: upstream did not answer"),), is_error=True
    )


# ------------------------------------------------------------------------------------ never swallowed


async def test_a_cancelled_error_raised_by_a_tool_propagates() -> None:
    @tool
    async def cancelling() -> str:
        """Raise CancelledError."""
        raise asyncio.CancelledError

    with pytest.raises(asyncio.CancelledError):
        await ToolSet([cancelling]).call("cancelling", {})


@pytest.mark.parametrize("sync", [False, True])
async def test_cancelling_a_run_during_a_tool_cancels_it_and_is_not_a_timeout(sync: bool) -> None:
    entered = asyncio.Event()
    seen: list[str] = []
    release = threading.Event()

    async def wait_async() -> str:
        entered.set()
        try:
            await asyncio.sleep(10)
        except asyncio.CancelledError:
            seen.append("cancelled")
            raise
        return "never"

    def wait_sync() -> str:
        loop.call_soon_threadsafe(entered.set)
        release.wait(1)
        return "late"

    loop = asyncio.get_running_loop()
    waiting = tool(timeout=5, name="waiting")(wait_sync if sync else wait_async)
    run = Agent(one_round(call("c1", "waiting", {})), tools=[waiting]).stream_prompt("go")
    task = asyncio.ensure_future(collect(run))
    await asyncio.wait_for(entered.wait(), 1)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    release.set()
    assert run.state is State.Cancelled
    assert seen == ([] if sync else ["cancelled"])
    assert run.history[-1].content[0].is_error  # type: ignore[union-attr]


@pytest.mark.parametrize("sync", [False, True])
def test_keyboard_interrupt_in_a_tool_is_never_swallowed(sync: bool) -> None:
    def interrupt_sync() -> str:
        raise KeyboardInterrupt

    async def interrupt_async() -> str:
        raise KeyboardInterrupt

    interrupt = tool(name="interrupt")(interrupt_sync if sync else interrupt_async)

    async def main() -> None:
        run = Agent(one_round(call("c1", "interrupt", {})), tools=[interrupt]).stream_prompt("go")
        await collect(run)

    with pytest.raises(KeyboardInterrupt):
        asyncio.run(main())


# ------------------------------------------------------------------------------------ methods


class Counter:
    """Tools that share state through ``self``."""

    def __init__(self, start: int) -> None:
        self.value = start

    @tool
    def increment(self, by: int = 1) -> int:
        """Add to the counter.

        Args:
            by: how much to add.
        """
        self.value += by
        return self.value

    @tool
    async def read(self) -> int:
        """Read the counter."""
        return self.value

    @tool
    @staticmethod
    def double(x: int) -> int:
        """Double a number."""
        return 2 * x

    @tool(name="describe_counter")
    @classmethod
    def describe(cls, verbose: bool = False) -> str:
        """Describe the class."""
        return f"{cls.__name__} verbose={verbose}"

    def helper(self) -> None:
        """Not a tool."""


class LoudCounter(Counter):
    @tool
    def increment(self, by: int = 10) -> int:
        """Add a lot to the counter."""
        self.value += by
        return self.value

    read = None  # type: ignore[assignment]  # a subclass may withdraw a tool


async def test_from_object_collects_bound_methods_in_definition_order() -> None:
    counter = Counter(5)
    tools = ToolSet.from_object(counter)
    assert [d.name for d in tools.definitions()] == ["increment", "read", "double", "describe_counter"]
    assert tools["increment"].definition.parameters == {
        "type": "object",
        "properties": {"by": {"type": "integer", "description": "how much to add.", "default": 1}},
        "required": [],
        "additionalProperties": False,
    }
    assert tools["read"].definition.parameters["properties"] == {}
    assert await tools.call("increment", {"by": 2}) == ToolOutput((Text("7"),))
    assert await tools.call("increment", {}) == ToolOutput((Text("8"),))
    assert await tools.call("read", {}) == ToolOutput((Text("8"),))
    assert await tools.call("double", {"x": 4}) == ToolOutput((Text("8"),))
    assert await tools.call("describe_counter", {"verbose": True}) == ToolOutput((Text("Counter verbose=True"),))
    assert counter.value == 8


async def test_from_object_follows_overrides_in_subclasses() -> None:
    tools = ToolSet.from_object(LoudCounter(0))
    assert [d.name for d in tools.definitions()] == ["increment", "double", "describe_counter"]
    assert tools["increment"].definition.description == "Add a lot to the counter."
    assert await tools.call("increment", {}) == ToolOutput((Text("10"),))
    assert await tools.call("describe_counter", {}) == ToolOutput((Text("LoudCounter verbose=False"),))


def test_method_tools_bind_like_methods() -> None:
    counter = Counter(1)
    assert counter.increment(2) == 3
    assert isinstance(counter.increment, Tool)
    assert counter.increment.binding == "function"
    assert Counter.increment.binding == "method"
    assert Counter.double(3) == 6
    assert ToolSet([counter.increment]).definitions() == (Counter.increment.definition,)


def test_an_unbound_method_tool_is_refused() -> None:
    with pytest.raises(ConfigurationError, match=r"tool 'increment' is a method: add it bound to an instance"):
        ToolSet([Counter.increment])


# ------------------------------------------------------------------------------------ custom servers


class EchoServer:
    """A tool server that is not a ToolSet: what an MCP client adapter would look like."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, Any]] = []

    def definitions(self) -> list[ToolDefinition]:
        return [
            ToolDefinition("echo", "Echo the text.", {"type": "object", "properties": {"text": {"type": "string"}}})
        ]

    async def call(self, name: str, arguments: Any) -> ToolOutput:
        self.calls.append((name, arguments))
        if name == "gone":
            raise ToolServerError("connection lost")
        if name == "raw":
            return {"raw": True}  # type: ignore[return-value]  # a plain value is converted
        if name == "buggy":
            raise RuntimeError("server bug")
        return ToolOutput((Text(f"echo: {arguments['text']}"),))


async def test_a_custom_tool_server_plugs_in() -> None:
    server = EchoServer()
    assert isinstance(server, ToolServer)
    model = one_round(call("c1", "echo", {"text": "hi"}), call("c2", "raw", {}), call("c3", "buggy", {}))
    run = Agent(model, tools=server).stream_prompt("go")
    items, outcome = await collect(run)
    assert outcome is None
    assert model.requests[0].tools == tuple(server.definitions())
    assert server.calls == [("echo", {"text": "hi"}), ("raw", {}), ("buggy", {})]
    assert [(r.text, r.is_error) for r in results_of(items)] == [
        ("echo: hi", False),
        ('{"raw": true}', False),
        ("Tool 'buggy' raised RuntimeError: server bug", True),
    ]


async def test_a_tool_server_error_fails_the_run_with_history() -> None:
    run = Agent(one_round(call("c1", "gone", {})), tools=EchoServer()).stream_prompt("go")
    items, outcome = await collect(run)
    assert isinstance(outcome, ToolServerError)
    assert run.state is State.Failed
    check_run(items, run.history, outcome)


def test_agent_refuses_tool_timeout_with_a_tool_server_it_would_ignore() -> None:
    from agent_fsm import ConfigurationError, ToolSet

    with pytest.raises(ConfigurationError, match="tool_timeout applies to tools given as functions"):
        Agent(one_round(), tools=ToolSet([]), tool_timeout=5)
    assert Agent(one_round(), tools=ToolSet([])).tools is not None


async def test_a_tool_exception_quoting_a_credential_is_redacted_in_log_and_result(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    import logging

    secret = "sk-proj-abcdefghijklmnopqrstuvwx1234"
    monkeypatch.setenv("SOME_SERVICE_API_KEY", secret)

    @tool
    def leaky() -> str:
        """Fail like a careless client library."""
        raise RuntimeError(f"401 from upstream, key {secret} rejected")

    caplog.set_level(logging.WARNING, logger="agent_fsm")
    output = await ToolSet([leaky]).call("leaky", {})
    assert output.is_error
    text = "".join(p.text for p in output.content if isinstance(p, Text))
    assert "RuntimeError: 401 from upstream" in text
    assert secret not in text
    assert "tool raised" in caplog.text
    assert secret not in caplog.text
