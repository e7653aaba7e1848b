"""The async driver: hooks, closing, cancellation, failures, and many runs at once."""

from __future__ import annotations

import asyncio
import gc
from collections.abc import AsyncIterator
from typing import Any

import pytest

from agent_fsm import (
    Agent,
    CompletionError,
    HookAction,
    HookError,
    PromptCancelled,
    StreamingPromptHook,
    Text,
    ToolCall,
    ToolFunction,
    Usage,
    tool,
)
from agent_fsm.events import Final, TextDelta, ToolCallReady
from agent_fsm.items import FinalResponse, StreamAssistantItem
from agent_fsm.machine.table import State
from agent_fsm.request import CompletionRequest
from agent_fsm.testing import ScriptedModel, check_run

from .support import collect


@tool
def echo(text: str) -> str:
    """Echo the text back."""
    return text


def ready(cid: str, text: str = "x") -> ToolCallReady:
    return ToolCallReady(ToolCall(cid, ToolFunction("echo", {"text": text})), f"int-{cid}")


def long_stream(n: int = 100) -> list[Any]:
    return [TextDelta(f"{i} ") for i in range(n)] + [Final(Usage(1, n))]


async def test_AgentRun_completes_and_exposes_state_history_usage() -> None:
    model = ScriptedModel([[ready("c1", "hey"), Final(Usage(5, 1))], [TextDelta("done"), Final(Usage(7, 1))]])
    run = Agent(model, tools=[echo]).stream_prompt("go")
    items, outcome = await collect(run)
    assert outcome is None
    assert run.state is State.Done
    assert run.usage == Usage(12, 2)
    assert run.result is items[-1]
    assert run.history[-2].content[0].content == (Text("hey"),)
    check_run(items, run.history, outcome)
    assert model.closed == 0 and model.exhausted == 2


async def test_AgentRun_async_and_sync_hooks_are_both_awaited() -> None:
    seen: list[str] = []

    class Hook(StreamingPromptHook):
        async def on_text_delta(self, text_delta: str, aggregated_text: str) -> None:
            await asyncio.sleep(0)
            seen.append(aggregated_text)

        def on_stream_completion_response_finish(self, prompt: Any, response: Any) -> None:
            seen.append(f"final:{response.usage.output_tokens}")

    run = Agent(ScriptedModel([[TextDelta("a"), TextDelta("b"), Final(Usage(1, 2))]])).stream_prompt("x", hook=Hook())
    items, outcome = await collect(run)
    assert outcome is None
    assert seen == ["a", "ab", "final:2"]


async def test_AgentRun_aclose_mid_stream_cancels_and_closes_the_model_stream() -> None:
    model = ScriptedModel([long_stream()])
    async with Agent(model).stream_prompt("go") as run:
        async for item in run:
            if isinstance(item, StreamAssistantItem) and item.content == TextDelta("3 "):
                break
    assert run.state is State.Cancelled
    assert model.closed == 1
    assert run.history[-1].content == (Text("0 1 2 3 "),)
    assert run.error is not None and isinstance(run.error, PromptCancelled)


async def test_AgentRun_break_without_aclose_cancels_once_the_run_is_collected() -> None:
    model = ScriptedModel([long_stream()])
    run = Agent(model).stream_prompt("go")
    machine = run.machine
    async for _item in run:
        break
    del run
    gc.collect()
    for _ in range(5):
        await asyncio.sleep(0)
    assert machine.state is State.Cancelled
    assert model.closed == 1


async def test_AgentRun_cancelling_the_consumer_task_propagates_and_leaves_nothing_running() -> None:
    started = asyncio.Event()

    class SlowModel:
        closed = False

        def stream(self, request: CompletionRequest) -> AsyncIterator[Any]:
            return self._gen()

        async def _gen(self) -> AsyncIterator[Any]:
            try:
                yield TextDelta("a")
                started.set()
                await asyncio.sleep(3600)
                yield TextDelta("never")
            finally:
                SlowModel.closed = True

    run = Agent(SlowModel()).stream_prompt("go")

    async def consume() -> None:
        async for _ in run:
            pass

    task = asyncio.create_task(consume())
    await started.wait()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert run.state is State.Cancelled
    assert SlowModel.closed
    assert run.history[-1].content == (Text("a"),)
    assert [t for t in asyncio.all_tasks() if t is not asyncio.current_task()] == []


async def test_AgentRun_hook_that_raises_fails_the_run_with_history_and_cause() -> None:
    class Hook(StreamingPromptHook):
        def on_text_delta(self, text_delta: str, aggregated_text: str) -> None:
            if aggregated_text == "ab":
                raise ValueError("nope")

    model = ScriptedModel([[TextDelta("a"), TextDelta("b"), TextDelta("c")]])
    run = Agent(model).stream_prompt("go", hook=Hook())
    items, outcome = await collect(run)
    assert isinstance(outcome, HookError)
    assert outcome.hook_name == "on_text_delta"
    assert isinstance(outcome.__cause__, ValueError)
    assert run.state is State.Failed
    assert outcome.history == run.history
    assert run.history[-1].content == (Text("a"),)
    assert model.closed == 1
    check_run(items, run.history, outcome)


@pytest.mark.parametrize("where", ["before", "during"])
async def test_AgentRun_model_exception_becomes_CompletionError_with_history(where: str) -> None:
    boom = RuntimeError("socket closed")
    turn: list[Any] = [boom] if where == "before" else [TextDelta("par"), boom]
    run = Agent(ScriptedModel([turn])).stream_prompt("go")
    items, outcome = await collect(run)
    assert isinstance(outcome, CompletionError)
    assert outcome.__cause__ is boom
    assert "socket closed" in str(outcome)
    assert run.state is State.Failed
    assert outcome.history == run.history
    check_run(items, run.history, outcome)


