"""``agent-fsm replay CASSETTE``: re-run a recorded run offline and print it.

The model is replayed from the cassette (a request that differs from the recording stops the
replay with the difference). Tool results come from the recording too - what the next recorded
request sent back - unless ``--tools`` names real tools to run instead.
"""

from __future__ import annotations

import argparse
import asyncio
import inspect
import sys
from collections.abc import Awaitable
from typing import Any

from ..agent import Agent
from ..errors import AgentFSMError, ConfigurationError
from ..messages import Text, ToolCall, ToolResult, UserMessage
from ..providers.cassette import CassetteCall, ReplayMismatch, ReplayModel, read_cassette
from ..request import ToolDefinition, ToolOutput
from ..run.console import print_run
from ..run.driver import AgentRun
from ..run.effects import DirectEffects
from ..tools import ToolServer
from ._load import LoadError, load_object
from .run import agent_tools, load_tools


def register(sub: Any) -> None:
    p: argparse.ArgumentParser = sub.add_parser("replay", help="re-run a recorded cassette offline and print it")
    replay_options(p)
    p.set_defaults(handler=run)


class RecordedTools:
    """A tool server answering each call with the result the recording sent back for its id."""

    def __init__(self, calls: list[CassetteCall]) -> None:
        first = calls[0].request if calls and calls[0].request is not None else None
        self._definitions: tuple[ToolDefinition, ...] = first.tools if first is not None else ()
        self.results: dict[str, ToolResult] = {}
        for call in calls[1:]:
            prompt = call.request.prompt if call.request is not None else None
            if isinstance(prompt, UserMessage):
                for part in prompt.content:
                    if isinstance(part, ToolResult):
                        self.results[part.id] = part

    def definitions(self) -> tuple[ToolDefinition, ...]:
        return self._definitions

    async def call(self, name: str, arguments: Any) -> ToolOutput:  # pragma: no cover - effects route by id
        return ToolOutput((Text(f"no recorded result for a call of {name!r}"),), is_error=True)


class RecordedEffects(DirectEffects):
    """Effects that answer tool calls from a :class:`RecordedTools` by call id."""

    def __init__(self, recorded: RecordedTools) -> None:
        self.recorded = recorded

    def call_tool(self, tools: ToolServer, call: ToolCall) -> Awaitable[ToolOutput]:
        async def answer() -> ToolOutput:
            result = self.recorded.results.get(call.id)
            if result is None:
                return ToolOutput((Text(f"the recording has no result for tool call {call.id!r}"),), is_error=True)
            return ToolOutput(result.content, result.is_error)

        return answer()


def run(args: argparse.Namespace) -> int:
    try:
        return asyncio.run(_run(args))
    except (ConfigurationError, LoadError) as exc:
        print(f"agent-fsm replay: {exc}", file=sys.stderr)
        return 2


def replay_options(p: argparse.ArgumentParser) -> None:
    """The options that say how a cassette is re-run (``replay`` and ``report`` share them)."""
    p.add_argument("cassette", help="a cassette written by RecordingModel (or agent-fsm run --record)")
    p.add_argument("--hook", metavar="MODULE:CLASS", help="a hook to run the replay with")
    p.add_argument("--tools", metavar="MODULE:ATTR", help="real tools to run instead of the recorded results")
    p.add_argument("--max-turns", type=int, default=None, help="model calls allowed (default: as recorded)")


def replay_agent(args: argparse.Namespace) -> tuple[Agent, list[CassetteCall]]:
    """The agent that re-runs ``args.cassette`` as ``--hook``, ``--tools`` and ``--max-turns`` say.

    Raises:
        ConfigurationError: for a file that is not a cassette or has no request to start from.
        LoadError: for a ``--hook`` or ``--tools`` that cannot be imported.
    """
    _, calls = read_cassette(args.cassette)
    first = calls[0].request if calls else None
    if first is None:
        raise ConfigurationError(f"{args.cassette}: its first call has no recorded request to start from")
    hook = None
    if args.hook:
        hook = load_object(args.hook)
        if inspect.isclass(hook):
            hook = hook()
    recorded = RecordedTools(calls)
    tools: Any = recorded
    effects: DirectEffects = RecordedEffects(recorded)
    if args.tools:
        tools, effects = agent_tools(load_tools(args.tools)), DirectEffects()
    agent = Agent(
        ReplayModel(calls),
        preamble=first.preamble,
        tools=tools,
        max_turns=args.max_turns or max(len(calls), 1),
        hook=hook,
        temperature=first.temperature,
        max_tokens=first.max_tokens,
        additional_params=first.additional_params,
        effects=effects,
    )
    return agent, calls


def start_run(agent: Agent, calls: list[CassetteCall]) -> AgentRun:
    """The recorded run's first request, made again."""
    first = calls[0].request
    assert first is not None  # replay_agent checked it
    return agent.stream_prompt(first.prompt, history=first.history)


async def _run(args: argparse.Namespace) -> int:
    agent, calls = replay_agent(args)
    print(f"replaying {args.cassette}: {len(calls)} recorded model call(s)\n")
    run = start_run(agent, calls)
    try:
        await print_run(run)
    except ReplayMismatch as exc:
        print(f"\n{exc}", file=sys.stderr)
        return 3
    except AgentFSMError as exc:
        print(f"\nrun ended: {type(exc).__name__}: {exc}", file=sys.stderr)
        return 1
    print(f"\nstate: {run.state.value}, model calls: {run.machine.turns}")
    return 0
