"""Where a run stops: its checkpoints, and the rule that seals its history.

A *checkpoint* is what a snapshot of the run resumes from: the start of the current model call,
or the tool stage after the last processed result. The machine records one when a turn starts
and when it stops; while it waits before a model call or in the tool stage, its live position is
the checkpoint.

Entering a stop state (``MaxTurnsExceeded``, ``Cancelled``, ``Failed``, ``UsageLimitExceeded``,
``AwaitingApproval``)
*seals* the history (:func:`seal`): the interrupted turn's partial assistant message is appended,
and every tool call without a result gets a synthetic error result (in history only, never
emitted), so the history stays valid to send back to a provider.
"""

from __future__ import annotations

from ..messages import AssistantMessage, Message, Usage
from ._batch import ToolBatch
from ._path import TraceMark
from ._turn import TurnBuffer
from .snapshot import ToolStageSnapshot
from .table import State

__all__ = ["Checkpoint", "seal"]


class Checkpoint:
    """A point a snapshot can resume from (one is made per turn: a plain class with slots, which
    the compiled core makes a native one)."""

    __slots__ = ("history_length", "mark", "state", "tool_calls", "tools", "turns", "usage")

    def __init__(
        self,
        state: State,
        history_length: int,
        turns: int,
        usage: Usage,
        mark: TraceMark,
        tools: ToolStageSnapshot | None = None,
        tool_calls: int = 0,
    ) -> None:
        self.state = state
        """``AwaitingCompletion`` (before a model call), ``ExecutingTool``, or ``Done``."""
        self.history_length = history_length
        self.turns = turns
        self.usage = usage
        self.mark = mark
        """How many items were emitted by then, counted only when a snapshot asks."""
        self.tools = tools
        self.tool_calls = tool_calls
        """Tool calls executed by then (a resumed run counts on from here)."""


def seal(history: list[Message], turn: TurnBuffer | None, batch: ToolBatch | None, why: str) -> None:
    """Close what a stopping run left open, so that ``history`` stays valid to send back.

    ``turn`` is the turn that was streaming, if any; ``batch`` the tool calls that were running.
    """
    if turn is not None:
        if turn.is_empty:
            return
        history.append(AssistantMessage(turn.content()))
        batch = ToolBatch(turn.tool_calls) if turn.tool_calls else None
    if batch is not None:
        history.append(batch.sealed(why))
