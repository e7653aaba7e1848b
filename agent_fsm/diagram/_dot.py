"""A :class:`~._picture.Picture` as Graphviz dot source (``dot -Tsvg`` renders it).

Layout, settled by looking at the rendered picture until nothing overlapped: top to bottom; the
group's states in a dashed cluster (``compound=true`` lets its arrows leave from the border);
the main loop's arrows heavy (``weight``) so it stays compact, leaving a state from its bottom
(forward) or top (back), so that no arrow crosses the self-loops' labels on the right; endings
dashed and grey, weightless, spanning two ranks so their labels get a row of their own; the
terminal states on the bottom row, in a fixed order that crosses fewest arrows. The font is named
(DejaVu Sans, Debian's ``fonts-dejavu-core``) so the SVG is byte-identical wherever the same
Graphviz draws it.
"""

from __future__ import annotations

import math

from ..machine.table import State
from ._picture import TIMES, Arrow, Line, Node, Picture

__all__ = ["ARROW_ID", "FONT", "GROUP_CLUSTER", "STATE_ID", "dot"]

FONT = "DejaVu Sans"
GROUP_CLUSTER = "cluster_group"
_GROUP_CAPTION = "any of these states"
_INK = "#334155"
_QUIET = "#64748b"
_FAINT = "#cbd5e1"
_FAINT_TEXT = "#94a3b8"
_PATH = "#1d4ed8"
_NEVER = "#b91c1c"
_NEVER_MARK = "(never taken)"
_HEAT = ("#93c5fd", "#60a5fa", "#3b82f6", "#1d4ed8", "#1e3a8a")
"""Arrow colours of a coverage heat map, from the least taken arrow to the most."""
STATE_ID = "state_{}"
ARROW_ID = "arrow_{}"
"""SVG element ids of a state and of the n-th arrow: what a report's script finds them by."""
_FINAL_COLOURS = (("#f0fdf4", "#15803d"), ("#f5f3ff", "#6d28d9"), ("#fef2f2", "#b91c1c"))
"""Fill and border of a final state: success, resumable (AwaitingApproval), any other ending."""


_BOTTOM_ROW = (State.Cancelled, State.Failed, State.AwaitingApproval, State.Done, State.MaxTurnsExceeded)
"""Left to right, the final states' order that crosses fewest arrows (found by looking)."""


def _row_order(state: State) -> tuple[int, int]:
    """Position on the bottom row; a final state added later goes to the right, in enum order."""
    if state in _BOTTOM_ROW:
        return (0, _BOTTOM_ROW.index(state))
    return (1, list(State).index(state))


def _html(s: str) -> str:
    return s.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace('"', "&quot;")


def _attrs(**attrs: str) -> str:
    """``[k=v ...]`` in the order given; values starting with ``<`` are HTML labels, others quoted."""
    parts = [f"{k}={v}" if v.startswith("<") else f'{k}="{v}"' for k, v in attrs.items()]
    return f" [{' '.join(parts)}]" if parts else ""


def _line(line: Line, overlay: bool, coverage: bool = False) -> str:
    text = _html(line.text)
    if coverage and not line.count:
        text = f'<font color="{_NEVER}"><b>{text}  {_NEVER_MARK}</b></font>'
    elif line.count:
        text = f'<font color="{_PATH}"><b>{text}  {TIMES}{line.count}</b></font>'
    elif overlay:
        text = f'<font color="{_FAINT_TEXT}">{text}</font>'
    return text + '<br align="left"/>'


def _two_lines(name: str, note: str) -> str:
    return f'<{_html(name)}<br/><font point-size="10">{_html(note)}</font>>'


def _node(node: Node, overlay: bool, coverage: bool = False) -> str:
    name = node.state.value
    attrs: dict[str, str] = {}
    if node.final:
        attrs["peripheries"] = "2"
        attrs["fillcolor"], attrs["color"] = _FINAL_COLOURS[0 if node.success else 1 if node.resumable else 2]
    visited = f"{'resumed here, ' if node.resumed else ''}visited {TIMES}{node.visits}"
    if coverage:
        if not node.visits:
            attrs.update(fillcolor="#ffffff", color=_NEVER, fontcolor=_NEVER, style="rounded,filled,dashed")
        elif not node.final:
            attrs.update(fillcolor="#dbeafe", color=_PATH)
    elif overlay and node.ended:
        attrs.update(label=_two_lines(name, f"run ended here, {visited}"))
        attrs.update(fillcolor="#fde68a", color="#b45309", penwidth="3")
    elif overlay and node.visits:
        attrs.update(label=_two_lines(name, visited))
        attrs.update(fillcolor="#dbeafe", color=_PATH, penwidth="2")
    elif overlay:
        attrs.update(fillcolor="#ffffff", color=_FAINT, fontcolor=_FAINT_TEXT)
    attrs["id"] = STATE_ID.format(name)
    return f"{name}{_attrs(**attrs)}"


