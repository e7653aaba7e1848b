"""Tools: Python functions the model can call, and the ``ToolServer`` protocol that serves them.

A tool server answers two questions: which tools exist (``definitions()``) and what calling one
gives (``await call(name, arguments)``). :class:`ToolSet` is the built-in server, for ``@tool``
functions; users plug in their own (an MCP client, say) without touching the engine.

A tool failing never ends the run. Each failure becomes an error result
(``ToolOutput(is_error=True)``) that tells the model what went wrong, so it can correct itself:

==========================  =====================================================================
failure                     result text (the tool is not called for the first two)
==========================  =====================================================================
unknown tool                ``Unknown tool 'x'. Available tools: a, b.``
arguments that do not fit   ``Invalid arguments for tool 'x' (the tool was not called):`` and one
                            line per problem: ``$.a: expected integer, got string "5"``
the tool raises             ``Tool 'x' raised ValueError: <message>`` (logged with traceback)
the tool takes too long     ``Tool 'x' timed out after 60 s.`` (the call is cancelled)
...and ignores cancelling   ``Tool 'x' timed out after 60 s and did not stop when cancelled; ...``
                            (after ``STOP_GRACE`` more seconds; the call is left behind, logged)
a result JSON cannot hold   ``Tool 'x' returned a value that cannot be converted to JSON: ...``
==========================  =====================================================================

``KeyboardInterrupt``, ``SystemExit`` and ``asyncio.CancelledError`` are never turned into
results: they propagate and stop the run. Only a :class:`~agent_fsm.errors.ToolServerError` (the
server itself is gone) fails a run on purpose. Every one of those texts is written in
:mod:`~agent_fsm.tools.outcomes`; running a call within its time is :mod:`~agent_fsm.tools._bounded`.
"""

from __future__ import annotations

import asyncio
import inspect
import math
import re
import types
from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import Any, Literal, Protocol, TypeAlias, TypeVar, overload, runtime_checkable

import attrs
from attrs import frozen

from ..errors import ConfigurationError
from ..messages import JSONValue
from ..observe.logger import get_logger
from ..observe.redact import Redactor
from ..request import ToolDefinition, ToolOutput
from ._bounded import ToolDidNotStop, ToolTimeout, code_never_waiting, run_at_once, run_bounded
from ._convert import converted
from .arguments import ArgumentError
from .outcomes import did_not_stop, invalid_arguments, raised, timed_out, unknown_tool
from .signature import Signature

__all__ = [
    "DEFAULT_TOOL_TIMEOUT",
    "Tool",
    "ToolLike",
    "ToolServer",
    "ToolSet",
    "tool",
]

DEFAULT_TOOL_TIMEOUT = 60.0
"""Seconds a tool call may take before it is cancelled and reported as timed out."""

_NAME = re.compile(r"^[A-Za-z0-9_-]{1,64}$")  # what OpenAI and Anthropic both accept
F = TypeVar("F", bound=Callable[..., Any])


@runtime_checkable
class ToolServer(Protocol):
    """Anything that can list tools and run them: the engine needs nothing else.

    Contract: ``call`` reports a failure of one tool as ``ToolOutput(is_error=True)``; it raises
    :class:`~agent_fsm.errors.ToolServerError` only when the server cannot serve any call (the
    run then fails). Any other exception it raises becomes an error result for that call. A
    server may return a plain value instead of a ``ToolOutput``: it is converted by
    :func:`to_output`. Timeouts are the server's business (:class:`ToolSet` applies its own).
    """

    def definitions(self) -> Sequence[ToolDefinition]:
        """The tools on offer, as the model sees them (read once per run)."""
        ...

    async def call(self, name: str, arguments: JSONValue) -> ToolOutput:
        """Run tool ``name`` with the model's ``arguments`` (a JSON string or parsed value)."""
        ...


