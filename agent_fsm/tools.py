"""Tools: Python functions the model can call, and the ``ToolServer`` protocol that serves them.

A tool server answers two questions: which tools exist (``definitions()``) and what calling one
gives (``await call(name, arguments)``). :class:`ToolSet` is the built-in server for ``@tool``
functions; users plug in their own (an MCP client, say) without touching the engine.

A tool failing never ends the run: an unknown tool, arguments that do not fit, an exception or a
timeout each become an error result (``ToolOutput(is_error=True)``) that tells the model what went
wrong. Only a :class:`~agent_fsm.errors.ToolServerError` (the server itself is gone) fails the run.
"""

from __future__ import annotations

import asyncio
import inspect
import json
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from typing import Any, Protocol, TypeVar, overload, runtime_checkable

from attrs import frozen

from . import schema
from .codec import to_json_value
from .errors import ConfigurationError
from .log import get_logger
from .messages import Image, JSONValue, Text, ToolResultContent
from .protocol import ToolOutput
from .request import ToolDefinition

__all__ = ["DEFAULT_TOOL_TIMEOUT", "Tool", "ToolServer", "ToolSet", "tool"]

DEFAULT_TOOL_TIMEOUT = 60.0
"""Seconds a tool call may take before it is cancelled and reported as timed out."""

F = TypeVar("F", bound=Callable[..., Any])


@runtime_checkable
class ToolServer(Protocol):
    """Anything that can list tools and run them."""

    def definitions(self) -> Sequence[ToolDefinition]:
        """The tools on offer, as the model sees them."""
        ...

    async def call(self, name: str, arguments: JSONValue) -> ToolOutput:
        """Run tool ``name``. Report failures of the tool as ``ToolOutput(is_error=True)``."""
        ...


@frozen
class Tool:
    """A Python function as a tool: its definition, and how to call it."""

    definition: ToolDefinition
    fn: Callable[..., Any]
    signature: schema.Signature
    timeout: float | None = None
    requires_approval: bool = False

    @property
    def name(self) -> str:
        return self.definition.name

    @property
    def is_async(self) -> bool:
        return inspect.iscoroutinefunction(self.fn)

    @property
    def __doc__(self) -> str | None:  # type: ignore[override]
        return self.fn.__doc__

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        """Call the underlying function directly (a decorated function stays callable)."""
        return self.fn(*args, **kwargs)


@overload
def tool(fn: F, /) -> Tool: ...


@overload
def tool(
    *,
    name: str | None = None,
    description: str | None = None,
    timeout: float | None = None,
    requires_approval: bool = False,
) -> Callable[[F], Tool]: ...


def tool(
    fn: Callable[..., Any] | None = None,
    /,
    *,
    name: str | None = None,
    description: str | None = None,
    timeout: float | None = None,
    requires_approval: bool = False,
) -> Tool | Callable[[Callable[..., Any]], Tool]:
    """Make a tool of a sync or async function.

    The name is the function's name; the description is the docstring's first paragraph; each
    parameter's description comes from the docstring's ``Args:`` section; the JSON Schema of the
    arguments comes from the type hints.

    Args:
        name: the tool's name, instead of the function's.
        description: the tool's description, instead of the docstring's.
        timeout: seconds before a call is cancelled (default: the ``ToolSet``'s).
        requires_approval: calls wait for an approval before they run (see ``Agent.resume``).

    Raises:
        ConfigurationError: at decoration time, for a parameter whose annotation has no JSON
            Schema (and so could never be filled in by a model).
    """

    def wrap(f: Callable[..., Any]) -> Tool:
        sig = schema.Signature.of(f)
        definition = ToolDefinition(
            name or f.__name__,
            description if description is not None else sig.description,
            sig.parameters_schema,
        )
        return Tool(definition, f, sig, timeout, requires_approval)

    return wrap(fn) if fn is not None else wrap


