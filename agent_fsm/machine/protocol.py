"""The step API's vocabulary: what the machine asks of its driver, and what the driver feeds back.

The machine never does anything itself. Each step returns an *action*; the driver performs it and
feeds the outcome back through the matching :class:`~agent_fsm.machine.TurnMachine` method:

====================  ===========================================  ==============================
action                the driver                                   then calls
====================  ===========================================  ==============================
:class:`SendRequest`  opens ``model.stream(action.request)``       ``model_event`` per event,
                                                                   ``model_end`` / ``model_failed``
``NEXT_EVENT``        pulls the next event of the open stream      ``model_event`` / ``model_end``
:class:`CallHook`     calls ``hook.<name>(*action.args)``          ``hook_answer`` / ``hook_failed``
:class:`RunTools`     starts these calls (at most N at once)       ``tool_output`` per call, in
                                                                   the order of ``action.calls``
``NEXT_TOOL_OUTPUT``  waits for the next output of the batch       ``tool_output``
``STOP``              stops: read ``machine.state`` / ``error``    nothing
====================  ===========================================  ==============================

Items to emit accumulate in ``machine.outbox``; drain it after every step. At any time, whatever
the action, the run's caller may call ``cancel(mode, reason)`` (now: the run stops, and the
outcome the driver was waiting for is dropped - its method answers ``STOP``; or after the turn)
and ``steer(message)`` (sent with the next request).
"""

from __future__ import annotations

from typing import Any, Final, TypeAlias

from attrs import frozen

from ..messages import ToolCall
from ..request import CompletionRequest, ToolOutput

__all__ = [
    "NEXT_EVENT",
    "NEXT_TOOL_OUTPUT",
    "STOP",
    "Action",
    "CallHook",
    "RunTools",
    "SendRequest",
    "ToolOutput",  # re-exported: the step API feeds it back (``tool_output``)
]


class _Marker:
    __slots__ = ("_name",)

    def __init__(self, name: str) -> None:
        self._name = name

    def __repr__(self) -> str:
        return self._name


NEXT_EVENT: Final = _Marker("NEXT_EVENT")
"""Feed the next event of the open model stream (or ``model_end`` when it is exhausted)."""
NEXT_TOOL_OUTPUT: Final = _Marker("NEXT_TOOL_OUTPUT")
"""Feed the output of the next call of the current :class:`RunTools` batch, in batch order."""
STOP: Final = _Marker("STOP")
"""The run has reached a terminal state; nothing more will be asked."""


@frozen
class SendRequest:
    """Open a model stream for this request."""

    request: CompletionRequest


@frozen
class CallHook:
    """Call the user's hook method ``name`` with ``args``; feed back what it returns."""

    name: str
    args: tuple[Any, ...]


@frozen
class RunTools:
    """Run these tool calls, at most ``tool_concurrency`` at once; feed each output back in order."""

    calls: tuple[ToolCall, ...]


Action: TypeAlias = SendRequest | CallHook | RunTools | _Marker
