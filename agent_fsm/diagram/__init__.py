"""State diagrams of the turn loop, generated from the live machine's edges, never drawn by hand.

Reviewers read the machine as a picture, so the picture comes from the one definition the machine
runs on: :data:`agent_fsm.machine.table.EDGES`, read back from a live ``transitions.Machine``. Change the
table and ``make diagrams`` redraws ``diagrams/``; ``make test`` fails while they differ.

Why the text is generated here rather than by ``transitions``' ``GraphMachine``: its output (0.9.3)
needs more fixing than it saves. Its guards are condition *names* (``[verdict_continues]``), not
words; its mermaid title is a bare front-matter line; final states are unmarked; it styles the
*model's current* state as active and, in an overlay, keeps only the last edge; and it joins every
edge between two states on one line, ``|``-separated, internal ones tagged ``[internal]``. Fixing
all that is regex surgery on its output; writing the ~35 edges out directly is shorter. A test
checks that we draw exactly the (source, dest, trigger) triples ``GraphMachine`` sees, so the two
cannot drift apart either.

What every picture does, and why:

* Edges between the same two states are ONE arrow whose label lists each edge, trigger and guard
  in words (:attr:`Edge.label <agent_fsm.machine.table.Edge.label>`), one per line, in table order.
* Internal transitions (``dest=None``: the deltas) are a self-loop on their state.
* The abort edges (``close``, ``hook_error``, ``illegal_event``: the same trigger, guard and target
  from each of several states) are drawn once, from a box around those states - "any of these
  states", found from the table, not named here - as in UML, where a transition leaving a
  composite state leaves any of its substates. Every other edge into a state that box reaches
  (``Cancelled``, ``Failed``) joins that arrow as a line prefixed with the state it leaves. So
  there is one arrow per ending instead of one per state and ending, and the main flow reads at
  a glance: 9 arrows between states for the table's 24 state-changing edges (plus 2 self-loops
  for its 11 internal ones).
* Endings other than ``Done`` are quieter (dashed in dot); the start is a filled dot; final states
  (terminal ones and the resumable ``AwaitingApproval``) have a double border in dot and an arrow
  to mermaid's ``[*]`` end marker.
* With a ``trace``, visited states and taken edges are highlighted with their counts, and the
  state the run ended in is marked. Each format's own compromises are in its writer's docstring
  (:mod:`._mermaid`, :mod:`._dot`).

Output is deterministic: states in enum order, arrows and lines in table order, no timestamps or
versions, so a diff of ``diagrams/`` shows only real changes.
"""

from __future__ import annotations

from typing import Literal, TypeAlias

from ..machine.table import EDGES
from ._dot import dot
from ._graphviz import IMAGE_FORMATS, GraphvizError, GraphvizNotFound, ImageFormat, dot_to_image
from ._mermaid import mermaid
from ._picture import picture
from ._report import Campaign, Failure, fuzz_report, log_of_record, report
from ._steps import RunLog, Step, record_run, steps
from ._trace import Trace, TraceError, check_trace, trace_from_json, trace_to_json

__all__ = [
    "FORMATS",
    "Campaign",
    "Failure",
    "RunLog",
    "Step",
    "IMAGE_FORMATS",
    "TITLE",
    "Format",
    "GraphvizError",
    "GraphvizNotFound",
    "ImageFormat",
    "Trace",
    "TraceError",
    "fuzz_report",
    "log_of_record",
    "record_run",
    "render",
    "render_image",
    "report",
    "steps",
    "trace_from_json",
    "trace_to_json",
]

Format: TypeAlias = Literal["mermaid", "dot"]
FORMATS: tuple[Format, ...] = ("mermaid", "dot")
TITLE = "agent-fsm turn loop"


def render(fmt: Format = "mermaid", *, trace: Trace | None = None) -> str:
    """The turn loop as a mermaid state diagram or Graphviz dot source.

    Args:
        fmt: ``"mermaid"`` (``stateDiagram-v2``; GitHub renders it) or ``"dot"`` (Graphviz source;
            ``dot -Tsvg`` or :func:`render_image` draws it).
        trace: a run's path (``run.trace``, or :func:`trace_from_json`): visited states and taken
            edges are highlighted with their counts, and the state the run ended in is marked.

    Returns:
        The diagram's text, ending in a newline; equal inputs give equal text.

    Raises:
        ValueError: for an unknown ``fmt``.
        TraceError: for a trace naming an edge the machine does not have, or that is not a path.
    """
    if fmt not in FORMATS:
        raise ValueError(f"unknown diagram format {fmt!r}; expected one of: {', '.join(FORMATS)}")
    drawn = picture(EDGES, None if trace is None else check_trace(trace), TITLE)
    return mermaid(drawn) if fmt == "mermaid" else dot(drawn)


def render_image(fmt: ImageFormat = "svg", *, trace: Trace | None = None) -> bytes:
    """The dot diagram drawn by Graphviz's ``dot`` as SVG or PNG (same picture as ``render("dot")``).

    Raises:
        GraphvizNotFound: when Graphviz's ``dot`` is not installed (Debian package ``graphviz``).
        GraphvizError: when ``dot`` fails.
        TraceError: as for :func:`render`.
    """
    return dot_to_image(render("dot", trace=trace), fmt)
