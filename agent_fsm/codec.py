"""JSON for every value the library hands out, through one cattrs converter.

Messages use rig's JSON shapes (``{"role": "user", "content": [{"type": "text", "text": "hi"}]}``),
so histories move between rig and agent-fsm. Model events and stream items are tagged with a
camelCase ``type`` (``{"type": "streamAssistantItem", "content": {"type": "textDelta", ...}}``).
Output is canonical - keys sorted, no insignificant whitespace - so equal values give equal
bytes, which is what determinism checks compare.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from typing import Any, Final, TypeVar, get_args, get_origin

from cattrs.gen import make_dict_structure_fn, make_dict_unstructure_fn, override
from cattrs.preconf.json import make_converter

from .errors import AgentFSMError
from .events import Final as FinalEvent
from .events import ReasoningDelta, TextDelta, ToolCallDelta, ToolCallReady
from .items import FinalResponse, StreamAssistantItem, StreamUserItem
from .messages import (
    AssistantMessage,
    Image,
    Message,
    Reasoning,
    Text,
    ToolCall,
    ToolFunction,
    ToolResult,
    Usage,
    UserMessage,
)
from .protocol import ToolOutput
from .request import CompletionRequest, ToolDefinition

__all__ = ["CodecError", "converter", "from_dict", "from_json", "to_dict", "to_json", "to_json_value"]

T = TypeVar("T")


class CodecError(AgentFSMError, ValueError):
    """Raised when JSON does not describe a value of the requested type."""


converter: Final = make_converter()
"""The one converter. ``converter.unstructure`` / ``structure`` give and take plain JSON values."""

# class -> (tag key, tag value, {field: json name}, fields omitted when they hold their default)
_SHAPES: Final[dict[type, tuple[str | None, str | None, dict[str, str], tuple[str, ...]]]] = {
    Text: ("type", "text", {}, ()),
    Image: ("type", "image", {}, ("media_type", "detail")),
    ToolFunction: (None, None, {}, ()),
    ToolCall: ("type", "toolcall", {}, ("signature",)),
    ToolResult: ("type", "toolresult", {}, ("call_id", "is_error")),
    Reasoning: ("type", "reasoning", {}, ("signature", "redacted")),
    UserMessage: ("role", "user", {}, ()),
    AssistantMessage: ("role", "assistant", {}, ()),
    Usage: (None, None, {}, ()),
    TextDelta: ("type", "textDelta", {}, ()),
    ReasoningDelta: ("type", "reasoningDelta", {}, ()),
    ToolCallDelta: ("type", "toolCallDelta", {"internal_call_id": "internalCallId"}, ()),
    ToolCallReady: ("type", "toolCallReady", {"tool_call": "toolCall", "internal_call_id": "internalCallId"}, ()),
    FinalEvent: ("type", "final", {}, ()),
    StreamAssistantItem: ("type", "streamAssistantItem", {}, ()),
    StreamUserItem: ("type", "streamUserItem", {"tool_result": "toolResult", "internal_call_id": "internalCallId"}, ()),
    FinalResponse: ("type", "finalResponse", {}, ()),
    ToolDefinition: (None, None, {}, ()),
    CompletionRequest: (None, None, {}, ()),
    ToolOutput: (None, None, {}, ("is_error",)),
}

# A union is read by its tag; each union's members, by tag value.
_UNIONS: Final[dict[str, tuple[str, dict[str, type]]]] = {
    "user_content": ("type", {"text": Text, "toolresult": ToolResult, "image": Image}),
    "assistant_content": ("type", {"text": Text, "toolcall": ToolCall, "reasoning": Reasoning, "image": Image}),
    "tool_result_content": ("type", {"text": Text, "image": Image}),
    "message": ("role", {"user": UserMessage, "assistant": AssistantMessage}),
    "event": ("type", {"textDelta": TextDelta, "reasoningDelta": ReasoningDelta, "reasoning": Reasoning,
                       "toolCallDelta": ToolCallDelta, "toolCallReady": ToolCallReady, "final": FinalEvent}),
    "item": ("type", {"streamAssistantItem": StreamAssistantItem, "streamUserItem": StreamUserItem,
                      "finalResponse": FinalResponse}),
}  # fmt: skip


def _image_unstructure(img: Image) -> dict[str, Any]:
    out: dict[str, Any] = {"type": "image", "data": {"type": img.kind, "value": img.data}}
    if img.media_type is not None:
        out["media_type"] = img.media_type
    if img.detail is not None:
        out["detail"] = img.detail
    return out


def _image_structure(d: Mapping[str, Any], _: Any) -> Image:
    data = d["data"]
    if isinstance(data, Mapping):
        kind, value = data.get("type", "base64"), data["value"]
    else:
        kind, value = "base64", data
    return Image(value, d.get("media_type"), kind, d.get("detail"))


def _register() -> None:
    for cls, (tag_key, tag_value, renames, omit) in _SHAPES.items():
        if cls is Image:
            continue
        overrides = {
            a.name: override(
                rename=renames.get(a.name),
                omit_if_default=a.name in omit,
                # a JSON value is plain data already: written as it is, not walked (recursively) by
                # cattrs, so any depth ``json`` can write is written
                unstruct_hook=_plain if a.type == "JSONValue" else None,
            )
            for a in cls.__attrs_attrs__  # type: ignore[attr-defined]
        }
        unstructure: Callable[[Any], dict[str, Any]] = make_dict_unstructure_fn(cls, converter, **overrides)  # type: ignore[arg-type]
        structure: Callable[[Any, Any], Any] = make_dict_structure_fn(cls, converter, **overrides)  # type: ignore[arg-type]
        if tag_key is not None:
            converter.register_unstructure_hook(cls, _tagged(unstructure, tag_key, tag_value))
        else:
            converter.register_unstructure_hook(cls, unstructure)
        converter.register_structure_hook(cls, structure)
    converter.register_unstructure_hook(Image, _image_unstructure)
    converter.register_structure_hook(Image, _image_structure)


def _plain(value: Any) -> Any:
    return value


def _tagged(fn: Callable[[Any], dict[str, Any]], key: str, value: str | None) -> Callable[[Any], dict[str, Any]]:
    def unstructure(obj: Any) -> dict[str, Any]:
        out = fn(obj)
        out[key] = value
        return out

    return unstructure


def _union_structurer(name: str) -> Callable[[Any, Any], Any]:
    key, members = _UNIONS[name]

    def structure(d: Any, _: Any) -> Any:
        if not isinstance(d, Mapping):
            raise CodecError(f"expected a JSON object for a {name.replace('_', ' ')}, got {type(d).__name__}")
        tag = d.get(key)
        cls = members.get(tag)  # type: ignore[arg-type]
        if cls is None:
            raise CodecError(f"unknown {key} {tag!r} for a {name.replace('_', ' ')}; expected one of {sorted(members)}")
        return converter.structure(d, cls)

    return structure


def _union_types() -> dict[str, Any]:
    """The union annotations as they appear in the classes' fields."""
    from . import events, items, messages

    return {
        "user_content": messages.UserContent,
        "assistant_content": messages.AssistantContent,
        "tool_result_content": messages.ToolResultContent,
        "message": messages.Message,
        "event": events.ModelEvent,
        "item": items.StreamItem,
    }