def _depths(picture: Picture) -> dict[State, int]:
    """Each state's distance from the start along the main flow (endings and loops left out)."""
    start = next(n.state for n in picture.nodes if n.start)
    depth = {start: 0}
    frontier = [start]
    while frontier:
        here = frontier.pop(0)
        for a in picture.arrows:
            if a.source is here and not a.loop and not a.ending and a.dest not in depth:
                depth[a.dest] = depth[here] + 1
                frontier.append(a.dest)
    return depth


def _heat(taken: int, most: int) -> str:
    """The arrow's colour on a log scale of how often it was taken, relative to the most taken."""
    if most <= 1:
        return _HEAT[-1]
    return _HEAT[min(len(_HEAT) - 1, int(math.log(max(taken, 1)) / math.log(most) * (len(_HEAT) - 1) + 0.5))]


def _arrow(arrow: Arrow, picture: Picture, n: int, anchor: str, depth: dict[State, int]) -> str:
    overlay, coverage = picture.overlay, picture.coverage
    source = anchor if arrow.source is None else arrow.source.value
    attrs = {"label": "<" + "".join(_line(line, overlay, coverage) for line in arrow.lines) + ">"}
    if arrow.source is None:
        attrs["ltail"] = GROUP_CLUSTER
    # Self-loops sit on a state's right with their labels; every other arrow leaves from the top
    # or the bottom, so none crosses those labels.
    if arrow.ending:
        # Endings may be long (they must not pull the main loop apart), and span two ranks, so
        # their labels get a row of their own above the final states.
        attrs.update(weight="0", minlen="2")
        if arrow.source is not None:
            attrs["tailport"] = "s"
    elif not arrow.loop and arrow.source is not None:
        attrs["weight"] = "4"  # keep the main loop short
        forward = depth.get(arrow.dest, 0) > depth.get(arrow.source, 0)
        attrs["tailport"] = "s" if forward else "n"
    if coverage:
        most = max(a.taken for a in picture.arrows)
        if arrow.taken:
            attrs.update(
                color=_heat(arrow.taken, most), penwidth=str(1 + 2 * _HEAT.index(_heat(arrow.taken, most)) / 4)
            )
        else:
            attrs.update(color=_NEVER, style="dashed", penwidth="2")
    elif overlay and arrow.taken:
        attrs.update(color=_PATH, penwidth="2.5")
    elif overlay:
        attrs.update(color=_FAINT, style="dashed" if arrow.ending else "solid")
    elif arrow.ending:
        attrs.update(color=_QUIET, fontcolor=_QUIET, style="dashed")
    attrs["id"] = ARROW_ID.format(n)
    return f"{source} -> {arrow.dest.value}{_attrs(**attrs)}"


def dot(picture: Picture) -> str:
    """The picture as dot source, ending in a newline."""
    overlay = picture.overlay
    grouped = [n for n in picture.nodes if n.grouped]
    start = next(n for n in picture.nodes if n.start)
    anchor = grouped[-1].state.value if grouped else ""  # arrows from the group leave the cluster's border
    font = f'fontname="{FONT}"'
    out = [
        "digraph turn_loop {",
        "  // Generated from agent_fsm.table by agent_fsm.diagram. Do not edit: run `make diagrams`.",
        f"  graph [{font} fontsize=16 label=<<b>{_html(picture.title)}</b>> labelloc=t rankdir=TB compound=true"
        " nodesep=0.6 ranksep=0.7 newrank=true]",
        f'  node [{font} fontsize=12 shape=box style="rounded,filled" fillcolor="#ffffff" color="{_INK}"'
        ' margin="0.2,0.1"]',
        f'  edge [{font} fontsize=10 color="{_INK}" arrowsize=0.8]',
        f'  start [label="" shape=circle width=0.22 fixedsize=true style=filled fillcolor="{_INK}" color="{_INK}"]',
    ]
    if grouped:
        out.append(f"  subgraph {GROUP_CLUSTER} {{")
        out.append(
            f'    label="{_GROUP_CAPTION}" labeljust=l style="rounded,dashed" color="{_FAINT_TEXT}"'
            f' fontcolor="{_QUIET}" fontsize=11'
        )
        out += [f"    {_node(n, overlay, picture.coverage)}" for n in grouped]
        out.append("  }")
    out += [f"  {_node(n, overlay, picture.coverage)}" for n in picture.nodes if not n.grouped]
    row = sorted((n.state for n in picture.nodes if n.final), key=_row_order)
    order = " [style=invis]" if len(row) > 1 else ""  # invisible arrows keep the row in that order
    out.append("  { rank=sink; " + " -> ".join(s.value for s in row) + order + " }")
    out.append(
        f"  start -> {start.state.value}"
        + (f' [color="{_PATH}" penwidth="2.5"]' if start.visits and not any(n.resumed for n in picture.nodes) else "")
    )
    depth = _depths(picture)
    out += [f"  {_arrow(a, picture, i, anchor, depth)}" for i, a in enumerate(picture.arrows)]
    out.append("}")
    return "\n".join(out) + "\n"
