"""Hardening (issue 12): each bad input the engine was attacked with gets a typed ending, no
secret reaches a history, and closing is deterministic. One regression test per hole."""

from __future__ import annotations

import asyncio
import contextvars
import functools
import json
import sys
from collections.abc import Sequence
from typing import Any

import attrs
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import agent_fsm.tools._bounded as tools_module
from agent_fsm import (
    Agent,
    ApprovalRequired,
    IllegalTransition,
    PromptCancelled,
    SnapshotError,
    Text,
    ToolCall,
    ToolFunction,
    ToolSet,
    Usage,
    tool,
)
from agent_fsm.codec import CodecError, to_json
from agent_fsm.events import Final, TextDelta, ToolCallReady
from agent_fsm.items import StreamUserItem
from agent_fsm.machine import TurnMachine
from agent_fsm.machine.snapshot import Snapshot
from agent_fsm.machine.table import State
from agent_fsm.messages import MAX_JSON_DEPTH, AssistantMessage, ToolResult, UserMessage
from agent_fsm.request import ToolDefinition, ToolOutput
from agent_fsm.testing import ScriptedModel, check_history_invariants, check_run
from agent_fsm.testing.strategies import tampered_snapshots

from .support import collect

SECRET = "local-secret-token-9f8e7d6c"


@tool
def echo(text: str) -> str:
    """Echo the text back."""
    return text


def call(cid: Any, name: str = "echo", args: Any = None) -> ToolCallReady:
    return ToolCallReady(ToolCall(cid, ToolFunction(name, {"text": "x"} if args is None else args)), f"int-{cid}")


def tool_results(history: Sequence[Any]) -> list[ToolResult]:
    return [p for m in history if isinstance(m, UserMessage) for p in m.content if isinstance(p, ToolResult)]


class KeyedModel(ScriptedModel):
    """A scripted model that holds an API key not shaped like one, as a vLLM client would."""

    api_key = SECRET


class Server:
    """A custom ToolServer whose ``call`` is given."""

    def __init__(self, fn: Any) -> None:
        self.fn = fn

    def definitions(self) -> Sequence[ToolDefinition]:
        return (ToolDefinition("echo", "Echo.", {"type": "object"}),)

    async def call(self, name: str, arguments: Any) -> Any:
        return await self.fn(name, arguments)


# ---------------------------------------------------------------- 1. one redacted tool error text


async def test_item1_tool_server_exception_is_redacted_in_the_result_the_model_sees() -> None:
    async def leak(name: str, arguments: Any) -> Any:
        raise RuntimeError(f"upstream said: bad key {SECRET}")

    model = KeyedModel([[call("c1"), Final(Usage(1, 1))], [TextDelta("ok")]])
    run = Agent(model, tools=Server(leak)).stream_prompt("go")
    items, outcome = await collect(run)
    assert outcome is None
    [result] = tool_results(run.history)
    assert result.is_error
    assert SECRET not in result.text and "RuntimeError" in result.text
    assert result.text.startswith("Tool 'echo' raised RuntimeError: ")


# ---------------------------------------------------------------- 3. wrong-typed events


@pytest.mark.parametrize(
    "event",
    [TextDelta(None), TextDelta(123), Final(None), ToolCallReady(None, "i1"), call(None)],  # type: ignore[arg-type]
    ids=["text-None", "text-int", "final-None", "ready-None", "call-id-None"],
)
async def test_item3_wrong_typed_event_fails_the_run_with_IllegalTransition(event: Any) -> None:
    model = ScriptedModel([[TextDelta("a"), event, TextDelta("b")]])
    run = Agent(model, tools=[echo]).stream_prompt("go")
    items, outcome = await collect(run)
    assert isinstance(outcome, IllegalTransition)
    assert "malformed event" in str(outcome)
    assert run.state is State.Failed
    check_history_invariants(run.history)
    check_run(items, run.history, outcome)


