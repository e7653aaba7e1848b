"""Agents for the durable-run tests, importable by a worker subprocess (``tests.durable_agents:AGENTS``).

Each scripted model is a :class:`StatelessScriptedModel`, so a worker that takes over a run plays
the script from the right call. Every model call and tool call appends a line to the file named
by ``AGENT_FSM_DURABLE_LOG`` (when set): ``<pid> model-start <turn>``, ``<pid> model-done <turn>``,
``<pid> tool <call id>``. A worker started with ``AGENT_FSM_DURABLE_HANG=<turn>`` blocks in that
model call forever, after logging its start, so a test can kill it mid-activity.
"""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import AsyncGenerator
from pathlib import Path
from typing import Any

from agent_fsm import (
    Agent,
    CompletionError,
    HookAction,
    StreamingPromptHook,
    ToolCall,
    ToolCallHookAction,
    ToolDefinition,
    ToolFunction,
    ToolServerError,
    Usage,
    tool,
)
from agent_fsm.events import Final, ModelEvent, TextDelta, ToolCallReady
from agent_fsm.request import CompletionRequest
from agent_fsm.testing import StatelessScriptedModel, turn_of


def log(line: str) -> None:
    path = os.environ.get("AGENT_FSM_DURABLE_LOG")
    if path:
        with open(path, "a") as f:
            f.write(f"{os.getpid()} {line}\n")


class LoggedModel(StatelessScriptedModel):
    """Logs each call's start and end; hangs in the call named by ``AGENT_FSM_DURABLE_HANG``."""

    def stream(self, request: CompletionRequest) -> AsyncGenerator[ModelEvent, None]:
        inner = super().stream(request)
        return self._logged(turn_of(request), inner)

    async def _logged(self, turn: int, inner: AsyncGenerator[ModelEvent, None]) -> AsyncGenerator[ModelEvent, None]:
        log(f"model-start {turn}")
        if os.environ.get("AGENT_FSM_DURABLE_HANG") == str(turn):
            await asyncio.sleep(3600)
        async for event in inner:
            yield event
        log(f"model-done {turn}")


def call(cid: str, name: str, **args: Any) -> ToolCallReady:
    return ToolCallReady(ToolCall(cid, ToolFunction(name, args)), f"int-{cid}")


@tool
def add(a: int, b: int) -> int:
    """Add two integers."""
    log(f"tool add-{a}-{b}")
    return a + b


@tool(requires_approval=True)
def delete_file(path: str) -> str:
    """Delete a file (needs a human's approval)."""
    log(f"tool delete-{path}")
    return f"deleted {path}"


def tool_turns(n: int) -> list[list[Any]]:
    """``n`` turns that each call ``add`` twice (the calls of a turn run at once), then an answer."""
    turns: list[list[Any]] = [
        [TextDelta(f"step {i}"), call(f"c{i}a", "add", a=i, b=1), call(f"c{i}b", "add", a=i, b=2), Final(Usage(10, 2))]
        for i in range(n)
    ]
    turns.append([TextDelta("all "), TextDelta("done"), Final(Usage(20, 3))])
    return turns


def calculator(turns: int = 3, **kwargs: Any) -> Agent:
    kwargs.setdefault("max_turns", 20)
    kwargs.setdefault("tool_concurrency", 2)
    return Agent(LoggedModel(tool_turns(turns)), preamble="You add.", tools=[add], **kwargs)


def approver() -> Agent:
    script = [
        [call("ls", "add", a=1, b=1), call("d1", "delete_file", path="a.txt"), Final(Usage(10, 5))],
        [TextDelta("finished"), Final(Usage(12, 2))],
    ]
    return Agent(LoggedModel(script), tools=[add, delete_file], max_turns=5)


class StopOnSecret(StreamingPromptHook):
    """Terminates when the model says "secret"; skips ``add`` calls whose ``a`` is 99."""

    def on_text_delta(self, text_delta: str, aggregated_text: str) -> HookAction | None:
        return HookAction.terminate("the model said secret") if "secret" in text_delta else None

    def on_tool_call(self, tool_name: str, tool_call_id: str, internal_call_id: str, args: Any) -> Any:
        return ToolCallHookAction.skip("not 99") if args.get("a") == 99 else None


