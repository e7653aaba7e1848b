"""The ``agent-fsm`` command line. Each subcommand lives in its own module here.

The CLI is the only place that configures logging: structlog renders to the console on a
terminal and as JSON lines otherwise. By default only errors are logged: a failed run is the
command's own one-line message, and the log events that led to it (``model call failed``...) are
shown from ``-v`` (INFO, warnings included) and ``-vv`` (DEBUG).
"""

from __future__ import annotations

import argparse
import importlib
import logging
import sys
from collections.abc import Sequence

import structlog

__all__ = ["main"]

# One module per subcommand, each with register(subparsers).
_SUBCOMMANDS = ("demo", "run", "diagram", "fuzz", "replay", "report", "worker")


def configure_logging(verbosity: int) -> None:
    level = logging.ERROR if verbosity <= 0 else logging.INFO if verbosity == 1 else logging.DEBUG
    renderer: structlog.types.Processor = (
        structlog.dev.ConsoleRenderer() if sys.stderr.isatty() else structlog.processors.JSONRenderer(sort_keys=True)
    )
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso"),
            structlog.processors.format_exc_info,
            renderer,
        ],
        wrapper_class=structlog.make_filtering_bound_logger(level),
        # sys.stderr looked up per logger, not once: it may be replaced after this call (tests do).
        logger_factory=lambda *args: structlog.PrintLogger(sys.stderr),
        cache_logger_on_first_use=False,
    )


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="agent-fsm", description="Run, draw, fuzz and replay agent-fsm turn loops.")
    parser.add_argument(
        "-v",
        "--verbose",
        action="count",
        default=0,
        help="log more (-v: warnings and info, -vv: debug; default: errors)",
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name in _SUBCOMMANDS:
        importlib.import_module(f"{__name__}.{name}").register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    configure_logging(args.verbose)
    code: int = args.handler(args)
    return code
