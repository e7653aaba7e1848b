"""From a Python type hint to the JSON Schema a model fills in.

The dialect is JSON Schema draft 2020-12 restricted to what OpenAI and Anthropic both accept for
tool parameters: ``type``, ``enum``, ``anyOf``, ``items`` / ``prefixItems``, ``properties`` /
``required`` / ``additionalProperties``, ``default``, ``title`` and ``description``. Every object
schema is inline (no ``$ref``): weaker models and some OpenAI-compatible servers mishandle
references, and tool signatures are small enough for inlining to cost nothing.

A schema is derived once, when a tool is declared, so an annotation no model could fill in fails
there, with the parameter named in the message, rather than in the middle of a run. The hints
accepted here are exactly those :mod:`agent_fsm.tools.arguments` can structure:

=========================================  =====================================================
hint                                       schema
=========================================  =====================================================
``str``, ``int``, ``float``, ``bool``      ``string``, ``integer``, ``number``, ``boolean``
``None``                                   ``{"type": "null"}``
``Any``                                    ``{}`` (any JSON value, passed through unchecked)
``list[T]``, ``Sequence[T]``               ``{"type": "array", "items": T}``
``set[T]``, ``frozenset[T]``               the same, with ``"uniqueItems": true``
``tuple[A, B]`` / ``tuple[T, ...]``        ``prefixItems`` with a fixed length / ``items``
``dict[str, T]``, ``Mapping[str, T]``      ``{"type": "object", "additionalProperties": T}``
``X | Y``, ``Optional[X]``                 ``{"anyOf": [X, Y]}``
``Literal[...]``, an ``Enum``              ``{"type": ..., "enum": [...]}`` (JSON scalars only)
attrs class, dataclass, ``TypedDict``      a closed object: ``properties``, ``required``, defaults
``Annotated[T, "text"]``                   T's schema with ``"description": "text"``
=========================================  =====================================================
"""

from __future__ import annotations

import collections.abc
import dataclasses
import enum
import json
import types
import typing
from typing import Annotated, Any, Literal, Union, get_args, get_origin, get_type_hints, is_typeddict

import attrs

from ..errors import ConfigurationError

__all__ = [
    "ARRAYS",
    "MAPPINGS",
    "SETS",
    "add_default",
    "default_json",
    "is_object_class",
    "json_schema",
    "object_fields",
    "type_name",
]

_NoneType = type(None)
_SCALARS: dict[Any, str] = {str: "string", bool: "boolean", int: "integer", float: "number", _NoneType: "null"}
ARRAYS: tuple[Any, ...] = (
    list,
    set,
    frozenset,
    collections.abc.Sequence,
    collections.abc.MutableSequence,
    collections.abc.Set,
    collections.abc.MutableSet,
)
"""Origins structured from a JSON array (``tuple`` has its own rules)."""
SETS: tuple[Any, ...] = (set, frozenset, collections.abc.Set, collections.abc.MutableSet)
"""The origins among :data:`ARRAYS` whose items must be unique."""
MAPPINGS: tuple[Any, ...] = (dict, collections.abc.Mapping, collections.abc.MutableMapping)
"""Origins structured from a JSON object with arbitrary ``str`` keys."""
_SUPPORTED = (
    "str, int, float, bool, None, Any, list/Sequence/set/frozenset[T], tuple[...], dict[str, T], "
    "X | Y, Optional[X], Literal of JSON scalars, Enum of JSON scalars, attrs classes, dataclasses, TypedDict"
)


def json_schema(tp: Any, *, where: str = "value") -> dict[str, Any]:
    """The JSON Schema of a type hint.

    Args:
        tp: the hint, already resolved (no string forward references).
        where: what the hint annotates, for error messages (``"tool add, parameter 'a'"``).

    Returns:
        A fresh dict the caller may modify.

    Raises:
        ConfigurationError: for a hint with no JSON Schema, a recursive class, a ``dict`` with
            non-``str`` keys, or a ``Literal`` / ``Enum`` whose values are not JSON scalars.
    """
    return _schema(tp, where, frozenset())


def _schema(tp: Any, where: str, seen: frozenset[Any]) -> dict[str, Any]:
    if tp is Any:
        return {}
    if tp is None:
        tp = _NoneType
    if isinstance(tp, type) and tp in _SCALARS:
        return {"type": _SCALARS[tp]}
    origin, args = get_origin(tp), get_args(tp)
    if origin is Annotated:
        out = _schema(args[0], where, seen)
        notes = [a for a in args[1:] if isinstance(a, str)]
        if notes:
            out["description"] = " ".join(notes)
        return out
    if origin is Literal:
        return _enum_schema(list(args), where, "Literal")
    if origin is Union or origin is types.UnionType:
        return {"anyOf": [_schema(a, where, seen) for a in args]}
    if origin in ARRAYS or tp in (list, set, frozenset):
        out = {"type": "array", "items": _schema(args[0], f"{where}[]", seen) if args else {}}
        if origin in SETS or tp in SETS:
            out["uniqueItems"] = True
        return out
    if origin is tuple or tp is tuple:
        return _tuple_schema(tp, args, where, seen)
    if origin in MAPPINGS or tp is dict:
        if args and args[0] is not str:
            raise ConfigurationError(
                f"{where}: {type_name(tp)} has {type_name(args[0])} keys; JSON object keys are strings, "
                "so use dict[str, ...]"
            )
        return {"type": "object", "additionalProperties": _schema(args[1], f"{where}{{}}", seen) if args else {}}
    if isinstance(tp, type) and issubclass(tp, enum.Enum):
        out = _enum_schema([m.value for m in tp], where, f"enum {tp.__name__}")
        return {"title": tp.__name__, **out}
    if is_object_class(tp):
        if tp in seen:
            raise ConfigurationError(f"{where}: {type_name(tp)} contains itself, which a tool schema cannot express")
        return _object_schema(tp, where, seen | {tp})
    raise ConfigurationError(f"{where}: the annotation {type_name(tp)} has no JSON Schema; supported: {_SUPPORTED}")