@frozen
class Tool:
    """A function the model can call: its definition, how to call it, and its limits.

    Made by :func:`tool` or :meth:`from_definition`. A ``Tool`` is still callable like the
    function it wraps. Declared in a class body, it binds like a method: ``obj.method`` is a
    ``Tool`` bound to ``obj``, which is what :meth:`ToolSet.from_object` collects.
    """

    definition: ToolDefinition
    fn: Callable[..., Any]
    signature: Signature
    timeout: float | None = None
    requires_approval: bool = False
    binding: Literal["function", "method", "classmethod"] = "function"
    """How the tool binds when read from a class or instance (a method needs ``self``)."""
    is_async: bool = attrs.field(init=False, default=attrs.Factory(lambda self: _is_async(self.fn), takes_self=True))
    """Whether calling ``fn`` gives a coroutine (else it runs in a worker thread)."""
    _never_waits: types.CodeType | None = attrs.field(
        init=False, default=attrs.Factory(lambda self: code_never_waiting(self.fn), takes_self=True), repr=False
    )
    """The code of ``fn`` when it cannot suspend: its calls run at once, with nothing to bound."""

    @property
    def name(self) -> str:
        return self.definition.name

    @classmethod
    def from_definition(
        cls,
        definition: ToolDefinition,
        fn: Callable[..., Any],
        *,
        timeout: float | None = None,
        requires_approval: bool = False,
    ) -> Tool:
        """A tool with a hand-written schema: ``fn`` gets the arguments object as keywords.

        The arguments are checked to bind to ``fn``'s parameters, not against the schema.

        Raises:
            ConfigurationError: for a name providers refuse or a timeout that is not positive.
        """
        _check(definition.name, timeout, fn)
        sig = Signature.hand_written(fn, definition.parameters, definition.description)
        return cls(definition, fn, sig, timeout, requires_approval)

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        """Call the underlying function directly."""
        return self.fn(*args, **kwargs)

    def __get__(self, instance: object | None, owner: type | None = None) -> Tool:
        if self.binding == "classmethod":
            cls = owner if owner is not None else type(instance)
            return attrs.evolve(self, fn=self.fn.__get__(cls, cls), binding="function")
        if self.binding == "method" and instance is not None:
            return attrs.evolve(self, fn=self.fn.__get__(instance, owner), binding="function")
        return self

    async def run(self, arguments: JSONValue, *, default_timeout: float | None = None) -> ToolOutput:
        """Call the tool with the model's arguments; every failure of the tool is an error output.

        Args:
            arguments: a JSON string or an already-parsed value.
            default_timeout: seconds allowed when the tool sets no ``timeout``; ``None`` or
                ``inf`` for no limit.

        Returns:
            The result (see :func:`to_output`), or an error output (see the module docstring).

        Raises:
            BaseException: only what must not be swallowed (``CancelledError``,
                ``KeyboardInterrupt``, ``SystemExit``).
        """
        bound = self.prepare(arguments)
        if type(bound) is ToolOutput:
            return bound
        args, kwargs = bound  # type: ignore[misc]
        try:
            if self._never_waits is not None:  # it cannot wait, so there is nothing to bound
                coro = self.fn(*args, **kwargs)
                if coro.cr_code is self._never_waits:
                    return converted(self.name, run_at_once(coro))
                call = coro  # its function's code was replaced since: bound it after all
            else:
                call = self._call(args, kwargs)
        except (Exception, GeneratorExit) as exc:  # a GeneratorExit from a tool is the tool's bug
            return self._raised(exc)
        timeout = self.timeout if self.timeout is not None else default_timeout
        if timeout is not None and math.isinf(timeout):
            timeout = None
        try:
            value = await run_bounded(call, timeout, name=self.name)
        except ToolDidNotStop:
            return did_not_stop(self.name, timeout)
        except ToolTimeout:
            get_logger(component="tools").warning(
                "tool timed out", tool=self.name, timeout=timeout, thread_left_running=not self.is_async
            )
            return timed_out(self.name, timeout)
        except (Exception, GeneratorExit) as exc:
            return self._raised(exc)
        return converted(self.name, value)

    async def _call(self, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
        if self.is_async:
            return await self.fn(*args, **kwargs)
        # in a worker thread, so a blocking tool never stalls the event loop
        value = await asyncio.to_thread(self.fn, *args, **kwargs)
        return await value if inspect.isawaitable(value) else value

    def _raised(self, exc: BaseException) -> ToolOutput:
        # the traceback and the text the model sees are redacted: a tool's exception may quote a
        # credential (an API error echoing its key, say)
        get_logger(component="tools").warning("tool raised", tool=self.name, exception=Redactor().traceback(exc))
        return raised(self.name, exc)

    def prepare(self, arguments: JSONValue) -> tuple[tuple[Any, ...], dict[str, Any]] | ToolOutput:
        """The call's positional and keyword arguments, or the error output when they do not fit
        (the first half of :meth:`run`, for drivers that call tools their own way)."""
        try:
            return self.signature.bind(arguments)
        except ArgumentError as exc:
            get_logger(component="tools").info("tool arguments invalid", tool=self.name, problems=exc.problems)
            return invalid_arguments(self.name, exc)


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
    """Make a tool of a sync or async function (``@tool`` or ``@tool(...)``).

    The name is the function's name; the description is the docstring's first paragraph; each
    parameter's description comes from the docstring's ``Args:`` section; the JSON Schema of
    the arguments comes from the type hints (see :mod:`agent_fsm.tools.schema` for what is accepted).
    A sync function runs in a worker thread. In a class body, ``@tool`` goes above
    ``@staticmethod`` / ``@classmethod``, and methods are collected with
    :meth:`ToolSet.from_object`.

    Args:
        name: the tool's name, instead of the function's (letters, digits, ``_``, ``-``; at
            most 64 characters, as providers require).
        description: the tool's description, instead of the docstring's.
        timeout: seconds a call may take, instead of the ``ToolSet``'s default; ``inf`` for
            no limit.
        requires_approval: metadata: calls of this tool should wait for an approval.

    Returns:
        A :class:`Tool`, still callable like the function.

    Raises:
        ConfigurationError: at decoration time, for ``*args`` / ``**kwargs``, a parameter
            without annotation or with one that has no JSON Schema, a generator function, an
            invalid name, or a timeout that is not positive.
    """

    def wrap(f: Any) -> Tool:
        binding: Literal["function", "method", "classmethod"] = "function"
        if isinstance(f, staticmethod):
            f = f.__func__
        elif isinstance(f, classmethod):
            f, binding = f.__func__, "classmethod"
        elif _defined_in_class_body(f):
            binding = "method"
        tool_name = str(name if name is not None else getattr(f, "__name__", ""))
        _check(tool_name, timeout, f)
        sig = Signature.of(f, skip_first=binding != "function", where=f"tool {tool_name!r}")
        definition = ToolDefinition(
            tool_name, description if description is not None else sig.description, sig.parameters
        )
        return Tool(definition, f, sig, timeout, requires_approval, binding)

    return wrap(fn) if fn is not None else wrap


ToolLike: TypeAlias = Tool | Callable[..., Any] | tuple[ToolDefinition, Callable[..., Any]]
"""What :class:`ToolSet` accepts: a ``Tool``, a plain function, or ``(ToolDefinition, callable)``."""


class ToolSet:
    """The built-in :class:`ToolServer`: named tools, each call validated, timed and contained.

    Args:
        tools: ``Tool`` objects, plain functions (made into tools with :func:`tool`), or
            ``(ToolDefinition, callable)`` pairs for hand-written schemas.
        default_timeout: seconds a call may take unless its tool says otherwise; ``None`` for
            no limit.

    Raises:
        ConfigurationError: for two tools with one name, an unbound method, or anything that
            is not a tool.
    """

    def __init__(self, tools: Iterable[ToolLike] = (), *, default_timeout: float | None = DEFAULT_TOOL_TIMEOUT) -> None:
        if default_timeout is not None and not default_timeout > 0:
            raise ConfigurationError(f"default_timeout must be positive or None, got {default_timeout!r}")
        self._tools: dict[str, Tool] = {}
        self._definitions: tuple[ToolDefinition, ...] | None = None  # read once per run: kept until a tool is added
        self.default_timeout = default_timeout
        for t in tools:
            self.add(t)

    @classmethod
    def from_object(cls, obj: object, *, default_timeout: float | None = DEFAULT_TOOL_TIMEOUT) -> ToolSet:
        """Every ``@tool`` method of ``obj``'s class (and its bases), bound to ``obj``.

        Tools come in definition order, base classes first; a subclass overriding a tool
        keeps its place.
        """
        found: dict[str, Tool] = {}
        owner = type(obj)
        for klass in reversed(owner.__mro__):
            for attr, raw in vars(klass).items():
                if isinstance(raw, Tool):
                    found[attr] = raw.__get__(obj, owner)
                elif attr in found:  # a subclass replaced the tool with something else
                    del found[attr]
        return cls(found.values(), default_timeout=default_timeout)

    def add(self, item: ToolLike) -> Tool:
        """Add one tool and return it."""
        if isinstance(item, tuple):
            made = Tool.from_definition(*item)
        elif isinstance(item, Tool):
            made = item
        elif callable(item):
            made = tool(item)
        else:
            raise ConfigurationError(f"not a tool: {item!r}")
        if made.binding == "method":
            raise ConfigurationError(
                f"tool {made.name!r} is a method: add it bound to an instance (obj.{made.fn.__name__}, "
                "or ToolSet.from_object(obj))"
            )
        if made.name in self._tools:
            raise ConfigurationError(f"two tools are named {made.name!r}")
        self._tools[made.name] = made
        self._definitions = None
        return made

    def __contains__(self, name: object) -> bool:
        return name in self._tools

    def __getitem__(self, name: str) -> Tool:
        return self._tools[name]

    def __iter__(self) -> Iterator[Tool]:
        return iter(list(self._tools.values()))

    def __len__(self) -> int:
        return len(self._tools)

    def __repr__(self) -> str:
        return f"ToolSet([{', '.join(self._tools)}], default_timeout={self.default_timeout!r})"

    def definitions(self) -> tuple[ToolDefinition, ...]:
        """The definitions of the tools, in the order they were added."""
        if self._definitions is None:
            self._definitions = tuple([t.definition for t in self._tools.values()])
        return self._definitions

    def requires_approval(self, name: str) -> bool:
        """Whether calls of ``name`` should wait for an approval (``@tool(requires_approval=True)``)."""
        t = self._tools.get(name)
        return t is not None and t.requires_approval

    async def call(self, name: str, arguments: JSONValue) -> ToolOutput:
        """Run a tool. Every failure of the tool becomes an error output; none is raised."""
        t = self._tools.get(name)
        if t is None:
            get_logger(component="tools").info("unknown tool", tool=name)
            return unknown_tool(name, self._tools)
        return await t.run(arguments, default_timeout=self.default_timeout)


def _is_async(fn: Callable[..., Any]) -> bool:
    return inspect.iscoroutinefunction(fn) or inspect.iscoroutinefunction(type(fn).__call__)


def _defined_in_class_body(fn: Callable[..., Any]) -> bool:
    """Whether ``fn`` was written in a class body (``Class.f``, not ``f`` or ``outer.<locals>.f``)."""
    parts = getattr(fn, "__qualname__", "").split(".")
    return inspect.isfunction(fn) and len(parts) >= 2 and parts[-2] != "<locals>"


def _check(name: str, timeout: float | None, fn: Callable[..., Any]) -> None:
    if not _NAME.match(name):
        raise ConfigurationError(
            f"tool name {name!r} is not accepted by providers: use 1 to 64 letters, digits, '_' or '-'"
        )
    if timeout is not None and not timeout > 0:
        raise ConfigurationError(f"tool {name!r}: timeout must be positive, got {timeout!r}")
    if inspect.isgeneratorfunction(fn) or inspect.isasyncgenfunction(fn):
        raise ConfigurationError(f"tool {name!r}: a tool returns one result; generator functions are not supported")
    if not callable(fn):
        raise ConfigurationError(f"tool {name!r}: {fn!r} is not callable")
