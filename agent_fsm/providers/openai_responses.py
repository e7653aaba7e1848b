"""``OpenAIResponsesModel``: the OpenAI Responses API (``POST {base_url}/responses``).

Requests: the preamble is ``instructions``; history becomes ``input`` items: user messages,
assistant text, ``function_call`` items (``call_id`` = ``ToolCall.id``) and
``function_call_output`` items (``call_id`` = ``ToolResult.id``). Reasoning goes back as
``reasoning`` items, in place, for every block with an id: its summaries as ``summary_text``
and its signature as ``encrypted_content`` (Anthropic's redacted blocks are left out). A
``function_call`` carries its item id (``ToolCall.call_id``, ``fc_...``) only next to its
message's reasoning items, because the API pairs a reasoning item with the item that follows it
by id.

Stateless use (``store=False``) needs the encrypted reasoning back:
``OpenAIResponsesModel("o4-mini", store=False, include=["reasoning.encrypted_content"])``.
"""

from __future__ import annotations

from typing import Any

from ..messages import AssistantMessage, Image, Reasoning, Text, ToolCall, ToolResult, UserMessage
from ..request import CompletionRequest
from ._base import HTTPModel
from ._request import arguments_json, image_url
from .openai_chat import OPENAI_BASE_URL, is_openai_url
from .wire import OpenAIResponsesParser
from .wire._common import StreamParser

__all__ = ["OpenAIResponsesModel", "responses_input"]


class OpenAIResponsesModel(HTTPModel):
    """A model behind ``POST {base_url}/responses``.

    ``base_url`` includes the version, as in the OpenAI SDK (default
    ``https://api.openai.com/v1``, or ``OPENAI_BASE_URL``). The key comes from
    ``OPENAI_API_KEY``; required for api.openai.com only. See :class:`HTTPModel` for the rest.
    """

    provider = "OpenAI Responses"
    genai_provider = "openai"
    api_key_env = "OPENAI_API_KEY"
    base_url_env = "OPENAI_BASE_URL"
    default_base_url = OPENAI_BASE_URL
    endpoint = "/responses"
    base_url_hint = "the base URL includes the API version, e.g. https://api.openai.com/v1"

    def describe(self) -> str:
        return self.provider if is_openai_url(self.base_url) else f"Responses-compatible server at {self.base_url}"

    def key_required(self) -> bool:
        return is_openai_url(self.base_url)

    def build_body(self, request: CompletionRequest) -> dict[str, Any]:
        body: dict[str, Any] = {"input": responses_input(request)}
        if request.preamble:
            body["instructions"] = request.preamble
        if request.tools:
            body["tools"] = [
                {"type": "function", "name": t.name, "description": t.description, "parameters": t.parameters}
                for t in request.tools
            ]
            if request.tool_choice == "none":  # the tools stay declared; the model must answer in text
                body["tool_choice"] = "none"
        if request.temperature is not None:
            body["temperature"] = request.temperature
        if request.max_tokens is not None:
            body["max_output_tokens"] = request.max_tokens
        return body

    def new_parser(self) -> StreamParser:
        return OpenAIResponsesParser(self.label)


def responses_input(request: CompletionRequest) -> list[dict[str, Any]]:
    """The ``input`` items for ``request``: history then prompt."""
    out: list[dict[str, Any]] = []
    for message in request.messages:
        if isinstance(message, UserMessage):
            _user(message, out)
        else:
            _assistant(message, out)
    return out


def _user(message: UserMessage, out: list[dict[str, Any]]) -> None:
    rest: list[dict[str, Any]] = []
    for part in message.content:
        if isinstance(part, ToolResult):
            out.append({"type": "function_call_output", "call_id": part.id, "output": _output(part)})
        else:
            rest.append(_input_part(part))
    if rest:
        out.append({"role": "user", "content": rest})


def _input_part(part: Text | Image) -> dict[str, Any]:
    if isinstance(part, Text):
        return {"type": "input_text", "text": part.text}
    return {"type": "input_image", "image_url": image_url(part), "detail": part.detail or "auto"}


def _output(result: ToolResult) -> str | list[dict[str, Any]]:
    if any(isinstance(p, Image) for p in result.content):
        return [_input_part(p) for p in result.content]
    return result.text


def _assistant(message: AssistantMessage, out: list[dict[str, Any]]) -> None:
    with_ids = any(isinstance(p, Reasoning) and p.id for p in message.content)
    text: list[str] = []
    for part in message.content:
        if isinstance(part, Text):
            text.append(part.text)
            continue
        if text:
            _flush_text(text, out)
        if isinstance(part, Reasoning) and part.id and part.redacted is None:
            item: dict[str, Any] = {
                "type": "reasoning",
                "id": part.id,
                "summary": [{"type": "summary_text", "text": t} for t in part.reasoning if t],
            }
            if part.signature:
                item["encrypted_content"] = part.signature
            out.append(item)
        elif isinstance(part, ToolCall):
            call: dict[str, Any] = {
                "type": "function_call",
                "call_id": part.id,
                "name": part.function.name,
                "arguments": arguments_json(part.function.arguments),
            }
            if with_ids and part.call_id:
                call["id"] = part.call_id
            out.append(call)
    if text:
        _flush_text(text, out)


def _flush_text(text: list[str], out: list[dict[str, Any]]) -> None:
    joined = "".join(text)
    text.clear()
    if joined:
        out.append({"role": "assistant", "content": joined})
