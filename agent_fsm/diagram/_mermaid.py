"""A :class:`~._picture.Picture` as a mermaid ``stateDiagram-v2`` (GitHub renders it inline).

Mermaid places edge labels less carefully than Graphviz, so this writer works around what it
gets wrong (each found by rendering mermaid 11 in a browser and looking):

* A self-loop's label lands on top of its neighbours' labels, so internal transitions are listed
  inside their state's box (UML's internal-transition compartment), under an unlabelled loop.
* The group is a real composite state, ``Live``: its states are declared inside it, with the
  edges between them, and the edges every one of them shares (``close``, ``hook_error``...) leave
  its border (``Live --> Cancelled``). So the mermaid graph means what the SVG shows: a tool that
  follows mermaid's semantics reaches ``Cancelled`` and ``Failed`` from each live state. Edges
  that cross the border (into ``Finalizing``, ``AwaitingApproval``...) are written outside it.
* ``;`` ends a statement even inside a label, ``#lt;``-style entities come out garbled and
  ``<x>`` is read as HTML: text is escaped with numeric entities (``#59;``, ``#60;``, ...).
* Of several arrows between the same two states only the last is drawn, so the picture's
  one-arrow-per-pair matters here.
* Transitions cannot be styled one by one: an overlay makes the taken lines bold, with counts.
* The title is YAML front matter, quoted (a title may hold ``: ``).
"""

from __future__ import annotations

import json

from ..table import State
from ._picture import TIMES, Arrow, Line, Node, Picture

__all__ = ["GROUP_ID", "mermaid"]

GROUP_ID = "Live"
_CLASSES = {
    "success": "fill:#f0fdf4,stroke:#15803d,color:#14532d",
    "resumable": "fill:#f5f3ff,stroke:#6d28d9,color:#4c1d95",
    "ending": "fill:#fef2f2,stroke:#b91c1c,color:#7f1d1d",
    "visited": "fill:#dbeafe,stroke:#1d4ed8,stroke-width:2px,color:#0f172a",
    "ended": "fill:#fde68a,stroke:#b45309,stroke-width:4px,color:#0f172a",
    "unvisited": "fill:#ffffff,stroke:#cbd5e1,color:#94a3b8",
    "group": "fill:#ffffff,stroke:#94a3b8,stroke-dasharray:4 4,color:#64748b",
}


_ESCAPES = str.maketrans({c: f"#{ord(c)};" for c in '#;<>"'})


def _text(s: str) -> str:
    return s.translate(_ESCAPES)


def _line(line: Line) -> str:
    text = _text(line.text)
    return f"<b>{text} {TIMES}{line.count}</b>" if line.count else text


def _state(node: Node, loops: dict[str, Arrow], entries: dict[str, list[Line]]) -> list[str]:
    name = node.state.value
    label = name
    if node.visits:
        notes = ["run ended here"] * node.ended + ["resumed here"] * node.resumed + [f"visited {TIMES}{node.visits}"]
        label += " · " + ", ".join(notes)
    out = [f'state "{_text(label)}" as {name}']
    loop = loops.get(name)
    if loop is not None:
        out += [f"{name}: {_line(line)}" for line in loop.lines]
    out += [f"{name}: {_line(line)}" for line in entries.get(name, ())]
    return out


def _class(node: Node, overlay: bool) -> str | None:
    if overlay:
        return "ended" if node.ended else "visited" if node.visits else "unvisited"
    if node.final:
        return "success" if node.success else "resumable" if node.resumable else "ending"
    return None


def _arrow(arrow: Arrow, group: tuple[State, ...]) -> str:
    source = GROUP_ID if arrow.source is None else arrow.source.value
    lines = [line for line in arrow.lines if not (arrow.source is None and _from_one(line, group))]
    label = "" if arrow.loop else ": " + "<br>".join(_line(line) for line in lines)
    return f"{source} --> {arrow.dest.value}{label}"


def _from_one(line: Line, group: tuple[State, ...]) -> bool:
    """Whether a line of a group arrow is the edge of one state of the group (``Streaming: ...``)."""
    return any(line.text.startswith(f"{state.value}: ") for state in group)


def mermaid(picture: Picture) -> str:
    """The picture as mermaid source, ending in a newline."""
    loops = {a.dest.value: a for a in picture.arrows if a.loop}
    group = picture.group
    entries = {
        a.dest.value: [line for line in a.lines if _from_one(line, group)] for a in picture.arrows if a.source is None
    }
    grouped = any(a.source is None for a in picture.arrows)
    inside = set(picture.group) if grouped else set()

    def within(arrow: Arrow) -> bool:
        return arrow.source in inside and arrow.dest in inside

    out = [
        "---",
        f"title: {json.dumps(picture.title, ensure_ascii=False)}",
        "---",
        "stateDiagram-v2",
        "  %% Generated from agent_fsm.table by agent_fsm.diagram. Do not edit: run `make diagrams`.",
        "  direction TB",
    ]
    if grouped:
        out.append(f"  state {GROUP_ID} {{")
        members = [node for node in picture.nodes if node.state in inside]
        out += [f"    {line}" for node in members for line in _state(node, loops, entries)]
        out += [f"    {_arrow(a, group)}" for a in picture.arrows if within(a)]
        out.append("  }")
        out.append(f"  note left of {GROUP_ID}: any of {', '.join(s.value for s in picture.group)}")
    out += [f"  {line}" for node in picture.nodes if node.state not in inside for line in _state(node, loops, entries)]
    out += [f"  [*] --> {n.state.value}" for n in picture.nodes if n.start]
    out += [f"  {_arrow(a, group)}" for a in picture.arrows if not within(a)]
    out += [f"  {n.state.value} --> [*]" for n in picture.nodes if n.final]
    classes = [(n.state.value, _class(n, picture.overlay)) for n in picture.nodes]
    if grouped:
        classes.append((GROUP_ID, "group"))
    used = {c for _, c in classes if c is not None}
    out += [f"  classDef {c} {style}" for c, style in _CLASSES.items() if c in used]
    out += [f"  class {name} {c}" for name, c in classes if c is not None]
    return "\n".join(out) + "\n"
