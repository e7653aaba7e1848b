"""Documented path of the model cassettes (record a model's calls, replay them offline); they
live in :mod:`agent_fsm.providers.cassette`."""

from __future__ import annotations

from .providers.cassette import (
    CASSETTE_VERSION,
    CassetteCall,
    RecordingModel,
    ReplayMismatch,
    ReplayModel,
    fingerprint,
    read_cassette,
    write_cassette,
)

__all__ = [
    "CASSETTE_VERSION",
    "CassetteCall",
    "RecordingModel",
    "ReplayMismatch",
    "ReplayModel",
    "fingerprint",
    "read_cassette",
    "write_cassette",
]
