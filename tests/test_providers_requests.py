"""Request golden tests: the exact JSON body each provider builds from a multi-turn history with
reasoning, parallel tool calls, an error result, an image, a preamble, tools and extra params."""

from __future__ import annotations

import random
from typing import Any

import pytest

from agent_fsm.errors import ConfigurationError
from agent_fsm.messages import (
    AssistantMessage,
    Image,
    Reasoning,
    Text,
    ToolCall,
    ToolFunction,
    ToolResult,
    UserMessage,
)
from agent_fsm.providers import AnthropicModel, APIStatusError, OllamaModel, OpenAIChatModel, OpenAIResponsesModel
from agent_fsm.request import CompletionRequest, ToolDefinition

from .wire_server import Reply, WireServer

WEATHER = ToolDefinition(
    "get_weather",
    "Weather for a city.",
    {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
)
WEATHER_SCHEMA = {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}

HISTORY = (
    UserMessage((Text("Weather in Paris? Here is a map."), Image("iVBORw0KGgo=", "image/png"))),
    AssistantMessage(
        (
            Reasoning(("Need the weather ", "and the time."), id="rs_1", signature="sig-1"),
            Reasoning((), id="rs_2", redacted="opaque-data"),
            Text("Let me check."),
            ToolCall("call_1", ToolFunction("get_weather", {"city": "Paris"}), call_id="fc_1"),
            ToolCall("call_2", ToolFunction("get_time", {"tz": "CET"}), call_id="fc_2"),
        )
    ),
    UserMessage(
        (
            ToolResult("call_1", (Text("18°C, sunny"),)),
            ToolResult("call_2", (Text("unknown tool 'get_time'"),), is_error=True),
        )
    ),
    AssistantMessage((Text("It is 18°C and sunny."),)),
)


def _request(additional_params: dict[str, Any] | None = None) -> CompletionRequest:
    return CompletionRequest(
        UserMessage((Text("And tomorrow?"),)),
        HISTORY,
        preamble="You are terse.",
        tools=(WEATHER,),
        temperature=0.2,
        max_tokens=256,
        additional_params=additional_params if additional_params is not None else {"top_p": 0.9},
    )


def test_OpenAIChatModel_request_body_golden() -> None:
    body = OpenAIChatModel("gpt-4o-mini", api_key="k").request_body(_request())
    assert body == {
        "model": "gpt-4o-mini",
        "messages": [
            {"role": "system", "content": "You are terse."},
            {
                "role": "user",
                "content": [
                    {"type": "text", "text": "Weather in Paris? Here is a map."},
                    {"type": "image_url", "image_url": {"url": "data:image/png;base64,iVBORw0KGgo="}},
                ],
            },
            {
                "role": "assistant",
                "content": "Let me check.",
                "tool_calls": [
                    {
                        "id": "call_1",
                        "type": "function",
                        "function": {"name": "get_weather", "arguments": '{"city": "Paris"}'},
                    },
                    {
                        "id": "call_2",
                        "type": "function",
                        "function": {"name": "get_time", "arguments": '{"tz": "CET"}'},
                    },
                ],
            },
            {"role": "tool", "tool_call_id": "call_1", "content": "18°C, sunny"},
            {"role": "tool", "tool_call_id": "call_2", "content": "unknown tool 'get_time'"},
            {"role": "assistant", "content": "It is 18°C and sunny."},
            {"role": "user", "content": "And tomorrow?"},
        ],
        "tools": [
            {
                "type": "function",
                "function": {"name": "get_weather", "description": "Weather for a city.", "parameters": WEATHER_SCHEMA},
            }
        ],
        "temperature": 0.2,
        "max_completion_tokens": 256,
        "top_p": 0.9,
        "stream": True,
        "stream_options": {"include_usage": True},
    }


def test_AnthropicModel_request_body_golden() -> None:
    body = AnthropicModel("claude-sonnet-4-5", api_key="k").request_body(_request())
    assert body == {
        "model": "claude-sonnet-4-5",
        "system": "You are terse.",
        "messages": [
            {
                "role": "user",
                "content": [
                    {"type": "text", "text": "Weather in Paris? Here is a map."},
                    {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": "iVBORw0KGgo="}},
                ],
            },
            {
                "role": "assistant",
                "content": [
                    {"type": "thinking", "thinking": "Need the weather and the time.", "signature": "sig-1"},
                    {"type": "redacted_thinking", "data": "opaque-data"},
                    {"type": "text", "text": "Let me check."},
                    {"type": "tool_use", "id": "call_1", "name": "get_weather", "input": {"city": "Paris"}},
                    {"type": "tool_use", "id": "call_2", "name": "get_time", "input": {"tz": "CET"}},
                ],
            },
            {
                "role": "user",
                "content": [
                    {"type": "tool_result", "tool_use_id": "call_1", "content": "18°C, sunny"},
                    {
                        "type": "tool_result",
                        "tool_use_id": "call_2",
                        "content": "unknown tool 'get_time'",
                        "is_error": True,
                    },
                ],
            },
            {"role": "assistant", "content": [{"type": "text", "text": "It is 18°C and sunny."}]},
            {"role": "user", "content": [{"type": "text", "text": "And tomorrow?"}]},
        ],
        "tools": [{"name": "get_weather", "description": "Weather for a city.", "input_schema": WEATHER_SCHEMA}],
        "temperature": 0.2,
        "max_tokens": 256,
        "top_p": 0.9,
        "stream": True,
    }


def test_OpenAIResponsesModel_request_body_golden() -> None:
    body = OpenAIResponsesModel("o4-mini", api_key="k").request_body(_request())
    assert body == {
        "model": "o4-mini",
        "instructions": "You are terse.",
        "input": [
            {
                "role": "user",
                "content": [
                    {"type": "input_text", "text": "Weather in Paris? Here is a map."},
                    {"type": "input_image", "image_url": "data:image/png;base64,iVBORw0KGgo=", "detail": "auto"},
                ],
            },
            {
                "type": "reasoning",
                "id": "rs_1",
                "summary": [
                    {"type": "summary_text", "text": "Need the weather "},
                    {"type": "summary_text", "text": "and the time."},
                ],
                "encrypted_content": "sig-1",
            },
            {"role": "assistant", "content": "Let me check."},
            {
                "type": "function_call",
                "call_id": "call_1",
                "name": "get_weather",
                "arguments": '{"city": "Paris"}',
                "id": "fc_1",
            },
            {
                "type": "function_call",
                "call_id": "call_2",
                "name": "get_time",
                "arguments": '{"tz": "CET"}',
                "id": "fc_2",
            },
            {"type": "function_call_output", "call_id": "call_1", "output": "18°C, sunny"},
            {"type": "function_call_output", "call_id": "call_2", "output": "unknown tool 'get_time'"},
            {"role": "assistant", "content": "It is 18°C and sunny."},
            {"role": "user", "content": [{"type": "input_text", "text": "And tomorrow?"}]},
        ],
        "tools": [
            {
                "type": "function",
                "name": "get_weather",
                "description": "Weather for a city.",
                "parameters": WEATHER_SCHEMA,
            }
        ],
        "temperature": 0.2,
        "max_output_tokens": 256,
        "top_p": 0.9,
        "stream": True,
    }


def test_OllamaModel_request_body_golden() -> None:
    request = _request({"options": {"top_p": 0.9}, "keep_alive": "5m"})
    body = OllamaModel("qwen3", options={"num_ctx": 8192}).request_body(request)
    assert body == {
        "model": "qwen3",
        "messages": [
            {"role": "system", "content": "You are terse."},
            {"role": "user", "content": "Weather in Paris? Here is a map.", "images": ["iVBORw0KGgo="]},
            {
                "role": "assistant",
                "content": "Let me check.",
                "thinking": "Need the weather and the time.",
                "tool_calls": [
                    {"function": {"name": "get_weather", "arguments": {"city": "Paris"}}},
                    {"function": {"name": "get_time", "arguments": {"tz": "CET"}}},
                ],
            },
            {"role": "tool", "content": "18°C, sunny", "tool_name": "get_weather"},
            {"role": "tool", "content": "unknown tool 'get_time'", "tool_name": "get_time"},
            {"role": "assistant", "content": "It is 18°C and sunny."},
            {"role": "user", "content": "And tomorrow?"},
        ],
        "tools": [
            {
                "type": "function",
                "function": {"name": "get_weather", "description": "Weather for a city.", "parameters": WEATHER_SCHEMA},
            }
        ],
        "options": {"num_ctx": 8192, "temperature": 0.2, "num_predict": 256, "top_p": 0.9},
        "keep_alive": "5m",
        "stream": True,
    }


def test_request_body_precedence_settings_then_request_then_additional_params() -> None:
    model = OpenAIChatModel("m", base_url="http://localhost:8000/v1", temperature=1.0, seed=7, stream=False)
    prompt = UserMessage.text("hi")
    assert model.request_body(CompletionRequest(prompt)) == {
        "model": "m",
        "temperature": 1.0,
        "seed": 7,
        "messages": [{"role": "user", "content": "hi"}],
        "stream": True,  # forced: the parser reads a stream
        "stream_options": {"include_usage": True},
    }
    body = model.request_body(
        CompletionRequest(
            prompt, temperature=0.0, max_tokens=5, additional_params={"seed": 8, "stream_options": {"x": 1}}
        )
    )
    assert (body["temperature"], body["seed"], body["max_tokens"]) == (0.0, 8, 5)  # compatible server: max_tokens
    assert body["stream_options"] == {"x": 1, "include_usage": True}


def test_AnthropicModel_defaults_max_tokens_and_leaves_out_what_it_would_reject() -> None:
    history = (
        UserMessage.text("hi"),
        AssistantMessage((Reasoning(("unsigned, from another provider",), id="x"), Text(""))),  # nothing sendable
        UserMessage((Text(""), Text("again"))),
        AssistantMessage((Reasoning(("ok",), signature="s"), ToolCall("t1", ToolFunction("f", "{not json")))),
        UserMessage((ToolResult("t1", (Text("bad args"), Image("https://x/y.png", kind="url"))),)),
    )
    body = AnthropicModel("c", api_key="k").request_body(CompletionRequest(UserMessage.text("go"), history))
    assert body["max_tokens"] == 4096
    assert body["messages"] == [
        {"role": "user", "content": [{"type": "text", "text": "hi"}]},
        {"role": "user", "content": [{"type": "text", "text": "again"}]},
        {
            "role": "assistant",
            "content": [
                {"type": "thinking", "thinking": "ok", "signature": "s"},
                {"type": "tool_use", "id": "t1", "name": "f", "input": {}},
            ],
        },
        {
            "role": "user",
            "content": [
                {
                    "type": "tool_result",
                    "tool_use_id": "t1",
                    "content": [
                        {"type": "text", "text": "bad args"},
                        {"type": "image", "source": {"type": "url", "url": "https://x/y.png"}},
                    ],
                }
            ],
        },
        {"role": "user", "content": [{"type": "text", "text": "go"}]},
    ]


def test_raw_string_arguments_go_back_unchanged_to_openai_style_apis() -> None:
    history = (
        UserMessage.text("hi"),
        AssistantMessage((ToolCall("c1", ToolFunction("f", '{"a": 1')),)),
        UserMessage((ToolResult("c1", (Text("arguments are not valid JSON"),), is_error=True),)),
    )
    request = CompletionRequest(UserMessage.text("retry"), history)
    chat = OpenAIChatModel("m", api_key="k").request_body(request)
    assert chat["messages"][1] == {
        "role": "assistant",
        "content": None,
        "tool_calls": [{"id": "c1", "type": "function", "function": {"name": "f", "arguments": '{"a": 1'}}],
    }
    responses = OpenAIResponsesModel("m", api_key="k").request_body(request)
    assert responses["input"][1] == {"type": "function_call", "call_id": "c1", "name": "f", "arguments": '{"a": 1'}


def test_OllamaModel_rejects_an_image_given_by_url() -> None:
    request = CompletionRequest(UserMessage((Text("see"), Image("https://x/y.png", kind="url"))))
    with pytest.raises(ConfigurationError, match="base64"):
        OllamaModel("m").request_body(request)


@pytest.mark.parametrize(
    ("make", "path", "auth"),
    [
        (lambda url: OpenAIChatModel("m", api_key="sk-1", base_url=f"{url}/v1"), "/v1/chat/completions", "bearer"),
        (lambda url: OpenAIResponsesModel("m", api_key="sk-1", base_url=f"{url}/v1"), "/v1/responses", "bearer"),
        (lambda url: AnthropicModel("m", api_key="sk-1", base_url=url), "/v1/messages", "x-api-key"),
        (lambda url: OllamaModel("m", base_url=url), "/api/chat", None),
    ],
    ids=["openai_chat", "openai_responses", "anthropic", "ollama"],
)
async def test_the_body_sent_over_http_is_request_body(make: Any, path: str, auth: str | None) -> None:
    async with WireServer(random.Random(0)) as server:
        server.queue(Reply(status=418, body=b'{"error": {"message": "just a teapot"}}'))
        model = make(server.url)
        request = _request()
        async with model:
            with pytest.raises(APIStatusError, match="HTTP 418: just a teapot"):
                async for _ in model.stream(request):
                    pass
        sent = server.requests[0]
    assert sent.method == "POST"
    assert sent.path == path
    assert sent.json() == model.request_body(request)
    assert sent.headers["content-type"] == "application/json"
    if auth == "bearer":
        assert sent.headers["authorization"] == "Bearer sk-1"
    elif auth == "x-api-key":
        assert sent.headers["x-api-key"] == "sk-1"
        assert sent.headers["anthropic-version"] == "2023-06-01"
        assert "authorization" not in sent.headers
    else:
        assert "authorization" not in sent.headers
        assert "x-api-key" not in sent.headers
