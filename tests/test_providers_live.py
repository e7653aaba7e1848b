"""Live tests against the real hosted APIs: marked ``live`` and skipped unless the key is set.

Run them with ``OPENAI_API_KEY=... ANTHROPIC_API_KEY=... pytest -m live tests/test_providers_live.py``.
Ollama runs when ``OLLAMA_LIVE_MODEL`` names a model pulled on the local (or ``OLLAMA_HOST``) server.
Each asks for one tool call and one answer: a two-turn run, a few hundred tokens.
"""

from __future__ import annotations

import os

import pytest

from agent_fsm import Agent, State, tool
from agent_fsm.items import FinalResponse
from agent_fsm.providers import AnthropicModel, OllamaModel, OpenAIChatModel, OpenAIResponsesModel
from agent_fsm.providers._base import HTTPModel
from agent_fsm.testing import check_history_invariants

pytestmark = pytest.mark.live


@tool
def add(a: int, b: int) -> int:
    """Add two integers."""
    return a + b


def _needs(var: str) -> pytest.MarkDecorator:
    return pytest.mark.skipif(not os.environ.get(var), reason=f"{var} is not set")


async def _two_turns(model: HTTPModel) -> None:
    async with model:
        agent = Agent(model, preamble="Use the add tool for arithmetic, then answer with the number.", tools=[add])
        run = agent.stream_prompt("What is 1234 + 4321?")
        items = [item async for item in run]
    assert run.state is State.Done
    final = items[-1]
    assert isinstance(final, FinalResponse)
    assert "5555" in final.response.replace(",", "")
    assert final.usage.input_tokens > 0
    assert final.usage.output_tokens > 0
    check_history_invariants(run.history)


@_needs("OPENAI_API_KEY")
async def test_live_openai_chat() -> None:
    await _two_turns(OpenAIChatModel(os.environ.get("AGENT_FSM_LIVE_OPENAI_MODEL", "gpt-4o-mini")))


@_needs("OPENAI_API_KEY")
async def test_live_openai_responses() -> None:
    await _two_turns(OpenAIResponsesModel(os.environ.get("AGENT_FSM_LIVE_OPENAI_MODEL", "gpt-4o-mini")))


@_needs("ANTHROPIC_API_KEY")
async def test_live_anthropic() -> None:
    await _two_turns(AnthropicModel(os.environ.get("AGENT_FSM_LIVE_ANTHROPIC_MODEL", "claude-haiku-4-5")))


@_needs("ANTHROPIC_API_KEY")
async def test_live_anthropic_thinking_goes_back_signed() -> None:
    model = AnthropicModel(
        os.environ.get("AGENT_FSM_LIVE_ANTHROPIC_MODEL", "claude-sonnet-4-5"),
        max_tokens=4096,
        thinking={"type": "enabled", "budget_tokens": 1024},
    )
    await _two_turns(model)  # the second turn is rejected unless the signed thinking block went back


@_needs("OLLAMA_LIVE_MODEL")
async def test_live_ollama() -> None:
    await _two_turns(OllamaModel(os.environ["OLLAMA_LIVE_MODEL"]))
