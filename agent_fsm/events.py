"""Model events: what a model's ``stream(request)`` yields, one turn at a time.

A model (a provider, or :class:`agent_fsm.testing.ScriptedModel`) turns its wire format into these
few values; the machine knows nothing else about models. A turn is a sequence of deltas and complete
parts, optionally closed by one :class:`Final`. A model signals failure by raising
:class:`agent_fsm.errors.CompletionError` (or any exception, which the driver wraps in one).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeAlias

from attrs import frozen

from . import _wellformed
from .messages import JSONValue, Reasoning, ToolCall, Usage

__all__ = [
    "Final",
    "ModelEvent",
    "Reasoning",
    "ReasoningDelta",
    "TextDelta",
    "ToolCallDelta",
    "ToolCallReady",
    "event_problem",
    "problem_check",
]


@frozen
class TextDelta:
    """A fragment of the assistant's answer text."""

    text: str


@frozen
class ReasoningDelta:
    """A fragment of a reasoning block. Fragments with the same ``id`` belong to one block."""

    reasoning: str
    id: str | None = None


@frozen
class ToolCallDelta:
    """A fragment of a tool call while it streams: its name, or a piece of its JSON arguments.

    ``id`` is the provider's call id (may be empty until the provider sends it);
    ``internal_call_id`` is stable for the whole call and matches its :class:`ToolCallReady`.
    """

    id: str
    internal_call_id: str
    name: str | None = None
    arguments: str = ""


@frozen
class ToolCallReady:
    """A complete tool call, with parsed arguments, ready to run."""

    tool_call: ToolCall
    internal_call_id: str


@frozen
class Final:
    """The end of a model response: its token usage and the provider's raw final payload."""

    usage: Usage
    raw: JSONValue = None


ModelEvent: TypeAlias = TextDelta | ReasoningDelta | Reasoning | ToolCallDelta | ToolCallReady | Final


_PROBLEMS: dict[type, Callable[[Any], str | None]] = {
    TextDelta: _wellformed.text_delta,
    ReasoningDelta: _wellformed.reasoning_delta,
    Reasoning: _wellformed.reasoning,
    ToolCallDelta: _wellformed.tool_call_delta,
    ToolCallReady: _wellformed.tool_call_ready,
    Final: _wellformed.final,
}


def problem_check(event_type: type) -> Callable[[Any], str | None]:
    """:func:`event_problem` for events of one known type (no dispatch: for a hot loop)."""
    return _PROBLEMS[event_type]


def event_problem(event: object) -> str | None:
    """What is wrong with a model event's fields, or ``None`` when it is well-formed.

    A model is user code (or a provider parsing a server's bytes): the machine checks each event
    at its boundary, so a ``TextDelta(None)`` is an illegal event, not a ``TypeError`` deep inside
    the run. An unknown event type is not judged here (the machine refuses it itself).
    """
    check = _PROBLEMS.get(type(event))
    return check(event) if check is not None else None
