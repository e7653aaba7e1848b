"""The diagrams are valid for the real tools: mermaid's own parser (Node), and Graphviz's ``dot``.

The mermaid check runs ``tests/js/parse.mjs`` on the npm package ``mermaid`` under jsdom (install
it with ``make js-deps``, i.e. ``npm ci`` in ``tests/js``); it is skipped only when Node is absent.
The dot check is skipped only when Graphviz is absent. CI installs both (``.ci/run``).
"""

from __future__ import annotations

import asyncio
import shutil
import subprocess
from pathlib import Path

import pytest

from agent_fsm import Agent
from agent_fsm.diagram import render
from agent_fsm.diagram._gallery import demo_trace
from agent_fsm.events import Final, TextDelta
from agent_fsm.messages import Usage
from agent_fsm.table import Edge
from agent_fsm.testing import ScriptedModel

from .support import collect

JS = Path(__file__).resolve().parent / "js"
DIAGRAMS = Path(__file__).resolve().parent.parent / "diagrams"


def _failed_run_trace() -> tuple[tuple[Edge, int], ...]:
    run = Agent(model=ScriptedModel([[TextDelta("a"), RuntimeError("boom"), Final(Usage())]])).stream_prompt("hi")
    asyncio.run(collect(run))
    return run.trace


def _diagrams(fmt: str) -> dict[str, str]:
    return {
        "table": render(fmt),  # type: ignore[arg-type]
        "demo run": render(fmt, trace=demo_trace()),  # type: ignore[arg-type]
        "failed run": render(fmt, trace=_failed_run_trace()),  # type: ignore[arg-type]
    }


def _node() -> str:
    node = shutil.which("node")
    if node is None:
        pytest.skip("Node is not installed: mermaid's parser cannot run")
    if not (JS / "node_modules" / "mermaid").is_dir():
        pytest.fail("tests/js/node_modules is missing: run `make js-deps` (npm ci in tests/js)")
    return node


def _parse(paths: list[Path]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [_node(), str(JS / "parse.mjs"), *map(str, paths)], capture_output=True, text=True, timeout=120
    )


def test_mermaid_parser_accepts_every_diagram(tmp_path: Path) -> None:
    paths = []
    for name, text in _diagrams("mermaid").items():
        path = tmp_path / f"{name.replace(' ', '_')}.mmd"
        path.write_text(text)
        paths.append(path)
    paths += sorted(DIAGRAMS.glob("*.mmd"))
    done = _parse(paths)
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout.splitlines() == [f"ok {p} stateDiagram" for p in paths]


def test_mermaid_parser_harness_rejects_a_broken_diagram(tmp_path: Path) -> None:
    """The check above is not vacuous: the harness does fail on a syntax error."""
    broken = tmp_path / "broken.mmd"
    broken.write_text(render("mermaid").replace("  [*] --> AwaitingCompletion", "  [*] --> --> AwaitingCompletion"))
    done = _parse([broken])
    assert done.returncode == 1
    assert done.stdout.startswith(f"FAIL {broken}: Parse error")


@pytest.mark.skipif(shutil.which("dot") is None, reason="Graphviz's dot is not installed")
@pytest.mark.parametrize("name", ["table", "demo run", "failed run"])
def test_dot_renders_every_diagram_without_a_warning(name: str) -> None:
    source = _diagrams("dot")[name]
    done = subprocess.run(["dot", "-Tsvg"], input=source, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stderr == ""
    assert "<svg" in done.stdout


def test_mermaid_graph_as_mermaid_reads_it_means_what_the_table_says(tmp_path: Path) -> None:
    """Read back through mermaid's parser: the group is a composite state holding the live states,
    and following mermaid's semantics (an edge from a composite leaves each state inside it), every
    state the table can reach from a state is reachable from it in the mermaid graph."""
    import json

    from agent_fsm.table import EDGES, State

    path = tmp_path / "table.mmd"
    path.write_text(render("mermaid"))
    done = subprocess.run(
        [_node(), str(JS / "parse.mjs"), "--tree", str(path)], capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    tree = json.loads(done.stdout)
    parents: dict[str, str | None] = tree["parents"]
    states = {s.value for s in State}
    assert {name for name in parents if name not in states} == {"Live", "root_start", "root_end"}
    live = {name for name, parent in parents.items() if parent == "Live"}
    assert live == {e.source.value for e in EDGES if e.trigger == "close"}

    def leaves(name: str) -> set[str]:
        inside = {child for child, parent in parents.items() if parent == name}
        return inside or {name}

    mermaid_next = {(a, b) for src, dst in tree["relations"] for a in leaves(src) for b in leaves(dst)}
    table_next = {(e.source.value, (e.dest or e.source).value) for e in EDGES}  # dest None: internal
    assert table_next <= mermaid_next
    for state in live:
        assert (state, "Cancelled") in mermaid_next and (state, "Failed") in mermaid_next
