"""The hook contract of DESIGN §6, checked against what a recording hook was called with.

A hook sees the run as it happens; the history is what the run kept. They must agree: the
``history`` given to ``on_completion_call`` is the messages before its ``prompt``;
``aggregated_text`` is this turn's text so far, ``text_delta`` included; ``tool_call_id`` is the
call's ``id`` (rig passed ``call_id``); ``args`` are the parsed arguments; ``result`` is the text of
the result the history records.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from ..events import Final
from ..messages import AssistantMessage, Message, ToolCall, ToolResult, UserMessage
from .invariants import fail

__all__ = ["check_hook_calls"]


def check_hook_calls(calls: Sequence[tuple[str, tuple[Any, ...]]], history: Sequence[Message]) -> None:
    """Check every recorded hook call against the run's final ``history``.

    Args:
        calls: ``(method name, args)`` in call order (what ``PolicyHook.calls`` records).
        history: the run's history.

    Raises:
        AssertionError: naming the broken part of the contract.
    """
    history = tuple(history)
    tool_calls = {
        p.id: p for m in history if isinstance(m, AssistantMessage) for p in m.content if isinstance(p, ToolCall)
    }
    results = {p.id: p for m in history if isinstance(m, UserMessage) for p in m.content if isinstance(p, ToolResult)}
    texts = [m.text for m in history if isinstance(m, AssistantMessage)]
    for i, (name, args) in enumerate(calls):
        where = f"call {i} ({name})"
        if name == "on_completion_call":
            prompt, before = args
            if not isinstance(prompt, UserMessage) or (*before, prompt) != history[: len(before) + 1]:
                raise fail("on_completion_call gets the prompt and the messages before it", where)
        elif name == "on_text_delta":
            delta, aggregated = args
            if not aggregated.endswith(delta):
                raise fail("aggregated_text includes text_delta", f"{where}: {aggregated!r} / {delta!r}")
            so_far = aggregated[: len(aggregated) - len(delta)]
            if so_far and not any(t.startswith(so_far) for t in texts):
                raise fail("aggregated_text is this turn's text so far", f"{where}: {so_far!r} is in no turn")
        elif name == "on_stream_completion_response_finish":
            prompt, response = args
            if not isinstance(response, Final) or prompt not in history:
                raise fail("on_stream_completion_response_finish gets the prompt and the Final event", where)
        elif name in ("on_tool_call", "on_tool_result"):
            tool_name, call_id, _internal, arguments = args[:4]
            call = tool_calls.get(call_id)
            if call is None or call.function.name != tool_name:
                raise fail("tool_call_id is the id of a call in history", f"{where}: {call_id!r} {tool_name!r}")
            if call.function.arguments != arguments:
                raise fail("args are the call's parsed arguments", f"{where}: {arguments!r}")
            if name == "on_tool_result":
                result = results.get(call_id)
                if result is None or result.text != args[4]:
                    raise fail("result is the text of the recorded result", f"{where}: {args[4]!r}")
