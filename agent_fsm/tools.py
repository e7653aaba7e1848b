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
server itself is gone) fails a run on purpose.
"""

from __future__ import annotations

import asyncio
import inspect
import json
import math
import re
from collections.abc import Awaitable, Callable, Iterable, Iterator, Sequence
from typing import Any, Literal, Protocol, TypeAlias, TypeVar, overload, runtime_checkable

import attrs
from attrs import frozen

from .arguments import ArgumentError
from .codec import to_json_value
from .errors import ConfigurationError
from .log import get_logger
from .messages import Image, JSONValue, Text, ToolResultContent
from .protocol import ToolOutput
from .redact import Redactor
from .request import ToolDefinition
from .signature import Signature

__all__ = [
    "DEFAULT_TOOL_TIMEOUT",
    "Tool",
    "ToolLike",
    "ToolServer",
    "ToolSet",
    "invalid_arguments",
    "STOP_GRACE",
    "ToolDidNotStop",
    "ToolTimeout",
    "converted",
    "did_not_stop",
    "raised",
    "run_bounded",
    "timed_out",
    "to_output",
    "tool",
    "unknown_tool",
]

DEFAULT_TOOL_TIMEOUT = 60.0
"""Seconds a tool call may take before it is cancelled and reported as timed out."""

_NAME = re.compile(r"^[A-Za-z0-9_-]{1,64}$")  # what OpenAI and Anthropic both accept
F = TypeVar("F", bound=Callable[..., Any])
T = TypeVar("T")


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
        if isinstance(bound, ToolOutput):
            return bound
        args, kwargs = bound
        timeout = self.timeout if self.timeout is not None else default_timeout
        if timeout is not None and math.isinf(timeout):
            timeout = None
        try:
            value = await run_bounded(self._call(args, kwargs), timeout, name=self.name)
        except ToolDidNotStop:
            return did_not_stop(self.name, timeout)
        except ToolTimeout:
            get_logger(component="tools").warning(
                "tool timed out", tool=self.name, timeout=timeout, thread_left_running=not self.is_async
            )
            return timed_out(self.name, timeout)
        except (Exception, GeneratorExit) as exc:  # a GeneratorExit from a tool is the tool's bug
            return self._raised(exc)
        return converted(self.name, value)

    async def _call(self, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
        if self.is_async:
            return await self.fn(*args, **kwargs)
        # in a worker thread, so a blocking tool never stalls the event loop
        value = await asyncio.to_thread(self.fn, *args, **kwargs)
        return await value if inspect.isawaitable(value) else value

    def _raised(self, exc: BaseException) -> ToolOutput:
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
    the arguments comes from the type hints (see :mod:`agent_fsm.schema` for what is accepted).
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
        return tuple(t.definition for t in self._tools.values())

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


def to_output(value: Any) -> ToolOutput:
    """What a tool returned, as result content.

    A ``ToolOutput`` is kept as it is (a tool may report an error itself); a ``str`` passes
    through; a ``Text`` or ``Image`` part, or a non-empty list of them, becomes those parts;
    anything else becomes canonical JSON text (keys sorted) through the codec, so attrs classes
    and library values have their usual JSON shape.

    Raises:
        TypeError, ValueError: for a value JSON cannot hold (``Tool.run`` reports it as an error).
    """
    if isinstance(value, ToolOutput):
        return value
    if isinstance(value, str):
        return ToolOutput((Text(value),))
    if isinstance(value, Text | Image):
        return ToolOutput((value,))
    if isinstance(value, list | tuple) and value and all(isinstance(v, Text | Image) for v in value):
        parts: tuple[ToolResultContent, ...] = tuple(value)
        return ToolOutput(parts)
    text = json.dumps(to_json_value(value), ensure_ascii=False, sort_keys=True, allow_nan=False)
    return ToolOutput((Text(text),))


def unknown_tool(name: str, known: Iterable[str]) -> ToolOutput:
    """The error output for a call of a tool that does not exist."""
    return _error(f"Unknown tool {name!r}. Available tools: {', '.join(known) or 'none'}.")


def invalid_arguments(name: str, exc: ArgumentError) -> ToolOutput:
    """The error output for arguments that do not fit: each problem, and that nothing ran."""
    return _error(f"Invalid arguments for tool {name!r} (the tool was not called):\n{exc}")


def raised(name: str, exc: BaseException, redactor: Redactor | None = None) -> ToolOutput:
    """The error output for a tool (or a tool server's call) that raised.

    The one place that text is built. It is redacted, like the logged traceback: a tool's
    exception may quote a credential (an API error echoing its key, say), and the result goes to
    the model. ``redactor`` knows the run's own secrets (its model's key); without one, secrets
    are found by shape and in the environment.
    """
    clean = redactor if redactor is not None else Redactor()
    return _error(f"Tool {name!r} raised {_exception_text(exc, clean)}")


def converted(name: str, value: Any, redactor: Redactor | None = None) -> ToolOutput:
    """What a tool (or a tool server) returned, as result content; a value JSON cannot hold is
    an error output for the call (see :func:`to_output`)."""
    try:
        return to_output(value)
    except (TypeError, ValueError, RecursionError) as exc:
        clean = redactor if redactor is not None else Redactor()
        get_logger(component="tools").warning("tool result not serializable", tool=name, exception=clean.traceback(exc))
        return _error(f"Tool {name!r} returned a value that cannot be converted to JSON: {_exception_text(exc, clean)}")


def timed_out(name: str, timeout: float | None) -> ToolOutput:
    """The error output for a tool that ran out of time."""
    return _error(f"Tool {name!r} timed out after {timeout or 0:g} s.")


def did_not_stop(name: str, timeout: float | None) -> ToolOutput:
    """The error output for a tool that ran out of time and ignored being cancelled."""
    return _error(
        f"Tool {name!r} timed out after {timeout or 0:g} s and did not stop when cancelled; it may still be running."
    )


STOP_GRACE = 1.0
"""Seconds a cancelled tool call gets to stop before it is left behind (and reported in the log)."""

_left_running: set[asyncio.Task[Any]] = set()
"""Tool calls that ignored their cancellation, held until they end (the event loop holds tasks
only weakly)."""


class ToolTimeout(Exception):
    """A tool call ran out of time and was cancelled (not a ``TimeoutError`` the tool raised)."""


class ToolDidNotStop(ToolTimeout):
    """A tool call ran out of time, was cancelled, and was still running after ``STOP_GRACE``."""


async def run_bounded(call: Awaitable[T], limit: float | None, *, name: str) -> T:
    """Await one tool call in its own task, so that a call that ignores cancellation (catches
    ``CancelledError`` and goes on) can never hang the run.

    Raises:
        ToolTimeout: the call took longer than ``limit`` seconds and stopped when cancelled.
        ToolDidNotStop: it took too long and was still running ``STOP_GRACE`` seconds after being
            cancelled; it is left behind and logged.
        asyncio.CancelledError: the caller was cancelled; the call is cancelled too and given
            ``STOP_GRACE`` to stop, after which the cancellation goes on regardless.
        Exception: whatever the call raised.
    """
    task = asyncio.ensure_future(call)
    try:
        done, _ = await asyncio.wait((task,), timeout=limit)
    except asyncio.CancelledError:
        await _stop(task, name)
        raise
    if done:
        return task.result()
    if await _stop(task, name):
        raise ToolTimeout(name)
    raise ToolDidNotStop(name)


async def _stop(task: asyncio.Task[Any], name: str) -> bool:
    """Cancel a tool call and wait ``STOP_GRACE`` for it to end; whether it did."""
    task.cancel()
    done, _ = await asyncio.wait((task,), timeout=STOP_GRACE)
    if done:
        if not task.cancelled():
            task.exception()  # retrieved: the call is over, its outcome no longer matters
        return True
    _left_running.add(task)
    task.add_done_callback(_left_running.discard)
    get_logger(component="tools").warning("tool did not stop when cancelled", tool=name, grace_s=STOP_GRACE)
    return False


def _error(text: str) -> ToolOutput:
    return ToolOutput((Text(text),), is_error=True)


def _exception_text(exc: BaseException, clean: Redactor) -> str:
    message = clean(str(exc))
    return f"{type(exc).__name__}: {message}" if message else type(exc).__name__


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