class ToolSet:
    """The built-in :class:`ToolServer`: a set of ``@tool`` functions (or plain functions).

    Args:
        tools: ``Tool`` objects, plain functions (made into tools), or ``(ToolDefinition,
            callable)`` pairs for hand-written schemas.
        default_timeout: seconds a call may take unless its tool says otherwise; ``None`` for
            no limit.
    """

    def __init__(
        self,
        tools: Iterable[Tool | Callable[..., Any] | tuple[ToolDefinition, Callable[..., Any]]] = (),
        *,
        default_timeout: float | None = DEFAULT_TOOL_TIMEOUT,
    ) -> None:
        self._tools: dict[str, Tool] = {}
        self.default_timeout = default_timeout
        for t in tools:
            self.add(t)

    @classmethod
    def from_object(cls, obj: object, **kwargs: Any) -> ToolSet:
        """Every ``@tool``-decorated method of ``obj``, bound to ``obj``."""
        found: list[Tool] = []
        for attr in sorted(dir(type(obj))):
            raw = inspect.getattr_static(type(obj), attr, None)
            if isinstance(raw, Tool):
                bound = raw.fn.__get__(obj, type(obj))
                found.append(Tool(raw.definition, bound, raw.signature.bound(), raw.timeout, raw.requires_approval))
        return cls(found, **kwargs)

    def add(self, item: Tool | Callable[..., Any] | tuple[ToolDefinition, Callable[..., Any]]) -> Tool:
        """Add one tool; returns it."""
        if isinstance(item, tuple):
            definition, fn = item
            made = Tool(definition, fn, schema.Signature.raw(fn))
        elif isinstance(item, Tool):
            made = item
        elif callable(item):
            made = tool(item)
        else:
            raise ConfigurationError(f"not a tool: {item!r}")
        if made.name in self._tools:
            raise ConfigurationError(f"two tools are named {made.name!r}")
        self._tools[made.name] = made
        return made

    def __contains__(self, name: object) -> bool:
        return name in self._tools

    def __getitem__(self, name: str) -> Tool:
        return self._tools[name]

    def __len__(self) -> int:
        return len(self._tools)

    def definitions(self) -> tuple[ToolDefinition, ...]:
        return tuple(t.definition for t in self._tools.values())

    def requires_approval(self, name: str) -> bool:
        t = self._tools.get(name)
        return t is not None and t.requires_approval

    async def call(self, name: str, arguments: JSONValue) -> ToolOutput:
        """Run a tool. Every failure of the tool becomes an error output; none is raised."""
        t = self._tools.get(name)
        if t is None:
            known = ", ".join(sorted(self._tools)) or "none"
            return _error(f"Unknown tool {name!r}. Available tools: {known}.")
        try:
            kwargs = t.signature.structure(arguments)
        except schema.ArgumentError as exc:
            return _error(f"Invalid arguments for tool {name!r}: {exc}")
        timeout = t.timeout if t.timeout is not None else self.default_timeout
        try:
            async with asyncio.timeout(timeout):
                if t.is_async:
                    value = await t.fn(**kwargs)
                else:
                    value = await asyncio.to_thread(_call_sync, t.fn, kwargs)
                    if inspect.isawaitable(value):
                        value = await value
        except TimeoutError:
            get_logger(component="tools").warning("tool timed out", tool=name, timeout=timeout)
            return _error(f"Tool {name!r} timed out after {timeout:g} s.")
        except Exception as exc:
            get_logger(component="tools").warning("tool raised", tool=name, exc_info=True)
            return _error(f"Tool {name!r} raised {type(exc).__name__}: {exc}")
        return to_output(value)


def _call_sync(fn: Callable[..., Any], kwargs: Mapping[str, Any]) -> Any:
    return fn(**kwargs)


def _error(text: str) -> ToolOutput:
    return ToolOutput((Text(text),), is_error=True)


def to_output(value: Any) -> ToolOutput:
    """What a tool returned, as result content: text passes through, images stay images,
    anything else becomes JSON through the codec."""
    if isinstance(value, ToolOutput):
        return value
    if isinstance(value, str):
        return ToolOutput((Text(value),))
    if isinstance(value, Text | Image):
        return ToolOutput((value,))
    if isinstance(value, list | tuple) and value and all(isinstance(v, Text | Image) for v in value):
        parts: tuple[ToolResultContent, ...] = tuple(value)
        return ToolOutput(parts)
    return ToolOutput((Text(json.dumps(to_json_value(value), ensure_ascii=False, sort_keys=True)),))


AwaitableTool = Callable[..., Awaitable[Any]]
