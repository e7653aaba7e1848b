"""Where the library's structured log events go.

The library never configures structlog. When the application has configured it, events go through
the application's configuration. When it has not, they go to the standard library logger
``agent_fsm`` instead of structlog's default of printing everything to stdout, which no embedder
asked for. That logger has a ``NullHandler``, as a library's should: an application that configured
no logging sees nothing (not even WARNING through Python's last-resort handler on stderr).
"""

from __future__ import annotations

import logging
from typing import Any

import structlog

__all__ = ["enabled", "get_logger", "listening"]

_STDLIB = logging.getLogger("agent_fsm")
_STDLIB.addHandler(logging.NullHandler())
_FALLBACK_PROCESSORS: tuple[Any, ...] = (
    structlog.stdlib.filter_by_level,
    structlog.contextvars.merge_contextvars,
    structlog.processors.format_exc_info,
    structlog.processors.KeyValueRenderer(key_order=["event"], sort_keys=True),
)
"""The chain used when the application has not configured structlog (constant: it is not config)."""


def get_logger(**context: Any) -> Any:
    """A structlog logger bound to ``context``, routed as the module docstring says."""
    if structlog.is_configured():
        return structlog.get_logger("agent_fsm").bind(**context)
    # Built directly rather than through ``wrap_logger(...).bind()``: a tenth of the cost, per run.
    return structlog.stdlib.BoundLogger(_STDLIB, _FALLBACK_PROCESSORS, context)


def enabled(logger: Any, level: int = logging.DEBUG) -> bool:
    """Whether ``logger`` would emit at ``level`` (cheap; lets hot code skip building events)."""
    if isinstance(logger, structlog.stdlib.BoundLogger):
        return logger.isEnabledFor(level)
    is_enabled_for = getattr(logger, "is_enabled_for", None)
    if is_enabled_for is not None:
        return bool(is_enabled_for(level))
    return True


def listening(level: int) -> bool | None:
    """Whether the library's logger emits at ``level``, when that can be told without making a
    logger (structlog is not configured: the stdlib logger decides); else ``None``."""
    if structlog.is_configured():
        return None
    return _STDLIB.isEnabledFor(level)
