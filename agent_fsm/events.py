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

from .messages import JSONValue, Reasoning, ToolCall, ToolFunction, Usage, json_problem

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


def _is_str(value: object) -> bool:
    return type(value) is str


def _opt_str(value: object) -> bool:
    return value is None or type(value) is str


def _text_delta(e: TextDelta) -> str | None:
    # inline, not ``_is_str``: this runs on every text delta
    return None if type(e.text) is str else f"text is {type(e.text).__name__}, not str"


def _reasoning_delta(e: ReasoningDelta) -> str | None:
    if not _is_str(e.reasoning) or not _opt_str(e.id):
        return "reasoning must be a str and id a str or None"
    return None


def _reasoning(e: Reasoning) -> str | None:
    fields = (e.id, e.signature, e.redacted)
    if not all(_is_str(r) for r in e.reasoning) or not all(_opt_str(f) for f in fields):
        return "reasoning must be strs and id, signature, redacted strs or None"
    return None


def _tool_call_delta(e: ToolCallDelta) -> str | None:
    if not (_is_str(e.id) and _is_str(e.internal_call_id) and _opt_str(e.name) and _is_str(e.arguments)):
        return "id, internal_call_id and arguments must be strs, name a str or None"
    return None


def _tool_call_ready(e: ToolCallReady) -> str | None:
    # every tool call passes here: exact-type tests inline, no helper calls
    call: Any = e.tool_call  # typed, but user code may put anything there
    if not isinstance(call, ToolCall) or not isinstance(call.function, ToolFunction):
        return f"tool_call is {type(call).__name__}, not a ToolCall of a ToolFunction"
    call_id = call.id
    if type(call_id) is not str or not call_id:
        return f"the tool call's id is {call_id!r}, not a non-empty str (a result could not reference it)"
    if type(call.function.name) is not str or type(e.internal_call_id) is not str:
        return "the tool's name and internal_call_id must be strs"
    if not _opt_str(call.call_id) or not _opt_str(call.signature):
        return "the call's call_id and signature must be strs or None"
    problem = json_problem(call.function.arguments)
    return None if problem is None else f"the call's arguments are not JSON: {problem}"


def _final(e: Final) -> str | None:
    u: Any = e.usage  # typed, but user code may put anything there
    if not isinstance(u, Usage):
        return f"usage is {type(u).__name__}, not Usage"
    for n in (u.input_tokens, u.output_tokens, u.total_tokens, u.cached_input_tokens):
        if type(n) is not int or n < 0:
            return f"usage counts must be non-negative ints: {u!r}"
    return None


_PROBLEMS: dict[type, Callable[[Any], str | None]] = {
    TextDelta: _text_delta,
    ReasoningDelta: _reasoning_delta,
    Reasoning: _reasoning,
    ToolCallDelta: _tool_call_delta,
    ToolCallReady: _tool_call_ready,
    Final: _final,
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
