"""Documented path of the OpenTelemetry observer (``agent-fsm[otel]``); it lives in
:mod:`agent_fsm.observe.otel`. Importing this module imports OpenTelemetry; nothing else does."""

from __future__ import annotations

from .observe.otel import OTelObserver

__all__ = ["OTelObserver"]
