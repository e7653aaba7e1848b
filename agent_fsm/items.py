"""Stream items: what a run yields to its consumer.

Each item is emitted on a transition of the machine: assistant content as it streams, each tool
result once ``on_tool_result`` lets it through, and one :class:`FinalResponse` when the run is done.
"""

from __future__ import annotations

from typing import TypeAlias

from attrs import frozen

from .events import ModelEvent
from .messages import Message, ToolResult, Usage

__all__ = ["FinalResponse", "StreamAssistantItem", "StreamItem", "StreamUserItem"]


@frozen
class StreamAssistantItem:
    """A model event passed on to the consumer as it was received."""

    content: ModelEvent


@frozen
class StreamUserItem:
    """A tool result, exactly as it is recorded in the history."""

    tool_result: ToolResult
    internal_call_id: str


@frozen
class FinalResponse:
    """The last item of a completed run.

    ``response`` is the text of the final turn (not of an earlier one), ``usage`` the run total,
    ``history`` the given history, the prompt, and every message of the run.
    """

    response: str
    usage: Usage
    history: tuple[Message, ...]


StreamItem: TypeAlias = StreamAssistantItem | StreamUserItem | FinalResponse
