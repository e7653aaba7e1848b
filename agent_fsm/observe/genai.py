"""The OpenTelemetry GenAI semantic conventions, as far as agent-fsm speaks them.

Attribute names, and converters from our data to the conventions' shapes, shared by the log
observer and the span observer so that both say the same thing in the same words. Plain Python:
no OpenTelemetry import here.

Messages follow the conventions' JSON shape (``gen_ai.input.messages``,
``gen_ai.output.messages``): ``{"role": ..., "parts": [{"type": "text", "content": ...}, ...]}``,
tool calls as ``{"type": "tool_call", "id", "name", "arguments"}``, tool results as
``{"type": "tool_call_response", "id", "response"}`` in a ``"tool"`` message, reasoning as
``{"type": "reasoning", "content"}``. Images are described (``{"type": "blob" | "uri",
"modality": "image", ...}``) without their bytes.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any, Final

from ..events import Final as FinalEvent
from ..messages import Image, Message, Reasoning, Text, ToolCall, ToolResult, UserMessage

__all__ = [
    "AGENT_NAME",
    "OPERATION",
    "PROVIDER",
    "REQUEST_MODEL",
    "RESPONSE_ID",
    "RESPONSE_MODEL",
    "TIME_TO_FIRST_CHUNK",
    "TOOL_CALL_ID",
    "TOOL_NAME",
    "USAGE_INPUT",
    "USAGE_OUTPUT",
    "describe_model",
    "messages_json",
    "response_fields",
    "text_parts",
    "to_messages",
]

OPERATION: Final = "gen_ai.operation.name"
AGENT_NAME: Final = "gen_ai.agent.name"
PROVIDER: Final = "gen_ai.provider.name"
REQUEST_MODEL: Final = "gen_ai.request.model"
REQUEST_TEMPERATURE: Final = "gen_ai.request.temperature"
REQUEST_MAX_TOKENS: Final = "gen_ai.request.max_tokens"
RESPONSE_ID: Final = "gen_ai.response.id"
RESPONSE_MODEL: Final = "gen_ai.response.model"
TIME_TO_FIRST_CHUNK: Final = "gen_ai.response.time_to_first_chunk"
USAGE_INPUT: Final = "gen_ai.usage.input_tokens"
USAGE_OUTPUT: Final = "gen_ai.usage.output_tokens"
USAGE_CACHE_READ: Final = "gen_ai.usage.cache_read.input_tokens"
TOOL_NAME: Final = "gen_ai.tool.name"
TOOL_CALL_ID: Final = "gen_ai.tool.call.id"
TOOL_TYPE: Final = "gen_ai.tool.type"
TOOL_ARGUMENTS: Final = "gen_ai.tool.call.arguments"
TOOL_RESULT: Final = "gen_ai.tool.call.result"
INPUT_MESSAGES: Final = "gen_ai.input.messages"
OUTPUT_MESSAGES: Final = "gen_ai.output.messages"
SYSTEM_INSTRUCTIONS: Final = "gen_ai.system_instructions"
ERROR_TYPE: Final = "error.type"

INVOKE_AGENT: Final = "invoke_agent"
CHAT: Final = "chat"
EXECUTE_TOOL: Final = "execute_tool"


def describe_model(model: object) -> tuple[str, str | None]:
    """``(provider name, model name)`` of a model, read from what it exposes.

    A model may say ``genai_provider`` (the GenAI conventions' well-known value, e.g. ``"openai"``),
    ``provider`` or ``provider_name``, and ``model_name`` (providers built as
    ``Model(model_name, ...)`` keep it there); a wrapper (``RecordingModel``) is looked through
    via ``inner``. Without a provider name, the class name stands in; without a model name, None.
    """
    provider: str | None = None
    name: str | None = None
    current: object = model
    for _ in range(4):
        provider = provider or _string(current, "genai_provider", "provider", "provider_name", "system")
        name = name or _string(current, "model_name")
        inner = getattr(current, "inner", None)
        if (provider and name) or inner is None or not callable(getattr(inner, "stream", None)):
            break
        current = inner
    return provider or type(model).__name__, name


def _string(obj: object, *names: str) -> str | None:
    for attr in names:
        value = getattr(obj, attr, None)
        if isinstance(value, str) and value:
            return value
    return None


def response_fields(final: FinalEvent | None) -> tuple[str | None, str | None]:
    """``(response id, response model)`` from a ``Final`` event's ``raw`` payload, when there.

    Read, in order: ``raw["id"]`` / ``raw["model"]`` (OpenAI Chat Completions chunks, Ollama's
    ``model``), ``raw["response"]["id" | "model"]`` (OpenAI Responses ``response.completed``),
    ``raw["message"]["id" | "model"]`` (Anthropic ``message_start``). Anything else gives None.
    """
    raw = final.raw if final is not None else None
    if not isinstance(raw, Mapping):
        return None, None
    rid, rmodel = _str_at(raw, "id"), _str_at(raw, "model")
    for nested in ("response", "message"):
        inner = raw.get(nested)
        if isinstance(inner, Mapping):
            rid = rid or _str_at(inner, "id")
            rmodel = rmodel or _str_at(inner, "model")
    return rid, rmodel


def _str_at(mapping: Mapping[str, Any], key: str) -> str | None:
    value = mapping.get(key)
    return value if isinstance(value, str) and value else None


def text_parts(text: str | None) -> list[dict[str, Any]]:
    """System instructions in the conventions' shape."""
    return [] if text is None else [{"type": "text", "content": text}]


def to_messages(messages: Sequence[Message], finish_reason: str | None = None) -> list[dict[str, Any]]:
    """Messages in the conventions' JSON shape (output messages carry a ``finish_reason``)."""
    out: list[dict[str, Any]] = []
    for message in messages:
        parts = [_part(p) for p in message.content]
        if isinstance(message, UserMessage):
            role = "tool" if all(isinstance(p, ToolResult) for p in message.content) else "user"
        else:
            role = "assistant"
        entry: dict[str, Any] = {"role": role, "parts": parts}
        if finish_reason is not None:
            entry["finish_reason"] = finish_reason
        out.append(entry)
    return out


def messages_json(messages: Sequence[Message], finish_reason: str | None = None) -> str:
    """:func:`to_messages` as compact JSON (span attributes hold strings, not structures)."""
    return json.dumps(to_messages(messages, finish_reason), separators=(",", ":"), ensure_ascii=False)


def _part(part: object) -> dict[str, Any]:
    if isinstance(part, Text):
        return {"type": "text", "content": part.text}
    if isinstance(part, ToolCall):
        return {"type": "tool_call", "id": part.id, "name": part.function.name, "arguments": part.function.arguments}
    if isinstance(part, ToolResult):
        return {"type": "tool_call_response", "id": part.id, "response": result_text(part.content)}
    if isinstance(part, Reasoning):
        return {"type": "reasoning", "content": "".join(part.reasoning)}
    if isinstance(part, Image):
        return _image(part)
    return {"type": type(part).__name__}  # pragma: no cover - every part type is handled above


def _image(image: Image) -> dict[str, Any]:
    if image.kind == "url":
        return {"type": "uri", "modality": "image", "uri": image.data}
    described: dict[str, Any] = {"type": "blob", "modality": "image"}
    if image.media_type is not None:
        described["mime_type"] = image.media_type
    return described


def result_text(content: Sequence[object]) -> str:
    """A tool result's parts as text (images described, not inlined)."""
    return "".join(p.text if isinstance(p, Text) else "[image]" for p in content)
