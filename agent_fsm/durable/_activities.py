"""The activities: one per model call, one per tool call, each heartbeating from a background task.

A model-call activity opens the stream, collects the call's events and returns them as codec JSON.
A provider failure is *returned*, as data, with the events streamed before it: what it means is
the machine's decision, and Temporal's retries are kept for what they are good at - a worker that
crashed or a call that timed out. A tool-call activity returns the tool's output the same way.

Heartbeats come from a task beside the call, not from the call's progress: a dead worker is
noticed within the heartbeat timeout, while a slow model or tool is bounded only by its own
timeout (the activity's start-to-close timeout).

A result larger than Temporal accepts would fail to be recorded and be retried forever; it is
refused here instead, with a non-retryable error naming the call.
"""

from __future__ import annotations

import asyncio
import inspect
import json
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from temporalio import activity
from temporalio.exceptions import ApplicationError

from .. import codec
from ..errors import ToolServerError
from ..messages import ToolCall
from ..observe.redact import Redactor
from ..request import CompletionRequest
from ..tools._outcome import call_outcome
from ._wire import DEFAULT_MAX_PAYLOAD_BYTES, MODEL_ACTIVITY, TOOL_ACTIVITY, error_data

if TYPE_CHECKING:
    from ..agent import Agent

__all__ = ["Activities", "PAYLOAD_TOO_LARGE"]

PAYLOAD_TOO_LARGE = "PayloadTooLarge"
"""The ``ApplicationError`` type of a result over the payload limit (never retried)."""


class Activities:
    """The activities of one worker, bound to its agents (by their durable names)."""

    def __init__(self, agents: Mapping[str, Agent], *, max_payload_bytes: int = DEFAULT_MAX_PAYLOAD_BYTES) -> None:
        self._agents = dict(agents)
        self._max = max_payload_bytes

    @activity.defn(name=MODEL_ACTIVITY)
    async def model_call(self, args: dict[str, Any]) -> dict[str, Any]:
        """Stream one model call to its end; ``{"events": [...], "error": None | {...}}``."""
        agent = self._agents[args["agent"]]
        request: CompletionRequest = codec.from_dict(args["request"], CompletionRequest)
        events: list[Any] = []
        error: dict[str, Any] | None = None
        async with _heartbeating():
            stream: Any = None
            try:
                stream = agent.model.stream(request)
                if inspect.isawaitable(stream):
                    stream = await stream
                async for event in stream:
                    events.append(codec.to_json_value(event))
            except Exception as exc:
                Redactor(agent.model).scrub(exc)  # no credential leaves the worker
                error = error_data(exc)
            finally:
                aclose = getattr(stream, "aclose", None)
                if aclose is not None:
                    await aclose()
        return self._checked({"events": events, "error": error}, f"model call {args['call']}")

    @activity.defn(name=TOOL_ACTIVITY)
    async def tool_call(self, args: dict[str, Any]) -> dict[str, Any]:
        """Run one tool call; ``{"output": {...}}``, or ``{"server_error": message}``."""
        agent = self._agents[args["agent"]]
        call: ToolCall = codec.from_dict(args["call"], ToolCall)
        name = call.function.name
        async with _heartbeating():  # what the call gave, decided as in-process (tools.call_outcome)
            output = await call_outcome(agent.tools.call(name, call.function.arguments), name, Redactor(agent.model))
        if isinstance(output, ToolServerError):
            return {"server_error": str(output)}
        return self._checked({"output": codec.to_json_value(output)}, f"tool call {call.id!r} ({name})")

    def _checked(self, result: dict[str, Any], what: str) -> dict[str, Any]:
        size = len(json.dumps(result, separators=(",", ":")).encode())
        if size > self._max:
            raise ApplicationError(
                f"the result of {what} is {size} bytes, over Temporal's payload limit of {self._max} bytes",
                type=PAYLOAD_TOO_LARGE,
                non_retryable=True,
            )
        return result


@asynccontextmanager
async def _heartbeating() -> AsyncIterator[None]:
    """Heartbeat from a background task for as long as the block runs."""
    timeout = activity.info().heartbeat_timeout
    if timeout is None or timeout <= timedelta(0):
        yield
        return
    interval = max(timeout.total_seconds() / 3, 0.05)

    async def beat() -> None:
        while True:
            activity.heartbeat()
            await asyncio.sleep(interval)

    task = asyncio.create_task(beat())
    try:
        yield
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
