"""The I/O-free core: the turn loop's table and the machine that runs it, with its step API.

Everything here is sans-IO: fed model events, hook answers and tool outputs, it answers with an
action for its driver and items in its ``outbox``; it imports only the vocabulary (messages,
events, items, request, hooks, errors) and ``transitions``. See :mod:`agent_fsm.machine.table`
for the theory of operation and :mod:`agent_fsm.machine.protocol` for the actions.
"""

from __future__ import annotations

from ._machine import CANCELLED_BY_CALLER, TurnMachine, check_limits, user_message
from ._path import appends, emits
from .protocol import NEXT_EVENT, NEXT_TOOL_OUTPUT, STOP, Action, CallHook, RunTools, SendRequest, ToolOutput
from .snapshot import Approval, Snapshot, approve, deny
from .table import State

__all__ = [
    "CANCELLED_BY_CALLER",
    "NEXT_EVENT",
    "NEXT_TOOL_OUTPUT",
    "STOP",
    "Action",
    "Approval",
    "CallHook",
    "RunTools",
    "SendRequest",
    "Snapshot",
    "State",
    "ToolOutput",
    "TurnMachine",
    "appends",
    "check_limits",
    "emits",
    "user_message",
    "approve",
    "deny",
]
