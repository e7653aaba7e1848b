"""The async driver: the only code that awaits. It performs the machine's actions, nothing more.

It opens the model stream, calls the user's hooks, runs tools (at most ``tool_concurrency`` at
once, outputs fed back in call order), and yields the items the machine emits. Everything it does
goes through :class:`~agent_fsm.machine.TurnMachine`'s public step API; an embedder with other I/O
can write the same loop (see ``tests/test_sync_driver.py`` for one without asyncio).

An :class:`AgentRun` is an async iterator of items and an async context manager. It ends when the
run does: after ``FinalResponse`` on success, or by raising the machine's ending error
(``PromptCancelled``, ``MaxTurnsExceeded``, ``CompletionError``, ``HookError``,
``IllegalTransition``), each carrying the history. Closing it early (``aclose()``, leaving
``async with``; after a bare ``break``, once the run is collected) cancels the run: the model
stream is closed and no task is left running when ``aclose()`` returns. Any exception the driver
did not expect ends the run ``Failed``: ``Cancelled`` only ever means a hook, the consumer or
``cancel()`` stopped it.

Run control (:meth:`AgentRun.cancel`, :meth:`AgentRun.steer`) is plain, non-async methods that
hand the request to the machine. An immediate cancel must also interrupt whatever the driver is
waiting for - a model stream that sends nothing, a hook, a tool - so when the driver is suspended
in an await, ``cancel()`` cancels the task iterating the run, and the driver takes that one
cancellation back (``Task.uncancel``) and ends the run with the machine's ``PromptCancelled``.
When it is suspended at a ``yield`` instead, it sees the cancel as it resumes: one attribute check
per model event, before it waits for the next one.
"""

from __future__ import annotations

import asyncio
import inspect
from collections.abc import AsyncGenerator, AsyncIterator, Awaitable, Callable, Mapping, Sequence
from contextlib import AbstractContextManager
from types import AsyncGeneratorType, TracebackType
from typing import Any, Literal

from ..errors import AgentFSMError, ToolServerError
from ..events import Final, TextDelta
from ..items import FinalResponse, StreamAssistantItem, StreamItem
from ..machine import TurnMachine
from ..machine.protocol import NEXT_EVENT, NEXT_TOOL_OUTPUT, STOP, Action, CallHook, RunTools, SendRequest, ToolOutput
from ..machine.snapshot import Snapshot
from ..machine.table import Edge, State
from ..messages import Message, ToolCall, Usage, UserMessage
from ..observe import NULL_CONTEXT, Observer
from ..observe.log import LoggingObserver
from ..observe.logger import get_logger
from ..observe.redact import Redactor
from ..request import Model
from ..tools import ToolServer, ToolSet
from ..tools._outcome import call_outcome
from .effects import DirectEffects, Effects
from .telemetry import RunTelemetry

__all__ = ["AgentRun"]

_DIRECT = DirectEffects()
"""The default effects (they hold nothing: one serves every run)."""


