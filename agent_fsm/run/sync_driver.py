"""A synchronous driver for the sans-IO machine: no asyncio, no threads, no I/O of its own.

It is what an embedder writes to run the machine from a sync service, and what the fuzzer and the
machine-only benchmark use for speed. It gives the same items and history as the async driver for
the same model events, hook answers and tool outputs (a property test holds it to that) - closing
included: :func:`iter_sync` is a generator, and closing it early cancels the run exactly as
closing an :class:`~agent_fsm.run.driver.AgentRun` does.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Generator, Iterable, Iterator, Sequence
from typing import Any, Final

from .. import items as _items
from ..errors import CompletionError, ToolServerError
from ..events import ModelEvent
from ..hooks import live_hooks
from ..items import StreamItem
from ..machine import TurnMachine
from ..machine import protocol as _protocol
from ..machine.protocol import Action, CallHook, RunTools, SendRequest, ToolOutput
from ..messages import ToolCall
from ..request import CompletionRequest
from ..tools.outcomes import raised, unknown_tool

__all__ = ["CONSUMER_CLOSED", "SyncScript", "drive_sync", "iter_sync"]

SyncModel = Callable[[CompletionRequest], Iterable[ModelEvent]]
SyncToolRunner = Callable[[ToolCall], ToolOutput]

# Read on every step: bound as Final, a C static when compiled (an imported name is a dict lookup).
NEXT_EVENT: Final = _protocol.NEXT_EVENT
NEXT_TOOL_OUTPUT: Final = _protocol.NEXT_TOOL_OUTPUT
STOP: Final = _protocol.STOP
StreamAssistantItem: Final = _items.StreamAssistantItem

CONSUMER_CLOSED = "the run was closed by its consumer"
"""The reason a run closed by its consumer is cancelled with (the async driver's too)."""


class SyncScript:
    """The sync twin of :class:`~agent_fsm.testing.ScriptedModel`: same script, same behaviour.

    ``played`` records, per call, the events it streamed.
    """

    def __init__(self, turns: Iterable[Sequence[ModelEvent | BaseException]]) -> None:
        self.turns = [list(t) for t in turns]
        self.requests: list[CompletionRequest] = []
        self.played: list[list[Any]] = []

    @property
    def calls(self) -> int:
        return len(self.requests)

    def __call__(self, request: CompletionRequest) -> Iterator[ModelEvent]:
        index = len(self.requests)
        self.requests.append(request)
        self.played.append([])
        return self._play(index)

    def _play(self, index: int) -> Iterator[ModelEvent]:
        if index >= len(self.turns):
            raise CompletionError(f"ScriptedModel: call {index + 1} is beyond the script ({len(self.turns)} turn(s))")
        played = self.played[index]
        for event in self.turns[index]:
            if isinstance(event, BaseException):
                raise event
            played.append(event)
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
        run_tool: runs one tool call, returning its output (default: every call is unknown); it
            may raise ``ToolServerError`` to fail the run, as a tool server does.

    The run's ending is read from the machine afterwards: ``machine.state``, ``machine.error``.
    An ``IllegalTransition`` raised by the machine propagates, as in the async driver (use
    :func:`iter_sync` to keep the items emitted before it).
    """
    return list(iter_sync(machine, model, hook=hook, run_tool=run_tool))


def iter_sync(
    machine: TurnMachine,
    model: SyncModel,
    *,
    hook: object | None = None,
    run_tool: SyncToolRunner | None = None,
) -> Generator[StreamItem, None, None]:
    """Run ``machine``, yielding each item as the async driver would; see :func:`drive_sync`.

    Closing the generator before it ends cancels the run (``CONSUMER_CLOSED``). To close a run
    before it starts, call ``machine.close(CONSUMER_CLOSED)`` instead of iterating.

    Run control is the machine's: ``machine.cancel(mode, reason)`` and ``machine.steer(message)``,
    from a hook, a tool, or the loop consuming the items. After an immediate cancel this driver
    yields nothing more, pulls no further model event, calls no hook and runs no tool.
    """
    hooks = live_hooks(hook)
    runner = run_tool or _no_tools
    out = machine.outbox
    handlers = machine.event_handlers
    pending: deque[ToolCall] = deque()
    try:
        action: Action = machine.start()
        while True:
            while out:
                yield out.popleft()
            if action is STOP or machine.done:
                return
            if isinstance(action, SendRequest):
                try:
                    events = iter(model(action.request))
                except Exception as exc:
                    action = machine.model_failed(exc)
                    continue
                try:
                    while True:
                        try:
                            event = next(events)
                        except StopIteration:
                            action = machine.model_end()
                            break
                        except Exception as exc:
                            action = machine.model_failed(exc)
                            break
                        handler = handlers.get(type(event))  # as the async driver dispatches
                        result = handler(event) if handler is not None else machine.model_event(event)
                        if type(result) is StreamAssistantItem:  # the fast path's one item
                            yield result
                            if machine.done:  # cancel() while we yielded
                                break  # type: ignore[unreachable]  # (mypy keeps `done` narrowed across the yield)
                            continue
                        action = result  # type: ignore[assignment]  # (mypy narrows no `type() is` else)
                        while out:
                            yield out.popleft()
                        while isinstance(action, CallHook) and not machine.done:
                            action = _call_hook(machine, hooks, action)
                            while out:
                                yield out.popleft()
                        if action is not NEXT_EVENT or machine.done:
                            break
                finally:
                    close = getattr(events, "close", None)
                    if close is not None:
                        close()
            elif isinstance(action, CallHook):
                action = _call_hook(machine, hooks, action)
            elif isinstance(action, RunTools):
                pending.extend(action.calls)
                action = _run_tool(machine, runner, pending.popleft())
            elif action is NEXT_TOOL_OUTPUT:
                action = _run_tool(machine, runner, pending.popleft())
            else:  # pragma: no cover - the protocol has no other action
                raise AssertionError(f"unknown action {action!r}")
    finally:
        if not machine.done:
            machine.close(CONSUMER_CLOSED)


def _call_hook(machine: TurnMachine, hooks: Any, action: CallHook) -> Action:
    try:
        answer = hooks[action.name](*action.args)
    except Exception as exc:
        return machine.hook_failed(exc)
    return machine.hook_answer(answer)


def _run_tool(machine: TurnMachine, runner: SyncToolRunner, call: ToolCall) -> Action:
    name = call.function.name
    try:
        output = runner(call)
    except ToolServerError as exc:
        return machine.tool_failed(exc)
    except Exception as exc:  # as the async driver does with a tool server that raises
        output = raised(name, exc)
    return machine.tool_output(output)


def _no_tools(call: ToolCall) -> ToolOutput:
    return unknown_tool(call.function.name, ())
