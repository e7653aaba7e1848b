"""``python -m agent_fsm.diagram [--check] [DIR]``: write or check the committed diagrams.

``make diagrams`` writes them, and refreshes the mermaid blocks marked in the README and
``docs/*.md`` beside ``DIR``, and takes the README's screenshot of the demo run's report (headless
Chromium; not drift-checked, its source is); ``make diagrams-check`` fails, naming each stale file, when the code
would draw something else than what is committed.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Mapping, Sequence
from functools import partial
from pathlib import Path

from ._browser import BrowserNotFound, screenshot
from ._gallery import REPORT, SCREENSHOT, SCREENSHOT_STEP, committed, embed, markdown_files
from ._graphviz import GraphvizError


def _embedded(doc: Path, makers: Mapping[str, Callable[[], bytes]]) -> bytes:
    return embed(doc.read_text(encoding="utf-8"), makers).encode()


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m agent_fsm.diagram", description=__doc__.splitlines()[0])
    parser.add_argument("directory", nargs="?", default="diagrams", type=Path, help="where they live (diagrams)")
    parser.add_argument("--check", action="store_true", help="compare instead of writing; exit 1 if any differs")
    args = parser.parse_args(argv)
    directory: Path = args.directory
    stale = []
    try:
        makers = committed()
        outputs = [(directory / name, make) for name, make in makers.items()]
        outputs += [(doc, partial(_embedded, doc, makers)) for doc in markdown_files(directory.parent)]
        for path, make in outputs:
            data = make()
            current = path.read_bytes() if path.exists() else None
            if current == data:
                continue
            if args.check:
                stale.append(path)
                print(f"{path} differs from what agent_fsm.diagram generates: run `make diagrams`", file=sys.stderr)
            else:
                path.parent.mkdir(parents=True, exist_ok=True)
                path.write_bytes(data)
                print(f"wrote {path}")
        if not args.check and (directory / REPORT).exists():
            # Not drift-checked (a browser's pixels vary with its version): its source, REPORT, is.
            screenshot(directory / REPORT, directory / SCREENSHOT, steps=SCREENSHOT_STEP)
            print(f"wrote {directory / SCREENSHOT}")
    except (GraphvizError, BrowserNotFound) as exc:
        print(f"python -m agent_fsm.diagram: {exc}", file=sys.stderr)
        return 2
    return 1 if stale else 0


if __name__ == "__main__":
    sys.exit(main())
