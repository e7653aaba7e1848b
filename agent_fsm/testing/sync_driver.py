"""A synchronous driver for the sans-IO machine: no asyncio, no threads, no I/O of its own.

It is what an embedder writes to run the machine from a sync service, and what the fuzzer and the
machine-only benchmark use for speed. It gives the same items and history as the async driver for
the same model events, hook answers and tool outputs (a test holds it to that).
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import Any

from ..errors import CompletionError
from ..events import ModelEvent
from ..hooks import live_hooks
from ..items import StreamItem
from ..machine import TurnMachine
from ..messages import ToolCall
from ..protocol import NEXT_EVENT, NEXT_TOOL_OUTPUT, STOP, Action, CallHook, RunTools, SendRequest, ToolOutput
from ..request import CompletionRequest

__all__ = ["SyncScript", "drive_sync"]

SyncModel = Callable[[CompletionRequest], Iterable[ModelEvent]]
SyncToolRunner = Callable[[ToolCall], ToolOutput]


class SyncScript:
    """The sync twin of :class:`~agent_fsm.testing.ScriptedModel`: same script, same behaviour."""

    def __init__(self, turns: Iterable[Sequence[ModelEvent | BaseException]]) -> None:
        self.turns = [list(t) for t in turns]
        self.requests: list[CompletionRequest] = []

    @property
    def calls(self) -> int:
        return len(self.requests)

    def __call__(self, request: CompletionRequest) -> Iterator[ModelEvent]:
        index = len(self.requests)
        self.requests.append(request)
        return self._play(index)

    def _play(self, index: int) -> Iterator[ModelEvent]:
        if index >= len(self.turns):
            raise CompletionError(f"ScriptedModel: call {index + 1} is beyond the script ({len(self.turns)} turn(s))")
        for event in self.turns[index]:
            if isinstance(event, BaseException):
                raise event
            yield event


def drive_sync(
    machine: TurnMachine,
    model: SyncModel,
    *,
    hook: object | None = None,
    run_tool: SyncToolRunner | None = None,
) -> list[StreamItem]:
    """Run ``machine`` to its end; return every item it emitted.

    Args:
        machine: a fresh machine (its live hooks should match ``hook``'s overridden methods).
        model: called with each request; returns an iterable of model events (may raise).
        hook: the hook object; its methods must be synchronous here.
        run_tool: runs one tool call, returning its output (default: every call is unknown).

    The run's ending is read from the machine afterwards: ``machine.state``, ``machine.error``.
    An ``IllegalTransition`` raised by the machine propagates, as in the async driver.
    """
    hooks = live_hooks(hook)
    runner = run_tool or _no_tools
    items: list[StreamItem] = []
    out = machine.outbox
    pending: deque[ToolCall] = deque()
    action: Action = machine.start()
    while True:
        items.extend(out)
        out.clear()
        if action is STOP:
            return items
        if isinstance(action, SendRequest):
            action = _stream(machine, model, action.request, hooks, items)
        elif isinstance(action, CallHook):
            action = _call_hook(machine, hooks, action)
        elif isinstance(action, RunTools):
            pending.extend(action.calls)
            action = machine.tool_output(runner(pending.popleft()))
        elif action is NEXT_TOOL_OUTPUT:
            action = machine.tool_output(runner(pending.popleft()))
        else:  # pragma: no cover - the protocol has no other action
            raise AssertionError(f"unknown action {action!r}")


def _stream(
    machine: TurnMachine,
    model: SyncModel,
    request: CompletionRequest,
    hooks: Any,
    items: list[StreamItem],
) -> Action:
    out = machine.outbox
    try:
        events = iter(model(request))
    except Exception as exc:
        return machine.model_failed(exc)
    while True:
        try:
            event = next(events)
        except StopIteration:
            return machine.model_end()
        except Exception as exc:
            return machine.model_failed(exc)
        action = machine.model_event(event)
        items.extend(out)
        out.clear()
        while isinstance(action, CallHook):
            action = _call_hook(machine, hooks, action)
            items.extend(out)
            out.clear()
        if action is not NEXT_EVENT:
            return action


def _call_hook(machine: TurnMachine, hooks: Any, action: CallHook) -> Action:
    try:
        answer = hooks[action.name](*action.args)
    except Exception as exc:
        return machine.hook_failed(exc)
    return machine.hook_answer(answer)


def _no_tools(call: ToolCall) -> ToolOutput:
    from ..messages import Text

    return ToolOutput((Text(f"Unknown tool {call.function.name!r}. Available tools: none."),), is_error=True)
