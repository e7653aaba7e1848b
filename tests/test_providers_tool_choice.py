"""``CompletionRequest.tool_choice="none"`` on the wire: each provider's request body, as the real
local HTTP test server received it (the final-answer call of ``on_max_turns="final_answer"``)."""

from __future__ import annotations

import random
from typing import Any

import pytest

from agent_fsm.messages import Text, UserMessage
from agent_fsm.providers import AnthropicModel, APIStatusError, OllamaModel, OpenAIChatModel, OpenAIResponsesModel
from agent_fsm.request import CompletionRequest, ToolDefinition

from .wire_server import Reply, WireServer

WEATHER = ToolDefinition("get_weather", "Weather for a city.", {"type": "object", "properties": {}})

MODELS = [
    pytest.param(lambda url: OpenAIChatModel("m", api_key="sk-1", base_url=f"{url}/v1"), id="openai_chat"),
    pytest.param(lambda url: OpenAIResponsesModel("m", api_key="sk-1", base_url=f"{url}/v1"), id="openai_responses"),
    pytest.param(lambda url: AnthropicModel("m", api_key="sk-1", base_url=url), id="anthropic"),
    pytest.param(lambda url: OllamaModel("m", base_url=url), id="ollama"),
]
EXPECTED: dict[str, tuple[Any, bool]] = {  # provider -> (tool_choice in the body, tools declared)
    "OpenAIChatModel": ("none", True),
    "OpenAIResponsesModel": ("none", True),
    "AnthropicModel": ({"type": "none"}, True),
    "OllamaModel": (None, False),
}


async def _sent_body(make: Any, request: CompletionRequest) -> tuple[Any, dict[str, Any]]:
    async with WireServer(random.Random(0)) as server:
        server.queue(Reply(status=418, body=b'{"error": {"message": "just a teapot"}}'))
        model = make(server.url)
        async with model:
            with pytest.raises(APIStatusError):
                async for _ in model.stream(request):
                    pass
        return model, server.requests[0].json()


@pytest.mark.parametrize("make", MODELS)
async def test_tool_choice_none_reaches_the_wire_in_each_providers_format(make: Any) -> None:
    request = CompletionRequest(UserMessage((Text("hi"),)), tools=(WEATHER,), tool_choice="none")
    model, body = await _sent_body(make, request)
    choice, declared = EXPECTED[type(model).__name__]
    assert body.get("tool_choice") == choice
    assert ("tools" in body) is declared


@pytest.mark.parametrize("make", MODELS)
async def test_no_tool_choice_is_sent_by_default_or_without_tools(make: Any) -> None:
    _, body = await _sent_body(make, CompletionRequest(UserMessage((Text("hi"),)), tools=(WEATHER,)))
    assert "tool_choice" not in body
    assert "tools" in body
    _, body = await _sent_body(make, CompletionRequest(UserMessage((Text("hi"),)), tool_choice="none"))
    assert "tool_choice" not in body  # no tools declared: there is nothing to forbid
    assert "tools" not in body
