"""The driver's side effects, behind one small interface.

Everything the async driver does to the outside world goes through an :class:`Effects`: calling
the model, calling a tool, reading the clock, making an id. The default does them directly. A
durable-workflow integration (Temporal, say) supplies its own, running model and tool calls as
activities and reading time and ids from the workflow, while the machine runs unchanged in
workflow code - it is deterministic, and these four are the only nondeterminism the driver has.
"""

from __future__ import annotations

import os
import time
from collections.abc import AsyncIterator, Awaitable
from typing import Any, Protocol, runtime_checkable

from ..events import ModelEvent
from ..messages import ToolCall
from ..request import CompletionRequest, Model, ToolOutput
from ..tools import ToolServer

__all__ = ["DirectEffects", "Effects"]


@runtime_checkable
class Effects(Protocol):
    """The four things a driver needs from the world."""

    def stream(
        self, model: Model, request: CompletionRequest
    ) -> AsyncIterator[ModelEvent] | Awaitable[AsyncIterator[ModelEvent]]:
        """Open a model stream (may raise; the iterator may raise while iterated)."""
        ...

    def call_tool(self, tools: ToolServer, call: ToolCall) -> Awaitable[Any]:
        """Run one tool call; return its output (a ``ToolOutput`` or a plain value)."""
        ...

    def now(self) -> float:
        """Seconds on a monotonic clock (for durations in logs and spans)."""
        ...

    def new_id(self) -> str:
        """A fresh unique id (for run ids in logs and spans; never in items or history)."""
        ...


class DirectEffects:
    """The default: call the model and the tools directly, read the real clock, make random ids."""

    def stream(
        self, model: Model, request: CompletionRequest
    ) -> AsyncIterator[ModelEvent] | Awaitable[AsyncIterator[ModelEvent]]:
        return model.stream(request)

    def call_tool(self, tools: ToolServer, call: ToolCall) -> Awaitable[ToolOutput]:
        return tools.call(call.function.name, call.function.arguments)

    now = staticmethod(time.monotonic)  # (the clock itself: no method call around it)

    def new_id(self) -> str:
        return os.urandom(16).hex()  # 128 random bits, as 32 hex digits (a uuid4's hex, at a fifth of its cost)
