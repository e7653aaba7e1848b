"""A :class:`~._picture.Picture` as a mermaid ``stateDiagram-v2`` (GitHub renders it inline).

Mermaid places edge labels less carefully than Graphviz, so this writer works around what it
gets wrong (each found by rendering mermaid 11 in a browser and looking):

* A self-loop's label lands on top of its neighbours' labels, so internal transitions are listed
  inside their state's box (UML's internal-transition compartment), under an unlabelled loop.
* The group box is a dashed pseudo-state, "any of AwaitingCompletion, Streaming, ExecutingTool":
  a composite state would be the UML form, but mermaid lays edges crossing its border out badly
  and will not style states inside it.
* ``;`` ends a statement even inside a label, ``#lt;``-style entities come out garbled and
  ``<x>`` is read as HTML: text is escaped with numeric entities (``#59;``, ``#60;``, ...).
* Of several arrows between the same two states only the last is drawn, so the picture's
  one-arrow-per-pair matters here.
* Transitions cannot be styled one by one: an overlay makes the taken lines bold, with counts.
* The title is YAML front matter, quoted (a title may hold ``: ``).
"""

from __future__ import annotations

import json

from ._picture import TIMES, Arrow, Line, Node, Picture

__all__ = ["GROUP_ID", "mermaid"]

GROUP_ID = "Group"
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


def _state(node: Node, loops: dict[str, Arrow]) -> list[str]:
    name = node.state.value
    label = name
    if node.visits:
        notes = ["run ended here"] * node.ended + ["resumed here"] * node.resumed + [f"visited {TIMES}{node.visits}"]
        label += " · " + ", ".join(notes)
    out = [f'state "{_text(label)}" as {name}']
    loop = loops.get(name)
    if loop is not None:
        out += [f"{name}: {_line(line)}" for line in loop.lines]
    return out


def _class(node: Node, overlay: bool) -> str | None:
    if overlay:
        return "ended" if node.ended else "visited" if node.visits else "unvisited"
    if node.final:
        return "success" if node.success else "resumable" if node.resumable else "ending"
    return None


def mermaid(picture: Picture) -> str:
    """The picture as mermaid source, ending in a newline."""
    loops = {a.dest.value: a for a in picture.arrows if a.loop}
    arrows = []
    for arrow in picture.arrows:
        source = GROUP_ID if arrow.source is None else arrow.source.value
        label = "" if arrow.loop else ": " + "<br>".join(_line(line) for line in arrow.lines)
        arrows.append(f"{source} --> {arrow.dest.value}{label}")
    grouped = any(a.source is None for a in picture.arrows)

    out = [
        "---",
        f"title: {json.dumps(picture.title, ensure_ascii=False)}",
        "---",
        "stateDiagram-v2",
        "  %% Generated from agent_fsm.table by agent_fsm.diagram. Do not edit: run `make diagrams`.",
        "  direction TB",
    ]
    out += [f"  {line}" for node in picture.nodes for line in _state(node, loops)]
    if grouped:
        out.append(f'  state "any of {", ".join(s.value for s in picture.group)}" as {GROUP_ID}')
    out += [f"  [*] --> {n.state.value}" for n in picture.nodes if n.start]
    out += [f"  {a}" for a in arrows]
    out += [f"  {n.state.value} --> [*]" for n in picture.nodes if n.final]
    classes = [(n.state.value, _class(n, picture.overlay)) for n in picture.nodes]
    if grouped:
        classes.append((GROUP_ID, "group"))
    used = {c for _, c in classes if c is not None}
    out += [f"  classDef {c} {style}" for c, style in _CLASSES.items() if c in used]
    out += [f"  class {name} {c}" for name, c in classes if c is not None]
    return "\n".join(out) + "\n"
