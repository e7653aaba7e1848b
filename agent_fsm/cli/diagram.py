"""``agent-fsm diagram``: the turn loop as mermaid, dot, SVG or PNG, optionally with a run's path.

Text formats need nothing installed; SVG and PNG are drawn by Graphviz's ``dot``, and without it
the command says so in one line and exits 2, as it does for a trace file it cannot use.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from ..diagram import GraphvizError, TraceError, render, render_image, trace_from_json

_FORMATS = ("mermaid", "dot", "svg", "png")
_BY_SUFFIX = {".mmd": "mermaid", ".mermaid": "mermaid", ".dot": "dot", ".gv": "dot", ".svg": "svg", ".png": "png"}


def register(sub: Any) -> None:
    p: argparse.ArgumentParser = sub.add_parser(
        "diagram",
        help="draw the state machine (mermaid, dot, svg, png), optionally with a run's path",
        description="Draw the turn loop's state machine from its live definition. With --trace, highlight the "
        "states and edges one run visited (a trace saved by agent_fsm.diagram.trace_to_json).",
    )
    p.add_argument(
        "--format",
        choices=_FORMATS,
        help="output format (default: from the -o suffix, else mermaid); svg and png need Graphviz's dot",
    )
    p.add_argument("--trace", type=Path, metavar="FILE", help="a run's trace as JSON, to overlay on the diagram")
    p.add_argument("-o", "--output", type=Path, metavar="PATH", help="write here instead of standard output")
    p.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    output: Path | None = args.output
    fmt: str = args.format or (_BY_SUFFIX.get(output.suffix.lower(), "mermaid") if output else "mermaid")
    trace = None
    if args.trace is not None:
        try:
            trace = trace_from_json(args.trace.read_bytes())
        except OSError as exc:
            return _fail(f"cannot read trace {args.trace}: {exc.strerror or exc}")
        except TraceError as exc:
            return _fail(f"{args.trace}: {exc}")
    if fmt in ("svg", "png") and output is None and sys.stdout.isatty():
        return _fail(f"not writing {fmt} to a terminal; use -o FILE")
    makers: dict[str, Callable[[], bytes]] = {
        "mermaid": lambda: render("mermaid", trace=trace).encode(),
        "dot": lambda: render("dot", trace=trace).encode(),
        "svg": lambda: render_image("svg", trace=trace),
        "png": lambda: render_image("png", trace=trace),
    }
    try:
        data = makers[fmt]()
    except GraphvizError as exc:
        return _fail(str(exc))
    if output is None:
        sys.stdout.buffer.write(data)
        sys.stdout.flush()
    else:
        try:
            output.write_bytes(data)
        except OSError as exc:
            return _fail(f"cannot write {output}: {exc.strerror or exc}")
    return 0


def _fail(message: str) -> int:
    print(f"agent-fsm diagram: {message}", file=sys.stderr)
    return 2
