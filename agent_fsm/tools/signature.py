"""A Python function seen as a tool: what to tell the model, and how its answer becomes a call.

Everything here happens once, when a tool is declared: the docstring is read, the JSON Schema is
derived from the type hints (:mod:`agent_fsm.tools.schema`), and the strict structuring function is
built (:mod:`agent_fsm.tools.arguments`), so a tool that could never work fails at import, with the
function and the parameter named, instead of in front of a user.
"""

from __future__ import annotations

import inspect
import re
from collections.abc import Callable
from typing import Any, get_type_hints

import attrs

from ..errors import ConfigurationError
from ..messages import JSONValue
from .arguments import ArgumentError, capped, load_arguments, plain_binder, problems, structurer
from .schema import add_default, json_schema

__all__ = ["Signature", "parse_docstring"]

_HEADER = re.compile(r"^[A-Z][A-Za-z ]*:\s*$")
_ARGS_HEADERS = frozenset({"Args", "Arguments", "Parameters", "Params", "Keyword Args", "Keyword Arguments"})
_GOOGLE_ITEM = re.compile(r"^\*{0,2}(?P<name>\w+)\s*(\([^)]*\))?\s*:\s*(?P<desc>.*)$")
_SPHINX_ITEM = re.compile(r"^:param\s+(?:[^:]*\s)?(?P<name>\w+)\s*:\s*(?P<desc>.*)$")


def parse_docstring(doc: str | None) -> tuple[str, dict[str, str]]:
    """A docstring's first paragraph, and each parameter's description.

    Parameter descriptions come from a Google-style ``Args:`` section (``name: text`` or
    ``name (type): text``, continuation lines indented deeper) or from Sphinx ``:param name:``
    fields. Lines are joined with single spaces.
    """
    lines = inspect.cleandoc(doc or "").splitlines()
    summary: list[str] = []
    for line in lines:
        if not line.strip() or _HEADER.match(line) or line.startswith(":"):
            break
        summary.append(line.strip())
    params: dict[str, str] = {}
    current: str | None = None
    in_args = False
    item_indent: int | None = None
    for line in lines:
        stripped = line.strip()
        indent = len(line) - len(line.lstrip())
        if not stripped:
            continue
        if indent == 0 and _HEADER.match(line):
            in_args, current, item_indent = stripped[:-1].strip() in _ARGS_HEADERS, None, None
            continue
        sphinx = _SPHINX_ITEM.match(stripped) if indent == 0 else None
        google = _GOOGLE_ITEM.match(stripped) if in_args else None
        if sphinx:
            current = sphinx["name"]
            params[current] = sphinx["desc"].strip()
        elif google and (item_indent is None or indent <= item_indent):
            item_indent = indent
            current = google["name"]
            params[current] = google["desc"].strip()
        elif current is not None and indent > (item_indent or 0):
            params[current] = f"{params[current]} {stripped}".strip()
        else:
            current = None
    return " ".join(summary), params