def _register_unions() -> None:
    for name, tp in _union_types().items():
        converter.register_structure_hook(tp, _union_structurer(name))


_register_unions()
_register()


def to_dict(obj: Any) -> Any:
    """The JSON value of ``obj`` (a library value, or a list/tuple of them, in any mix)."""
    if isinstance(obj, list | tuple):
        return [converter.unstructure(o) for o in obj]
    return converter.unstructure(obj)


def to_json_value(obj: Any) -> Any:
    """Any value as plain JSON data, the way the codec writes it (used for tool results)."""
    return converter.unstructure(obj)


def to_json(obj: Any) -> str:
    """Canonical JSON text of ``obj``: equal values give equal bytes.

    Raises:
        CodecError: for a value standard JSON cannot hold (a ``NaN``, nesting ``json`` cannot
            write); the library refuses such values where they come in (see ``json_problem``).
    """
    try:
        return json.dumps(to_dict(obj), sort_keys=True, ensure_ascii=False, separators=(",", ":"), allow_nan=False)
    except (ValueError, RecursionError) as exc:
        raise CodecError(f"cannot write as JSON: {type(exc).__name__}: {exc}") from None


def from_dict(data: Any, tp: type[T] | Any) -> T:
    """Read a JSON value as ``tp``: a class, ``Message``, a union, or ``list[...]``.

    Raises:
        CodecError: when ``data`` does not describe a ``tp``.
    """
    try:
        if tp is Message:
            return converter.structure(data, Message)  # type: ignore[no-any-return]
        if get_origin(tp) is list:
            (inner,) = get_args(tp)
            if not isinstance(data, list):
                raise CodecError(f"expected a JSON array, got {type(data).__name__}")
            return [from_dict(d, inner) for d in data]  # type: ignore[return-value]
        value: T = converter.structure(data, tp)
        return value
    except CodecError:
        raise
    except Exception as exc:
        raise CodecError(f"cannot read {_name(tp)} from JSON: {_first_error(exc)}") from exc


def from_json(text: str | bytes, tp: type[T] | Any) -> T:
    """Read JSON text as ``tp`` (see :func:`from_dict`)."""
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise CodecError(f"not valid JSON: {exc}") from exc
    result: T = from_dict(data, tp)
    return result


def _name(tp: Any) -> str:
    return getattr(tp, "__name__", None) or repr(tp)


def _first_error(exc: BaseException) -> str:
    while isinstance(exc, BaseExceptionGroup) and exc.exceptions:
        exc = exc.exceptions[0]
    if isinstance(exc, KeyError):
        return f"missing field {exc}"
    return f"{type(exc).__name__}: {exc}"
