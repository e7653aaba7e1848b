"""Helpers for the observability tests: captured structlog events, a manual clock, a slow model."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncGenerator, Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import structlog

from agent_fsm.events import ModelEvent
from agent_fsm.request import CompletionRequest
from agent_fsm.run.effects import DirectEffects


@contextmanager
def captured_logs(level: int = logging.DEBUG) -> Iterator[list[dict[str, Any]]]:
    """Configure structlog as an application would (merging context variables) and keep every
    event dict; restore the defaults after. The library itself never configures structlog."""
    events: list[dict[str, Any]] = []

    def keep(logger: Any, method: str, event_dict: dict[str, Any]) -> Any:
        events.append({**event_dict, "level": method})
        raise structlog.DropEvent

    structlog.configure(
        processors=[structlog.contextvars.merge_contextvars, keep],
        wrapper_class=structlog.make_filtering_bound_logger(level),
        cache_logger_on_first_use=False,
    )
    try:
        yield events
    finally:
        structlog.reset_defaults()
        structlog.contextvars.clear_contextvars()


class ManualClock(DirectEffects):
    """Effects whose clock moves only when told: durations in records are exact."""

    def __init__(self) -> None:
        self.t = 100.0

    def now(self) -> float:
        return self.t


class TimedModel:
    """A scripted model that advances a :class:`ManualClock` before each event it yields."""

    def __init__(self, clock: ManualClock, turns: Sequence[Sequence[tuple[float, ModelEvent]]], **attrs: Any) -> None:
        self.clock = clock
        self.turns = [list(t) for t in turns]
        self.calls = 0
        for name, value in attrs.items():
            setattr(self, name, value)

    def stream(self, request: CompletionRequest) -> AsyncGenerator[ModelEvent, None]:
        index, self.calls = self.calls, self.calls + 1
        return self._play(index)

    async def _play(self, index: int) -> AsyncGenerator[ModelEvent, None]:
        for delay, event in self.turns[index]:
            self.clock.t += delay
            yield event


class SlowModel:
    """Replays a script with a real pause before each event (so that runs overlap in time)."""

    def __init__(self, turns: Sequence[Sequence[ModelEvent]], pause: float = 0.005, log_requests: bool = False) -> None:
        self.turns = [list(t) for t in turns]
        self.pause = pause
        self.calls = 0
        self.log_requests = log_requests

    def stream(self, request: CompletionRequest) -> AsyncGenerator[ModelEvent, None]:
        index, self.calls = self.calls, self.calls + 1
        return self._play(index)

    async def _play(self, index: int) -> AsyncGenerator[ModelEvent, None]:
        if self.log_requests:  # what a provider does when it sends its request
            structlog.get_logger("provider").info("provider request", call=index)
        for event in self.turns[index]:
            await asyncio.sleep(self.pause)
            yield event
