"""Documented path of the synchronous driver; it is not a test double, so it lives with the other
driver in :mod:`agent_fsm.run.sync_driver`."""

from __future__ import annotations

from ..run.sync_driver import CONSUMER_CLOSED, SyncScript, drive_sync, iter_sync

__all__ = ["CONSUMER_CLOSED", "SyncScript", "drive_sync", "iter_sync"]