async def test_item3_an_unexpected_exception_in_the_driver_fails_the_run_chained() -> None:
    class Boom(Exception):
        pass

    class BrokenClock:  # user code the driver calls outside the hooks, failing once, unexpectedly
        calls = 0

        def now(self) -> float:
            self.calls += 1
            if self.calls == 3:
                raise Boom("clock broke")
            return 0.0

        def new_id(self) -> str:
            return "r"

        def stream(self, model: Any, request: Any) -> Any:
            return model.stream(request)

        async def call_tool(self, tools: Any, tool_call: Any) -> Any:
            return ToolOutput((Text("ok"),))

    model = ScriptedModel([[call("c1"), Final(Usage(1, 1))], [TextDelta("ok")]])
    run = Agent(model, tools=[echo], effects=BrokenClock()).stream_prompt("go")  # type: ignore[arg-type]
    items, outcome = await collect(run)
    assert run.state is State.Failed
    assert isinstance(outcome, IllegalTransition) and "unexpected" in str(outcome)
    assert isinstance(outcome.__cause__, Boom)
    check_history_invariants(run.history)


# ---------------------------------------------------------------- 4. a server value JSON cannot hold


async def test_item4_tool_server_value_json_cannot_hold_is_an_error_result() -> None:
    async def odd(name: str, arguments: Any) -> Any:
        return {"x": object()}

    model = ScriptedModel([[call("c1"), Final(Usage(1, 1))], [TextDelta("ok")]])
    run = Agent(model, tools=Server(odd)).stream_prompt("go")
    items, outcome = await collect(run)
    assert outcome is None and run.state is State.Done
    [result] = tool_results(run.history)
    assert result.is_error and "cannot be converted to JSON" in result.text


# ---------------------------------------------------------------- 6. a tool raising GeneratorExit


async def test_item6_tool_raising_GeneratorExit_is_an_error_result() -> None:
    @tool
    async def weird(text: str) -> str:
        """Raise GeneratorExit."""
        raise GeneratorExit("tool bug")

    model = ScriptedModel([[call("c1", "weird"), Final(Usage(1, 1))], [TextDelta("ok")]])
    run = Agent(model, tools=[weird]).stream_prompt("go")
    items, outcome = await collect(run)
    assert outcome is None and run.state is State.Done
    [result] = tool_results(run.history)
    assert result.is_error and "GeneratorExit" in result.text
    check_history_invariants(run.history)


async def test_item6_tool_server_raising_GeneratorExit_is_an_error_result() -> None:
    async def weird(name: str, arguments: Any) -> Any:
        raise GeneratorExit("server bug")

    model = ScriptedModel([[call("c1"), Final(Usage(1, 1))], [TextDelta("ok")]])
    run = Agent(model, tools=Server(weird)).stream_prompt("go")
    items, outcome = await collect(run)
    assert outcome is None and run.state is State.Done
    check_history_invariants(run.history)


# ---------------------------------------------------------------- 10. closing after break


async def test_item10_no_task_is_left_after_aclose_following_break() -> None:
    model = ScriptedModel([[TextDelta(f"{i}") for i in range(10)]])
    run = Agent(model).stream_prompt("go")
    async for _ in run:
        break
    await run.aclose()
    await asyncio.sleep(0)
    others = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
    assert others == []
    assert run.state is State.Cancelled
    assert model.closed == 1


# ---------------------------------------------------------------- 11. a tool cancelled while running


async def test_item11_a_tool_cancelled_while_running_is_not_said_to_be_not_executed() -> None:
    started = asyncio.Event()

    @tool
    async def slow(text: str) -> str:
        """Wait."""
        started.set()
        await asyncio.Event().wait()
        return text

    model = ScriptedModel([[call("c1", "slow"), call("c2", "slow"), Final(Usage(1, 1))]])
    run = Agent(model, tools=[slow]).stream_prompt("go")
    consumer = asyncio.ensure_future(collect(run))
    await started.wait()  # the first call is running now
    consumer.cancel()
    await asyncio.gather(consumer, return_exceptions=True)
    assert run.state is State.Cancelled
    first, second = tool_results(run.history)
    assert first.text.startswith("Tool call cancelled while running: ")
    assert second.text.startswith("Tool call not executed: ")
    check_history_invariants(run.history)


# ---------------------------------------------------------------- 12. a call without an id


