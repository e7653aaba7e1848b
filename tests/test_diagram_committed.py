"""diagrams/ is what the code draws today: ``make test`` fails, naming the file, when it is stale."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from agent_fsm.diagram import render_image
from agent_fsm.diagram._gallery import IMAGES, committed, embed, markdown_files

ROOT = Path(__file__).resolve().parent.parent
DIAGRAMS = ROOT / "diagrams"
_HAS_DOT = shutil.which("dot") is not None


def _check(names: set[str]) -> None:
    makers = committed(images=bool(names & IMAGES))
    stale = []
    for name in sorted(names):
        path = DIAGRAMS / name
        if not path.exists() or path.read_bytes() != makers[name]():
            stale.append(f"diagrams/{name}")
    assert not stale, f"{', '.join(stale)} differ(s) from what agent_fsm.diagram generates: run `make diagrams`"


def test_committed_text_diagrams_are_current() -> None:
    _check(set(committed(images=False)))


@pytest.mark.skipif(not _HAS_DOT, reason="Graphviz's dot is not installed: the committed SVGs are not checked")
def test_committed_svg_diagrams_are_current() -> None:
    _check(set(IMAGES))


@pytest.mark.skipif(not _HAS_DOT, reason="Graphviz's dot is not installed")
def test_svg_is_byte_stable() -> None:
    """Two renderings give the same bytes, with no Graphviz version in them (the drift check needs it)."""
    first, second = render_image("svg"), render_image("svg")
    assert first == second
    assert b"graphviz version" not in first


def test_markdown_embeds_the_current_mermaid_diagram() -> None:
    docs = markdown_files(ROOT)
    assert ROOT / "README.md" in docs, "the README embeds the mermaid diagram"
    makers = committed(images=False)
    stale = [str(p.relative_to(ROOT)) for p in docs if embed(p.read_text(encoding="utf-8"), makers) != p.read_text()]
    assert not stale, f"the mermaid block in {', '.join(stale)} is out of date: run `make diagrams`"


def test_embed_fills_each_marked_block() -> None:
    makers = {"a.mmd": lambda: b"stateDiagram-v2\n  A --> B\n"}
    before = "intro\n<!-- diagram: a.mmd -->\nold\n<!-- /diagram -->\nend\n"
    after = embed(before, makers)
    assert (
        after == "intro\n<!-- diagram: a.mmd -->\n```mermaid\nstateDiagram-v2\n  A --> B\n```\n<!-- /diagram -->\nend\n"
    )
    assert embed(after, makers) == after
    with pytest.raises(KeyError):
        embed("<!-- diagram: gone.mmd -->\n<!-- /diagram -->", makers)
