"""What a well-formed model event is: one check per event type (:func:`agent_fsm.events.event_problem`
dispatches to them).

A model is user code, so the machine checks every event at its boundary; these run on every
event, and live in a module of their own, taking the event untyped (``Any``: a check must see a
wrong-typed field, not refuse it), so that the compiled core (mypyc) can compile them.
"""

from __future__ import annotations

from typing import Any

from ._json import json_problem
from .messages import ToolCall, ToolFunction, Usage

__all__ = ["final", "reasoning", "reasoning_delta", "text_delta", "tool_call_delta", "tool_call_ready"]


def _is_str(value: object) -> bool:
    return type(value) is str


def _opt_str(value: object) -> bool:
    return value is None or type(value) is str


def text_delta(e: Any) -> str | None:
    # inline, not ``_is_str``: this runs on every text delta
    return None if type(e.text) is str else f"text is {type(e.text).__name__}, not str"


def reasoning_delta(e: Any) -> str | None:
    if not _is_str(e.reasoning) or not _opt_str(e.id):
        return "reasoning must be a str and id a str or None"
    return None


def reasoning(e: Any) -> str | None:
    fields = (e.id, e.signature, e.redacted)
    if not all(_is_str(r) for r in e.reasoning) or not all(_opt_str(f) for f in fields):
        return "reasoning must be strs and id, signature, redacted strs or None"
    return None


def tool_call_delta(e: Any) -> str | None:
    if not (_is_str(e.id) and _is_str(e.internal_call_id) and _opt_str(e.name) and _is_str(e.arguments)):
        return "id, internal_call_id and arguments must be strs, name a str or None"
    return None


def tool_call_ready(e: Any) -> str | None:
    # Every tool call passes here: exact-type tests inline, no helper calls. The fields are read
    # through ``Any``, never a narrowed type: compiled, a typed read would itself refuse a wrong
    # type (with a TypeError) before this could say what is wrong.
    call: Any = e.tool_call
    if not isinstance(call, ToolCall) or not isinstance(call.function, ToolFunction):
        return f"tool_call is {type(call).__name__}, not a ToolCall of a ToolFunction"
    c: Any = call
    fn: Any = c.function
    call_id = c.id
    if type(call_id) is not str or not call_id:
        return f"the tool call's id is {call_id!r}, not a non-empty str (a result could not reference it)"
    if type(fn.name) is not str or type(e.internal_call_id) is not str:
        return "the tool's name and internal_call_id must be strs"
    if not _opt_str(c.call_id) or not _opt_str(c.signature):
        return "the call's call_id and signature must be strs or None"
    problem = json_problem(fn.arguments)
    return None if problem is None else f"the call's arguments are not JSON: {problem}"


def final(e: Any) -> str | None:
    usage: Any = e.usage
    if not isinstance(usage, Usage):
        return f"usage is {type(usage).__name__}, not Usage"
    u: Any = usage  # (read through Any: see tool_call_ready)
    for n in (u.input_tokens, u.output_tokens, u.total_tokens, u.cached_input_tokens):
        if type(n) is not int or n < 0:
            return f"usage counts must be non-negative ints: {u!r}"
    return None
