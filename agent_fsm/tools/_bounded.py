"""Running one tool call within its time, even when it ignores being cancelled.

Each call runs in its own task. When it runs out of time (or the run is cancelled) it is
cancelled and gets ``STOP_GRACE`` seconds to stop; a call that catches ``CancelledError`` and
goes on is then left behind - held until it ends, and logged - so that it can never hang a run.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable
from typing import Any, TypeVar

from ..observe.logger import get_logger

__all__ = ["STOP_GRACE", "ToolDidNotStop", "ToolTimeout", "run_bounded"]

T = TypeVar("T")

STOP_GRACE = 1.0
"""Seconds a cancelled tool call gets to stop before it is left behind (and reported in the log)."""

_left_running: set[asyncio.Task[Any]] = set()
"""Tool calls that ignored their cancellation, held until they end (the event loop holds tasks
only weakly)."""


class ToolTimeout(Exception):
    """A tool call ran out of time and was cancelled (not a ``TimeoutError`` the tool raised)."""


class ToolDidNotStop(ToolTimeout):
    """A tool call ran out of time, was cancelled, and was still running after ``STOP_GRACE``."""


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
    task = asyncio.ensure_future(call)
    try:
        done, _ = await asyncio.wait((task,), timeout=limit)
    except asyncio.CancelledError:
        await _stop(task, name)
        raise
    if done:
        return task.result()
    if await _stop(task, name):
        raise ToolTimeout(name)
    raise ToolDidNotStop(name)


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