def _enum_schema(values: list[Any], where: str, what: str) -> dict[str, Any]:
    for v in values:
        if v is not None and type(v) not in (str, int, float, bool):
            raise ConfigurationError(
                f"{where}: {what} has the value {v!r}; values must be str, int, float, bool or None"
            )
    kinds = sorted({_SCALARS[type(v)] for v in values})
    if kinds == ["integer", "number"]:
        kinds = ["number"]
    return {"type": kinds[0] if len(kinds) == 1 else kinds, "enum": values}


def _tuple_schema(tp: Any, args: tuple[Any, ...], where: str, seen: frozenset[Any]) -> dict[str, Any]:
    if tp is tuple:  # bare ``tuple``: any number of anything
        return {"type": "array", "items": {}}
    if len(args) == 2 and args[1] is Ellipsis:
        return {"type": "array", "items": _schema(args[0], f"{where}[]", seen)}
    if not args:  # ``tuple[()]``
        return {"type": "array", "maxItems": 0}
    return {
        "type": "array",
        "prefixItems": [_schema(a, f"{where}[{i}]", seen) for i, a in enumerate(args)],
        "items": False,
        "minItems": len(args),
        "maxItems": len(args),
    }


def is_object_class(tp: Any) -> bool:
    """Whether ``tp`` is a class a JSON object is structured into: attrs, dataclass, TypedDict."""
    return isinstance(tp, type) and (attrs.has(tp) or dataclasses.is_dataclass(tp) or is_typeddict(tp))


def object_fields(tp: type, where: str = "value") -> list[tuple[str, Any, bool, Any]]:
    """``(name, hint, required, default)`` per field of an attrs class, dataclass or TypedDict.

    ``default`` is ``attrs.NOTHING`` when there is no plain default (none, or a factory).

    Raises:
        ConfigurationError: when the class's hints cannot be resolved.
    """
    try:
        hints = get_type_hints(tp, include_extras=True)
    except Exception as exc:
        raise ConfigurationError(f"{where}: cannot resolve the type hints of {type_name(tp)}: {exc}") from exc
    out: list[tuple[str, Any, bool, Any]] = []
    if attrs.has(tp):
        for a in attrs.fields(tp):
            plain = a.default is not attrs.NOTHING and not isinstance(a.default, attrs.Factory)  # type: ignore[arg-type]
            out.append((a.name, hints[a.name], a.default is attrs.NOTHING, a.default if plain else attrs.NOTHING))
    elif dataclasses.is_dataclass(tp):
        for f in dataclasses.fields(tp):
            missing = f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING
            default = attrs.NOTHING if f.default is dataclasses.MISSING else f.default
            out.append((f.name, hints[f.name], missing, default))
    else:
        required = getattr(tp, "__required_keys__", frozenset(hints))
        for name, hint in hints.items():
            marker = get_origin(hint)
            if marker in (typing.Required, typing.NotRequired):
                if (marker is typing.Required) != (name in required):
                    # Python < 3.14 decides required keys when the class is made, from the raw
                    # annotations, and cannot see the marker inside a string annotation: the
                    # class itself (and so cattrs) would disagree with the schema.
                    raise ConfigurationError(
                        f"{where}: TypedDict {type_name(tp)} marks {name!r} {marker.__name__}, but Python did not "
                        "see it (the annotation is a string, as under `from __future__ import annotations`); "
                        "declare optional keys in a `total=False` TypedDict instead"
                    )
                hint = get_args(hint)[0]
            out.append((name, hint, name in required, attrs.NOTHING))
    return out


def _object_schema(tp: type, where: str, seen: frozenset[Any]) -> dict[str, Any]:
    props: dict[str, Any] = {}
    required: list[str] = []
    for name, hint, is_required, default in object_fields(tp, where):
        props[name] = _schema(hint, f"{where}.{name}", seen)
        if is_required:
            required.append(name)
        elif default is not attrs.NOTHING:
            add_default(props[name], default)
    return {
        "type": "object",
        "title": tp.__name__,
        "properties": props,
        "required": required,
        "additionalProperties": False,
    }


def default_json(value: Any) -> tuple[bool, Any]:
    """``(True, json_value)`` when a default can be shown to the model, else ``(False, None)``."""
    if isinstance(value, enum.Enum):
        value = value.value
    if isinstance(value, tuple | frozenset | set):
        value = list(value)
    try:
        json.dumps(value, allow_nan=False)
    except (TypeError, ValueError):
        return False, None
    return True, value


def add_default(prop: dict[str, Any], default: Any) -> None:
    """Record ``default`` in a property's schema, when JSON can say it."""
    ok, value = default_json(default)
    if ok:
        prop["default"] = value


def type_name(tp: Any) -> str:
    """A hint as a reader writes it: ``int``, ``dict[int, str]``, ``Address``."""
    if isinstance(tp, type) and not get_args(tp):
        return tp.__qualname__
    return repr(tp).replace("typing.", "")