def test_item12_history_invariants_refuse_a_call_without_an_id() -> None:
    history = [
        UserMessage((Text("go"),)),
        AssistantMessage((ToolCall(None, ToolFunction("echo", {})),)),  # type: ignore[arg-type]
        UserMessage((ToolResult(None, (Text("x"),)),)),  # type: ignore[arg-type]
    ]
    with pytest.raises(AssertionError, match="without an id"):
        check_history_invariants(history)


# ---------------------------------------------------------------- 8. tampered snapshots


@tool(requires_approval=True)
def delete(text: str) -> str:
    """Delete something (needs approval)."""
    return text


async def deferred_snapshot() -> dict[str, Any]:
    """A real tool-stage snapshot: two calls, the second awaiting approval."""
    model = ScriptedModel([[call("c1"), call("d1", "delete"), Final(Usage(3, 2))]])
    run = Agent(model, tools=[echo, delete]).stream_prompt("go")
    _, outcome = await collect(run)
    assert isinstance(outcome, ApprovalRequired)
    data: dict[str, Any] = json.loads(outcome.snapshot.to_json())
    assert data["state"] == "ExecutingTool" and data["tools"]["decisions"]
    return data


async def waiting_snapshot() -> dict[str, Any]:
    """A real snapshot before the second model call (after one tool turn)."""
    model = ScriptedModel([[call("c1"), Final(Usage(3, 2))], [TextDelta("ok")]])
    run = Agent(model, tools=[echo], max_turns=3).stream_prompt("go")
    async for item in run:
        if isinstance(item, StreamUserItem):
            break
    snap = run.snapshot()
    await run.aclose()
    data: dict[str, Any] = json.loads(snap.to_json())
    assert data["state"] == "AwaitingCompletion" and data["turns"] == 1
    return data


def orphan_call(d: dict[str, Any]) -> None:
    d["history"] = d["history"][:-1]  # drop the results message: the call is an orphan
    d["history"].append({"role": "user", "content": [{"type": "text", "text": "again"}]})


def orphan_result(d: dict[str, Any]) -> None:
    d["history"][-1]["content"].append({"type": "toolresult", "id": "zz", "content": [{"type": "text", "text": "x"}]})


TAMPER_WAITING: dict[str, Any] = {
    "orphan call": orphan_call,
    "orphan result": orphan_result,
    "negative turns": lambda d: d.update(turns=-3),
    "turns over budget": lambda d: d.update(turns=9),
    "negative usage": lambda d: d["usage"].update(input_tokens=-5),
    "negative items": lambda d: d.update(items_emitted=-1),
}
TAMPER_STAGE: dict[str, Any] = {
    "stage ids": lambda d: d["tools"]["calls"][0]["toolCall"].update(id="other"),
    "extra decision": lambda d: d["tools"]["decisions"].extend([{"kind": "defer", "reason": ""}] * 2),
    "v1 without calls": lambda d: (d.update(version=1), d["tools"].pop("calls")),
}


@pytest.mark.parametrize("name", sorted(TAMPER_WAITING))
async def test_item8_tampered_waiting_snapshot_is_refused(name: str) -> None:
    data = await waiting_snapshot()
    Snapshot.from_dict(data)  # the untouched one is fine
    TAMPER_WAITING[name](data)
    with pytest.raises(SnapshotError):
        Agent(ScriptedModel([]), tools=[echo]).resume(json.dumps(data))


@pytest.mark.parametrize("name", sorted(TAMPER_STAGE))
async def test_item8_tampered_tool_stage_snapshot_is_refused(name: str) -> None:
    data = await deferred_snapshot()
    Snapshot.from_dict(data)
    TAMPER_STAGE[name](data)
    with pytest.raises(SnapshotError):
        Agent(ScriptedModel([]), tools=[echo, delete]).resume(json.dumps(data))


@pytest.mark.parametrize("text", [b'{"a": "\xff"}', "[" * 100_000 + "]" * 100_000], ids=["bytes", "deep"])
def test_item8_unreadable_snapshot_text_is_a_SnapshotError(text: str | bytes) -> None:
    with pytest.raises(SnapshotError):
        Snapshot.from_json(text)


async def test_item8_a_tampered_snapshot_made_in_python_is_refused_on_restore() -> None:
    snap = Snapshot.from_dict(await waiting_snapshot())
    with pytest.raises(SnapshotError, match="turns"):
        TurnMachine.restore(attrs.evolve(snap, turns=-3))


