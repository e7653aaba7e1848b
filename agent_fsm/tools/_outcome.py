"""One tool call as every driver records it: its output, an error result, or its server's failure.

The async driver and the durable tool activity both call tools through a ``ToolServer``; what
each possible ending of that call becomes is decided here, once, so the two can never drift: a
plain value is converted (or, if JSON cannot hold it, an error result), a tool or server that
raised gives the redacted "raised" text (a ``GeneratorExit`` from a tool is the tool's bug, not a
reason to stop), and a ``ToolServerError`` - the server failing as a whole - is handed back for
the machine to end the run with.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from ..errors import ToolServerError
from ..observe.redact import Redactor
from ..request import ToolOutput
from ._bounded import run_bounded
from ._convert import converted
from .outcomes import raised

__all__ = ["call_outcome"]


async def call_outcome(
    called: Awaitable[Any],
    name: str,
    redactor: Redactor,
    *,
    bounded: bool = True,
    on_raise: Callable[[BaseException], None] | None = None,
) -> ToolOutput | ToolServerError:
    """Await one tool call and say what it gave.

    Args:
        called: the call, not yet awaited (``server.call(name, arguments)``).
        name: the tool's name, for the texts of error results.
        redactor: scrubs credentials from every text taken from an exception or a value.
        bounded: run the call in its own task (``run_bounded``), so that a server ignoring its
            cancellation cannot hang the caller; pass False only when the server bounds its
            calls itself (a ``ToolSet`` does).
        on_raise: told about an exception that became an error result (to log it).

    Returns:
        The tool's output, or the ``ToolServerError`` its server raised.
    """
    try:
        output: Any = await (run_bounded(called, None, name=name) if bounded else called)
    except ToolServerError as exc:
        return exc
    except (Exception, GeneratorExit) as exc:  # a GeneratorExit from a tool is the tool's bug
        if on_raise is not None:
            on_raise(exc)
        return raised(name, exc, redactor)
    return output if isinstance(output, ToolOutput) else converted(name, output, redactor)
