"""``agent-fsm run``: one real run against a hosted or local model, streamed to the terminal.

::

    agent-fsm run --model openai:gpt-4o-mini "What is 2+3?"
    agent-fsm run --model anthropic:claude-sonnet-4-5 --tools mytools:TOOLS "Plan a trip"
    agent-fsm run --model openai:qwen2.5 --base-url http://localhost:8000/v1 "hi"   # vLLM, llama.cpp...
    agent-fsm run --model ollama:llama3.2 "hi"
    agent-fsm run --model openai:gpt-4o-mini --record run.cassette.jsonl "hi"    # then: agent-fsm report

Exit codes: 0 done, 1 the run failed (the error is printed on one line), 2 bad usage (an unknown
provider, a tool that cannot be imported, a missing API key: the message names the variable).
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from typing import Any

from ..agent import DEFAULT_MAX_TURNS, Agent
from ..cassette import RecordingModel
from ..console import stream_to_stdout
from ..errors import AgentFSMError, ConfigurationError
from ..providers import AnthropicModel, OllamaModel, OpenAIChatModel, OpenAIResponsesModel
from ..providers._base import HTTPModel
from ..providers.errors import MissingAPIKeyError
from ..tools import Tool, ToolServer
from ._load import LoadError, load_object

__all__ = ["PROVIDERS", "agent_tools", "build_model", "load_tools", "register"]

PROVIDERS: dict[str, type[HTTPModel]] = {
    "openai": OpenAIChatModel,
    "anthropic": AnthropicModel,
    "responses": OpenAIResponsesModel,
    "ollama": OllamaModel,
}
"""``--model`` prefixes and the provider each selects."""


def register(sub: Any) -> None:
    p: argparse.ArgumentParser = sub.add_parser(
        "run",
        help="run a prompt against a real model, streamed to the terminal",
        description=__doc__.split("\n\n")[0] if __doc__ else None,
    )
    p.add_argument("prompt", help="the user prompt")
    p.add_argument(
        "--model",
        required=True,
        metavar="PROVIDER:MODEL",
        help=f"provider ({', '.join(PROVIDERS)}) and model, e.g. openai:gpt-4o-mini",
    )
    p.add_argument("--base-url", help="API root, e.g. http://localhost:8000/v1 for an OpenAI-compatible server")
    p.add_argument(
        "--tools",
        action="append",
        default=[],
        metavar="MODULE:ATTRIBUTE",
        help="tools to offer: a @tool function, a list of them, or a ToolServer (repeatable)",
    )
    p.add_argument("--max-turns", type=int, default=DEFAULT_MAX_TURNS, help="model calls allowed (default %(default)s)")
    p.add_argument("--preamble", help="the system prompt")
    p.add_argument("--temperature", type=float)
    p.add_argument("--max-tokens", type=int)
    p.add_argument(
        "--record",
        metavar="CASSETTE",
        help="record every model call to this cassette (for agent-fsm replay and agent-fsm report)",
    )
    p.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    try:
        model = build_model(args.model, base_url=args.base_url)
        tools = [t for spec in args.tools for t in load_tools(spec)]
    except MissingAPIKeyError as exc:
        _say(f"{exc.env_var} is not set; export it to use --model {args.model}")
        return 2
    except ConfigurationError as exc:
        _say(str(exc))
        return 2
    return asyncio.run(_run(args, model, tools))


async def _run(args: argparse.Namespace, model: HTTPModel, tools: list[Any]) -> int:
    async with model:
        try:
            server = agent_tools(tools)
            agent = Agent(
                RecordingModel(model, args.record) if args.record else model,
                preamble=args.preamble,
                tools=server,
                max_turns=args.max_turns,
                temperature=args.temperature,
                max_tokens=args.max_tokens,
            )
            await stream_to_stdout(agent.stream_prompt(args.prompt))
        except ConfigurationError as exc:
            _say(str(exc))
            return 2
        except AgentFSMError as exc:
            _say(f"{type(exc).__name__}: {exc}")
            return 1
    return 0


def build_model(spec: str, *, base_url: str | None = None) -> HTTPModel:
    """The model a ``--model PROVIDER:MODEL`` names.

    Raises:
        ConfigurationError: an unknown provider or a spec without a model.
        MissingAPIKeyError: the provider needs a key and its variable is unset.
    """
    provider, _, name = spec.partition(":")
    if provider not in PROVIDERS or not name:
        raise ConfigurationError(
            f"--model must be PROVIDER:MODEL with PROVIDER one of {', '.join(PROVIDERS)}; got {spec!r}"
        )
    return PROVIDERS[provider](name, base_url=base_url)


def load_tools(spec: str) -> list[Any]:
    """The tools ``module:attribute`` names: a tool, a function, a ToolServer, or a list of them.

    Raises:
        ConfigurationError: the spec is malformed, or the module or attribute cannot be found.
    """
    try:
        value = load_object(spec)
    except LoadError as exc:
        raise ConfigurationError(f"--tools {spec}: {exc}") from None
    if isinstance(value, Tool | ToolServer) or callable(value):
        return [value]
    if isinstance(value, list | tuple):
        return list(value)
    raise ConfigurationError(f"--tools {spec}: expected a tool, a function, a ToolServer or a list; got {value!r}")


def agent_tools(tools: list[Any]) -> Any:
    """What ``Agent(tools=...)`` takes for the loaded tools: a lone ToolServer as it is, else the list."""
    return tools[0] if len(tools) == 1 and isinstance(tools[0], ToolServer) else tools


def _say(message: str) -> None:
    print(f"agent-fsm run: {message}", file=sys.stderr)
