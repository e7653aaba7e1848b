"""``agent-fsm run``: one real run against a hosted or local model, streamed to the terminal.

::

    agent-fsm run --model openai:gpt-4o-mini "What is 2+3?"
    agent-fsm run --model anthropic:claude-sonnet-4-5 --tools mytools:TOOLS "Plan a trip"
    agent-fsm run --model openai:qwen2.5 --base-url http://localhost:8000/v1 "hi"   # vLLM, llama.cpp...
    agent-fsm run --model ollama:llama3.2 "hi"
    agent-fsm run --model openai:gpt-4o-mini --mcp "python -m my_server" --mcp-url http://127.0.0.1:8000/mcp "hi"
    agent-fsm run --model openai:gpt-4o-mini --record run.cassette.jsonl "hi"    # then: agent-fsm report

The text streams as it comes; each tool call (with its arguments) and each result is shown on
its own line, and turns are separated. Exit codes: 0 done, 1 the run failed (the error is printed
on one line; ``-v`` also shows the logs), 2 bad usage (an unknown provider, a tool that cannot be
imported, an MCP server that cannot be started or reached, a missing API key: the message names
the variable), 130 interrupted (Ctrl-C: the run is closed, what streamed is kept, no traceback).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import shlex
import sys
import textwrap
from typing import Any

from ..agent import DEFAULT_MAX_TURNS, Agent
from ..errors import AgentFSMError, ConfigurationError, ToolServerError
from ..providers import AnthropicModel, OllamaModel, OpenAIChatModel, OpenAIResponsesModel
from ..providers._base import HTTPModel
from ..providers.cassette import RecordingModel
from ..providers.errors import MissingAPIKeyError
from ..run.console import print_run
from ..tools import Tool, ToolServer
from ._load import LoadError, load_object

__all__ = ["PROVIDERS", "agent_tools", "build_model", "load_tools", "mcp_servers", "register"]

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
        description="Run one prompt against a hosted or local model, streamed to the terminal: text, "
        "tool calls with their arguments, tool results. Exit codes: 0 done, 1 the run failed "
        "(one line on stderr; -v shows the logs), 2 bad usage, 130 interrupted.",
        epilog=_environment_help(),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("prompt", help="the user prompt")
    p.add_argument(
        "--model",
        required=True,
        metavar="PROVIDER:MODEL",
        help=f"provider ({', '.join(PROVIDERS)}) and model, e.g. openai:gpt-4o-mini",
    )
    p.add_argument(
        "--base-url",
        help="API root: with /v1 for openai and responses (http://localhost:8000/v1), without it for anthropic",
    )
    p.add_argument(
        "--tools",
        action="append",
        default=[],
        metavar="MODULE:ATTRIBUTE",
        help="tools to offer: a @tool function, a list of them, or a ToolServer (repeatable)",
    )
    p.add_argument(
        "--mcp",
        action="append",
        default=[],
        metavar="COMMAND",
        help='an MCP server to start and offer the tools of, e.g. "python -m my_server" (repeatable)',
    )
    p.add_argument(
        "--mcp-url",
        action="append",
        default=[],
        metavar="URL",
        help="an MCP server to reach over streamable HTTP and offer the tools of (repeatable)",
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
        servers = mcp_servers(args.mcp, args.mcp_url)
    except MissingAPIKeyError as exc:
        _say(f"{exc.env_var} is not set; export it to use --model {args.model}")
        return 2
    except ConfigurationError as exc:
        _say(str(exc))
        return 2
    try:
        return asyncio.run(_run(args, model, tools, servers))
    except KeyboardInterrupt:
        # asyncio.run cancelled the run on Ctrl-C: it is closed and what streamed is printed.
        return 130


async def _run(args: argparse.Namespace, model: HTTPModel, tools: list[Any], servers: list[Any]) -> int:
    async with model, contextlib.AsyncExitStack() as connected:
        try:
            for s in servers:  # connected for the run, left after it
                await connected.enter_async_context(s)
        except ToolServerError as exc:
            _say(str(exc))
            return 2
        tools = tools + servers
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
            async with agent.stream_prompt(args.prompt) as run:
                await print_run(run, final=False)
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


def mcp_servers(commands: list[str], urls: list[str]) -> list[Any]:
    """The MCP servers ``--mcp COMMAND`` and ``--mcp-url URL`` name (not yet connected).

    Raises:
        ConfigurationError: a command that cannot be split, or the ``mcp`` extra is missing.
    """
    if not commands and not urls:
        return []
    try:
        from ..mcp import MCPServerHTTP, MCPServerStdio
    except ImportError:
        raise ConfigurationError("--mcp and --mcp-url need the mcp extra: pip install 'agent-fsm[mcp]'") from None
    servers: list[Any] = []
    for command in commands:
        try:
            argv = shlex.split(command)
        except ValueError as exc:
            raise ConfigurationError(f"--mcp {command!r}: {exc}") from None
        if not argv:
            raise ConfigurationError("--mcp needs a command, e.g. --mcp 'python -m my_server'")
        servers.append(MCPServerStdio(argv[0], argv[1:]))
    servers += [MCPServerHTTP(url) for url in urls]
    return servers


def _environment_help() -> str:
    """The environment variables each provider reads, for ``--help``."""
    lines = ["environment:"]
    for prefix, model in PROVIDERS.items():
        key = f"key {model.api_key_env}" if model.api_key_env else "no key (OLLAMA_API_KEY is sent if set)"
        where = f"{model.base_url_env} (default {model.default_base_url})" if model.base_url_env else ""
        lines.append(f"  {prefix:<10} {key}; base URL {where}")
    lines.append(
        textwrap.fill(
            "A key is required only for the vendor's own server (api.openai.com, api.anthropic.com); "
            "--base-url overrides the base URL variable.",
            width=96,
            initial_indent="  ",
            subsequent_indent="  ",
        )
    )
    return "\n".join(lines)


def agent_tools(tools: list[Any]) -> Any:
    """What ``Agent(tools=...)`` takes for the loaded tools: a lone ToolServer as it is, else the list."""
    return tools[0] if len(tools) == 1 and isinstance(tools[0], ToolServer) else tools


def _say(message: str) -> None:
    print(f"agent-fsm run: {message}", file=sys.stderr)
