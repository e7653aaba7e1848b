"""Property tests over random turn sequences: invariants, determinism, and equivalent drivers."""

from __future__ import annotations

import asyncio
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from agent_fsm import Agent, Text, ToolCall, ToolDefinition, ToolOutput
from agent_fsm.codec import to_json
from agent_fsm.hooks import live_hooks
from agent_fsm.items import StreamItem
from agent_fsm.machine import TurnMachine
from agent_fsm.messages import JSONValue
from agent_fsm.testing import ScriptedModel, check_run
from agent_fsm.testing.strategies import PolicyHook, hook_policies, turn_scripts
from agent_fsm.testing.sync_driver import SyncScript, drive_sync

from .support import collect


def echo_output(name: str, arguments: JSONValue) -> ToolOutput:
    """The one tool logic both drivers use: echo known calls, refuse unknown ones."""
    if name != "echo":
        return ToolOutput((Text(f"Unknown tool {name!r}"),), is_error=True)
    if not isinstance(arguments, dict) or set(arguments) != {"text"} or not isinstance(arguments["text"], str):
        return ToolOutput((Text(f"bad arguments {arguments!r}"),), is_error=True)
    return ToolOutput((Text(arguments["text"]),))


class EchoServer:
    def definitions(self) -> tuple[ToolDefinition, ...]:
        return (ToolDefinition("echo", "Echo text.", {"type": "object", "properties": {"text": {"type": "string"}}}),)

    async def call(self, name: str, arguments: JSONValue) -> ToolOutput:
        return echo_output(name, arguments)


def run_async(script: Any, hook: PolicyHook | None, max_turns: int, concurrency: int) -> tuple[Any, ...]:
    model = ScriptedModel(script)
    agent = Agent(model, tools=EchoServer(), max_turns=max_turns, tool_concurrency=concurrency)
    run = agent.stream_prompt("go", hook=hook)
    items, outcome = asyncio.run(collect(run))
    return items, outcome, run, model


def run_sync(
    script: Any, hook: PolicyHook | None, max_turns: int, concurrency: int, fast: bool = True
) -> tuple[Any, ...]:
    model = SyncScript(script)
    m = TurnMachine(
        "go",
        max_turns=max_turns,
        live_hooks=live_hooks(hook).keys(),
        tool_concurrency=concurrency,
        tools=EchoServer().definitions(),
        fast_path=fast,
    )
    items = drive_sync(m, model, hook=hook, run_tool=lambda c: echo_output(c.function.name, c.function.arguments))
    return items, m, model


def as_bytes(items: list[StreamItem], history: Any) -> tuple[str, str]:
    return to_json(items), to_json(list(history))


scripts = turn_scripts(tools=["echo"], errors=True)
turns = st.integers(1, 5)
concurrency = st.integers(1, 3)


@given(script=scripts, hook=hook_policies(), max_turns=turns, n=concurrency)
def test_property_every_run_keeps_the_invariants(script: Any, hook: PolicyHook, max_turns: int, n: int) -> None:
    items, outcome, run, model = run_async(script, hook, max_turns, n)
    check_run(items, run.history, outcome, initial=0, max_turns=max_turns, model_calls=model.calls)
    assert run.machine.done
    assert (outcome is None) == (run.state.value == "Done")


@given(script=scripts, hook=hook_policies(), max_turns=turns, n=concurrency)
def test_property_same_inputs_give_byte_identical_items_and_history(
    script: Any, hook: PolicyHook, max_turns: int, n: int
) -> None:
    first = run_async(script, hook.fresh(), max_turns, n)
    second = run_async(script, hook.fresh(), max_turns, n)
    assert as_bytes(first[0], first[2].history) == as_bytes(second[0], second[2].history)
    assert type(first[1]) is type(second[1])


@given(script=scripts, hook=hook_policies(allow_async=False), max_turns=turns, n=concurrency)
def test_property_sync_driver_gives_what_the_async_driver_gives(
    script: Any, hook: PolicyHook, max_turns: int, n: int
) -> None:
    a_items, a_outcome, a_run, _ = run_async(script, hook.fresh(), max_turns, n)
    s_items, machine, _ = run_sync(script, hook.fresh(), max_turns, n)
    assert as_bytes(a_items, a_run.history) == as_bytes(s_items, machine.history)
    assert a_run.state is machine.state
    assert a_run.trace == machine.trace


@given(script=scripts, hook=hook_policies(allow_async=False), max_turns=turns, n=concurrency)
def test_property_fast_path_matches_transitions_trigger(script: Any, hook: PolicyHook, max_turns: int, n: int) -> None:
    fast_items, fast, _ = run_sync(script, hook.fresh(), max_turns, n, fast=True)
    slow_items, slow, _ = run_sync(script, hook.fresh(), max_turns, n, fast=False)
    assert as_bytes(fast_items, fast.history) == as_bytes(slow_items, slow.history)
    assert fast.state is slow.state
    assert fast.trace == slow.trace
    assert to_json(fast.usage) == to_json(slow.usage)


def test_echo_output_refuses_what_echo_cannot_take() -> None:
    assert echo_output("echo", {"text": "x"}) == ToolOutput((Text("x"),))
    assert echo_output("echo", {"a": 1}).is_error
    assert echo_output("nope", {}).is_error
    assert ToolCall  # the strategies name tools by ToolCall; keep the import honest
