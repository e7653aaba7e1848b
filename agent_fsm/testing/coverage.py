"""Transition coverage: which edges of the machine's table fuzzed runs took, and how often.

The edges are :data:`agent_fsm.machine.table.EDGES` - the same list the diagrams draw - so "every edge
exercised" means every arrow of the picture was taken by some run. A run's path is its
``trace`` (``machine.trace`` / ``run.trace``): edges with counts of consecutive repeats.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from ..machine.table import EDGES, Edge

__all__ = ["EdgeCoverage"]


class EdgeCoverage:
    """Hits per edge over many runs: times taken, and runs that took it.

    Example::

        coverage = EdgeCoverage()
        coverage.add(record.trace)
        print(coverage.table())
        assert not coverage.missing
    """

    def __init__(self, edges: Iterable[Edge] = EDGES) -> None:
        self.edges: tuple[Edge, ...] = tuple(edges)
        self.hits = [0] * len(self.edges)
        self.runs = [0] * len(self.edges)
        self.total_runs = 0

    def add(self, trace: Iterable[tuple[Edge, int]]) -> None:
        """Count one run's path."""
        seen = set()
        hits = self.hits
        for edge, count in trace:
            hits[edge.index] += count
            seen.add(edge.index)
        for i in seen:
            self.runs[i] += 1
        self.total_runs += 1

    def merge(self, other: EdgeCoverage) -> None:
        for i in range(len(self.edges)):
            self.hits[i] += other.hits[i]
            self.runs[i] += other.runs[i]
        self.total_runs += other.total_runs

    @property
    def covered(self) -> int:
        """How many edges were taken at least once."""
        return sum(1 for h in self.hits if h)

    @property
    def missing(self) -> list[Edge]:
        """The edges no run took."""
        return [e for e, h in zip(self.edges, self.hits, strict=True) if not h]

    def rows(self) -> list[tuple[Edge, int, int]]:
        """(edge, times taken, runs that took it), in table order."""
        return list(zip(self.edges, self.hits, self.runs, strict=True))

    def table(self) -> str:
        """The coverage as a plain-text table, one edge per line, unexercised ones marked."""
        rows = [("#", "from", "to", "edge", "hits", "runs")]
        for e, hits, runs in self.rows():
            dest = e.dest.value if e.dest is not None else "(stays)"
            rows.append(
                (str(e.index), e.source.value, dest, e.label, str(hits), str(runs) + ("" if hits else "  MISSING"))
            )
        widths = [max(len(r[i]) for r in rows) for i in range(5)]
        lines = []
        for r in rows:
            cells = [r[i].rjust(widths[i]) if i in (0, 4) else r[i].ljust(widths[i]) for i in range(5)]
            lines.append("  ".join(cells) + "  " + r[5])
        lines.append(f"edges covered: {self.covered}/{len(self.edges)} over {self.total_runs} runs")
        return "\n".join(lines)

    def to_json_value(self) -> dict[str, Any]:
        return {
            "covered": self.covered,
            "total": len(self.edges),
            "runs": self.total_runs,
            "edges": [{"index": e.index, "label": e.label, "hits": h, "runs": r} for e, h, r in self.rows()],
        }