@attrs.frozen
class Signature:
    """How the model's arguments become a call of one function.

    ``description`` and ``parameters`` (a JSON Schema) are what the model is told. :meth:`bind`
    turns the model's arguments into ``(args, kwargs)`` or raises :class:`ArgumentError`.
    """

    description: str
    parameters: dict[str, Any]
    _structure: Callable[[Any], Any] | None
    _positional: tuple[str, ...] = ()
    _keywords: tuple[str, ...] = ()
    _python: inspect.Signature | None = None
    _plain: Callable[[dict[str, Any]], dict[str, Any] | None] | None = None
    """The quick check for plain parameters (:func:`~agent_fsm.tools.arguments.plain_binder`)."""

    @classmethod
    def of(cls, fn: Callable[..., Any], *, skip_first: bool = False, where: str | None = None) -> Signature:
        """Read ``fn``'s parameters, type hints and docstring.

        Args:
            fn: the function.
            skip_first: leave out the first parameter (``self`` or ``cls`` of a method).
            where: how error messages name the tool (default: ``tool <qualified name>``).

        Raises:
            ConfigurationError: for ``*args`` / ``**kwargs``, a parameter without annotation,
                hints that cannot be resolved, or an annotation with no JSON Schema.
        """
        where = where or f"tool {getattr(fn, '__qualname__', repr(fn))}"
        try:
            hints = get_type_hints(fn, include_extras=True)
        except Exception as exc:
            raise ConfigurationError(f"{where}: cannot resolve its type hints ({type(exc).__name__}: {exc})") from exc
        summary, docs = parse_docstring(fn.__doc__)
        params = list(inspect.signature(fn).parameters.values())[1 if skip_first else 0 :]
        props: dict[str, Any] = {}
        required: list[str] = []
        fields: dict[str, Any] = {}
        positional: list[str] = []
        keywords: list[str] = []
        for p in params:
            if p.kind in (p.VAR_POSITIONAL, p.VAR_KEYWORD):
                raise ConfigurationError(f"{where}: *args and **kwargs cannot be described to a model")
            if p.name not in hints:
                raise ConfigurationError(f"{where}: parameter {p.name!r} needs a type annotation")
            prop = json_schema(hints[p.name], where=f"{where}, parameter {p.name!r}")
            if p.name in docs:
                prop.setdefault("description", docs[p.name])
            if p.default is p.empty:
                required.append(p.name)
                fields[p.name] = attrs.field(type=hints[p.name])
            else:
                add_default(prop, p.default)
                fields[p.name] = attrs.field(type=hints[p.name], default=p.default)
            props[p.name] = prop
            (positional if p.kind is p.POSITIONAL_ONLY else keywords).append(p.name)
        args_class = attrs.make_class(f"{getattr(fn, '__name__', 'tool')}_arguments", fields, kw_only=True, frozen=True)
        try:
            structure = structurer(args_class)
        except Exception as exc:  # cattrs could not build a hook: say which tool, not cattrs' internals
            raise ConfigurationError(f"{where}: its arguments cannot be structured ({exc})") from exc
        schema = {"type": "object", "properties": props, "required": required, "additionalProperties": False}
        plain = None if positional else plain_binder([(p.name, hints[p.name], p.default) for p in params])
        return cls(summary, schema, structure, tuple(positional), tuple(keywords), plain=plain)

    @classmethod
    def hand_written(cls, fn: Callable[..., Any], parameters: dict[str, Any], description: str = "") -> Signature:
        """For a hand-written ``ToolDefinition``: the arguments object goes to ``fn`` as keywords.

        The schema is the model's guide only; nothing checks the arguments against it (that would
        need a JSON Schema validator). They are only checked to bind to ``fn``'s parameters.
        """
        try:
            python: inspect.Signature | None = inspect.signature(fn)
        except (TypeError, ValueError):  # some builtins have no signature: let the call decide
            python = None
        return cls(description, parameters, None, python=python)

    def bind(self, arguments: JSONValue) -> tuple[tuple[Any, ...], dict[str, Any]]:
        """The positional and keyword arguments for the function, from the model's arguments.

        Args:
            arguments: a JSON string, or an already-parsed value (normally a dict).

        Raises:
            ArgumentError: listing each problem with its path, what was expected and what came.
        """
        if self._plain is not None and type(arguments) is dict:
            kwargs = self._plain(arguments)
            if kwargs is not None:
                return (), kwargs
        loaded = load_arguments(arguments)
        if self._structure is None:
            if self._python is not None:
                try:
                    self._python.bind(**loaded)
                except TypeError as exc:
                    raise ArgumentError([f"$: {exc}"]) from None
            return (), loaded
        try:
            value = self._structure(loaded)
        except Exception as exc:
            raise ArgumentError(capped(problems(exc))) from None
        return (
            tuple(getattr(value, name) for name in self._positional),
            {name: getattr(value, name) for name in self._keywords},
        )
