"""What makes a history valid to send back to a provider, written once.

Snapshots check it (a snapshot is input from outside), and so does the fuzz kit
(:func:`agent_fsm.testing.check_history_invariants`) after every run.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from .messages import AssistantMessage, ToolCall, ToolResult, UserMessage

__all__ = ["history_problem"]


def history_problem(history: Sequence[Any]) -> tuple[str, str] | None:
    """What makes ``history`` invalid to send back to a provider, if anything.

    Every message is a user or assistant message with content; every tool call has an id (a
    non-empty string) and exactly one result with its id, in the user message right after the
    call; no result is an orphan; no
    two calls of a message share an id; no assistant message with tool calls is left last.

    Returns:
        ``None`` for a valid history, else ``(invariant, detail)``: the broken rule and where.
    """
    for i, message in enumerate(history):
        if not isinstance(message, UserMessage | AssistantMessage):
            return ("messages", f"history[{i}] is a {type(message).__name__}")
        if not message.content:
            return ("non-empty content", f"history[{i}] has no content")
        calls = [p for p in message.content if isinstance(p, ToolCall)] if isinstance(message, AssistantMessage) else []
        results = [p for p in message.content if isinstance(p, ToolResult)] if isinstance(message, UserMessage) else []
        if isinstance(message, UserMessage) and results:
            before = history[i - 1] if i > 0 else None
            prior_calls = before.tool_calls if isinstance(before, AssistantMessage) else ()
            called = {c.id for c in prior_calls}
            for r in results:
                if r.id not in called:
                    return (
                        "no orphan results",
                        f"history[{i}] has a result for {r.id!r}, which history[{i - 1}] did not call",
                    )
        if calls:
            ids = [c.id for c in calls]
            if not all(isinstance(c, str) and c for c in ids):
                return ("every call has an id", f"history[{i}] has a tool call without an id: {ids}")
            if len(set(ids)) != len(ids):
                return ("unique call ids", f"history[{i}] calls the same id twice: {ids}")
            if i + 1 >= len(history):
                return ("every call has a result", f"history[{i}] calls tools {ids} and nothing follows it")
            after = history[i + 1]
            if not isinstance(after, UserMessage):
                return ("results follow their calls", f"history[{i + 1}] is not the user message of results")
            got = [p.id for p in after.content if isinstance(p, ToolResult)]
            for call_id in ids:
                n = got.count(call_id)
                if n != 1:
                    return ("exactly one result per call", f"call {call_id!r} of history[{i}] has {n} results")
    return None
