"""Every text the model reads about a tool call that did not go as asked - the one place it is built.

An unknown tool, arguments that do not fit, a tool or tool server that raised, a tool that ran
out of time, a value that cannot become JSON: each becomes an error result (``is_error=True``)
that names the tool and the problem, and the run goes on. The message of an exception is always
redacted here, whoever caught it - a tool, the async driver, the sync driver - because the result
goes into the history, and so into the next request to the model: a credential in an exception's
message must never get there.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

from ..messages import Text
from ..observe.redact import Redactor
from ..request import ToolOutput

__all__ = [
    "did_not_stop",
    "error",
    "invalid_arguments",
    "not_serializable",
    "raised",
    "timed_out",
    "unknown_tool",
]

Redact = Callable[[str], str]
"""Takes secrets out of a text: a run's :class:`~agent_fsm.observe.redact.Redactor` (it knows the
model's key), or by default one that knows the environment's."""


def error(text: str) -> ToolOutput:
    """An error result with this text."""
    return ToolOutput((Text(text),), is_error=True)


def unknown_tool(name: str, known: Iterable[str]) -> ToolOutput:
    """The error output for a call of a tool that does not exist."""
    return error(f"Unknown tool {name!r}. Available tools: {', '.join(known) or 'none'}.")


def invalid_arguments(name: str, problems: object) -> ToolOutput:
    """The error output for arguments that do not fit: each problem, and that nothing ran."""
    return error(f"Invalid arguments for tool {name!r} (the tool was not called):\n{problems}")


def raised(name: str, exc: BaseException, redact: Redact | None = None) -> ToolOutput:
    """The error output for a tool (or the tool server running it) that raised ``exc``."""
    return error(f"Tool {name!r} raised {_exception_text(exc, redact)}")


def timed_out(name: str, timeout: float | None) -> ToolOutput:
    """The error output for a tool that ran out of time."""
    return error(f"Tool {name!r} timed out after {timeout or 0:g} s.")


def did_not_stop(name: str, timeout: float | None) -> ToolOutput:
    """The error output for a tool that ran out of time and ignored being cancelled."""
    return error(
        f"Tool {name!r} timed out after {timeout or 0:g} s and did not stop when cancelled; it may still be running."
    )


def not_serializable(name: str, exc: BaseException, redact: Redact | None = None) -> ToolOutput:
    """The error output for a tool whose return value cannot be converted to JSON."""
    return error(f"Tool {name!r} returned a value that cannot be converted to JSON: {_exception_text(exc, redact)}")


def _exception_text(exc: BaseException, redact: Redact | None) -> str:
    message = (redact or Redactor())(str(exc))
    return f"{type(exc).__name__}: {message}" if message else type(exc).__name__
