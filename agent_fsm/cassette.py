"""Documented path of the model cassettes (record a model's calls, replay them offline); they
live in :mod:`agent_fsm.providers.cassette`, and this module is every name of it."""

from __future__ import annotations

from .providers.cassette import *  # noqa: F403 - the same names, listed once, there
from .providers.cassette import __all__ as __all__
