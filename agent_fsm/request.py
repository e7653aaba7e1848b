"""What a run asks a model for (the prompt, the history before it, the tools on offer), and what a
tool gives back (:class:`ToolOutput`, before the machine makes it a ``ToolResult``)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterable
from typing import TYPE_CHECKING, Any, Literal, Protocol, runtime_checkable

import attrs
from attrs import frozen

from .messages import JSONValue, Message, ToolResultContent, UserMessage, _result_parts

if TYPE_CHECKING:
    from .events import ModelEvent

__all__ = ["CompletionRequest", "Model", "ToolDefinition", "ToolOutput", "UsageLimits"]


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
    ``additional_params`` is merged into the provider's request body as-is. ``tool_choice`` is
    ``None`` (the model may call tools) or ``"none"`` (it must answer in text: the tools stay
    declared, so a history holding tool calls stays valid); each provider maps it to its wire
    format.
    """

    prompt: UserMessage
    history: tuple[Message, ...] = attrs.field(default=(), converter=_messages)
    preamble: str | None = None
    tools: tuple[ToolDefinition, ...] = attrs.field(default=(), converter=_definitions)
    temperature: float | None = None
    max_tokens: int | None = None
    additional_params: dict[str, JSONValue] | None = None
    tool_choice: Literal["none"] | None = None

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


def _limit(instance: Any, attribute: attrs.Attribute[Any], value: Any) -> None:
    if value is not None and (type(value) is not int or value < 0):
        raise ValueError(f"UsageLimits.{attribute.name} must be None or an int >= 0, got {value!r}")


@frozen
class UsageLimits:
    """What a run may spend; every field is optional (``None``: no limit).

    ``input_tokens``, ``output_tokens`` and ``total_tokens`` cap the run's token usage
    (``total_tokens`` is always ``input_tokens + output_tokens``, whatever the provider
    reported); ``tool_calls`` caps the tool calls the run executes (skipped, denied and deferred
    calls do not count). A run over a limit ends ``UsageLimitExceeded``; see the README's
    "Controlling a run" for where each is checked.
    """

    input_tokens: int | None = attrs.field(default=None, validator=_limit)
    output_tokens: int | None = attrs.field(default=None, validator=_limit)
    total_tokens: int | None = attrs.field(default=None, validator=_limit)
    tool_calls: int | None = attrs.field(default=None, validator=_limit)

    @property
    def has_token_limit(self) -> bool:
        return self.input_tokens is not None or self.output_tokens is not None or self.total_tokens is not None

    def tokens_over(self, usage: Any, *, strict: bool) -> tuple[str, int, int] | None:
        """The first token limit ``usage`` is over - ``(field, maximum, value)`` - or ``None``.

        ``strict``: over means above the maximum; otherwise reaching it is enough.
        """
        values = (
            ("input_tokens", self.input_tokens, usage.input_tokens),
            ("output_tokens", self.output_tokens, usage.output_tokens),
            ("total_tokens", self.total_tokens, usage.input_tokens + usage.output_tokens),
        )
        for name, maximum, value in values:
            if maximum is not None and (value > maximum if strict else value >= maximum):
                return name, maximum, value
        return None
