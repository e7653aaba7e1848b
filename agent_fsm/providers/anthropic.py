"""``AnthropicModel``: the Anthropic Messages API.

Requests: the preamble is ``system``; tool calls go back as ``tool_use`` blocks and their results
as ``tool_result`` blocks (first in their user message, ``is_error`` set for failures); reasoning
goes back the way Anthropic requires for extended thinking with tools: each signed block as a
``thinking`` block with its signature, each redacted block as ``redacted_thinking`` with its data,
in its original place. A reasoning block without a signature (from another provider, or never
completed) cannot be verified by Anthropic and is left out, as are empty text blocks (rejected
by the API) and messages left empty by that.

``max_tokens`` is required by the API: when neither the request nor the settings give it,
:data:`DEFAULT_MAX_TOKENS` is sent.
"""

from __future__ import annotations

from typing import Any

from ..messages import Image, Reasoning, Text, ToolCall, ToolResult, UserMessage
from ..request import CompletionRequest
from ._base import HTTPModel
from .wire import AnthropicParser
from .wire._common import StreamParser

__all__ = ["DEFAULT_MAX_TOKENS", "AnthropicModel", "anthropic_messages"]

ANTHROPIC_VERSION = "2023-06-01"
DEFAULT_MAX_TOKENS = 4096
"""``max_tokens`` sent when neither the request nor the model's settings set it."""


class AnthropicModel(HTTPModel):
    """A model behind ``POST {base_url}/v1/messages``.

    ``base_url`` has no version, as in the Anthropic SDK: ``https://api.anthropic.com`` (the
    default, or ``ANTHROPIC_BASE_URL``). The key comes from ``ANTHROPIC_API_KEY``; it is required
    for api.anthropic.com only (a local server or a proxy at another ``base_url`` may need none).
    Extended thinking is a setting:
    ``AnthropicModel("claude-sonnet-4-5", thinking={"type": "enabled", "budget_tokens": 2048})``.
    See :class:`HTTPModel` for the other arguments.
    """

    provider = "Anthropic"
    genai_provider = "anthropic"
    api_key_env = "ANTHROPIC_API_KEY"
    base_url_env = "ANTHROPIC_BASE_URL"
    default_base_url = "https://api.anthropic.com"
    endpoint = "/v1/messages"
    base_url_hint = "the base URL is the server root without /v1, e.g. https://api.anthropic.com"

    def describe(self) -> str:
        if self.base_url == self.default_base_url:
            return self.provider
        return f"Anthropic-compatible server at {self.base_url}"

    def auth_headers(self, api_key: str | None) -> dict[str, str]:
        headers = {"anthropic-version": ANTHROPIC_VERSION}
        if api_key:
            headers["x-api-key"] = api_key
        return headers

    def build_body(self, request: CompletionRequest) -> dict[str, Any]:
        body: dict[str, Any] = {"messages": anthropic_messages(request)}
        if request.preamble:
            body["system"] = request.preamble
        if request.tools:
            body["tools"] = [
                {"name": t.name, "description": t.description, "input_schema": t.parameters} for t in request.tools
            ]
            if request.tool_choice == "none":  # the tools stay declared: a history with tool calls needs them
                body["tool_choice"] = {"type": "none"}
        if request.temperature is not None:
            body["temperature"] = request.temperature
        if request.max_tokens is not None:
            body["max_tokens"] = request.max_tokens
        return body

    def finish_body(self, body: dict[str, Any]) -> None:
        body["stream"] = True
        body.setdefault("max_tokens", DEFAULT_MAX_TOKENS)

    def new_parser(self) -> StreamParser:
        return AnthropicParser()


def anthropic_messages(request: CompletionRequest) -> list[dict[str, Any]]:
    """The ``messages`` array for ``request``: history then prompt, as content blocks."""
    out: list[dict[str, Any]] = []
    for message in request.messages:
        if isinstance(message, UserMessage):
            results = [_tool_result(p) for p in message.content if isinstance(p, ToolResult)]
            others = [_block(p) for p in message.content if not isinstance(p, ToolResult)]
            content = results + [b for b in others if b is not None]
            role = "user"
        else:
            content = [b for b in map(_assistant_block, message.content) if b is not None]
            role = "assistant"
        if content:
            out.append({"role": role, "content": content})
    return out


def _block(part: Text | Image) -> dict[str, Any] | None:
    if isinstance(part, Text):
        return {"type": "text", "text": part.text} if part.text else None
    if part.kind == "url":
        return {"type": "image", "source": {"type": "url", "url": part.data}}
    source = {"type": "base64", "media_type": part.media_type or "image/png", "data": part.data}
    return {"type": "image", "source": source}


def _tool_result(result: ToolResult) -> dict[str, Any]:
    block: dict[str, Any] = {"type": "tool_result", "tool_use_id": result.id}
    if any(isinstance(p, Image) for p in result.content):
        block["content"] = [b for b in map(_block, result.content) if b is not None]
    else:
        block["content"] = result.text
    if result.is_error:
        block["is_error"] = True
    return block


def _assistant_block(part: Text | ToolCall | Reasoning | Image) -> dict[str, Any] | None:
    if isinstance(part, Text):
        return {"type": "text", "text": part.text} if part.text else None
    if isinstance(part, ToolCall):
        arguments = part.function.arguments
        return {
            "type": "tool_use",
            "id": part.id,
            "name": part.function.name,
            "input": arguments if isinstance(arguments, dict) else {},
        }
    if isinstance(part, Reasoning):
        if part.redacted is not None:
            return {"type": "redacted_thinking", "data": part.redacted}
        if part.signature:
            return {"type": "thinking", "thinking": part.text, "signature": part.signature}
    return None  # unsigned reasoning, and images (an assistant turn cannot hold one)
