"""Tools: ``@tool``, ``Tool``, ``ToolSet``, ``ToolServer``; schemas, signatures and argument checks;
and :mod:`~agent_fsm.tools.outcomes`, the one place the text of a failed tool call is written.

Names are loaded lazily, so a driver that only needs the outcomes does not load asyncio.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from .._lazy import lazy_exports

if TYPE_CHECKING:
    from ._bounded import STOP_GRACE as STOP_GRACE
    from ._bounded import ToolDidNotStop as ToolDidNotStop
    from ._bounded import ToolTimeout as ToolTimeout
    from ._bounded import run_bounded as run_bounded
    from ._convert import converted as converted
    from ._convert import to_output as to_output
    from ._tool import DEFAULT_TOOL_TIMEOUT as DEFAULT_TOOL_TIMEOUT
    from ._tool import Tool as Tool
    from ._tool import ToolLike as ToolLike
    from ._tool import ToolServer as ToolServer
    from ._tool import ToolSet as ToolSet
    from ._tool import tool as tool
    from .outcomes import did_not_stop as did_not_stop
    from .outcomes import invalid_arguments as invalid_arguments
    from .outcomes import raised as raised
    from .outcomes import timed_out as timed_out
    from .outcomes import unknown_tool as unknown_tool

__all__, __getattr__, __dir__ = lazy_exports(__name__, __file__)
