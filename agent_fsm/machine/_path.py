"""The path a run took: the edges in order, a run of the same edge being one entry with its count.

It is also how the run counts the items it emitted, without counting per item: every edge whose
callback emits emits exactly one item each time it is taken, so the items emitted up to a point
of the path (a *mark*) follow from the path itself. Snapshots record such a mark.
"""

from __future__ import annotations

from typing import Final

from .table import EDGES, Edge

__all__ = ["Path", "TraceMark", "appends", "emits"]

TraceMark = tuple[int, int]
"""(path length, count of its last entry): a point of the path."""

_EMITTING: Final = frozenset(
    {"emit_text", "emit_tool_call_delta", "emit_reasoning_delta", "emit_reasoning", "queue_tool_call", "emit_final",
     "emit_tool_result", "emit_final_response"}
)  # fmt: skip
"""Callbacks that emit exactly one item each time their edge is taken."""
_EMITS: Final = tuple(any(cb in _EMITTING for cb in e.callbacks) for e in EDGES)
_APPENDING: Final = frozenset({"commit_turn", "send_tool_results"})
"""Callbacks that append exactly one message to the history each time their edge is taken."""


def emits(edge: Edge) -> bool:
    """Whether taking ``edge`` emits exactly one item (so a trace says which items each step emitted)."""
    return _EMITS[edge.index]


def appends(edge: Edge) -> bool:
    """Whether taking ``edge`` appends exactly one message to the history; only the ending's
    sealing adds messages otherwise (so a trace says how long the history was at each step)."""
    return any(cb in _APPENDING for cb in edge.callbacks)


class Path:
    """The edges a run took. The entries before the last are one flat list of ints - ``edge
    index, times in a row`` per entry, after a sentinel entry - so that a run's path is one list,
    not a list per entry (a list per entry was half the objects a live run held, all for the
    garbage collector to walk). The last entry is two plain attributes, ``edge`` and ``count``:
    taking the same edge again, the commonest step of all (every text delta), is one increment,
    which the compiled core does without touching a list. The machine updates both in place, on
    its hot path without a call: ``if path.edge == i: path.count += 1`` else ``path.take(i)``."""

    __slots__ = ("closed", "count", "edge", "emitted_before")

    def __init__(self) -> None:
        self.closed: list[int] = []
        """The entries before the last, flat (the sentinel's first, once another is taken)."""
        self.edge = -1
        """The index of the last entry's edge (-1: the sentinel, nothing taken yet)."""
        self.count = 0
        """How many times in a row the last entry's edge was taken."""
        self.emitted_before = 0
        """Items emitted by the earlier runs of a resumed run."""

    def take(self, edge: int) -> None:
        """A new entry: ``edge``, taken once (after a different one)."""
        closed = self.closed
        closed.append(self.edge)
        closed.append(self.count)
        self.edge = edge
        self.count = 1

    @property
    def steps(self) -> list[int]:
        """Every entry, the sentinel's first, flat: ``edge index, times in a row`` per entry."""
        return [*self.closed, self.edge, self.count]

    @property
    def entries(self) -> int:
        """How many entries the path has, the sentinel's included."""
        return (len(self.closed) >> 1) + 1

    def edges(self) -> tuple[tuple[Edge, int], ...]:
        return self.since(1)

    def since(self, entry: int) -> tuple[tuple[Edge, int], ...]:
        """The entries from ``entry`` on (1 is the first after the sentinel)."""
        s = self.steps
        return tuple((EDGES[s[k]], s[k + 1]) for k in range(2 * entry, len(s), 2))

    def mark(self) -> TraceMark:
        return (self.entries, self.count)

    def emitted_at(self, mark: TraceMark) -> int:
        """Items emitted up to ``mark``: every step of an emitting edge emitted one item."""
        length, last_count = mark
        s = self.steps
        total = sum(s[k + 1] for k in range(2, 2 * length - 2, 2) if _EMITS[s[k]])
        if length > 1 and _EMITS[s[2 * length - 2]]:
            total += last_count
        return self.emitted_before + total
