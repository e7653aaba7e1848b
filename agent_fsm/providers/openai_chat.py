"""``OpenAIChatModel``: the Chat Completions API of OpenAI and of every OpenAI-compatible server.

Requests: the preamble is a ``system`` message; tool calls go back as the assistant's
``tool_calls`` and their results as ``tool`` messages (one per result, in call order; an image in
a result follows in a ``user`` message, as ``tool`` messages hold text only). Reasoning is *not*
sent back: the Chat Completions API has no field for it, and DeepSeek rejects
``reasoning_content`` in input. ``stream_options.include_usage`` is always on, so every turn
reports its usage.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from ..messages import AssistantMessage, Image, Text, ToolCall, ToolResult, UserMessage
from ..request import CompletionRequest, ToolDefinition
from ._base import HTTPModel
from ._request import arguments_json, image_url, joined_text
from .wire import OpenAIChatParser
from .wire._common import StreamParser

__all__ = ["OPENAI_BASE_URL", "OpenAIChatModel", "chat_messages", "chat_tools", "is_openai_url"]

OPENAI_BASE_URL = "https://api.openai.com/v1"


class OpenAIChatModel(HTTPModel):
    """A model behind ``POST {base_url}/chat/completions``.

    ``base_url`` includes the API version, as in the OpenAI SDK: ``https://api.openai.com/v1``
    (the default, or ``OPENAI_BASE_URL``), ``http://localhost:8000/v1`` (vLLM),
    ``http://localhost:8080/v1`` (llama.cpp), ``http://localhost:11434/v1`` (Ollama),
    ``https://openrouter.ai/api/v1``. The key comes from ``OPENAI_API_KEY``; it is required
    only for api.openai.com (local servers usually need none). See :class:`HTTPModel` for the
    other arguments.

    ``max_tokens`` is sent as ``max_completion_tokens`` to api.openai.com (its reasoning
    models reject ``max_tokens``) and as ``max_tokens`` elsewhere (what compatible servers
    read); set :attr:`max_tokens_field` to change that.
    """

    provider = "OpenAI"
    genai_provider = "openai"
    api_key_env = "OPENAI_API_KEY"
    base_url_env = "OPENAI_BASE_URL"
    default_base_url = OPENAI_BASE_URL
    endpoint = "/chat/completions"
    base_url_hint = "the base URL includes the API version, e.g. https://api.openai.com/v1"

    def __init__(self, model_name: str, **kwargs: Any) -> None:
        super().__init__(model_name, **kwargs)
        self.max_tokens_field = "max_completion_tokens" if self._is_openai() else "max_tokens"
        """The body field that carries ``CompletionRequest.max_tokens``."""

    def _is_openai(self) -> bool:
        return is_openai_url(self.base_url)

    def describe(self) -> str:
        return "OpenAI" if self._is_openai() else f"OpenAI-compatible server at {self.base_url}"

    def key_required(self) -> bool:
        return self._is_openai()

    def build_body(self, request: CompletionRequest) -> dict[str, Any]:
        body: dict[str, Any] = {"messages": chat_messages(request)}
        if request.tools:
            body["tools"] = chat_tools(request.tools)
            if request.tool_choice == "none":  # the tools stay declared; the model must answer in text
                body["tool_choice"] = "none"
        if request.temperature is not None:
            body["temperature"] = request.temperature
        if request.max_tokens is not None:
            body[self.max_tokens_field] = request.max_tokens
        return body

    def finish_body(self, body: dict[str, Any]) -> None:
        body["stream"] = True
        body["stream_options"] = {**(body.get("stream_options") or {}), "include_usage": True}

    def new_parser(self) -> StreamParser:
        return OpenAIChatParser(self.label)


def is_openai_url(url: str) -> bool:
    """Whether ``url`` is OpenAI's own API (which needs a key), not a compatible server."""
    return urlsplit(url).hostname == "api.openai.com"


def chat_tools(tools: tuple[ToolDefinition, ...]) -> list[dict[str, Any]]:
    """Tool definitions in the Chat Completions ``tools`` shape (also Ollama's)."""
    return [
        {"type": "function", "function": {"name": t.name, "description": t.description, "parameters": t.parameters}}
        for t in tools
    ]


def chat_messages(request: CompletionRequest) -> list[dict[str, Any]]:
    """The ``messages`` array for ``request``: system preamble, history, then the prompt."""
    out: list[dict[str, Any]] = []
    if request.preamble:
        out.append({"role": "system", "content": request.preamble})
    for message in request.messages:
        if isinstance(message, UserMessage):
            out.extend(_user(message))
        else:
            out.append(_assistant(message))
    return out


def _user(message: UserMessage) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    rest: list[Text | Image] = []
    for part in message.content:
        if isinstance(part, ToolResult):
            out.append({"role": "tool", "tool_call_id": part.id, "content": part.text})
            rest.extend(p for p in part.content if isinstance(p, Image))
        else:
            rest.append(part)
    if rest:
        if all(isinstance(p, Text) for p in rest):
            out.append({"role": "user", "content": joined_text(rest)})
        else:
            out.append({"role": "user", "content": [_content_part(p) for p in rest]})
    return out


def _content_part(part: Text | Image) -> dict[str, Any]:
    if isinstance(part, Text):
        return {"type": "text", "text": part.text}
    url: dict[str, Any] = {"url": image_url(part)}
    if part.detail:
        url["detail"] = part.detail
    return {"type": "image_url", "image_url": url}


def _assistant(message: AssistantMessage) -> dict[str, Any]:
    calls = [_tool_call(p) for p in message.content if isinstance(p, ToolCall)]
    text = joined_text(message.content)
    out: dict[str, Any] = {"role": "assistant", "content": text if text or not calls else None}
    if calls:
        out["tool_calls"] = calls
    return out


def _tool_call(call: ToolCall) -> dict[str, Any]:
    function = {"name": call.function.name, "arguments": arguments_json(call.function.arguments)}
    return {"id": call.id, "type": "function", "function": function}
