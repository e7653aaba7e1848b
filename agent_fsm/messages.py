"""Chat messages, their parts, and token usage: the vocabulary of a run's history.

These are the values a run appends to its history and hands back on every ending. They are
frozen so a history can be shared between the run, hooks and stream items without copies, and so
equal histories serialize to equal bytes (see :mod:`agent_fsm.codec`). Field names and JSON shapes
follow rig's ``message`` module so histories can move between the two.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, Literal, TypeAlias

import attrs
from attrs import frozen

from ._json import MAX_JSON_DEPTH, json_problem

__all__ = [
    "AssistantContent",
    "AssistantMessage",
    "Image",
    "JSONValue",
    "MAX_JSON_DEPTH",
    "Message",
    "Reasoning",
    "Text",
    "ToolCall",
    "ToolFunction",
    "ToolResult",
    "ToolResultContent",
    "Usage",
    "UserContent",
    "UserMessage",
    "json_problem",
]

JSONValue: TypeAlias = Any
"""A value that ``json.dumps`` accepts: dict, list, str, int, float, bool or None."""


@frozen
class Text:
    """A piece of plain text."""

    text: str


@frozen
class Image:
    """An image, as base64 data or a URL.

    ``media_type`` is a MIME type such as ``"image/png"``; providers need it for base64 data.
    """

    data: str
    media_type: str | None = None
    kind: Literal["base64", "url"] = "base64"
    detail: str | None = None


@frozen
class ToolFunction:
    """The function a tool call names, with its arguments already parsed from JSON.

    ``arguments`` is normally a dict. A provider that received arguments it could not parse passes
    the raw string through, so the tool layer can tell the model exactly what was wrong.
    """

    name: str
    arguments: JSONValue


@frozen
class ToolCall:
    """A tool call made by the model.

    ``id`` is the id a tool result must reference. ``call_id`` is a second id some APIs use
    (OpenAI Responses); ``signature`` is an opaque value some APIs require to be sent back.
    """

    id: str
    function: ToolFunction
    call_id: str | None = None
    signature: str | None = None


def _strings(value: Iterable[str]) -> tuple[str, ...]:
    return value if type(value) is tuple else tuple(value)


@frozen
class Reasoning:
    """One complete reasoning block, kept whole with its own id and signature.

    ``reasoning`` holds the block's text pieces. ``signature`` is the provider's opaque proof of the
    block (Anthropic's thinking signature, OpenAI's encrypted reasoning content), which must go
    back unchanged. ``redacted`` holds the opaque data of a block the provider redacted (Anthropic's
    ``redacted_thinking``); such a block has no readable text.
    """

    reasoning: tuple[str, ...] = attrs.field(converter=_strings)
    id: str | None = None
    signature: str | None = None
    redacted: str | None = None

    @property
    def text(self) -> str:
        """The block's readable text, its pieces joined."""
        return "".join(self.reasoning)


ToolResultContent: TypeAlias = Text | Image


def _result_parts(value: Iterable[ToolResultContent]) -> tuple[ToolResultContent, ...]:
    return value if type(value) is tuple else tuple(value)


def _non_empty(instance: object, attribute: attrs.Attribute[Any], value: tuple[Any, ...]) -> None:
    if not value:
        raise ValueError(f"{type(instance).__name__}.{attribute.name} must not be empty")


@frozen
class ToolResult:
    """The result of one tool call, referencing the call by ``id`` (and ``call_id``).

    ``is_error`` marks a result that reports a failure (unknown tool, bad arguments, exception,
    timeout), for providers that let the model see that flag.
    """

    id: str
    content: tuple[ToolResultContent, ...] = attrs.field(converter=_result_parts, validator=_non_empty)
    call_id: str | None = None
    is_error: bool = False

    @property
    def text(self) -> str:
        """The text parts of the result, joined; images are left out."""
        return "".join(p.text for p in self.content if isinstance(p, Text))


UserContent: TypeAlias = Text | ToolResult | Image
AssistantContent: TypeAlias = Text | ToolCall | Reasoning | Image


def _user_parts(value: Iterable[UserContent]) -> tuple[UserContent, ...]:
    return value if type(value) is tuple else tuple(value)


def _assistant_parts(value: Iterable[AssistantContent]) -> tuple[AssistantContent, ...]:
    return value if type(value) is tuple else tuple(value)


@frozen
class UserMessage:
    """A message from the user side: a prompt, or the results of the previous turn's tool calls."""

    content: tuple[UserContent, ...] = attrs.field(converter=_user_parts, validator=_non_empty)

    @classmethod
    def text(cls, text: str) -> UserMessage:
        """A user message holding one piece of text."""
        return cls((Text(text),))


@frozen
class AssistantMessage:
    """What the model said in one turn: reasoning, text and tool calls, in arrival order."""

    content: tuple[AssistantContent, ...] = attrs.field(converter=_assistant_parts, validator=_non_empty)
    id: str | None = None

    @property
    def tool_calls(self) -> tuple[ToolCall, ...]:
        """The tool calls of this message, in call order."""
        return tuple(p for p in self.content if isinstance(p, ToolCall))

    @property
    def text(self) -> str:
        """The text parts of this message, joined."""
        return "".join(p.text for p in self.content if isinstance(p, Text))


Message: TypeAlias = UserMessage | AssistantMessage


@frozen
class Usage:
    """Token counts of one model call, or of a whole run (usages add up with ``+``)."""

    input_tokens: int = 0
    output_tokens: int = 0
    total_tokens: int = 0
    cached_input_tokens: int = 0

    def __add__(self, other: Usage) -> Usage:
        if not isinstance(other, Usage):
            return NotImplemented
        return Usage(
            self.input_tokens + other.input_tokens,
            self.output_tokens + other.output_tokens,
            self.total_tokens + other.total_tokens,
            self.cached_input_tokens + other.cached_input_tokens,
        )
