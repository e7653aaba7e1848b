"""Tools: ``@tool``, ``Tool``, ``ToolSet``, ``ToolServer``; schemas, signatures and argument checks."""

from __future__ import annotations

from ._tool import (
    DEFAULT_TOOL_TIMEOUT,
    Tool,
    ToolLike,
    ToolServer,
    ToolSet,
    invalid_arguments,
    raised,
    timed_out,
    to_output,
    tool,
    unknown_tool,
)

__all__ = [
    "DEFAULT_TOOL_TIMEOUT",
    "Tool",
    "ToolLike",
    "ToolServer",
    "ToolSet",
    "invalid_arguments",
    "raised",
    "timed_out",
    "to_output",
    "tool",
    "unknown_tool",
]
