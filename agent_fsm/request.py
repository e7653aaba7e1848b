"""What a run asks a model for (the prompt, the history before it, the tools on offer), and what a
tool gives back (:class:`ToolOutput`, before the machine makes it a ``ToolResult``)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterable
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

import attrs
from attrs import frozen

from .messages import JSONValue, Message, ToolResultContent, UserMessage, _result_parts

if TYPE_CHECKING:
    from .events import ModelEvent

__all__ = ["CompletionRequest", "Model", "ToolDefinition", "ToolOutput"]


@frozen
class ToolDefinition:
    """A tool as the model sees it: a name, a description and a JSON Schema for its arguments."""

    name: str
    description: str
    parameters: dict[str, Any] = attrs.field(factory=lambda: {"type": "object", "properties": {}})


def _messages(value: Iterable[Message]) -> tuple[Message, ...]:
    return value if type(value) is tuple else tuple(value)


def _definitions(value: Iterable[ToolDefinition]) -> tuple[ToolDefinition, ...]:
    return value if type(value) is tuple else tuple(value)


@frozen
class CompletionRequest:
    """One model call.

    ``history`` holds the messages before ``prompt``; a provider sends ``history + [prompt]``.
    ``additional_params`` is merged into the provider's request body as-is.
    """

    prompt: UserMessage
    history: tuple[Message, ...] = attrs.field(default=(), converter=_messages)
    preamble: str | None = None
    tools: tuple[ToolDefinition, ...] = attrs.field(default=(), converter=_definitions)
    temperature: float | None = None
    max_tokens: int | None = None
    additional_params: dict[str, JSONValue] | None = None

    @property
    def messages(self) -> tuple[Message, ...]:
        """The whole conversation to send: the history, then the prompt."""
        return (*self.history, self.prompt)


@runtime_checkable
class Model(Protocol):
    """Anything that can stream a completion: a provider, a scripted model, your own.

    ``stream`` returns an async iterator of :mod:`agent_fsm.events` values (an async generator
    is the usual way). It signals failure by raising, before or during iteration; the iterator's
    ``aclose()`` is called when the run no longer needs it.
    """

    def stream(self, request: CompletionRequest) -> AsyncIterator[ModelEvent]: ...


@frozen
class ToolOutput:
    """What running one tool produced: result parts, and whether they report an error."""

    content: tuple[ToolResultContent, ...] = attrs.field(converter=_result_parts)
    is_error: bool = False
