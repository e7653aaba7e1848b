"""Documented path of the default observer; it lives in :mod:`agent_fsm.observe.log`."""

from __future__ import annotations

from .observe.log import LoggingObserver

__all__ = ["LoggingObserver"]
