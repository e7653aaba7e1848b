"""Helpers shared by test modules."""

from __future__ import annotations

from collections.abc import AsyncIterable

from agent_fsm.items import StreamItem


async def collect(run: AsyncIterable[StreamItem]) -> tuple[list[StreamItem], BaseException | None]:
    """Every item of a run, and the exception it ended with (None when it completed)."""
    items: list[StreamItem] = []
    try:
        async for item in run:
            items.append(item)
    except Exception as exc:
        return items, exc
    return items, None
