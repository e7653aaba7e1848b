"""The hook contract of DESIGN §6, checked against what a recording hook was called with.

A hook sees the run as it happens; the history is what the run kept. They must agree: the
``history`` given to ``on_completion_call`` is the messages before its ``prompt``;
``aggregated_text`` is this turn's text so far, ``text_delta`` included; ``tool_call_id`` is the
call's ``id`` (rig passed ``call_id``); ``args`` are the parsed arguments; ``result`` is the text of
the result the history records. In the tool stage, ``on_tool_call`` and ``on_tool_result`` follow
call order; with ``tool_concurrency > 1`` every ``on_tool_call`` of a turn comes before its first
``on_tool_result``, one by one (call, result, next call) otherwise.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from ..events import Final
from ..messages import AssistantMessage, Message, ToolCall, ToolResult, UserMessage
from .invariants import fail

__all__ = ["check_hook_calls"]


def check_hook_calls(
    calls: Sequence[tuple[str, tuple[Any, ...]]], history: Sequence[Message], *, tool_concurrency: int | None = None
) -> None:
    """Check every recorded hook call against the run's final ``history``.

    Args:
        calls: ``(method name, args)`` in call order (what ``PolicyHook.calls`` records).
        history: the run's history.
        tool_concurrency: the run's, to check the order of the tool stage's questions.

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
                # steering shown to a hook that then terminated stays pending: in no history
                last = all(n != "on_completion_call" for n, _ in calls[i + 1 :])
                kept = history[len(before)] if len(history) > len(before) else None
                undelivered = kept is None or (
                    isinstance(kept, UserMessage) and prompt.content[: len(kept.content)] == kept.content
                )
                if not (last and isinstance(prompt, UserMessage) and tuple(before) == history[: len(before)]
                        and undelivered):  # fmt: skip
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
    if tool_concurrency is not None:
        _check_tool_stage(calls, history, tool_concurrency)


def _check_tool_stage(
    calls: Sequence[tuple[str, tuple[Any, ...]]], history: Sequence[Message], concurrency: int
) -> None:
    turns = [[c.id for c in m.tool_calls] for m in history if isinstance(m, AssistantMessage) and m.tool_calls]
    every = [i for ids in turns for i in ids]
    if len(every) != len(set(every)):
        return  # ids repeat across turns: questions cannot be told apart by id
    for ids in turns:
        mine = set(ids)
        seq = [
            (name, args[1]) for name, args in calls if name in ("on_tool_call", "on_tool_result") and args[1] in mine
        ]
        asked = [i for name, i in seq if name == "on_tool_call"]
        told = [i for name, i in seq if name == "on_tool_result"]
        if asked != ids[: len(asked)] or told != ids[: len(told)]:
            raise fail(
                "tool hooks are asked in call order", f"calls {ids}: on_tool_call {asked}, on_tool_result {told}"
            )
        if not asked or not told:
            continue
        positions = {(name, i): n for n, (name, i) in enumerate(seq)}
        if concurrency > 1:
            if max(positions[("on_tool_call", i)] for i in asked) > positions[("on_tool_result", told[0])]:
                raise fail("with tool_concurrency > 1 every on_tool_call comes first", f"order {seq}")
        else:
            for k, i in enumerate(told[:-1]):
                following = ids[k + 1]
                if following in asked and positions[("on_tool_call", following)] < positions[("on_tool_result", i)]:
                    raise fail("with tool_concurrency 1 each call is asked after the previous result", f"order {seq}")
