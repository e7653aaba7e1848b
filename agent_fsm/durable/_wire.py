"""What crosses Temporal's wire: names, and the JSON shapes of activity results and failures.

The workflow and the activities run in different processes, perhaps different versions of a
deployment, so everything they exchange is plain JSON (the codec's for messages and events) and
every name here is part of a run's durable identity: renaming one breaks running workflows.
"""

from __future__ import annotations

from typing import Any, Final

from ..errors import CompletionError

__all__ = [
    "APPROVALS_SIGNAL",
    "CANCEL_SIGNAL",
    "DEFAULT_MAX_PAYLOAD_BYTES",
    "ITEMS_QUERY",
    "MODEL_ACTIVITY",
    "STATE_QUERY",
    "STEER_SIGNAL",
    "TOOL_ACTIVITY",
    "WORKFLOW_NAME",
    "completion_error",
    "error_data",
]

WORKFLOW_NAME: Final = "AgentWorkflow"
MODEL_ACTIVITY: Final = "agent_fsm.model_call"
TOOL_ACTIVITY: Final = "agent_fsm.tool_call"
APPROVALS_SIGNAL: Final = "approvals"
CANCEL_SIGNAL: Final = "cancel"
STEER_SIGNAL: Final = "steer"
ITEMS_QUERY: Final = "items"
STATE_QUERY: Final = "run_state"

DEFAULT_MAX_PAYLOAD_BYTES: Final = 2 * 1024 * 1024
"""Temporal's default limit on one payload (the server refuses larger blobs): 2 MiB."""


def error_data(exc: BaseException) -> dict[str, Any]:
    """A model failure as data: its type's name and what rebuilds it as the machine would see it.

    Anything that is not a ``CompletionError`` becomes one with the message the in-process machine
    gives it, so the run's ending and history are the same wherever the call ran.
    """
    if isinstance(exc, CompletionError):
        return {
            "type": type(exc).__name__,
            "message": exc.message,
            "status": exc.status,
            "body": exc.body,
            "retryable": exc.retryable,
        }
    return {"type": "CompletionError", "message": f"model stream failed: {type(exc).__name__}: {exc}"}


def completion_error(data: dict[str, Any]) -> CompletionError:
    """Rebuild the error :func:`error_data` described, as its own class when it is loaded here."""
    cls = _completion_error_class(str(data.get("type", "")))
    err = CompletionError.__new__(cls)
    CompletionError.__init__(
        err, str(data["message"]), status=data.get("status"), body=data.get("body"), retryable=data.get("retryable")
    )
    return err


def _completion_error_class(name: str) -> type[CompletionError]:
    todo: list[type[CompletionError]] = [CompletionError]
    while todo:
        cls = todo.pop()
        if cls.__name__ == name:
            return cls
        todo.extend(cls.__subclasses__())
    return CompletionError
