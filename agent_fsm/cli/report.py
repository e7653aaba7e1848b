"""``agent-fsm report CASSETTE -o run.html``: a recorded run as one self-contained HTML page.

The cassette is re-run exactly as ``agent-fsm replay`` re-runs it (same ``--hook``, ``--tools`` and
``--max-turns``), and the run is written as a report (:func:`agent_fsm.diagram.report`): its path
on the live diagram, its timeline and its history, stepped through with the arrow keys. The page
fetches nothing and holds no timestamp, so the same cassette gives the same bytes.

Exit codes: 0 written (also for a run that ended in an error: the report shows it), 2 bad usage
(not a cassette, a hook or tools that cannot be imported, Graphviz missing), 3 the replay sent a
request other than the recorded one (the difference is printed).
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from pathlib import Path
from typing import Any

from ..diagram import GraphvizError, record_run, report
from ..errors import ConfigurationError
from ..providers.cassette import ReplayMismatch
from ._load import LoadError
from .replay import replay_agent, replay_options, start_run

__all__ = ["register"]


def register(sub: Any) -> None:
    p: argparse.ArgumentParser = sub.add_parser(
        "report",
        help="re-run a recorded cassette and write it as a self-contained HTML report",
        description=(
            "Re-run a recorded cassette as agent-fsm replay does (same --hook, --tools, --max-turns) and write "
            "the run as one self-contained HTML page: its path on the live diagram, its timeline and its "
            "history, stepped through with the arrow keys. Nothing is fetched; the same cassette gives the "
            "same bytes."
        ),
    )
    replay_options(p)
    p.add_argument("-o", "--output", required=True, metavar="FILE", help="where to write the report (run.html)")
    p.add_argument("--title", help="the report's title (default: the cassette's file name)")
    p.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    try:
        agent, calls = replay_agent(args)
        title = args.title or Path(args.cassette).name
        log = asyncio.run(record_run(start_run(agent, calls), title=title))
        if isinstance(log.error, ReplayMismatch):
            print(f"agent-fsm report: {log.error}", file=sys.stderr)
            return 3
        Path(args.output).write_text(report(log), encoding="utf-8")
    except (ConfigurationError, LoadError, GraphvizError) as exc:
        print(f"agent-fsm report: {exc}", file=sys.stderr)
        return 2
    print(f"wrote {args.output}: {len(log.trace) + 1} steps, ended in {log.state.value}")
    return 0