# ---------------------------------------------------------------- 5. deep nesting and NaN


def nest(depth: int) -> Any:
    value: Any = "x"
    for _ in range(depth):
        value = {"a": value}
    return value


async def test_item5_a_history_with_400_deep_arguments_is_written_and_read_back() -> None:
    @tool
    def take(a: Any) -> str:
        """Take anything."""
        return "ok"

    model = ScriptedModel([[call("c1", "take", {"a": nest(400)}), Final(Usage(1, 1))], [TextDelta("ok")]])
    run = Agent(model, tools=[take]).stream_prompt("go")
    items, outcome = await collect(run)
    assert outcome is None
    text = run.snapshot().to_json()
    assert Snapshot.from_json(text).history == run.history
    assert json.loads(to_json(list(run.history)))[1]["content"][0]["function"]["arguments"] == {"a": nest(400)}


@pytest.mark.parametrize("args", [{"a": nest(MAX_JSON_DEPTH + 5)}, {"x": float("nan")}], ids=["too-deep", "NaN"])
async def test_item5_a_custom_model_giving_arguments_json_cannot_hold_fails_typed(args: Any) -> None:
    model = ScriptedModel([[call("c1", "echo", args), Final(Usage(1, 1))]])
    run = Agent(model, tools=[echo]).stream_prompt("go")
    items, outcome = await collect(run)
    assert isinstance(outcome, IllegalTransition) and "not JSON" in str(outcome)
    check_history_invariants(run.history)
    json.loads(run.snapshot().to_json())


@pytest.mark.parametrize(
    "raw",
    ['{"text":' + "[" * 3000 + "]" * 3000 + "}", '{"text": NaN}', {"text": float("inf")}],
    ids=["deep", "NaN", "inf"],
)
async def test_item5_tool_arguments_json_cannot_hold_are_an_error_result(raw: Any) -> None:
    output = await echo.run(raw)
    assert output.is_error and "not valid JSON" in output.content[0].text  # type: ignore[union-attr]


def test_item5_codec_never_writes_bare_NaN() -> None:
    message = AssistantMessage((ToolCall("c1", ToolFunction("f", {"x": float("nan")})),))
    with pytest.raises(CodecError):
        to_json(message)


# ---------------------------------------------------------------- 7. a tool that swallows cancellation


def stubborn_tool(
    release: asyncio.Event, stopped: list[str], timeout: float | None = 0.01, started: asyncio.Event | None = None
) -> Any:
    @tool(timeout=timeout)
    async def stubborn(text: str) -> str:
        """Ignore being cancelled."""
        if started is not None:
            started.set()
        try:
            await asyncio.Event().wait()
        except asyncio.CancelledError:
            await release.wait()  # swallowed: goes on until the test lets it end
            stopped.append(text)
        return text

    return stubborn


