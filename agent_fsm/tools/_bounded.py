"""Running one tool call within its time, even when it ignores being cancelled.

Each call that can wait runs in its own task. When it runs out of time (or the run is cancelled) it is
cancelled and gets ``STOP_GRACE`` seconds to stop; a call that catches ``CancelledError`` and
goes on is then left behind - held until it ends, and logged - so that it can never hang a run.

What that costs, per call: on Python 3.12+ the task starts eagerly (its first step runs at once,
as the current task), so a call that returns without ever waiting - most tools - is over before
anything is scheduled and costs well under a microsecond more than a bare ``await``. On 3.11 the
task takes its first step in one pass of the event loop (~4 us in all); a call that is over by
then needs no timer and no waiter. Only a call that actually waits pays for those: one future
woken by the task's end or the timer, not ``asyncio.wait`` (which builds a set, a callback per
task and a future per call, about 5 us more).

A call that cannot wait at all needs none of it. A coroutine function whose code has no point at
which it could suspend (no ``await``, ``async for`` or ``async with``: :func:`code_never_waiting`
reads its bytecode once, when the tool is made) runs from start to end in a single step. Nothing
can interrupt that step - neither a timer nor a cancellation, which asyncio delivers only at a
suspension - so a task around it would bound nothing: the task would run the same one step, and
its timer could never fire first. :func:`run_at_once` takes that step directly, in a copy of the
caller's context as a task would (a context variable the tool sets stays its own): ~0.7 us, the
copy and the ``StopIteration`` included, against ~4 us for a task on 3.11. The one difference a
tool could see is ``asyncio.current_task()``, which is the caller's task during that step; such a
tool awaits nothing, so it cannot wait on it.
"""

from __future__ import annotations

import asyncio
import contextvars
import dis
import inspect
import sys
import types
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any, TypeVar

from ..observe.logger import get_logger

__all__ = ["STOP_GRACE", "ToolDidNotStop", "ToolTimeout", "code_never_waiting", "run_at_once", "run_bounded"]

T = TypeVar("T")

STOP_GRACE = 1.0
"""Seconds a cancelled tool call gets to stop before it is left behind (and reported in the log)."""

_left_running: set[asyncio.Task[Any]] = set()
"""Tool calls that ignored their cancellation, held until they end (the event loop holds tasks
only weakly)."""

_EAGER = sys.version_info >= (3, 12)


class ToolTimeout(Exception):
    """A tool call ran out of time and was cancelled (not a ``TimeoutError`` the tool raised)."""


class ToolDidNotStop(ToolTimeout):
    """A tool call ran out of time, was cancelled, and was still running after ``STOP_GRACE``."""


_SUSPENDING = frozenset(
    {"YIELD_VALUE", "SEND", "GET_AWAITABLE", "GET_AITER", "GET_ANEXT", "BEFORE_ASYNC_WITH", "END_ASYNC_FOR"}
)
"""Every opcode by which a coroutine's code can suspend or delegate to something that can."""


def code_never_waiting(fn: Callable[..., Any]) -> types.CodeType | None:
    """The code object of ``fn`` if it is an ``async def`` function (or a method of one) that has
    no point at which it could suspend; else ``None`` (also for anything it cannot read: a
    wrapper, a callable object, ``functools.partial``). A coroutine of exactly that code runs to
    its end in one step (see :func:`run_at_once`)."""
    func = fn.__func__ if isinstance(fn, types.MethodType) else fn
    if not isinstance(func, types.FunctionType):
        return None
    code = func.__code__
    if not code.co_flags & inspect.CO_COROUTINE:
        return None
    if any(instruction.opname in _SUSPENDING for instruction in dis.get_instructions(code)):
        return None
    return code


def run_at_once(coro: Coroutine[Any, Any, T]) -> T:
    """Run a coroutine that cannot suspend (its code passed :func:`code_never_waiting`) to its
    end, now, in a copy of the current context; return what it returned, raise what it raised."""
    try:
        contextvars.copy_context().run(coro.send, None)
    except StopIteration as stop:
        return stop.value  # type: ignore[no-any-return]
    coro.close()  # only a coroutine whose code was swapped after it was read could get here
    raise RuntimeError("a tool that cannot wait suspended")


async def run_bounded(call: Awaitable[T], limit: float | None, *, name: str) -> T:
    """Await one tool call in its own task, so that a call that ignores cancellation (catches
    ``CancelledError`` and goes on) can never hang the run.

    Raises:
        ToolTimeout: the call took longer than ``limit`` seconds and stopped when cancelled.
        ToolDidNotStop: it took too long and was still running ``STOP_GRACE`` seconds after being
            cancelled; it is left behind and logged.
        asyncio.CancelledError: the caller was cancelled; the call is cancelled too and given
            ``STOP_GRACE`` to stop, after which the cancellation goes on regardless.
        Exception: whatever the call raised.
    """
    loop = asyncio.get_running_loop()
    coro = call if isinstance(call, Coroutine) else _awaited(call)
    if _EAGER and loop.get_task_factory() is None:  # (a factory of the application's is respected)
        task = asyncio.Task(coro, loop=loop, eager_start=True)  # type: ignore[call-arg,unused-ignore]
    else:
        task = loop.create_task(coro)
        try:
            await asyncio.sleep(0)  # one pass of the loop: the task takes its first step first
        except asyncio.CancelledError:
            await _stop(task, name)
            raise
    if task.done():  # it never waited: no timer, no waiter, nothing to bound
        return task.result()
    if not await _ended_within(task, limit, loop, name):
        if await _stop(task, name):
            raise ToolTimeout(name)
        raise ToolDidNotStop(name)
    return task.result()


async def _ended_within(
    task: asyncio.Task[Any], limit: float | None, loop: asyncio.AbstractEventLoop, name: str
) -> bool:
    """Wait for ``task`` to end, at most ``limit`` seconds; whether it ended. The caller being
    cancelled cancels the task, with ``STOP_GRACE`` to stop, and goes on."""
    waiter: asyncio.Future[None] = loop.create_future()

    def wake(_: object = None) -> None:
        if not waiter.done():
            waiter.set_result(None)

    task.add_done_callback(wake)
    timer = loop.call_later(limit, wake) if limit is not None else None
    try:
        await waiter
    except asyncio.CancelledError:
        task.remove_done_callback(wake)
        await _stop(task, name)
        raise
    finally:
        if timer is not None:
            timer.cancel()
    if task.done():
        return True
    task.remove_done_callback(wake)
    return False


async def _awaited(call: Awaitable[T]) -> T:
    return await call


async def _stop(task: asyncio.Task[Any], name: str) -> bool:
    """Cancel a tool call and wait ``STOP_GRACE`` for it to end; whether it did."""
    task.cancel()
    done, _ = await asyncio.wait((task,), timeout=STOP_GRACE)
    if done:
        if not task.cancelled():
            task.exception()  # retrieved: the call is over, its outcome no longer matters
        return True
    _left_running.add(task)
    task.add_done_callback(_left_running.discard)
    get_logger(component="tools").warning("tool did not stop when cancelled", tool=name, grace_s=STOP_GRACE)
    return False
