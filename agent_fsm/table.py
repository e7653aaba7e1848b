"""Documented path of the one table the machine runs on (and the diagrams are drawn from); it
lives in :mod:`agent_fsm.machine.table`."""

from __future__ import annotations

from .machine.table import (
    EDGES,
    FINAL,
    GUARD_WORDS,
    LIVE,
    STATES,
    TABLE,
    TERMINAL,
    TRANSITIONS,
    TRIGGER_HOOKS,
    Edge,
    State,
    build_machine,
)

__all__ = [
    "EDGES",
    "FINAL",
    "GUARD_WORDS",
    "LIVE",
    "STATES",
    "TABLE",
    "TERMINAL",
    "TRANSITIONS",
    "TRIGGER_HOOKS",
    "Edge",
    "State",
    "build_machine",
]
