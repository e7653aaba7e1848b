"""The diagrams committed under ``diagrams/``, and how each is made (``make diagrams``).

One list, used by ``python -m agent_fsm.diagram`` to write them and by the drift test to compare
them, so the two cannot disagree about what is committed. Markdown that shows a diagram inline
(the README, ``docs/``) marks the block, and the same command keeps it current::

    <!-- diagram: turn_loop.mmd -->
    ```mermaid
    ...
    ```
    <!-- /diagram -->
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Callable, Mapping
from pathlib import Path

from ..machine.table import Edge
from ._steps import RunLog, record_run

__all__ = [
    "EXAMPLE",
    "IMAGES",
    "REPORT",
    "SCREENSHOT",
    "SCREENSHOT_STEP",
    "committed",
    "demo_log",
    "demo_trace",
    "embed",
    "markdown_files",
]

EXAMPLE = "example_run_tool_loop"
"""The overlay example: the demo's scripted run (two tool turns, then the answer)."""
REPORT = "example_run_report.html"
"""The demo run's report (``agent-fsm report``); the README shows a screenshot of it."""
SCREENSHOT = "example_run_report.png"
"""That screenshot, taken by headless Chromium. Only ``make diagrams`` takes it: a browser's
pixels change with its version and fonts, so the drift check compares the report it shows
(:data:`REPORT`, byte-stable), not the picture."""
SCREENSHOT_STEP = 13
"""The step the screenshot shows: the first tool result, the path half drawn."""
IMAGES = frozenset({"turn_loop.svg", f"{EXAMPLE}.svg", REPORT})
"""The files that need Graphviz's ``dot``."""


def demo_log() -> RunLog:
    """The demo run (``agent-fsm demo``: scripted model, real tools, no network), for a report."""
    from ..testing.demo_agent import DEMO_PROMPT, build_demo_agent

    return asyncio.run(record_run(build_demo_agent().stream_prompt(DEMO_PROMPT), title="agent-fsm demo run"))


def demo_trace() -> tuple[tuple[Edge, int], ...]:
    """The path of the demo run."""
    return demo_log().trace


def committed(*, images: bool = True) -> dict[str, Callable[[], bytes]]:
    """Each file of ``diagrams/`` by name, with what makes its bytes (images only if ``images``).

    The overlay is drawn from the committed trace JSON, as ``agent-fsm diagram --trace`` would.
    """
    from . import render, render_image, report, trace_from_json, trace_to_json

    log = demo_log()
    trace_json = trace_to_json(log.trace)
    trace = trace_from_json(trace_json)
    files: dict[str, Callable[[], bytes]] = {
        "turn_loop.mmd": lambda: render("mermaid").encode(),
        "turn_loop.dot": lambda: render("dot").encode(),
        "turn_loop.svg": lambda: render_image("svg"),
        f"{EXAMPLE}.trace.json": lambda: trace_json.encode(),
        f"{EXAMPLE}.mmd": lambda: render("mermaid", trace=trace).encode(),
        f"{EXAMPLE}.svg": lambda: render_image("svg", trace=trace),
        REPORT: lambda: report(log).encode(),
    }
    return {name: make for name, make in files.items() if images or name not in IMAGES}


_BLOCK = re.compile(r"(<!-- diagram: (?P<name>[\w.-]+\.mmd) -->\n).*?(<!-- /diagram -->)", re.S)


def markdown_files(root: Path) -> list[Path]:
    """The README and ``docs/*.md`` under ``root`` that embed a marked diagram block."""
    candidates = [root / "README.md", *sorted((root / "docs").glob("*.md"))]
    return [p for p in candidates if p.is_file() and _BLOCK.search(p.read_text(encoding="utf-8"))]


def embed(markdown: str, files: Mapping[str, Callable[[], bytes]]) -> str:
    """``markdown`` with each marked block holding the current text of the diagram it names.

    Raises:
        KeyError: for a block naming a diagram that is not generated.
    """

    def block(match: re.Match[str]) -> str:
        text = files[match["name"]]().decode()
        return f"{match[1]}```mermaid\n{text}```\n{match[3]}"

    return _BLOCK.sub(block, markdown)
