"""From a Python signature to a tool's JSON Schema, and from the model's JSON back to arguments.

The schema (JSON Schema draft 2020-12, the dialect OpenAI and Anthropic accept) is derived from
type hints once, at decoration time, so an annotation no model could fill in fails there, not in
the middle of a run. Arguments are structured with a strict cattrs converter: no silent coercion
of ``"5"`` into ``5``, no extra keys; every problem is reported with its path, what was expected,
and what came, so the model can correct itself.
"""

from __future__ import annotations

import enum
import inspect
import json
import re
import types
import typing
from collections.abc import Callable, Mapping
from typing import Any, Literal, Union, get_args, get_origin, get_type_hints, is_typeddict

import attrs
import cattrs
from cattrs.errors import ClassValidationError, ForbiddenExtraKeysError, IterableValidationError

from .errors import ConfigurationError
from .messages import JSONValue

__all__ = ["ArgumentError", "Signature", "json_schema"]

_NoneType = type(None)


class ArgumentError(ValueError):
    """The model's arguments do not fit the tool's signature; the message says exactly how."""


def json_schema(tp: Any, *, where: str = "value", _seen: frozenset[Any] = frozenset()) -> dict[str, Any]:
    """The JSON Schema of a type hint.

    Raises:
        ConfigurationError: for a hint with no JSON Schema (``where`` names it in the message).
    """
    if tp is Any:
        return {}
    if tp is str:
        return {"type": "string"}
    if tp is bool:
        return {"type": "boolean"}
    if tp is int:
        return {"type": "integer"}
    if tp is float:
        return {"type": "number"}
    if tp is None or tp is _NoneType:
        return {"type": "null"}
    origin, args = get_origin(tp), get_args(tp)
    if origin is Literal:
        values = list(args)
        for v in values:
            if not isinstance(v, str | int | float | bool) and v is not None:
                raise ConfigurationError(f"{where}: Literal values must be str, int, float, bool or None")
        return {"enum": values}
    if origin is Union or origin is types.UnionType:
        members = [json_schema(a, where=where, _seen=_seen) for a in args]
        return {"anyOf": members}
    if origin in (list, typing.Sequence, set, frozenset) or tp in (list, set, frozenset):
        item = json_schema(args[0], where=f"{where}[]", _seen=_seen) if args else {}
        out: dict[str, Any] = {"type": "array", "items": item}
        if origin in (set, frozenset):
            out["uniqueItems"] = True
        return out
    if origin is tuple:
        if len(args) == 2 and args[1] is Ellipsis:
            return {"type": "array", "items": json_schema(args[0], where=f"{where}[]", _seen=_seen)}
        if args == ((),):
            return {"type": "array", "maxItems": 0}
        return {
            "type": "array",
            "prefixItems": [json_schema(a, where=f"{where}[{i}]", _seen=_seen) for i, a in enumerate(args)],
            "items": False,
            "minItems": len(args),
            "maxItems": len(args),
        }
    if origin in (dict, typing.Mapping) or tp is dict:
        if args and args[0] is not str:
            raise ConfigurationError(f"{where}: dict keys must be str (JSON object keys), not {args[0]!r}")
        value = json_schema(args[1], where=f"{where}{{}}", _seen=_seen) if args else {}
        return {"type": "object", "additionalProperties": value}
    if isinstance(tp, type) and issubclass(tp, enum.Enum):
        values = [m.value for m in tp]
        if not all(isinstance(v, str | int | float | bool) for v in values):
            raise ConfigurationError(f"{where}: enum {tp.__name__} has values that are not JSON scalars")
        return {"enum": values, "title": tp.__name__}
    if isinstance(tp, type) and (attrs.has(tp) or is_typeddict(tp)):
        if tp in _seen:
            raise ConfigurationError(f"{where}: {tp.__name__} is recursive, which tool schemas cannot express")
        return _object_schema(tp, where, _seen | {tp})
    raise ConfigurationError(f"{where}: the annotation {tp!r} has no JSON Schema; use JSON-like types")