def cancelling() -> Agent:
    script = [
        [call("s1", "add", a=99, b=1), call("s2", "add", a=1, b=1), Final(Usage(3, 3))],
        [TextDelta("the "), TextDelta("secret"), TextDelta(" is out"), Final(Usage(3, 3))],
    ]
    return Agent(LoggedModel(script), tools=[add], hook=StopOnSecret())


def failing() -> Agent:
    script = [
        [call("f1", "add", a=1, b=2), Final(Usage(3, 3))],
        [TextDelta("half an answer"), CompletionError("upstream went away", status=502, retryable=True)],
    ]
    return Agent(LoggedModel(script), tools=[add])


def bounded() -> Agent:
    return Agent(LoggedModel(tool_turns(5)), tools=[add], max_turns=2)


class RaisesOnResult(StreamingPromptHook):
    def on_tool_result(self, *args: Any) -> None:
        raise RuntimeError("the hook broke")


def hook_error() -> Agent:
    return Agent(LoggedModel(tool_turns(1)), tools=[add], hook=RaisesOnResult())


def illegal() -> Agent:
    return Agent(LoggedModel([[TextDelta("a"), Final(Usage(1, 1)), TextDelta("after the end")]]))


class SlowModel(LoggedModel):
    """Takes ``AGENT_FSM_DURABLE_SLOW`` seconds (default 1.5) before each call's first event."""

    def stream(self, request: CompletionRequest) -> AsyncGenerator[ModelEvent, None]:
        return self._slow(super().stream(request))

    async def _slow(self, inner: AsyncGenerator[ModelEvent, None]) -> AsyncGenerator[ModelEvent, None]:
        await asyncio.sleep(float(os.environ.get("AGENT_FSM_DURABLE_SLOW", "1.5")))
        async for event in inner:
            yield event


class FlakyServer:
    """A tool server whose ``b`` tool fails as a whole (``ToolServerError``); ``a`` works."""

    def definitions(self) -> list[ToolDefinition]:
        return [ToolDefinition(n, f"tool {n}", {"type": "object"}) for n in ("a", "b")]

    async def call(self, name: str, arguments: Any) -> str:
        log(f"tool server-{name}")
        if name == "b":
            raise ToolServerError("the tool server is down")
        return "fine"


def server_down() -> Agent:
    script = [[call("t1", "a"), call("t2", "b"), call("t3", "a"), Final(Usage(1, 1))], [TextDelta("never")]]
    return Agent(LoggedModel(script), tools=FlakyServer(), tool_concurrency=3)


@tool
def big() -> str:
    """Return far too much."""
    log("tool big")
    return "x" * 5000


def big_result() -> Agent:
    return Agent(LoggedModel([[call("b1", "big"), Final(Usage(1, 1))], [TextDelta("never")]]), tools=[big])


@tool
def after(me: str, other: str = "") -> str:
    """Finish only once the call ``other`` has finished (as the log says); runs in a thread."""
    path = os.environ.get("AGENT_FSM_DURABLE_LOG")
    while other and path and f" tool done-{other}\n" not in Path(path).read_text():
        time.sleep(0.01)
    log(f"tool done-{me}")
    return f"{me} after {other or 'nobody'}"


def out_of_order() -> Agent:
    """Two calls run at once; the first can finish only after the second."""
    script = [
        [call("n1", "after", me="n1", other="n2"), call("n2", "after", me="n2"), Final(Usage(1, 1))],
        [TextDelta("in order"), Final(Usage(1, 1))],
    ]
    return Agent(LoggedModel(script), tools=[after], tool_concurrency=2)


SECRET = "sk-durable-test-0123456789abcdefghij"


class LeakyModel(LoggedModel):
    """Holds an API key and fails with it in the message, as a careless provider would."""

    api_key = SECRET


def leaky() -> Agent:
    return Agent(LeakyModel([[TextDelta("one moment"), RuntimeError(f"401 for key {SECRET}")]]))


def make_agents() -> dict[str, Agent]:
    return {
        "calculator": calculator(3),
        "long": calculator(6),
        "approver": approver(),
        "cancelling": cancelling(),
        "failing": failing(),
        "bounded": bounded(),
        "hook_error": hook_error(),
        "illegal": illegal(),
        "leaky": leaky(),
        "server_down": server_down(),
        "big_result": big_result(),
        "out_of_order": out_of_order(),
        "slow": Agent(SlowModel([[TextDelta("took a while"), Final(Usage(1, 1))]])),
    }


AGENTS = make_agents()
