"""Hooks: the user's say in a run, as verdicts that guard the machine's transitions.

A hook method answers ``None`` (continue), a :class:`HookAction` or, for ``on_tool_call``, a
:class:`ToolCallHookAction`. The driver awaits the hook and feeds the verdict to the machine, whose
table picks the edge from it (``text_delta [on_text_delta = terminate] -> Cancelled``).

Hooks cost nothing when unused: which methods a hook overrides is decided once, at run start
(:func:`live_hooks`), and a method that is not overridden is never called.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any, Final, Literal

from attrs import frozen

if TYPE_CHECKING:
    from .events import Final as FinalEvent
    from .messages import JSONValue, Message, UserMessage

__all__ = [
    "CONTINUE",
    "HOOK_NAMES",
    "TOOL_CONTINUE",
    "HookAction",
    "StreamingPromptHook",
    "ToolCallHookAction",
    "Verdict",
    "live_hooks",
]

VerdictKind = Literal["continue", "skip", "defer", "terminate"]


@frozen
class Verdict:
    """A hook's answer. Use the constructors of :class:`HookAction` / :class:`ToolCallHookAction`."""

    kind: VerdictKind
    reason: str = ""


@frozen
class HookAction(Verdict):
    """What most hooks answer: continue, or terminate the run with a reason."""

    @classmethod
    def cont(cls) -> HookAction:
        """Let the run go on."""
        return CONTINUE

    @classmethod
    def terminate(cls, reason: str) -> HookAction:
        """End the run: it becomes ``Cancelled`` and the consumer gets ``PromptCancelled(reason)``."""
        return cls("terminate", reason)


@frozen
class ToolCallHookAction(Verdict):
    """What ``on_tool_call`` answers: run the tool, skip it with a reason, defer it until someone
    approves it, or terminate the run."""

    @classmethod
    def cont(cls) -> ToolCallHookAction:
        """Run the tool."""
        return TOOL_CONTINUE

    @classmethod
    def skip(cls, reason: str) -> ToolCallHookAction:
        """Do not run the tool; ``reason`` becomes its result, which the model sees."""
        return cls("skip", reason)

    @classmethod
    def defer(cls, reason: str = "") -> ToolCallHookAction:
        """Hold the call for approval: once every call of the batch has a verdict, the run stops
        in ``AwaitingApproval`` with a snapshot; ``Agent.resume(snapshot, approvals=...)``
        continues it."""
        return cls("defer", reason)

    @classmethod
    def terminate(cls, reason: str) -> ToolCallHookAction:
        """End the run before the tool runs."""
        return cls("terminate", reason)


CONTINUE: Final = HookAction("continue")
"""The verdict of a hook that lets the run go on (what ``None`` means, and every unasked hook)."""
TOOL_CONTINUE: Final = ToolCallHookAction("continue")
"""``on_tool_call``'s "run it"."""


class StreamingPromptHook:
    """Base class for hooks: override the methods you need, as plain or ``async`` methods.

    Every method defaults to continue; a method you do not override is never called. ``history``
    is the list of messages before ``prompt``; ``aggregated_text`` is this turn's text so far,
    ``text_delta`` included; ``response`` is the turn's :class:`~agent_fsm.events.Final` event;
    ``args`` are the parsed tool arguments; ``result`` is the tool result's text.
    """

    def on_completion_call(self, prompt: UserMessage, history: tuple[Message, ...]) -> HookAction | None:
        """Before each model call. Terminate: no request is sent."""
        return None

    def on_text_delta(self, text_delta: str, aggregated_text: str) -> HookAction | None:
        """For each text fragment, before it is emitted. Terminate: the fragment is not emitted."""
        return None

    def on_tool_call_delta(
        self, tool_call_id: str, internal_call_id: str, tool_name: str | None, tool_call_delta: str
    ) -> HookAction | None:
        """For each streamed fragment of a tool call (its name, or a piece of its arguments)."""
        return None

    def on_stream_completion_response_finish(self, prompt: UserMessage, response: FinalEvent) -> HookAction | None:
        """When a model response ends with its ``Final`` event, on every turn."""
        return None

    def on_tool_call(
        self, tool_name: str, tool_call_id: str, internal_call_id: str, args: JSONValue
    ) -> ToolCallHookAction | HookAction | None:
        """Before a tool runs: continue, skip it with a reason, defer it for approval, or terminate."""
        return None

    def on_tool_result(
        self, tool_name: str, tool_call_id: str, internal_call_id: str, args: JSONValue, result: str
    ) -> HookAction | None:
        """After a tool ran (or was skipped), before its result is emitted. Terminate keeps the
        result in history but does not emit it."""
        return None


HOOK_NAMES: Final = tuple(name for name in vars(StreamingPromptHook) if name.startswith("on_"))
"""The six hook methods, in the order :class:`StreamingPromptHook` declares them (the one place
their names are written)."""


def live_hooks(hook: object | None) -> Mapping[str, Callable[..., Any]]:
    """The hook methods worth calling: those a :class:`StreamingPromptHook` subclass overrides.

    A hook object that does not subclass :class:`StreamingPromptHook` is duck-typed: every
    callable attribute named like a hook method counts.
    """
    if hook is None:
        return {}
    found: dict[str, Callable[..., Any]] = {}
    for name in HOOK_NAMES:
        method = getattr(hook, name, None)
        if method is None or not callable(method):
            continue
        if isinstance(hook, StreamingPromptHook) and name not in getattr(hook, "__dict__", {}):
            own = inspect.getattr_static(type(hook), name, None)
            if own is getattr(StreamingPromptHook, name):
                continue
        found[name] = method
    return found