class AgentRun:
    """One run of an agent: iterate it for items; read ``state``, ``history``, ``usage`` after.

    Made by :meth:`Agent.stream_prompt <agent_fsm.Agent.stream_prompt>`; nothing happens until it
    is iterated. It can be iterated once.
    """

    def __init__(
        self,
        machine: TurnMachine,
        model: Model,
        hooks: Mapping[str, Callable[..., Any]],
        tools: ToolServer,
        *,
        agent_name: str | None = None,
        effects: Effects | None = None,
        observers: Sequence[Observer] | None = None,
        described: tuple[str, str | None] | None = None,
    ) -> None:
        self._m = machine
        self._described = described  # the model's (provider, model name), when the Agent knows it
        self._model = model
        self._hooks = {name: (fn, inspect.iscoroutinefunction(fn)) for name, fn in hooks.items()} if hooks else {}
        self._tools = tools
        self._server_of: Callable[[str], str | None] | None = getattr(tools, "server_of", None)
        self._effects: Effects = effects if effects is not None else _DIRECT
        # A ToolSet called directly already bounds each call that can wait (``run_bounded``: in a
        # task of its own, within its time), and nothing else in ``ToolSet.call`` waits: a second
        # task around it would only double the cost of a call. Any other server, or effects of
        # one's own, may wait anywhere, so their calls are bounded here.
        self._server_bounds_calls = type(self._effects) is DirectEffects and type(tools) is ToolSet
        self.run_id = self._effects.new_id()
        """An id for logs and traces; never part of items or history."""
        self.agent_name = agent_name
        self._agen: AsyncGenerator[StreamItem, None] | None = None
        self._stream: Any = None
        # this turn's tool calls not yet handed to the machine, in call order (a list: a deque
        # would hold a 600-byte block for the whole life of every run)
        self._pending_tools: list[asyncio.Task[ToolOutput | ToolServerError] | ToolCall] = []
        self._result: FinalResponse | None = None
        self._log: Any = None
        self._observers = tuple(observers) if observers is not None else (LoggingObserver(),)
        self._tele: RunTelemetry | None = None
        self._redact = Redactor(model)
        self._cleaned = False
        self._cancelled = False  # cancel(mode="immediate") was called: stop before the next wait
        self._task: asyncio.Task[Any] | None = None  # the task iterating the run, while it steps
        self._interrupting: asyncio.Task[Any] | None = None  # the task cancel() interrupted

    # ------------------------------------------------------------------ what users read

    @property
    def machine(self) -> TurnMachine:
        """The sans-IO machine this run drives."""
        return self._m

    @property
    def state(self) -> State:
        return self._m.state

    @property
    def history(self) -> tuple[Message, ...]:
        """The given history, the prompt, and every message of the run so far."""
        return self._m.history

    @property
    def usage(self) -> Usage:
        return self._m.usage

    @property
    def error(self) -> AgentFSMError | None:
        """How the run ended, when it ended other than ``Done``."""
        return self._m.error

    @property
    def result(self) -> FinalResponse | None:
        """The ``FinalResponse``, once the run is ``Done``."""
        return self._result

    @property
    def trace(self) -> tuple[tuple[Edge, int], ...]:
        """The edges the run took, in order, each with its count of consecutive repeats."""
        return self._m.trace

    @property
    def pending_steering(self) -> tuple[UserMessage, ...]:
        """Messages given to :meth:`steer` that no model call has sent yet (in no history)."""
        return self._m.pending_steering

    # ------------------------------------------------------------------ run control

    def cancel(self, mode: Literal["immediate", "after_turn"] = "immediate", reason: str | None = None) -> None:
        """Stop the run: ``"immediate"``ly, or ``"after_turn"``, once the current turn's stream
        has completed and its tools have run and been recorded.

        Not async: call it from another task, from a hook, or from the loop that iterates the
        run. An immediate cancel interrupts what the run is waiting for (the model stream is
        closed, running tools are cancelled) and nothing is emitted after it returns; iterating
        the run then raises ``PromptCancelled`` with ``reason`` (by default, that the run was
        cancelled by its caller) and a sealed history. An after-turn cancel ends the run
        ``Cancelled`` instead of the next model call (a turn that answers in text ends ``Done``).
        A cancel of a run that has already ended does nothing.

        Raises:
            ConfigurationError: for an unknown mode.
        """
        m = self._m
        was_done = m.done
        if m.cancel(mode, reason) is not STOP or was_done:  # after the turn; or nothing to stop
            return
        self._cancelled = True
        task, agen = self._task, self._agen
        if task is None or getattr(agen, "ag_await", None) is None or task.done():
            return  # not waiting: the driver sees the cancel before its next wait
        try:
            current = asyncio.current_task()
        except RuntimeError:  # no event loop in this thread
            current = None
        if current is not task:  # from a hook, the driver is itself running: it stops on return
            self._interrupting = task
            task.cancel()

    def steer(self, message: str | UserMessage) -> None:
        """Add a message to the conversation while the run works: it is sent with the next model
        call, appended to its prompt (see :meth:`TurnMachine.steer <agent_fsm.machine.TurnMachine.steer>`).
        Until then :attr:`pending_steering` lists it.

        Raises:
            ConfigurationError: for a message that is neither a ``str`` nor a ``UserMessage``.
        """
        self._m.steer(message)

    def snapshot(self) -> Snapshot:
        """The run as of its last completed step; ``Agent.resume`` continues it.

        It may be taken at any time, also while the run streams (then it holds the start of the
        current model call, which a resumed run requests again) and after the run stopped.
        ``snapshot().to_json()`` is what to store.
        """
        return self._m.snapshot()

    # ------------------------------------------------------------------ iteration and closing

    def __aiter__(self) -> AsyncGenerator[StreamItem, None]:
        if self._agen is not None:
            raise RuntimeError("an AgentRun can be iterated only once")
        # Held strongly: ``aclose()`` closes it itself, so closing never waits for the garbage
        # collector or leaves the event loop's asyncgen finalizer a task to run (a generator that
        # is already closed is not finalized again). A run dropped without ``aclose()`` is still
        # closed by that finalizer when the run and its generator are collected.
        self._agen = self._drive()
        return self._agen

    def __anext__(self) -> Awaitable[StreamItem]:
        agen = self._agen if self._agen is not None else self.__aiter__()
        return agen.__anext__()

    async def aclose(self) -> None:
        """Stop the run now: it becomes ``Cancelled`` (unless it already ended)."""
        if self._agen is not None:
            await self._agen.aclose()
        # A run never iterated has no generator to close: do the cleanup here (it is idempotent).
        await self._cleanup("the run was closed by its consumer")

    async def __aenter__(self) -> AgentRun:
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.aclose()

    # ------------------------------------------------------------------ the loop

    async def _drive(self) -> AsyncGenerator[StreamItem, None]:
        m = self._m
        out = m.outbox
        self._tele = tele = RunTelemetry(
            self._observers, m, self._model, run_id=self.run_id, agent_name=self.agent_name, now=self._effects.now,
            redact=self._redact, described=self._described,
        )  # fmt: skip
        watch_steps, watch_calls = tele.watch_steps, tele.watch_model_calls
        watch_failures = tele.watch_failed_model_calls  # only a call that ends the run: no call per call
        watch_any = watch_calls or watch_failures
        now = self._effects.now
        handlers = m.event_handlers
        on_text = handlers[TextDelta]  # most events are text deltas: their handler is looked up once
        model_event = m.model_event
        closed_reason = "the run was closed by its consumer"
        current_task = asyncio.current_task
        try:
            action: Action = m.start()
            while True:
                while out:
                    item = out.popleft()
                    if type(item) is FinalResponse:
                        self._result = item
                    yield item
                if watch_steps:
                    tele.steps()
                if action is STOP or m.done:  # done: also when cancel() came while we yielded
                    break
                self._task = current_task()
                kind = type(action)
                if kind is SendRequest:
                    assert isinstance(action, SendRequest)
                    # Open the stream and await its first event (the request usually goes out
                    # then) in the call's context, which is never held across a yield.
                    context: AbstractContextManager[object] = NULL_CONTEXT
                    if watch_calls:
                        context = tele.model_call_started(action.request)
                    elif watch_failures:
                        tele.call_started, tele.usage_before, tele.first_chunk, tele.final = now(), m.usage, None, None
                    stream = failure = None
                    streaming = False
                    with context:
                        try:
                            stream = self._effects.stream(self._model, action.request)
                            if type(stream) is not AsyncGeneratorType:  # (one already is its iterator)
                                stream = await _iterator(stream)
                            self._stream = stream
                            anext_ = stream.__anext__
                            event = await anext_()
                            streaming = True
                        except StopAsyncIteration:
                            pass
                        except Exception as exc:
                            failure = exc
                    if self._stream is None:  # it did not open
                        action = m.model_failed(failure)  # type: ignore[arg-type]
                        if watch_any:
                            tele.model_call_ended()
                        continue
                    if streaming:
                        if watch_any:
                            tele.first_chunk = now()
                    elif failure is None:
                        action = m.model_end()
                    else:
                        action = m.model_failed(failure)
                    while streaming:  # the hot loop: one pass per model event
                        if type(event) is TextDelta:  # each handler checks its event itself
                            result = on_text(event)
                        else:
                            if watch_any and type(event) is Final:  # the observers read its raw
                                tele.final = event
                            handler = handlers.get(type(event))
                            result = handler(event) if handler is not None else model_event(event)
                        if type(result) is StreamAssistantItem:  # the fast path's one item
                            yield result
                        else:
                            action = result  # type: ignore[assignment]  # (mypy narrows no `type() is` else)
                            while out:
                                yield out.popleft()
                            if action is not NEXT_EVENT:
                                while type(action) is CallHook:
                                    action = await self._call_hook(action)
                                    while out:
                                        yield out.popleft()
                                if action is not NEXT_EVENT:
                                    break
                        if self._cancelled:  # the one check per event: cancel() while we yielded
                            action = STOP
                            break
                        try:
                            event = await anext_()
                        except StopAsyncIteration:
                            action = m.model_end()
                            break
                        except Exception as exc:
                            action = m.model_failed(exc)
                            break
                    self._stream = None
                    if getattr(stream, "ag_frame", stream) is not None:  # an async generator run to its end
                        await _aclose(stream)  # has nothing to close: skip the round trip
                    if watch_calls or (watch_failures and m.error is not None):
                        tele.model_call_ended()
                    elif watch_failures:
                        tele.call_started = None  # it ended and the run goes on: nothing to report
                elif kind is CallHook:
                    action = await self._call_hook(action)  # type: ignore[arg-type]
                elif kind is RunTools:
                    assert isinstance(action, RunTools)
                    self._start_tools(action.calls)
                    action = await self._next_tool_output()
                elif action is NEXT_TOOL_OUTPUT:
                    action = await self._next_tool_output()
                else:  # pragma: no cover - the protocol has no other action
                    raise AssertionError(f"unknown action {action!r}")
        except asyncio.CancelledError:
            task = current_task()
            if self._interrupting is None or self._interrupting is not task or task.uncancel() > 0:
                closed_reason = "the run's task was cancelled"
                raise
            self._interrupting = None  # our own cancel(): the machine has ended the run already
        except AgentFSMError:
            raise  # the machine's own ending (an illegal event): it has already stopped
        except Exception as exc:
            # Only a consumer closing the run may end it as "closed by its consumer"
            if m.done:
                raise
            m.driver_failed(exc)
        finally:
            await self._cleanup(closed_reason)
        if m.error is not None:
            raise m.error

    async def _call_hook(self, action: CallHook) -> Action:
        if self._cancelled:  # cancel() came while the driver yielded what came before
            return STOP
        fn, is_async = self._hooks[action.name]
        try:
            answer = fn(*action.args)
            if is_async or inspect.isawaitable(answer):
                answer = await answer
        except Exception as exc:
            return self._m.hook_failed(exc)
        return self._m.hook_answer(answer)

    def _start_tools(self, calls: tuple[ToolCall, ...]) -> None:
        n = self._m.tool_concurrency
        if n == 1 or len(calls) == 1:
            self._pending_tools.extend(calls)  # run one by one, when their output is asked for
            return
        gate = asyncio.Semaphore(n)

        async def limited(call: ToolCall) -> ToolOutput | ToolServerError:
            async with gate:
                return await self._run_tool(call)

        self._pending_tools.extend(asyncio.ensure_future(limited(c)) for c in calls)

    async def _next_tool_output(self) -> Action:
        nxt = self._pending_tools.pop(0)
        output = await (nxt if isinstance(nxt, asyncio.Task) else self._run_tool(nxt))
        if isinstance(output, ToolServerError):
            return self._m.tool_failed(output)
        return self._m.tool_output(output)

    async def _run_tool(self, call: ToolCall) -> ToolOutput | ToolServerError:
        tele = self._tele
        assert tele is not None
        if not tele.watch_tool_calls:
            output = await self._call_tool(call)
            if type(output) is not ToolOutput and isinstance(output, ToolServerError):
                tele.tool_failed(call, output, self._server(call))
            return output
        with tele.tool_call(call, self._server(call)) as finish:
            output = await self._call_tool(call)
            finish(output)
        return output

    def _server(self, call: ToolCall) -> str | None:
        """The tool server serving ``call`` (an MCP server's command or URL), for the observers."""
        return self._server_of(call.function.name) if self._server_of is not None else None

    def _call_tool(self, call: ToolCall) -> Awaitable[ToolOutput | ToolServerError]:
        """The call, to await: what it gives is decided by ``call_outcome``, once for every driver.

        In its own task (unless the server bounds its calls): a server that ignores the run's
        cancellation cannot hang the run."""

        def log(exc: BaseException) -> None:
            trace = self._redact.traceback(exc)
            self._logger().warning("tool server raised", tool=call.function.name, tool_call_id=call.id, exception=trace)

        called = self._effects.call_tool(self._tools, call)
        return call_outcome(
            called, call.function.name, self._redact, bounded=not self._server_bounds_calls, on_raise=log
        )

    async def _cleanup(self, reason: str) -> None:
        """Leave nothing behind: close the stream, cancel tool tasks, end the machine. Idempotent."""
        if self._cleaned:
            return
        self._cleaned = True
        stream, self._stream = self._stream, None
        tasks = [t for t in self._pending_tools if isinstance(t, asyncio.Task)]
        self._pending_tools.clear()
        for t in tasks:
            t.cancel()
        if not self._m.done:
            self._m.close(reason)
        try:
            if stream is not None:
                await _aclose(stream)
            if tasks:
                await asyncio.gather(*tasks, return_exceptions=True)
        finally:
            self._redact.scrub(self._m.error)  # raised to the consumer next: no credentials in it
            if self._tele is not None:
                self._tele.run_ended(self._result)

    def _logger(self) -> Any:
        if self._log is None:
            self._log = get_logger(run_id=self.run_id, agent=self.agent_name)
        return self._log


async def _iterator(stream: Any) -> AsyncIterator[Any]:
    """The iterator of what ``Effects.stream`` gave: an async iterable, or an awaitable of one."""
    if inspect.isawaitable(stream):
        stream = await stream
    return stream.__aiter__()  # type: ignore[no-any-return]


async def _aclose(stream: Any) -> None:
    aclose = getattr(stream, "aclose", None)
    if aclose is None:
        return
    try:
        await aclose()
    except Exception as exc:
        get_logger().warning("closing the model stream raised", exception=Redactor(stream).traceback(exc))
