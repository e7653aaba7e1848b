"""``agent-fsm demo``: the scripted trip-planner agent, printed as it streams."""

from __future__ import annotations

import argparse
import asyncio
from collections.abc import AsyncIterator
from typing import Any

from ..codec import to_dict
from ..errors import PromptCancelled
from ..items import StreamAssistantItem, StreamItem
from ..run.console import print_run
from ..run.driver import AgentRun
from ..testing.demo_agent import DEMO_PROMPT, build_demo_agent


def register(sub: Any) -> None:
    p: argparse.ArgumentParser = sub.add_parser("demo", help="run the embedded scripted agent (no network, no key)")
    p.add_argument("--json-history", action="store_true", help="print the final history as JSON")
    p.add_argument(
        "--control",
        action="store_true",
        help="steer the run at its first tool call, then cancel it after its second turn (run control)",
    )
    p.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    return asyncio.run(_run(args))


async def _run(args: argparse.Namespace) -> int:
    import json

    agent = build_demo_agent()
    print(f"user: {DEMO_PROMPT}\n")
    run = agent.stream_prompt(DEMO_PROMPT)
    if args.control:
        try:
            await print_run(_controlled(run))
        except PromptCancelled as stopped:
            print(f"\ncancelled: {stopped.reason}")
    else:
        await print_run(run)
    print(f"\nstate: {run.state.value}, model calls: {run.machine.turns}/{agent.max_turns}")
    if args.control:
        print(f"pending steering: {len(run.pending_steering)}")
    print("\nhistory:")
    for i, message in enumerate(run.history):
        if args.json_history:
            print(json.dumps(to_dict(message), ensure_ascii=False))
            continue
        role = type(message).__name__.removesuffix("Message").lower()
        parts = ", ".join(_describe(p) for p in message.content)
        print(f"  {i}. {role}: {parts}")
    return 0


async def _controlled(run: AgentRun) -> AsyncIterator[StreamItem]:
    """The run's items, steering it at its first tool call and cancelling it after its second
    turn, as an application watching the stream would."""
    from ..events import ToolCallReady

    calls = 0
    async for item in run:
        yield item
        if isinstance(item, StreamAssistantItem) and isinstance(item.content, ToolCallReady):
            calls += 1
            if calls == 1:
                run.steer("Give the cost in euros, please.")  # joins this turn's tool results
            elif calls == 3:  # the second turn's call: let it run, then stop before the next call
                run.cancel(mode="after_turn", reason="the user has what they need")


def _describe(part: Any) -> str:
    from ..messages import Reasoning, Text, ToolCall, ToolResult

    if isinstance(part, Text):
        return repr(part.text)
    if isinstance(part, Reasoning):
        return f"reasoning[{part.id}]({len(part.text)} chars)"
    if isinstance(part, ToolCall):
        return f"call {part.id}: {part.function.name}({part.function.arguments})"
    if isinstance(part, ToolResult):
        return f"result {part.id}: {part.text!r}" + (" (error)" if part.is_error else "")
    return type(part).__name__
