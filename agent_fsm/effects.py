"""Documented path of the effects seam (``agent_fsm.effects.Effects``); it lives in
:mod:`agent_fsm.run.effects`."""

from __future__ import annotations

from .run.effects import DirectEffects, Effects

__all__ = ["DirectEffects", "Effects"]