def _object_schema(tp: type, where: str, seen: frozenset[Any]) -> dict[str, Any]:
    hints = get_type_hints(tp)
    props: dict[str, Any] = {}
    required: list[str] = []
    if attrs.has(tp):
        for a in attrs.fields(tp):
            props[a.name] = json_schema(hints[a.name], where=f"{where}.{a.name}", _seen=seen)
            if a.default is attrs.NOTHING:
                required.append(a.name)
            elif not isinstance(a.default, attrs.Factory):  # type: ignore[arg-type]
                _add_default(props[a.name], a.default)
    else:
        req = getattr(tp, "__required_keys__", frozenset(hints))
        for name, hint in hints.items():
            if get_origin(hint) in (typing.Required, typing.NotRequired):
                hint = get_args(hint)[0]
            props[name] = json_schema(hint, where=f"{where}.{name}", _seen=seen)
            if name in req:
                required.append(name)
    return {"type": "object", "title": tp.__name__, "properties": props, "required": required,
            "additionalProperties": False}  # fmt: skip


def _add_default(prop: dict[str, Any], default: Any) -> None:
    value = default.value if isinstance(default, enum.Enum) else default
    try:
        json.dumps(value)
    except (TypeError, ValueError):
        return
    prop["default"] = value


# ---------------------------------------------------------------------------------------------- parsing


def _strict_converter() -> cattrs.Converter:
    conv = cattrs.Converter(forbid_extra_keys=True)

    def strict(kind: type, accept: tuple[type, ...], name: str) -> None:
        def hook(value: Any, _: Any) -> Any:
            if isinstance(value, bool) and kind is not bool:
                raise TypeError(f"expected {name}, got boolean {json.dumps(value)}")
            if type(value) not in accept:
                raise TypeError(f"expected {name}, got {_describe(value)}")
            return float(value) if kind is float else value

        conv.register_structure_hook(kind, hook)

    strict(int, (int,), "integer")
    strict(float, (int, float), "number")
    strict(str, (str,), "string")
    strict(bool, (bool,), "boolean")
    return conv


def _describe(value: Any) -> str:
    kind = {dict: "object", list: "array", str: "string", bool: "boolean", int: "integer", float: "number"}.get(
        type(value), type(value).__name__
    )
    if value is None:
        return "null"
    text = json.dumps(value, ensure_ascii=False, default=str)
    return f"{kind} {text if len(text) <= 60 else text[:57] + '...'}"


_CONVERTER = _strict_converter()


def _format_errors(exc: BaseException, path: str = "$") -> list[str]:
    """Every leaf problem of a cattrs error, as ``path: what``."""
    out: list[str] = []
    if isinstance(exc, ForbiddenExtraKeysError):
        out.append(f"{path}: unexpected field(s) {', '.join(sorted(map(repr, exc.extra_fields)))}")
    elif isinstance(exc, ClassValidationError | IterableValidationError):
        with_notes, without_notes = exc.group_exceptions()
        for sub, note in with_notes:
            name = getattr(note, "name", None)
            index = getattr(note, "index", None)
            sub_path = f"{path}.{name}" if name is not None else f"{path}[{index}]" if index is not None else path
            out.extend(_format_errors(sub, sub_path))
        for sub in without_notes:
            out.extend(_format_errors(sub, path))
    elif isinstance(exc, BaseExceptionGroup):
        for inner in exc.exceptions:
            out.extend(_format_errors(inner, path))
    elif isinstance(exc, KeyError):
        out.append(f"{path}: required field missing")
    elif isinstance(exc, TypeError | ValueError):
        msg = str(exc)
        out.append(f"{path}: {msg}" if msg.startswith("expected") else f"{path}: {type(exc).__name__}: {msg}")
    else:
        out.append(f"{path}: {type(exc).__name__}: {exc}")
    return out


_ARGS_RE = re.compile(r"^\s*(Args|Arguments|Parameters|Params):\s*$")
_SECTION_RE = re.compile(r"^\s*[A-Z][A-Za-z ]*:\s*$")
_PARAM_RE = re.compile(r"^(\s*)(\*{0,2}\w+)\s*(\([^)]*\))?\s*:\s*(.*)$")


def parse_docstring(doc: str | None) -> tuple[str, dict[str, str]]:
    """The first paragraph of a docstring, and each parameter's description from ``Args:``."""
    text = inspect.cleandoc(doc or "")
    lines = text.splitlines()
    summary: list[str] = []
    for line in lines:
        if not line.strip() or _ARGS_RE.match(line) or _SECTION_RE.match(line):
            break
        summary.append(line.strip())
    params: dict[str, str] = {}
    in_args = False
    current: str | None = None
    base_indent: int | None = None
    for line in lines:
        if _ARGS_RE.match(line):
            in_args, current, base_indent = True, None, None
            continue
        if not in_args:
            continue
        if _SECTION_RE.match(line) and (base_indent is None or len(line) - len(line.lstrip()) < base_indent):
            break
        if not line.strip():
            continue
        indent = len(line) - len(line.lstrip())
        m = _PARAM_RE.match(line)
        if m and (base_indent is None or indent <= base_indent):
            base_indent = indent
            current = m.group(2).lstrip("*")
            params[current] = m.group(4).strip()
        elif current is not None:
            params[current] = (params[current] + " " + line.strip()).strip()
    return " ".join(summary), params