async def test_AgentRun_model_that_fails_to_open_fails_the_run() -> None:
    class Broken:
        def stream(self, request: CompletionRequest) -> AsyncIterator[Any]:
            raise CompletionError("401 unauthorized", status=401)

    items, outcome = await collect(Agent(Broken()).stream_prompt("go"))
    assert isinstance(outcome, CompletionError) and outcome.status == 401
    assert outcome.history[-1].content == (Text("go"),)


async def test_AgentRun_concurrent_tools_are_cancelled_when_the_run_ends_early() -> None:
    started: list[str] = []
    cancelled: list[str] = []

    @tool
    async def slow(name: str) -> str:
        """Take a while."""
        started.append(name)
        try:
            await asyncio.sleep(0.05 if name == "fast" else 3600)
        except asyncio.CancelledError:
            cancelled.append(name)
            raise
        return name

    class Hook(StreamingPromptHook):
        def on_tool_result(self, *args: Any) -> HookAction:
            return HookAction.terminate("seen enough")

    calls = [
        ToolCallReady(ToolCall(f"c{i}", ToolFunction("slow", {"name": n})), f"i{i}")
        for i, n in enumerate(["fast", "slow1", "slow2"])
    ]
    run = Agent(ScriptedModel([calls]), tools=[slow], tool_concurrency=3).stream_prompt("go", hook=Hook())
    items, outcome = await collect(run)
    assert isinstance(outcome, PromptCancelled)
    assert sorted(started) == ["fast", "slow1", "slow2"]
    assert sorted(cancelled) == ["slow1", "slow2"]
    results = run.history[-1].content
    assert [r.text for r in results][0] == "fast"
    assert all(r.is_error for r in results[1:])
    await asyncio.sleep(0)
    assert [t for t in asyncio.all_tasks() if t is not asyncio.current_task()] == []


async def test_AgentRun_can_be_iterated_only_once() -> None:
    run = Agent(ScriptedModel([[TextDelta("a")]])).stream_prompt("go")
    await collect(run)
    with pytest.raises(RuntimeError, match="only once"):
        run.__aiter__()


async def test_AgentRun_aclose_before_iteration_cancels() -> None:
    run = Agent(ScriptedModel([[TextDelta("a")]])).stream_prompt("go")
    await run.aclose()
    assert run.state is State.Cancelled


async def test_thousand_concurrent_runs_stay_independent() -> None:
    class Hook(StreamingPromptHook):
        def __init__(self, n: int) -> None:
            self.n = n

        async def on_text_delta(self, text_delta: str, aggregated_text: str) -> Any:
            await asyncio.sleep(0)
            return HookAction.terminate("odd") if self.n % 2 and aggregated_text.endswith("2") else None

    def script(n: int) -> list[list[Any]]:
        return [
            [ready(f"c{n}", f"run{n}"), Final(Usage(n, 1))],
            [TextDelta(f"{n}:"), TextDelta("1"), TextDelta("2"), Final(Usage(1, 1))],
        ]

    agent_runs = [
        Agent(ScriptedModel(script(n)), tools=[echo]).stream_prompt(f"p{n}", hook=Hook(n)) for n in range(1000)
    ]
    results = await asyncio.gather(*(collect(r) for r in agent_runs))
    for n, (run, (items, outcome)) in enumerate(zip(agent_runs, results, strict=True)):
        assert run.history[0].content == (Text(f"p{n}"),)
        assert run.history[2].content[0].content == (Text(f"run{n}"),)
        if n % 2:
            assert isinstance(outcome, PromptCancelled)
            assert run.history[-1].content == (Text(f"{n}:1"),)
        else:
            assert outcome is None
            assert isinstance(items[-1], FinalResponse) and items[-1].response == f"{n}:12"
            assert items[-1].usage == Usage(n + 1, 2)


@pytest.mark.parametrize("fast_path", [True, False])
def test_a_finished_machine_is_freed_by_reference_counting_alone(fast_path: bool) -> None:
    # A machine in a reference cycle (its handlers bound to itself, say) waits for the garbage
    # collector, whose passes then walk every live run: with 1,000 concurrent runs that was half
    # of the wall time.
    from agent_fsm.machine import TurnMachine
    from agent_fsm.run.sync_driver import drive_sync

    script = [[ready("c1"), Final(Usage(1, 1))], [TextDelta("a"), TextDelta("b"), Final(Usage(1, 1))]]
    runs = iter(script)
    gc.collect()
    gc.disable()
    try:
        m = TurnMachine("go", max_turns=3, fast_path=fast_path)
        handlers = m.event_handlers  # read, as drivers do
        drive_sync(m, lambda request: next(runs), run_tool=lambda call: echo_output(call))
        assert m.state is State.Done and handlers
        del m, handlers
        gc.set_debug(gc.DEBUG_SAVEALL)
        gc.collect()
        left = [o for o in gc.garbage if type(o).__name__ == "TurnMachine"]
    finally:
        gc.set_debug(0)
        gc.garbage.clear()
        gc.enable()
    assert left == []


def echo_output(call: ToolCall) -> Any:
    from agent_fsm.request import ToolOutput

    return ToolOutput((Text(call.function.arguments["text"]),))
