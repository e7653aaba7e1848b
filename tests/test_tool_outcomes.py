"""The text of a failed tool call is built in one place (agent_fsm.tools.outcomes), for every driver.

Regression: the async driver built its own text for a tool server that raised, unredacted, so a
custom ToolServer whose exception quoted a credential put it in the history - and so in the next
request to the model. The sync driver built a third text ("failed" instead of "raised").
"""

from __future__ import annotations

import asyncio
from typing import Any

from agent_fsm import Agent, ToolCall, ToolDefinition, ToolFunction, ToolOutput, Usage
from agent_fsm.events import Final, TextDelta, ToolCallReady
from agent_fsm.machine import TurnMachine
from agent_fsm.messages import ToolResult, UserMessage
from agent_fsm.run.sync_driver import drive_sync
from agent_fsm.testing import ScriptedModel
from agent_fsm.tools.outcomes import raised

SECRET = "sk-live-0123456789abcdefXYZ"


class KeyedModel(ScriptedModel):
    """A scripted model holding an API key, as a provider does."""

    def __init__(self, turns: Any) -> None:
        super().__init__(turns)
        self.api_key = SECRET


class LeakyServer:
    """A custom tool server whose exception quotes the key (an upstream API echoing it)."""

    def definitions(self) -> list[ToolDefinition]:
        return [ToolDefinition("lookup", "Look something up.")]

    async def call(self, name: str, arguments: Any) -> ToolOutput:
        raise RuntimeError(f"upstream refused key {SECRET}")


def _script() -> list[list[Any]]:
    call = ToolCall("c1", ToolFunction("lookup", {}))
    return [[ToolCallReady(call, "i1"), Final(Usage(1, 1))], [TextDelta("ok"), Final(Usage(1, 1))]]


def _tool_result(history: tuple[Any, ...]) -> ToolResult:
    (result,) = [p for m in history if isinstance(m, UserMessage) for p in m.content if isinstance(p, ToolResult)]
    return result


def test_a_tool_server_exception_reaches_the_history_redacted() -> None:
    async def main() -> tuple[Any, ...]:
        run = Agent(KeyedModel(_script()), tools=LeakyServer()).stream_prompt("go")
        async for _ in run:
            pass
        return run.history

    history = asyncio.run(main())
    result = _tool_result(history)
    assert result.is_error
    assert SECRET not in result.text
    assert result.text == "Tool 'lookup' raised RuntimeError: upstream refused key [REDACTED]"


def test_both_drivers_write_the_same_text_for_a_tool_server_that_raises() -> None:
    def runner(call: ToolCall) -> ToolOutput:
        raise RuntimeError("the tool server broke")

    machine = TurnMachine("go", max_turns=3)
    drive_sync(machine, lambda request: iter(_script()[machine.turns - 1]), run_tool=runner)
    result = _tool_result(machine.history)
    assert result.text == raised("lookup", RuntimeError("the tool server broke")).content[0].text  # type: ignore[union-attr]
