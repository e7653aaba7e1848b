"""Run control: cancel (now / after the turn), steering, usage limits, a final answer at max turns.

Every behaviour runs through the async driver (``Agent.stream_prompt``) and the sync driver
(``iter_sync`` on a ``TurnMachine``), each with the compiled fast path and in the reference mode
(``fast_path=False``), and the four must agree on items, history, state and error.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import attrs
import pytest

from agent_fsm import (
    Agent,
    HookAction,
    MaxTurnsExceeded,
    PromptCancelled,
    StreamingPromptHook,
    UsageLimitExceeded,
    UsageLimits,
    tool,
)
from agent_fsm.codec import to_json
from agent_fsm.errors import ConfigurationError
from agent_fsm.events import Final, TextDelta, ToolCallReady
from agent_fsm.hooks import live_hooks
from agent_fsm.items import FinalResponse, StreamAssistantItem, StreamItem, StreamUserItem
from agent_fsm.machine import STOP, State, TurnMachine
from agent_fsm.machine.snapshot import Snapshot
from agent_fsm.messages import AssistantMessage, Image, Text, ToolCall, ToolFunction, ToolResult, Usage, UserMessage
from agent_fsm.run.sync_driver import SyncScript, iter_sync
from agent_fsm.testing import ScriptedModel, check_history_invariants

from .support import collect


@tool
def add(a: int, b: int) -> int:
    """Add two integers."""
    return a + b


def call(cid: str, a: int = 1, b: int = 2) -> ToolCallReady:
    return ToolCallReady(ToolCall(cid, ToolFunction("add", {"a": a, "b": b})), f"i-{cid}")


TOOL_TURN = [call("c1"), Final(Usage(10, 2))]
TEXT_TURN = [TextDelta("the "), TextDelta("answer"), Final(Usage(20, 3))]


@attrs.define
class Outcome:
    items: list[StreamItem]
    state: State
    history: tuple[Any, ...]
    error: BaseException | None
    requests: list[Any]
    pending: tuple[UserMessage, ...]

    def key(self) -> str:
        return to_json([*self.items]) + to_json(list(self.history)) + self.state.value + repr(self.error)


Control = Callable[[Any, int, StreamItem | None], None]
"""Called with the run's controller (an ``AgentRun``, or the sync driver's machine), how many
items were seen, and the last one (``None`` before the first)."""


def run_async(
    script: list[list[Any]],
    control: Control | None = None,
    *,
    fast_path: bool = True,
    hook: object | None = None,
    **agent_kw: Any,
) -> Outcome:
    model = ScriptedModel(script)
    agent = Agent(model, tools=[add], observers=(), **agent_kw)

    async def main() -> Outcome:
        hooks = live_hooks(hook)
        config = agent._machine_config(hooks.keys())
        machine = TurnMachine("go", max_turns=agent.max_turns, limits=agent.limits, fast_path=fast_path, **config)
        run = agent._run(machine, hooks)
        if isinstance(hook, Controlled):
            hook.controller = run
        items: list[StreamItem] = []
        error: BaseException | None = None
        if control is not None:
            control(run, 0, None)
        try:
            async for item in run:
                items.append(item)
                if control is not None:
                    control(run, len(items), item)
        except Exception as exc:
            error = exc
        return Outcome(items, run.state, run.history, error, model.requests, run.pending_steering)

    return asyncio.run(main())


def run_sync(
    script: list[list[Any]],
    control: Control | None = None,
    *,
    fast_path: bool = True,
    hook: object | None = None,
    max_turns: int = 10,
    limits: UsageLimits | None = None,
    on_max_turns: str = "error",
    tool_concurrency: int = 1,
) -> Outcome:
    model = SyncScript(script)
    tools = Agent(ScriptedModel([]), tools=[add]).tools
    machine = TurnMachine(
        "go",
        max_turns=max_turns,
        live_hooks=live_hooks(hook).keys(),
        tools=tuple(tools.definitions()),
        limits=limits,
        on_max_turns=on_max_turns,
        tool_concurrency=tool_concurrency,
        fast_path=fast_path,
    )
    if isinstance(hook, Controlled):
        hook.controller = machine
    items: list[StreamItem] = []
    error: BaseException | None = None
    if control is not None:
        control(machine, 0, None)
    try:
        for item in iter_sync(machine, model, hook=hook, run_tool=lambda c: add_output(c)):
            items.append(item)
            if control is not None:
                control(machine, len(items), item)
    except Exception as exc:
        error = exc
    if error is None:
        error = machine.error
    return Outcome(items, machine.state, machine.history, error, model.requests, machine.pending_steering)


def add_output(c: ToolCall) -> Any:
    from agent_fsm.request import ToolOutput

    args = c.function.arguments
    assert isinstance(args, dict)
    return ToolOutput((Text(str(args["a"] + args["b"])),))


class Controlled(StreamingPromptHook):
    """A hook that is handed the run's controller (the ``AgentRun``, or the sync driver's machine)."""

    controller: Any = None


def everywhere(script: list[list[Any]], control: Control | None = None, **kw: Any) -> Outcome:
    """Run on both drivers, fast path and reference mode; assert all four agree; return one."""
    hook_factory = kw.pop("hook_factory", None)
    outcomes = [
        runner(script, control, fast_path=fast, hook=hook_factory() if hook_factory else None, **kw)
        for runner in (run_async, run_sync)
        for fast in (True, False)
    ]
    first = outcomes[0]
    for other in outcomes[1:]:
        assert other.key() == first.key()
        assert other.pending == first.pending
        assert [r.prompt for r in other.requests] == [r.prompt for r in first.requests]
    check_history_invariants(first.history)
    return first


def at(n: int, action: Callable[[Any], Any]) -> Control:
    def control(run: Any, seen: int, item: StreamItem | None) -> None:
        if seen == n:
            action(run)

    return control


# ---------------------------------------------------------------------------------- cancel


def test_cancel_immediate_mid_stream_ends_Cancelled_and_nothing_follows() -> None:
    out = everywhere([TEXT_TURN], at(1, lambda r: r.cancel(reason="enough")))
    assert len(out.items) == 1
    assert out.state is State.Cancelled
    assert isinstance(out.error, PromptCancelled)
    assert out.error.reason == "enough"
    assert out.history[-1] == AssistantMessage((Text("the "),))  # what was emitted, sealed
    assert tuple(out.error.history) == out.history


def test_cancel_immediate_default_reason_says_it_was_cancelled() -> None:
    out = everywhere([TEXT_TURN], at(0, lambda r: r.cancel()))
    assert out.items == [] and out.requests == []
    assert isinstance(out.error, PromptCancelled)
    assert "cancelled" in out.error.reason


def test_cancel_immediate_in_the_tool_stage_seals_the_call() -> None:
    out = everywhere([[call("c1"), call("c2"), Final(Usage(1, 1))], TEXT_TURN], at(3, lambda r: r.cancel()))
    # items: two calls, Final, then the cancel comes before the first result is emitted
    assert out.state is State.Cancelled
    results = out.history[-1]
    assert isinstance(results, UserMessage)
    assert [p.id for p in results.content if isinstance(p, ToolResult)] == ["c1", "c2"]
    assert not any(isinstance(i, StreamUserItem) for i in out.items)


def test_cancel_after_turn_finishes_the_tool_turn_then_ends_Cancelled() -> None:
    out = everywhere([TOOL_TURN, TEXT_TURN], at(1, lambda r: r.cancel("after_turn", "stop here")))
    assert out.state is State.Cancelled
    assert isinstance(out.error, PromptCancelled) and out.error.reason == "stop here"
    assert len(out.requests) == 1
    last = out.history[-1]
    assert isinstance(last, UserMessage) and last.content == (ToolResult("c1", (Text("3"),)),)
    assert isinstance(out.items[-1], StreamUserItem)  # the result was emitted


def test_cancel_after_turn_on_a_text_answer_simply_finishes() -> None:
    out = everywhere([TEXT_TURN], at(1, lambda r: r.cancel("after_turn")))
    assert out.state is State.Done
    assert isinstance(out.items[-1], FinalResponse)


def test_cancel_on_an_ended_run_does_nothing() -> None:
    def twice(run: Any, seen: int, item: StreamItem | None) -> None:
        if isinstance(item, FinalResponse):
            run.cancel()
            run.cancel("after_turn")

    out = everywhere([TEXT_TURN], twice)
    assert out.state is State.Done and out.error is None


def test_cancel_refuses_an_unknown_mode() -> None:
    m = TurnMachine("go", max_turns=2)
    with pytest.raises(ConfigurationError, match="mode"):
        m.cancel("later")  # type: ignore[arg-type]
    assert m.state is State.AwaitingCompletion


def test_cancel_is_its_own_trigger_distinct_from_close() -> None:
    cancelled = TurnMachine("go", max_turns=2)
    assert cancelled.cancel() is STOP
    closed = TurnMachine("go", max_turns=2)
    closed.close()
    assert [e.trigger for e, _ in cancelled.trace] == ["cancel"]
    assert [e.trigger for e, _ in closed.trace] == ["close"]


class CancelsInHook(Controlled):
    def on_text_delta(self, text_delta: str, aggregated_text: str) -> None:
        if aggregated_text == "the answer":
            self.controller.cancel(reason="from the hook")


def test_cancel_from_a_hook_drops_that_hooks_answer() -> None:
    out = everywhere([TEXT_TURN], hook_factory=CancelsInHook)
    assert out.state is State.Cancelled
    assert isinstance(out.error, PromptCancelled) and out.error.reason == "from the hook"
    assert [i.content for i in out.items] == [TextDelta("the ")]  # type: ignore[union-attr]


# --------------------------------------------------- async: cancel interrupts any wait


class _Silent:
    """A model whose stream sends one delta, then nothing, until it is closed."""

    def __init__(self) -> None:
        self.closed = False

    async def stream(self, request: Any) -> Any:
        try:
            yield TextDelta("hi")
            await asyncio.Event().wait()
        finally:
            self.closed = True


async def _cancel_soon(run: Any, reached: asyncio.Event) -> None:
    await reached.wait()
    await asyncio.sleep(0)  # let the driver reach its wait
    run.cancel(reason="from another task")


def test_cancel_interrupts_a_model_stream_that_sends_nothing() -> None:
    async def main() -> None:
        model = _Silent()
        run = Agent(model, observers=()).stream_prompt("go")
        reached = asyncio.Event()
        items: list[StreamItem] = []

        async def consume() -> BaseException | None:
            try:
                async for item in run:
                    items.append(item)
                    reached.set()
            except PromptCancelled as exc:
                return exc
            return None

        consumer = asyncio.create_task(consume())
        await _cancel_soon(run, reached)
        err = await consumer
        assert isinstance(err, PromptCancelled) and err.reason == "from another task"
        assert model.closed
        assert len(items) == 1
        assert run.state is State.Cancelled
        assert not consumer.cancelled()

    asyncio.run(main())


def test_cancel_from_the_consumers_loop_never_waits_for_the_next_event() -> None:
    # The driver is suspended at its yield when the consumer cancels: it must see the cancel
    # before it waits for the next event, which this stream never sends.
    async def main() -> None:
        model = _Silent()
        run = Agent(model, observers=()).stream_prompt("go")
        items: list[StreamItem] = []

        async def consume() -> None:
            async for item in run:
                items.append(item)
                run.cancel(reason="enough")

        with pytest.raises(PromptCancelled, match="enough"):
            await consume()
        assert len(items) == 1
        assert model.closed
        assert run.state is State.Cancelled

    asyncio.run(asyncio.wait_for(main(), 30))  # a guard against hanging, not a timed assertion


def test_cancel_interrupts_a_hook_and_a_running_tool() -> None:
    async def scenario(hook: object | None, script: list[list[Any]], tools: list[Any]) -> None:
        model = ScriptedModel(script)
        run = Agent(model, tools=tools, observers=(), hook=hook).stream_prompt("go")
        reached = asyncio.Event()
        if hook is not None:
            hook.reached = reached  # type: ignore[attr-defined]
        tools_reached.clear()
        consumer = asyncio.create_task(collect(run))
        waiter = asyncio.create_task(_first(reached, tools_reached))
        await waiter
        await asyncio.sleep(0)
        run.cancel()
        items, err = await consumer
        assert isinstance(err, PromptCancelled)
        assert run.state is State.Cancelled
        check_history_invariants(run.history)
        assert model.closed + model.exhausted == model.calls

    tools_reached = asyncio.Event()

    @tool
    async def hang() -> str:
        """Hangs."""
        tools_reached.set()
        await asyncio.Event().wait()
        return "never"

    class HangingHook(StreamingPromptHook):
        reached: asyncio.Event

        async def on_text_delta(self, text_delta: str, aggregated_text: str) -> None:
            self.reached.set()
            await asyncio.Event().wait()

    hang_call = ToolCallReady(ToolCall("h1", ToolFunction("hang", {})), "i1")

    async def main() -> None:
        await scenario(HangingHook(), [TEXT_TURN], [])
        await scenario(None, [[hang_call, Final(Usage(1, 1))], TEXT_TURN], [hang])

    asyncio.run(main())


async def _first(*events: asyncio.Event) -> None:
    waits = [asyncio.create_task(e.wait()) for e in events]
    _, pending = await asyncio.wait(waits, return_when=asyncio.FIRST_COMPLETED)
    for w in pending:
        w.cancel()


def test_an_outside_task_cancellation_still_propagates() -> None:
    async def main() -> None:
        run = Agent(_Silent(), observers=()).stream_prompt("go")
        consumer = asyncio.create_task(collect(run))
        await asyncio.sleep(0.01)
        consumer.cancel()
        with pytest.raises(asyncio.CancelledError):
            await consumer
        assert run.state is State.Cancelled

    asyncio.run(main())


# -------------------------------------------------------------------------------- steering


def test_steering_before_the_first_call_is_appended_to_the_prompt() -> None:
    out = everywhere([TEXT_TURN], at(0, lambda r: r.steer("be brief")))
    assert out.requests[0].prompt == UserMessage((Text("go"), Text("be brief")))
    assert out.history[0] == out.requests[0].prompt
    assert out.pending == ()


def test_steering_during_a_tool_turn_joins_the_tool_results_message() -> None:
    image = Image("iVBORw0KGgo=", "image/png")
    steer = at(1, lambda r: (r.steer("use metric"), r.steer(UserMessage((Text("and"), image)))))
    out = everywhere([TOOL_TURN, TEXT_TURN], steer)
    prompt = out.requests[1].prompt
    assert prompt.content == (ToolResult("c1", (Text("3"),)), Text("use metric"), Text("and"), image)
    assert out.history.count(prompt) == 1
    assert out.state is State.Done


def test_a_text_answer_with_steering_pending_makes_one_more_call() -> None:
    out = everywhere([TEXT_TURN, [TextDelta("ok"), Final(Usage(1, 1))]], at(1, lambda r: r.steer("and more?")))
    assert len(out.requests) == 2
    assert out.requests[1].prompt == UserMessage((Text("and more?"),))
    assert out.history[-3:] == (
        AssistantMessage((Text("the answer"),)),
        UserMessage((Text("and more?"),)),
        AssistantMessage((Text("ok"),)),
    )
    assert out.state is State.Done
    final = out.items[-1]
    assert isinstance(final, FinalResponse) and final.response == "ok"


def test_steering_never_buys_a_turn_text_answer_stands() -> None:
    out = everywhere([TEXT_TURN], at(1, lambda r: r.steer("more")), max_turns=1)
    assert out.state is State.Done
    assert out.pending == (UserMessage((Text("more"),)),)
    assert all(UserMessage((Text("more"),)) != m for m in out.history)


def test_steering_never_buys_a_turn_tool_turn_ends_MaxTurnsExceeded() -> None:
    out = everywhere([TOOL_TURN], at(1, lambda r: r.steer("more")), max_turns=1)
    assert isinstance(out.error, MaxTurnsExceeded)
    assert out.error.prompt == out.history[-1]
    assert all(isinstance(p, ToolResult) for p in out.error.prompt.content)
    assert out.pending == (UserMessage((Text("more"),)),)


def test_after_turn_cancel_and_steering_a_text_answer_ends_Done() -> None:
    def both(run: Any, seen: int, item: Any) -> None:
        if seen == 1:
            run.steer("more")
            run.cancel("after_turn")

    out = everywhere([TEXT_TURN, TEXT_TURN], both)
    assert out.state is State.Done and len(out.requests) == 1
    assert out.pending == (UserMessage((Text("more"),)),)


class SeesPrompt(Controlled):
    def __init__(self, terminate: bool) -> None:
        self.terminate = terminate
        self.prompts: list[UserMessage] = []

    def on_completion_call(self, prompt: UserMessage, history: Any) -> HookAction | None:
        self.prompts.append(prompt)
        return HookAction.terminate("no") if self.terminate else None


@pytest.mark.parametrize("terminate", [False, True])
def test_on_completion_call_sees_the_steering_and_a_terminate_keeps_it_pending(terminate: bool) -> None:
    hooks: list[SeesPrompt] = []

    def factory() -> SeesPrompt:
        hooks.append(SeesPrompt(terminate))
        return hooks[-1]

    out = everywhere([TEXT_TURN], at(0, lambda r: r.steer("hi")), hook_factory=factory)
    assert hooks[0].prompts[0] == UserMessage((Text("go"), Text("hi")))
    if terminate:
        assert out.state is State.Cancelled
        assert out.pending == (UserMessage((Text("hi"),)),)
        assert out.history == (UserMessage((Text("go"),)),)
    else:
        assert out.pending == ()


def test_steer_refuses_what_is_not_a_message() -> None:
    with pytest.raises(ConfigurationError, match="steering message"):
        TurnMachine("go", max_turns=1).steer(42)  # type: ignore[arg-type]


# ---------------------------------------------------------------------------------- limits


def test_a_token_limit_reached_before_a_call_prevents_it() -> None:
    out = everywhere([TOOL_TURN, TEXT_TURN], limits=UsageLimits(input_tokens=10))
    assert isinstance(out.error, UsageLimitExceeded)
    assert (out.error.limit, out.error.maximum, out.error.value) == ("input_tokens", 10, 10)
    assert out.error.usage == Usage(10, 2)
    assert len(out.requests) == 1
    assert out.state is State.UsageLimitExceeded
    assert isinstance(out.history[-1], UserMessage)  # the tools ran: the limit was only reached


def test_a_tool_turn_over_a_token_limit_ends_before_its_tools_run() -> None:
    out = everywhere([TOOL_TURN, TEXT_TURN], limits=UsageLimits(total_tokens=11))
    assert isinstance(out.error, UsageLimitExceeded)
    assert (out.error.limit, out.error.maximum, out.error.value) == ("total_tokens", 11, 12)
    assert not any(isinstance(i, StreamUserItem) for i in out.items)
    results = out.history[-1]
    assert isinstance(results, UserMessage)
    (result,) = results.content
    assert isinstance(result, ToolResult) and result.is_error and "total_tokens" in result.text


def test_total_tokens_is_input_plus_output_whatever_the_provider_reported() -> None:
    turn = [call("c1"), Final(Usage(10, 2, total_tokens=0))]
    out = everywhere([turn, TEXT_TURN], limits=UsageLimits(total_tokens=11))
    assert isinstance(out.error, UsageLimitExceeded) and out.error.value == 12


def test_a_text_answer_that_crosses_a_limit_ends_Done() -> None:
    out = everywhere([TEXT_TURN], limits=UsageLimits(output_tokens=1))
    assert out.state is State.Done


def test_a_tool_batch_that_would_cross_tool_calls_is_refused_whole() -> None:
    turn = [call("c1"), call("c2"), Final(Usage(1, 1))]
    for concurrency, ran in ((1, 1), (2, 0)):
        out = everywhere([turn, TEXT_TURN], limits=UsageLimits(tool_calls=1), tool_concurrency=concurrency)
        assert isinstance(out.error, UsageLimitExceeded)
        assert (out.error.limit, out.error.maximum, out.error.value) == ("tool_calls", 1, 2)
        emitted = [i for i in out.items if isinstance(i, StreamUserItem)]
        assert len(emitted) == ran
        check_history_invariants(out.history)


def test_usage_limits_refuse_bad_values() -> None:
    with pytest.raises(ValueError, match="tool_calls"):
        UsageLimits(tool_calls=-1)
    with pytest.raises(ConfigurationError, match="limits"):
        Agent(ScriptedModel([]), limits={"tool_calls": 1})  # type: ignore[arg-type]


def test_stream_prompt_limits_replace_the_agents() -> None:
    async def main() -> BaseException | None:
        agent = Agent(
            ScriptedModel([TOOL_TURN, TEXT_TURN]), tools=[add], observers=(), limits=UsageLimits(tool_calls=5)
        )
        _, err = await collect(agent.stream_prompt("go", limits=UsageLimits(tool_calls=0)))
        return err

    err = asyncio.run(main())
    assert isinstance(err, UsageLimitExceeded) and err.limit == "tool_calls"


# ---------------------------------------------------------------------- a final answer


def test_final_answer_with_one_turn_makes_its_only_call_without_tools() -> None:
    out = everywhere([TEXT_TURN], max_turns=1, on_max_turns="final_answer")
    assert [r.tool_choice for r in out.requests] == ["none"]
    assert out.requests[0].tools  # the tools stay declared
    assert out.state is State.Done


def test_final_answer_only_on_the_last_allowed_call() -> None:
    out = everywhere([TOOL_TURN, TEXT_TURN], max_turns=2, on_max_turns="final_answer")
    assert [r.tool_choice for r in out.requests] == [None, "none"]
    assert out.state is State.Done
    default = everywhere([TOOL_TURN, TEXT_TURN], max_turns=2)
    assert [r.tool_choice for r in default.requests] == [None, None]


def test_final_answer_a_model_calling_tools_anyway_ends_MaxTurnsExceeded() -> None:
    out = everywhere([TOOL_TURN], max_turns=1, on_max_turns="final_answer")
    assert isinstance(out.error, MaxTurnsExceeded)
    assert any(isinstance(i, StreamUserItem) for i in out.items)  # its tools ran, as today


def test_on_max_turns_refuses_other_values() -> None:
    with pytest.raises(ConfigurationError, match="on_max_turns"):
        Agent(ScriptedModel([]), on_max_turns="answer")  # type: ignore[arg-type]


# -------------------------------------------------------------------------------- snapshots


def test_snapshot_carries_steering_limits_tool_calls_and_an_after_turn_cancel() -> None:
    m = TurnMachine(
        "go",
        max_turns=4,
        limits=UsageLimits(tool_calls=3),
        tools=tuple(Agent(ScriptedModel([]), tools=[add]).tools.definitions()),
    )
    script = SyncScript([TOOL_TURN, TEXT_TURN])
    gen = iter_sync(m, script, run_tool=add_output)
    for item in gen:
        if isinstance(item, StreamUserItem):
            m.steer("later")
            m.cancel("after_turn", "pause")
            break
    snap = Snapshot.from_json(m.snapshot().to_json())
    gen.close()
    assert snap.steering == (UserMessage((Text("later"),)),)
    assert snap.limits == UsageLimits(tool_calls=3)
    assert snap.tool_calls_run == 1
    assert snap.cancel_after_turn == "pause"
    resumed = TurnMachine.restore(snap)
    assert resumed.pending_steering == snap.steering and resumed.limits == snap.limits
    assert resumed.tool_calls_run == 1
    resumed.start()
    assert resumed.state is State.Cancelled  # the after-turn cancel is honoured
    assert isinstance(resumed.error, PromptCancelled) and resumed.error.reason == "pause"


def test_snapshot_taken_while_tools_run_does_not_count_them_twice() -> None:
    m = TurnMachine("go", max_turns=4, limits=UsageLimits(tool_calls=1))
    m.start()
    m.model_event(call("c1"))
    action = m.model_end()
    assert type(action).__name__ == "RunTools"
    assert m.tool_calls_run == 1
    assert m.snapshot().tool_calls_run == 0  # resuming runs the call again


def test_a_steered_snapshot_between_a_text_answer_and_its_steering_call_resumes() -> None:
    class Pauses(StreamingPromptHook):
        def on_completion_call(self, prompt: UserMessage, history: Any) -> None:
            return None

    m = TurnMachine("go", max_turns=3, live_hooks=["on_completion_call"])
    action = m.start()
    m.hook_answer(None)
    for e in TEXT_TURN:
        m.model_event(e)
    m.steer("more")
    action = m.model_end()
    assert type(action).__name__ == "CallHook" and m.state is State.AwaitingCompletion
    snap = Snapshot.from_json(m.snapshot().to_json())
    assert isinstance(snap.history[-1], AssistantMessage) and snap.steering
    resumed = TurnMachine.restore(snap)
    action = resumed.start()
    assert action.request.prompt == UserMessage((Text("more"),))  # type: ignore[union-attr]


def test_snapshot_schema_2_migrates_to_3() -> None:
    data = Snapshot.from_json(TurnMachine("go", max_turns=2).snapshot().to_json()).to_dict()
    for key in ("steering", "limits", "tool_calls_run", "cancel_after_turn"):
        del data[key]
    data["version"] = 2
    snap = Snapshot.from_dict(data)
    assert snap.version == 3
    assert (snap.steering, snap.limits, snap.tool_calls_run, snap.cancel_after_turn) == ((), None, 0, None)


def test_items_are_the_same_items_for_both_drivers_with_control() -> None:
    # a smoke of the agreement everywhere() asserts, on a longer run mixing everything
    def mix(run: Any, seen: int, item: Any) -> None:
        if seen == 1:
            run.steer("s1")
        if isinstance(item, StreamUserItem):
            run.steer("s2")

    out = everywhere(
        [TOOL_TURN, [call("c2"), Final(Usage(1, 1))], TEXT_TURN, TEXT_TURN], mix, limits=UsageLimits(tool_calls=5)
    )
    assert out.state is State.Done
    assert isinstance(out.items[0], StreamAssistantItem)
    # the request is built as the last result is processed, before that result is yielded: steering
    # given on seeing it goes with the call after (here the fourth, made for the pending steering)
    assert out.requests[1].prompt.content == (ToolResult("c1", (Text("3"),)), Text("s1"))
    assert out.requests[2].prompt.content == (ToolResult("c2", (Text("3"),)), Text("s2"))
    assert out.requests[3].prompt == UserMessage((Text("s2"),))
