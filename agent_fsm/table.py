"""Documented path of the one table the machine runs on (and the diagrams are drawn from); it
lives in :mod:`agent_fsm.machine.table`, and this module is every name of it."""

from __future__ import annotations

from .machine.table import *  # noqa: F403 - the same names, listed once, there
from .machine.table import __all__ as __all__
