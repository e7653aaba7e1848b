"""End to end: an ``Agent`` with a tool runs two real recorded turns against the local server,
through each provider that has a recorded tool-call turn and the text turn that followed it;
closing a run closes its HTTP stream; the ``agent-fsm run`` command line."""

from __future__ import annotations

import argparse
import asyncio
import random
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest

from agent_fsm import Agent, State, tool
from agent_fsm.cli import build_parser
from agent_fsm.events import Final, ToolCallReady
from agent_fsm.items import FinalResponse, StreamAssistantItem, StreamUserItem
from agent_fsm.messages import AssistantMessage, ToolCall, ToolResult, Usage, UserMessage
from agent_fsm.providers import AnthropicModel, AuthenticationError, OpenAIChatModel, OpenAIResponsesModel
from agent_fsm.providers._base import HTTPModel
from agent_fsm.testing import check_history_invariants

from .wire_server import WIRE_DIR, Reply, WireServer

needs_wire = pytest.mark.skipif(not WIRE_DIR.exists(), reason=f"the shared recordings are absent ({WIRE_DIR})")
KEY = "sk-e2e"


@tool
def get_capital(country: str) -> str:
    """The capital city of a country."""
    return {"UK": "London", "France": "Paris"}.get(country, "unknown")


@tool
def get_exchange_rate(from_currency: str, to_currency: str) -> str:
    """The exchange rate between two currencies."""
    return f"1 {from_currency} = 0.92 {to_currency}"


CASES = [
    pytest.param(
        "openai_chat",
        ("tool_call_gpt4o_mini.sse", "text_after_tool_gpt4o_mini.sse"),
        get_capital,
        "London",
        "The capital of the UK is London.",
        Usage(53 + 78, 15 + 9, 68 + 87),
        id="openai_chat",
    ),
    pytest.param(
        "openai_responses",
        ("function_call_gpt4o.sse", "text_gpt4o.sse"),
        get_capital,
        "Paris",
        "The capital of France is Paris.",
        Usage(255 + 278, 16 + 9, 271 + 287),
        id="openai_responses",
    ),
    pytest.param(
        "anthropic",
        ("tool_search_then_tool_use_sonnet46.sse", "text_after_tool_sonnet46.sse"),
        get_exchange_rate,
        "1 USD = 0.92 EUR",
        None,
        Usage(1591 + 1007, 175 + 59, 1766 + 1066),
        id="anthropic",
    ),
]


def _model(wire_format: str, url: str) -> HTTPModel:
    if wire_format == "openai_chat":
        return OpenAIChatModel("gpt-4o-mini", api_key=KEY, base_url=f"{url}/v1")
    if wire_format == "openai_responses":
        return OpenAIResponsesModel("gpt-4o", api_key=KEY, base_url=f"{url}/v1")
    return AnthropicModel("claude-sonnet-4-6", api_key=KEY, base_url=url)


@needs_wire
@pytest.mark.parametrize(("wire_format", "files", "the_tool", "result", "answer", "usage"), CASES)
async def test_agent_runs_a_tool_turn_then_a_text_turn(
    wire_format: str, files: tuple[str, str], the_tool: Any, result: str, answer: str | None, usage: Usage
) -> None:
    async with WireServer(random.Random(wire_format)) as server:
        for name in files:
            server.queue(Reply(body=(WIRE_DIR / wire_format / name).read_bytes()))
        async with _model(wire_format, server.url) as model:
            agent = Agent(model, preamble="Be brief.", tools=[the_tool], max_turns=3)
            run = agent.stream_prompt("question")
            items = [item async for item in run]
        first, second = (r.json() for r in server.requests)

    assert run.state is State.Done
    final = items[-1]
    assert isinstance(final, FinalResponse)
    if answer is not None:
        assert final.response == answer
    assert final.usage == usage
    assert run.usage == usage
    ready = [i.content for i in items if isinstance(i, StreamAssistantItem) and isinstance(i.content, ToolCallReady)]
    results = [i for i in items if isinstance(i, StreamUserItem)]
    assert len(ready) == 1
    assert len(results) == 1
    assert results[0].tool_result.text == result
    assert results[0].internal_call_id == ready[0].internal_call_id
    assert sum(isinstance(i, StreamAssistantItem) and isinstance(i.content, Final) for i in items) == 2

    history = run.history
    check_history_invariants(history)
    call = next(p for m in history if isinstance(m, AssistantMessage) for p in m.content if isinstance(p, ToolCall))
    tool_result = next(p for m in history if isinstance(m, UserMessage) for p in m.content if isinstance(p, ToolResult))
    assert tool_result.id == call.id == ready[0].tool_call.id

    # the second request sends the tool call and its result back in the provider's own shape
    assert first != second
    sent = str(second)
    assert call.id in sent
    assert result in sent


