"""What a diagram shows, independent of its format: states, arrows, and a trace's counts.

Both writers (mermaid, dot) draw the same :class:`Picture`, so they agree on every arrow, every
label line, the group box and every count; they differ only in how each format can show them.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence

from attrs import frozen

from ..machine.table import FINAL, TERMINAL, Edge, State
from ._trace import Trace

__all__ = ["START", "TIMES", "Arrow", "Line", "Node", "Picture", "picture"]

START = State.AwaitingCompletion
TIMES = "\N{MULTIPLICATION SIGN}"
"""The sign between an edge and its count in an overlay (as in "text_delta, 30 times")."""


@frozen
class Line:
    """One edge of the table on an arrow's label; ``count`` is how often the trace took it.

    ``edges`` are the indices of the table's edges the line stands for (several for a line of
    the group's arrow, one per state it leaves): what a report needs to find an edge's arrow.
    """

    text: str
    count: int | None
    edges: tuple[int, ...] = ()


@frozen
class Arrow:
    """Every edge from ``source`` to ``dest``; ``source`` None means "from any state of the group"."""

    source: State | None
    dest: State
    lines: tuple[Line, ...]

    @property
    def loop(self) -> bool:
        return self.source is self.dest

    @property
    def ending(self) -> bool:
        """Whether the arrow stops the run other than by success (drawn quieter than the flow)."""
        return self.dest in FINAL and self.dest is not State.Done

    @property
    def taken(self) -> int:
        return sum(line.count or 0 for line in self.lines)


@frozen
class Node:
    """A state; ``visits`` counts entries in the trace (None without one)."""

    state: State
    visits: int | None
    ended: bool
    grouped: bool
    """Inside the group box: arrows from the box leave this state too."""
    resumed: bool
    """The trace begins here, not at the start: a resumed run's trace."""

    @property
    def final(self) -> bool:
        """Where a run stops: the terminal states, and ``AwaitingApproval`` (resumable)."""
        return self.state in FINAL

    @property
    def resumable(self) -> bool:
        return self.state in FINAL and self.state not in TERMINAL

    @property
    def start(self) -> bool:
        return self.state is START

    @property
    def success(self) -> bool:
        return self.state is State.Done


@frozen
class Picture:
    title: str
    nodes: tuple[Node, ...]
    arrows: tuple[Arrow, ...]
    overlay: bool
    coverage: bool = False
    """The counts are edge coverage over many runs (a heat map), not one run's path."""

    @property
    def group(self) -> tuple[State, ...]:
        """The states in the group box, in enum order (empty when nothing is shared)."""
        return tuple(n.state for n in self.nodes if n.grouped)


_Alike = tuple[str, State | None, tuple[tuple[str, bool], ...]]


def shared_sources(edges: Sequence[Edge]) -> frozenset[State]:
    """The states that share the most edges (same trigger, dest and guard), e.g. the abort edges.

    Only edges that leave at least two states count; ties go to the set seen first in the table.
    """
    sources: dict[_Alike, set[State]] = {}
    for edge in edges:
        if edge.dest is not None:
            sources.setdefault((edge.trigger, edge.dest, edge.conditions), set()).add(edge.source)
    shared = Counter(frozenset(s) for s in sources.values() if len(s) > 1).most_common(1)
    return shared[0][0] if shared else frozenset()


def picture(edges: Sequence[Edge], trace: Trace | None, title: str, *, hits: Sequence[int] | None = None) -> Picture:
    """The arrows to draw, grouped, with the trace's counts (``trace`` must be checked already).

    With ``hits`` (times each edge was taken over many runs, by edge index) instead of a trace,
    the counts are coverage: every state taken into is visited, and nothing "ended" anywhere.

    Edges between the same two states become one arrow with a line each, in table order. Edges
    that leave every state of :func:`shared_sources` alike become one arrow from the group box
    (``source=None``), each line's count summed over the states it left; the other edges into
    the same state join that arrow, each line prefixed with the state it leaves.
    """
    taken: dict[int, int] = {}
    start = trace[0][0].source if trace else START
    visits: dict[State, int] = {start: 1}
    end = start
    steps = trace or () if hits is None else [(e, n) for e, n in zip(edges, hits, strict=True) if n]
    for edge, count in steps:
        taken[edge.index] = taken.get(edge.index, 0) + count
        if edge.dest is not None:
            visits[edge.dest] = visits.get(edge.dest, 0) + count
            end = edge.dest
    counted = trace is not None or hits is not None

    group = shared_sources(edges)
    alike: dict[_Alike, list[Edge]] = {}
    for edge in edges:
        alike.setdefault((edge.trigger, edge.dest, edge.conditions), []).append(edge)
    arrows: dict[tuple[State | None, State], list[list[Edge]]] = {}  # insertion order = table order
    for edge in edges:
        same = alike[(edge.trigger, edge.dest, edge.conditions)]
        shared = edge.dest is not None and {e.source for e in same} == group
        if shared and edge is not same[0]:
            continue
        key = (None if shared else edge.source, edge.dest or edge.source)
        arrows.setdefault(key, []).append(same if shared else [edge])

    def line(alike_edges: list[Edge], prefix: str = "") -> Line:
        counts = sum(taken.get(e.index, 0) for e in alike_edges) if counted else None
        return Line(prefix + alike_edges[0].label, counts, tuple(e.index for e in alike_edges))

    # Every other edge into a state the group reaches joins the group's arrow, prefixed with the
    # state it leaves: one arrow per such ending instead of one per state keeps labels apart.
    gathered = {dest for source, dest in arrows if source is None}
    drawn: dict[tuple[State | None, State], list[Line]] = {}
    for (source, dest), lines in arrows.items():
        if source is not None and source is not dest and dest in gathered:
            drawn.setdefault((None, dest), []).extend(line(g, f"{source.value}: ") for g in lines)
        elif source is None:
            drawn[(None, dest)] = [line(g) for g in lines] + drawn.get((None, dest), [])
        else:
            drawn[(source, dest)] = [line(g) for g in lines]
    nodes = tuple(
        Node(
            state,
            visits.get(state, 0) if counted else None,
            ended=trace is not None and state is end,
            grouped=state in group,
            resumed=trace is not None and state is start and start is not START,
        )
        for state in State
    )
    if trace is not None:
        title = f"{title}: one run's path, ended in {end.value}"
    gathered_arrows = tuple(Arrow(source, dest, tuple(lines)) for (source, dest), lines in drawn.items())
    return Picture(title, nodes, gathered_arrows, counted, coverage=hits is not None)