@attrs.frozen
class Signature:
    """A function's parameters as a tool sees them: a JSON Schema, and a strict way in."""

    description: str
    parameters_schema: dict[str, Any]
    _args_class: type | None
    _names: tuple[str, ...]

    @classmethod
    def of(cls, fn: Callable[..., Any], *, skip_first: bool | None = None) -> Signature:
        """Read ``fn``'s signature and docstring.

        Raises:
            ConfigurationError: for ``*args``/``**kwargs``, a missing annotation, or an
                annotation with no JSON Schema.
        """
        name = getattr(fn, "__qualname__", repr(fn))
        sig = inspect.signature(fn)
        try:
            hints = get_type_hints(fn)
        except Exception as exc:
            raise ConfigurationError(f"tool {name}: cannot resolve its type hints: {exc}") from exc
        summary, docs = parse_docstring(fn.__doc__)
        params = list(sig.parameters.values())
        if params and params[0].name in ("self", "cls") and skip_first is not False:
            params = params[1:]
        props: dict[str, Any] = {}
        required: list[str] = []
        fields: dict[str, Any] = {}
        for p in params:
            if p.kind in (p.VAR_POSITIONAL, p.VAR_KEYWORD):
                raise ConfigurationError(f"tool {name}: *args and **kwargs cannot be described to a model")
            if p.name not in hints:
                raise ConfigurationError(f"tool {name}: parameter {p.name!r} needs a type annotation")
            hint = hints[p.name]
            prop = json_schema(hint, where=f"tool {name}, parameter {p.name!r}")
            if p.name in docs:
                prop = {**prop, "description": docs[p.name]}
            if p.default is p.empty:
                required.append(p.name)
                fields[p.name] = attrs.field(type=hint)
            else:
                _add_default(prop, p.default)
                fields[p.name] = attrs.field(type=hint, default=p.default)
            props[p.name] = prop
        # attrs needs mandatory fields first; order does not matter for keyword calls
        ordered = dict(sorted(fields.items(), key=lambda kv: kv[1]._default is not attrs.NOTHING))
        args_class = attrs.make_class(f"{fn.__name__}_args", ordered, frozen=True) if fields else None
        schema = {"type": "object", "properties": props, "required": required, "additionalProperties": False}
        return cls(summary, schema, args_class, tuple(props))

    @classmethod
    def raw(cls, fn: Callable[..., Any]) -> Signature:
        """For a hand-written ``ToolDefinition``: arguments go to ``fn`` as keywords, unchecked."""
        return cls("", {}, None, ("**",))

    def bound(self) -> Signature:
        """The same signature (methods are read without ``self`` already)."""
        return self

    def structure(self, arguments: JSONValue) -> dict[str, Any]:
        """The keyword arguments for the function, from the model's arguments.

        ``arguments`` may be a JSON string or an already-parsed value.

        Raises:
            ArgumentError: saying, for each problem, where it is, what was expected and what came.
        """
        if isinstance(arguments, str):
            text = arguments.strip() or "{}"
            try:
                arguments = json.loads(text)
            except json.JSONDecodeError as exc:
                excerpt = text if len(text) <= 200 else text[:197] + "..."
                raise ArgumentError(f"arguments are not valid JSON ({exc.msg} at char {exc.pos}): {excerpt}") from None
        if arguments is None:
            arguments = {}
        if not isinstance(arguments, Mapping):
            raise ArgumentError(f"$: expected an object of named arguments, got {_describe(arguments)}")
        if self._names == ("**",):
            return dict(arguments)
        if self._args_class is None:
            if arguments:
                raise ArgumentError(f"$: unexpected field(s) {', '.join(sorted(map(repr, arguments)))}")
            return {}
        try:
            value: Any = _CONVERTER.structure(dict(arguments), self._args_class)
        except Exception as exc:
            problems = _format_errors(exc)
            raise ArgumentError("; ".join(problems)) from None
        return {name: getattr(value, name) for name in self._names}