@needs_wire
async def test_closing_a_run_early_closes_the_http_stream() -> None:
    body = (WIRE_DIR / "anthropic" / "thinking_text_sonnet4.sse").read_bytes()
    async with WireServer() as server:
        server.queue(Reply(body=body, stall_after=len(body) // 2))
        async with AnthropicModel("c", api_key=KEY, base_url=server.url) as model:
            run = Agent(model).stream_prompt("cross the street?")
            async for _item in run:
                break
            await run.aclose()
            await asyncio.wait_for(server.client_gone.wait(), 2)
    assert run.state is State.Cancelled
    check_history_invariants(run.history)


async def test_a_provider_error_fails_the_run_with_its_history() -> None:
    async with WireServer() as server:
        server.queue(Reply(401, b'{"error": {"message": "invalid x-api-key"}}', "application/json"))
        async with AnthropicModel("c", api_key=KEY, base_url=server.url) as model:
            run = Agent(model).stream_prompt("hi")
            with pytest.raises(AuthenticationError, match="invalid x-api-key") as caught:
                async for _ in run:
                    pass
    assert run.state is State.Failed
    assert caught.value.history == run.history
    assert isinstance(run.history[-1], UserMessage)


# ---------------------------------------------------------------------- the command line


def _parse(*argv: str) -> argparse.Namespace:
    return build_parser().parse_args(["run", *argv])


def test_cli_run_without_a_key_names_the_variable(monkeypatch: pytest.MonkeyPatch, capsys: Any) -> None:
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    monkeypatch.delenv("OPENAI_BASE_URL", raising=False)
    args = _parse("--model", "openai:gpt-4o-mini", "hi")
    assert args.handler(args) == 2
    err = capsys.readouterr().err
    assert err == "agent-fsm run: OPENAI_API_KEY is not set; export it to use --model openai:gpt-4o-mini\n"


@pytest.mark.parametrize(
    ("spec", "env"),
    [("anthropic:claude-sonnet-4-5", "ANTHROPIC_API_KEY"), ("responses:o4-mini", "OPENAI_API_KEY")],
)
def test_cli_run_names_each_providers_variable(
    spec: str, env: str, monkeypatch: pytest.MonkeyPatch, capsys: Any
) -> None:
    for var in ("OPENAI_API_KEY", "ANTHROPIC_API_KEY", "OPENAI_BASE_URL", "ANTHROPIC_BASE_URL"):
        monkeypatch.delenv(var, raising=False)
    args = _parse("--model", spec, "hi")
    assert args.handler(args) == 2
    assert f"{env} is not set" in capsys.readouterr().err


def test_cli_run_rejects_an_unknown_provider_and_bad_tools(capsys: Any) -> None:
    args = _parse("--model", "gemini:pro", "hi")
    assert args.handler(args) == 2
    assert "PROVIDER one of openai, anthropic, responses, ollama" in capsys.readouterr().err
    args = _parse("--model", "ollama:llama3.2", "--tools", "no_such_module_xyz:tools", "hi")
    assert args.handler(args) == 2
    assert "cannot import 'no_such_module_xyz'" in capsys.readouterr().err


@needs_wire
async def test_cli_run_streams_a_real_run_with_tools(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: Any
) -> None:
    (tmp_path / "e2e_cli_tools.py").write_text(
        textwrap.dedent(
            '''
            from agent_fsm import tool

            @tool
            def get_capital(country: str) -> str:
                """The capital city of a country."""
                return "London"

            TOOLS = [get_capital]
            '''
        )
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    async with WireServer() as server:
        for name in ("tool_call_gpt4o_mini.sse", "text_after_tool_gpt4o_mini.sse"):
            server.queue(Reply(body=(WIRE_DIR / "openai_chat" / name).read_bytes()))
        args = _parse(
            "--model", "openai:gpt-4o-mini", "--base-url", f"{server.url}/v1",
            "--tools", "e2e_cli_tools:TOOLS", "--max-turns", "2", "What is the capital of the UK?",
        )  # fmt: skip
        try:
            code = await asyncio.to_thread(args.handler, args)
        finally:
            sys.modules.pop("e2e_cli_tools", None)
        assert len(server.requests) == 2
    assert code == 0
    out = capsys.readouterr().out
    assert out.endswith("assistant: The capital of the UK is London.\n  [turn done: 78 in / 9 out tokens]\n")


@needs_wire
async def test_cli_run_reports_a_failed_run_on_one_line(capsys: Any) -> None:
    async with WireServer() as server:
        server.queue(Reply(body=(WIRE_DIR / "openai_chat" / "groq_event_error_tool_use_failed.sse").read_bytes()))
        args = _parse("--model", "openai:gpt-oss-120b", "--base-url", f"{server.url}/v1", "hi")
        code = await asyncio.to_thread(args.handler, args)
    assert code == 1
    err = capsys.readouterr().err
    assert err.startswith("agent-fsm run: InBandError: ")
    assert err.count("\n") == 1
