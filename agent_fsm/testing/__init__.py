"""The testing kit: a scripted model, invariant checks, hypothesis strategies, a sync driver.

It ships with the package because users test their own hooks, tools and models with it, the way
``trio.testing`` ships with trio.
"""

from __future__ import annotations

from .invariants import check_history_invariants, check_run
from .scripted import ScriptedModel

__all__ = ["ScriptedModel", "check_history_invariants", "check_run"]