async def test_item7_a_tool_ignoring_cancellation_after_its_timeout_gets_an_error_result(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setattr(tools_module, "STOP_GRACE", 0.01, raising=False)
    release, stopped = asyncio.Event(), []
    model = ScriptedModel([[call("c1", "stubborn"), Final(Usage(1, 1))], [TextDelta("ok")]])
    run = Agent(model, tools=[stubborn_tool(release, stopped)]).stream_prompt("go")
    async with asyncio.timeout(60):  # guards the test only: without the fix the run never ends
        items, outcome = await collect(run)
    assert outcome is None and run.state is State.Done
    [result] = tool_results(run.history)
    assert result.is_error and "did not stop when cancelled" in result.text
    assert "tool did not stop when cancelled" in caplog.text
    release.set()  # let the abandoned call end, and check it was left running, not lost
    await asyncio.wait_for(asyncio.gather(*tools_module._left_running), 60)
    assert stopped == ["x"]


@pytest.mark.parametrize("server", ["ToolServer", "ToolSet"])
async def test_item7_a_run_cancelled_from_outside_does_not_wait_for_a_tool_ignoring_it(
    monkeypatch: pytest.MonkeyPatch, server: str
) -> None:
    # A ToolSet is awaited without a task of the driver's (it bounds each call itself): the
    # guarantee must hold through its own bound alone; any other server is bounded by the driver.
    monkeypatch.setattr(tools_module, "STOP_GRACE", 0.01, raising=False)
    release, stopped = asyncio.Event(), []
    started = asyncio.Event()

    async def stubborn_server(name: str, arguments: Any) -> Any:
        started.set()
        try:
            await asyncio.Event().wait()
        except asyncio.CancelledError:
            await release.wait()
            stopped.append(name)
        return "late"

    if server == "ToolSet":
        tools: Any = [stubborn_tool(release, stopped, None, started)]
        model = ScriptedModel([[call("c1", "stubborn"), Final(Usage(1, 1))], [TextDelta("ok")]])
    else:
        tools = Server(stubborn_server)
        model = ScriptedModel([[call("c1"), Final(Usage(1, 1))], [TextDelta("ok")]])
    run = Agent(model, tools=tools).stream_prompt("go")
    consumer = asyncio.ensure_future(collect(run))
    await started.wait()
    consumer.cancel()
    async with asyncio.timeout(60):  # guards the test only: without the fix this never ends
        await asyncio.gather(consumer, return_exceptions=True)
    assert run.state is State.Cancelled
    check_history_invariants(run.history)
    release.set()
    await asyncio.wait_for(asyncio.gather(*tools_module._left_running), 60)
    assert stopped == (["x"] if server == "ToolSet" else ["echo"])


async def test_a_ToolSet_call_costs_at_most_one_task_and_none_when_the_tool_never_waits() -> None:
    loop = asyncio.get_running_loop()
    made: list[Any] = []
    factory = loop.get_task_factory()

    def counting(loop: asyncio.AbstractEventLoop, coro: Any, **kwargs: Any) -> asyncio.Future[Any]:
        made.append(coro)
        return asyncio.Task(coro, loop=loop, **kwargs)

    @tool
    async def echo_now(text: str) -> str:
        """Echo, never waiting."""
        return text

    @tool
    async def echo_later(text: str) -> str:
        """Echo, after one pass of the loop."""
        await asyncio.sleep(0)
        return text

    tasks: dict[str, int] = {}
    loop.set_task_factory(counting)
    try:
        for name, tools in [("echo_now", [echo_now]), ("echo_later", [echo_later]), ("echo", [echo])]:
            model = ScriptedModel([[call("c1", name), Final(Usage(1, 1))], [TextDelta("ok")]])
            run = Agent(model, tools=tools).stream_prompt("go")
            _, outcome = await collect(run)
            assert outcome is None and not tool_results(run.history)[0].is_error
            tasks[name], made[:] = len(made), []
    finally:
        loop.set_task_factory(factory)
    # before: two each (the driver's bound around the ToolSet's bound around the tool); a tool
    # that cannot wait has nothing to bound; a tool that waits, or a sync one (in a worker
    # thread), is bounded once
    assert tasks == {"echo_now": 0, "echo_later": 1, "echo": 1}


async def test_a_tool_that_cannot_wait_runs_at_once_in_a_context_of_its_own() -> None:
    var: contextvars.ContextVar[str] = contextvars.ContextVar("var", default="caller's")
    seen: list[str] = []

    @tool
    async def setter(text: str) -> str:
        """Set a context variable, never waiting."""
        seen.append(var.get())
        var.set(text)
        return var.get()

    loop = asyncio.get_running_loop()
    passes: list[int] = []
    loop.call_soon(passes.append, 1)
    assert await ToolSet([setter]).call("setter", {"text": "tool's"}) == ToolOutput((Text("tool's"),))
    assert passes == []  # over before the loop took a pass, on every Python version
    assert seen == ["caller's"] and var.get() == "caller's"  # it saw the caller's context, changed only its copy


@pytest.mark.parametrize("limit", [None, 0.001])
async def test_a_tool_that_cannot_wait_raising_or_returning_junk_gives_the_usual_error_results(
    limit: float | None,
) -> None:
    @tool(timeout=limit)
    async def boom(text: str) -> str:
        """Raise at once."""
        raise ValueError(f"bad {text}")

    @tool(timeout=limit)
    async def junk(text: str) -> Any:
        """Return what JSON cannot hold."""
        return {text: object()}

    tools = ToolSet([boom, junk])
    raised = await tools.call("boom", {"text": "x"})
    assert raised.is_error and raised.content == (Text("Tool 'boom' raised ValueError: bad x"),)
    unconvertible = await tools.call("junk", {"text": "x"})
    assert unconvertible.is_error
    assert unconvertible.content[0].text.startswith(  # type: ignore[union-attr]
        "Tool 'junk' returned a value that cannot be converted to JSON: "
    )


@pytest.mark.parametrize("waits", [False, True])
async def test_a_tool_cancelling_its_own_run_ends_it_the_same_whether_or_not_it_can_wait(waits: bool) -> None:
    runs: list[Any] = []

    @tool
    async def stop_now() -> str:
        """Cancel the run from inside, never waiting."""
        runs[0].cancel(reason="from the tool")
        return "done"

    @tool(name="stop_now")
    async def stop_then_wait() -> str:
        """Cancel the run from inside, then wait."""
        runs[0].cancel(reason="from the tool")
        await asyncio.sleep(0)
        return "done"

    model = ScriptedModel([[call("c1", "stop_now", {}), Final(Usage(1, 1))], [TextDelta("x")]])
    runs.append(Agent(model, tools=[stop_then_wait if waits else stop_now]).stream_prompt("go"))
    items, outcome = await collect(runs[0])
    assert isinstance(outcome, PromptCancelled) and outcome.reason == "from the tool"
    assert runs[0].state is State.Cancelled and not any(isinstance(i, StreamUserItem) for i in items)
    [result] = tool_results(runs[0].history)
    assert result.is_error and result.text.startswith("Tool call cancelled while running")
    check_history_invariants(runs[0].history)


def test_only_coroutine_code_with_no_suspension_point_counts_as_never_waiting() -> None:
    async def plain(x: int) -> int:
        return [x][0] + sum(i for i in range(3))

    async def awaits() -> None:
        await asyncio.sleep(0)

    async def iterates(it: Any) -> None:
        async for _ in it:
            pass

    async def enters(cm: Any) -> None:
        async with cm:
            pass

    async def comprehends(it: Any) -> list[Any]:
        return [x async for x in it]

    async def awaits_in_finally() -> None:
        try:
            pass
        finally:
            await asyncio.sleep(0)

    def sync(x: int) -> int:
        return x

    class Obj:
        async def method(self) -> int:
            return 1

        async def __call__(self) -> int:
            return 1

    wrapped = functools.wraps(plain)(lambda x: plain(x))
    assert tools_module.code_never_waiting(plain) is plain.__code__
    assert tools_module.code_never_waiting(Obj().method) is Obj.method.__code__
    others = (
        awaits,
        iterates,
        enters,
        comprehends,
        awaits_in_finally,
        sync,
        Obj(),
        wrapped,
        functools.partial(plain, 1),
    )
    for fn in others:
        assert tools_module.code_never_waiting(fn) is None, fn


async def test_a_tool_call_that_never_waits_takes_no_pass_of_the_event_loop_on_312() -> None:
    # On 3.12+ its task starts eagerly and is over at once; on 3.11 it takes one pass.
    loop = asyncio.get_running_loop()
    passes: list[int] = []
    loop.call_soon(passes.append, 1)

    async def quick() -> str:
        return "done"

    assert await tools_module.run_bounded(quick(), 60, name="quick") == "done"
    assert passes == ([] if sys.version_info >= (3, 12) else [1])


_REAL_SNAPSHOTS: list[str] = []


def real_snapshots() -> list[str]:
    """A snapshot before a model call and one of the tool stage, from real runs (made once)."""
    if not _REAL_SNAPSHOTS:
        for make in (waiting_snapshot, deferred_snapshot):
            _REAL_SNAPSHOTS.append(json.dumps(asyncio.run(make())))
    return _REAL_SNAPSHOTS


@settings(max_examples=100, deadline=None)
@given(data=st.data())
def test_item8_every_drawn_tampering_is_a_SnapshotError(data: st.DataObject) -> None:
    for text in real_snapshots():
        Snapshot.from_json(text)  # untouched, it reads
        name, bad = data.draw(tampered_snapshots(text), label="tampering")
        with pytest.raises(SnapshotError):
            Agent(ScriptedModel([]), tools=[echo, delete]).resume(bad)
