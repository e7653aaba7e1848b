"""From the model's JSON arguments to typed Python values, strictly, or a message that says why not.

A model that sends ``{"a": "5"}`` for ``a: int`` has made a mistake it can fix, but only if it is
told. So nothing is coerced: no ``"5"`` into ``5``, no ``"abc"`` into ``["a", "b", "c"]``, no
``1`` into ``True``, no unknown keys dropped. cattrs does the structuring (classes, nesting,
collecting every error at once with its path); the hooks registered here make each leaf strict
and describe each mismatch as *expected X, got Y*. :func:`problems` flattens cattrs' error tree
into one line per problem, in the form the model sees::

    $.a: expected integer, got string "5"
    $.address.zip: missing required field (expected integer)
    $.colour: unexpected field (allowed fields: a, address)

Paths are JSONPath: ``$`` is the arguments object, ``.name`` a field, ``[2]`` an array index and
``["key"]`` a key of a ``dict[str, T]``.
"""

from __future__ import annotations

import enum
import functools
import inspect
import json
import math
import types
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Annotated, Any, Literal, Union, get_args, get_origin, is_typeddict

import cattrs
from cattrs.errors import (
    AttributeValidationNote,
    ClassValidationError,
    ForbiddenExtraKeysError,
    IterableValidationError,
    IterableValidationNote,
)
from cattrs.gen import make_dict_structure_fn
from cattrs.gen.typeddicts import make_dict_structure_fn as make_typeddict_structure_fn

from ..messages import JSONValue, json_problem
from .schema import ARRAYS, MAPPINGS, SETS, is_object_class, object_fields

__all__ = [
    "MAX_PROBLEMS",
    "ArgumentError",
    "capped",
    "describe_choices",
    "describe_type",
    "describe_value",
    "json_path",
    "load_arguments",
    "plain_binder",
    "problems",
    "structurer",
]

MAX_PROBLEMS = 10
"""Problems listed in one message; past that the model gets a count (it will fix them in rounds)."""

_NoneType = type(None)
_ScalarSpec = tuple[str, tuple[type, ...]]
_SCALARS: dict[type, _ScalarSpec] = {
    str: ("string", (str,)),
    int: ("integer", (int,)),
    float: ("number", (int, float)),
    bool: ("boolean", (bool,)),
    _NoneType: ("null", (_NoneType,)),
}
_KINDS: dict[type, str] = {
    dict: "object",
    list: "array",
    str: "string",
    bool: "boolean",
    int: "integer",
    float: "number",
    _NoneType: "null",
}


class ArgumentError(ValueError):
    """The model's arguments do not fit the tool: ``problems`` holds one line per problem."""

    def __init__(self, problems: Sequence[str]) -> None:
        self.problems = tuple(problems)
        super().__init__("\n".join(self.problems))


class _Mismatch(TypeError):
    """A JSON value that is not what the annotation asks for."""

    def __init__(self, expected: str, value: Any) -> None:
        super().__init__(f"expected {expected}, got {describe_value(value)}")


# ---------------------------------------------------------------------------------------------- loading


def load_arguments(raw: JSONValue) -> dict[str, Any]:
    """The arguments object, from a JSON string or an already-parsed value.

    An empty string and ``None`` mean "no arguments" (some providers send either for a call
    without parameters).

    Raises:
        ArgumentError: for text that is not JSON, or JSON that is not an object.
    """
    if isinstance(raw, str):
        text = raw
        if not text.strip():
            return {}
        try:
            raw = json.loads(text, parse_constant=_not_json)
        except json.JSONDecodeError as exc:
            raise ArgumentError(
                [f"$: the arguments are not valid JSON ({exc.msg} at line {exc.lineno} column {exc.colno}): "
                 f"{_excerpt(text, 200)}"]
            ) from None  # fmt: skip
        except (ValueError, RecursionError) as exc:
            raise ArgumentError([f"$: the arguments are not valid JSON ({exc or 'nested too deeply'})"]) from None
    problem = json_problem(raw)
    if problem is not None:
        raise ArgumentError([f"$: the arguments are not valid JSON ({problem})"])
    if raw is None:
        return {}
    if not isinstance(raw, Mapping):
        raise ArgumentError([f"$: expected an object of named arguments, got {describe_value(raw)}"])
    return dict(raw)


def _not_json(word: str) -> Any:
    raise ValueError(f"{word} is not a JSON number")


def structurer(tp: Any) -> Callable[[Any], Any]:
    """A function structuring a JSON value into ``tp`` strictly; it raises cattrs' error tree.

    Building it once, when a tool is declared, also proves every annotation can be structured.
    """
    hook = _converter().get_structure_hook(tp)
    return lambda value: hook(value, tp)


_MISSING: Any = object()


def plain_binder(
    parameters: Sequence[tuple[str, Any, Any]],
) -> Callable[[dict[str, Any]], dict[str, Any] | None] | None:
    """A quick check for a tool whose parameters (``(name, type, default)``, the default
    ``inspect.Parameter.empty`` for a required one) are all plain ``str``, ``int``, ``float`` or
    ``bool``; ``None`` for any other tool.

    It takes a parsed arguments ``dict`` and gives the keyword arguments - exactly what
    :func:`structurer` gives: the same exact types, an ``int`` for a ``float`` made a float, a
    default for each parameter left out - when every one fits, or ``None`` when anything does not
    (a field missing, one unknown, a value of another kind): the caller then asks the
    structurer, which says what is wrong. So arguments that fit skip cattrs (most calls, at a
    fifth of the cost), and every problem is still described in one place, in the same words.
    """
    spec: list[tuple[str, tuple[type, ...], bool, Any]] = []
    for name, tp, default in parameters:
        if tp not in (str, int, float, bool):
            return None
        spec.append((name, _SCALARS[tp][1], tp is float, _MISSING if default is inspect.Parameter.empty else default))
    fields = tuple(spec)

    def bind(arguments: dict[str, Any]) -> dict[str, Any] | None:
        kwargs: dict[str, Any] = {}
        given = 0
        for name, accepted, is_float, default in fields:
            value = arguments.get(name, _MISSING)
            if value is _MISSING:
                if default is _MISSING:  # required
                    return None
                kwargs[name] = default
                continue
            given += 1
            if type(value) not in accepted:
                return None
            if is_float:
                try:
                    value = float(value)
                except OverflowError:
                    return None
                if not math.isfinite(value):  # not JSON: the structurer's caller says so
                    return None
            kwargs[name] = value
        return kwargs if given == len(arguments) else None

    return bind


# ---------------------------------------------------------------------------------------------- describing


def describe_value(value: Any) -> str:
    """A JSON value as the model should read it in "got ...": its kind and an excerpt."""
    if value is None:
        return "null"
    kind = _KINDS.get(type(value), type(value).__name__)
    try:
        text = json.dumps(value, ensure_ascii=False)
    except (TypeError, ValueError):
        text = repr(value)
    return f"{kind} {_excerpt(text, 60)}"


def describe_type(tp: Any) -> str:
    """A type hint in JSON words, for "expected ...": ``integer``, ``array of string``."""
    if tp is Any:
        return "any value"
    if tp is None:
        tp = _NoneType
    if isinstance(tp, type) and tp in _SCALARS:
        return _SCALARS[tp][0]
    origin, args = get_origin(tp), get_args(tp)
    if origin is Annotated:
        return describe_type(args[0])
    if origin is Literal:
        return _one_of(args)
    if isinstance(tp, type) and issubclass(tp, enum.Enum):
        return _one_of([m.value for m in tp])
    if origin is Union or origin is types.UnionType:
        return " or ".join(describe_type(a) for a in args)
    if origin is tuple and not args:
        return "empty array"
    if origin is tuple and not (len(args) == 2 and args[1] is Ellipsis):
        return f"array of {len(args)} items [{', '.join(describe_type(a) for a in args)}]"
    if origin in ARRAYS or origin is tuple or tp in (list, set, frozenset, tuple):
        unique = "unique " if origin in SETS or tp in SETS else ""
        return f"array of {unique}{describe_type(args[0]) if args else 'any value'}"
    if origin in MAPPINGS or tp is dict:
        return f"object of {describe_type(args[1])}" if args else "object"
    if is_object_class(tp):
        return "object"
    return getattr(tp, "__name__", repr(tp))


def describe_choices(values: Sequence[Any]) -> str:
    """Allowed JSON values in words, for "expected ...": ``"km"`` or ``one of "km", "mi"``."""
    return _one_of(values)


def _one_of(values: Sequence[Any]) -> str:
    shown = ", ".join(json.dumps(v) for v in values)
    return shown if len(values) == 1 else f"one of {shown}"


def _excerpt(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 3] + "..."


# ---------------------------------------------------------------------------------------------- problems


def problems(exc: BaseException, path: str = "$") -> list[str]:
    """Every leaf problem in a cattrs error tree, as ``path: what``, in field order."""
    if isinstance(exc, ArgumentError):
        return list(exc.problems)
    if isinstance(exc, ForbiddenExtraKeysError):
        allowed = ", ".join(name for name, *_ in object_fields(exc.cl)) if exc.cl is not None else ""
        return [
            f"{_field_path(path, key)}: unexpected field (allowed fields: {allowed or 'none'})"
            for key in sorted(exc.extra_fields)
        ]
    if isinstance(exc, ClassValidationError | IterableValidationError):
        out: list[str] = []
        with_notes, without_notes = exc.group_exceptions()
        for sub, note in with_notes:
            sub_path = _sub_path(path, note)
            if isinstance(sub, KeyError) and isinstance(note, AttributeValidationNote):
                out.append(f"{sub_path}: missing required field (expected {describe_type(note.type)})")
            else:
                out.extend(problems(sub, sub_path))
        for sub in without_notes:
            out.extend(problems(sub, path))
        return out
    if isinstance(exc, _Mismatch):
        return [f"{path}: {exc}"]
    return [f"{path}: {type(exc).__name__}: {exc}"]


def capped(found: Sequence[str]) -> list[str]:
    """At most :data:`MAX_PROBLEMS` problems, then how many more there were."""
    if len(found) <= MAX_PROBLEMS:
        return list(found)
    return [*found[:MAX_PROBLEMS], f"... and {len(found) - MAX_PROBLEMS} more problem(s)"]


def json_path(parts: Iterable[str | int], root: str = "$") -> str:
    """The path of a place in the arguments, as problems name it: ``$.a[2]["b c"]``."""
    path = root
    for part in parts:
        path = f"{path}[{part}]" if isinstance(part, int) else _field_path(path, part)
    return path


def _sub_path(path: str, note: Any) -> str:
    if isinstance(note, AttributeValidationNote):
        return _field_path(path, note.name)
    if isinstance(note, IterableValidationNote):
        index = note.index
        return f"{path}[{json.dumps(index)}]" if isinstance(index, str) else f"{path}[{index}]"
    return path


def _field_path(path: str, name: str) -> str:
    return f"{path}.{name}" if name.isidentifier() else f"{path}[{json.dumps(name)}]"


# ---------------------------------------------------------------------------------------------- the converter


@functools.cache
def _converter() -> cattrs.Converter:
    """The strict converter, built on first use (never at import)."""
    conv = cattrs.Converter(forbid_extra_keys=True, detailed_validation=True)
    # cattrs dispatches on subclasses of str/int/float through ``functools.singledispatch``
    # before any predicate, so the strict scalar hook takes those classes (and Enum) there and
    # decides by the exact class; a bool is never an int, an IntEnum member is an Enum.
    for cl in (str, int, float, bool, _NoneType, enum.Enum):
        conv.register_structure_hook(cl, _structure_scalar)
    conv.register_structure_hook_func(_is_literal, _structure_literal)
    conv.register_structure_hook_factory(_is_union, _union_factory)
    conv.register_structure_hook_factory(_is_array, _array_factory)
    conv.register_structure_hook_factory(_is_mapping, _mapping_factory)
    conv.register_structure_hook_factory(is_object_class, _object_factory)
    return conv


def _is_literal(tp: Any) -> bool:
    return get_origin(tp) is Literal


def _is_union(tp: Any) -> bool:
    return get_origin(tp) in (Union, types.UnionType)


def _is_array(tp: Any) -> bool:
    return get_origin(tp) in ARRAYS or get_origin(tp) is tuple or tp in (list, set, frozenset, tuple)


def _is_mapping(tp: Any) -> bool:
    return get_origin(tp) in MAPPINGS or tp is dict


def _structure_scalar(value: Any, cl: type) -> Any:
    if issubclass(cl, enum.Enum):
        for member in cl:
            if type(member.value) is type(value) and member.value == value:
                return member
        raise _Mismatch(describe_type(cl), value)
    spec = _SCALARS.get(cl)
    if spec is None:  # a subclass of str/int/float: the schema refuses those, so never reached
        raise TypeError(f"{cl.__qualname__} cannot be structured from JSON")
    expected, accepted = spec
    if type(value) not in accepted:
        raise _Mismatch(expected, value)
    return float(value) if cl is float else value


def _structure_literal(value: Any, tp: Any) -> Any:
    for option in get_args(tp):
        if type(option) is type(value) and option == value:
            return option
    raise _Mismatch(describe_type(tp), value)


def _union_factory(tp: Any, conv: cattrs.BaseConverter) -> Callable[[Any, Any], Any]:
    members = [(m, conv.get_structure_hook(m)) for m in get_args(tp)]
    expected = describe_type(tp)

    def structure(value: Any, _: Any) -> Any:
        near: list[Exception] = []
        for member, hook in members:  # the first member that fits wins, as in the annotation
            try:
                return hook(value, member)
            except _Mismatch:  # the value is not even of this member's JSON kind
                continue
            except Exception as exc:  # of the right kind, wrong inside: worth reporting
                near.append(exc)
        if len(near) == 1:  # one member came close: its own problems, with their paths, help most
            raise near[0]
        raise _Mismatch(expected, value)

    return structure


_Hook = Callable[[Any, Any], Any]


def _each(entries: Iterable[tuple[int | str, Any, _Hook, Any]], tp: Any) -> list[Any]:
    """Structure ``(index or key, value, hook, type)`` entries, collecting every failure with its place."""
    out: list[Any] = []
    errors: list[Exception] = []
    for index, value, hook, item_tp in entries:
        try:
            out.append(hook(value, item_tp))
        except Exception as exc:
            exc.add_note(IterableValidationNote(f"Structuring {tp!r} @ {index!r}", index, item_tp))
            errors.append(exc)
    if errors:
        raise IterableValidationError(f"While structuring {tp!r}", errors, tp)
    return out


def _array_factory(tp: Any, conv: cattrs.BaseConverter) -> Callable[[Any, Any], Any]:
    origin, args = get_origin(tp) or tp, get_args(tp)
    expected = describe_type(tp)
    fixed = origin is tuple and args and not (len(args) == 2 and args[1] is Ellipsis)
    if origin is tuple and not args and tp is not tuple:  # tuple[()]
        fixed = True
    item_types: tuple[Any, ...] = args if fixed else (args[0] if args else Any,)
    hooks: list[tuple[_Hook, Any]] = [(conv.get_structure_hook(t), t) for t in item_types]
    make: Callable[[list[Any]], Any] = (
        tuple if origin is tuple else frozenset if origin is frozenset else set if origin in SETS else list
    )

    def structure(value: Any, _: Any) -> Any:
        if type(value) is not list or (fixed and len(value) != len(hooks)):
            raise _Mismatch(expected, value)
        per_item = hooks if fixed else hooks * len(value)
        items = _each(((i, v, hook, t) for i, (v, (hook, t)) in enumerate(zip(value, per_item, strict=True))), tp)
        out = make(items)
        if isinstance(out, set | frozenset) and len(out) != len(items):
            raise _Mismatch(expected, value)
        return out

    return structure


def _mapping_factory(tp: Any, conv: cattrs.BaseConverter) -> Callable[[Any, Any], Any]:
    args = get_args(tp)
    value_tp = args[1] if args else Any
    hook = conv.get_structure_hook(value_tp)
    expected = describe_type(tp)

    def structure(value: Any, _: Any) -> Any:
        if type(value) is not dict or not all(type(k) is str for k in value):
            raise _Mismatch(expected, value)
        return dict(zip(value, _each(((k, v, hook, value_tp) for k, v in value.items()), tp), strict=True))

    return structure


def _object_factory(tp: Any, conv: cattrs.BaseConverter) -> Callable[[Any, Any], Any]:
    options: dict[str, Any] = {"_cattrs_forbid_extra_keys": True, "_cattrs_detailed_validation": True}
    make = make_typeddict_structure_fn if is_typeddict(tp) else make_dict_structure_fn
    fn = make(tp, conv, **options)

    def structure(value: Any, _: Any) -> Any:
        if type(value) is not dict:
            raise _Mismatch("object", value)
        return fn(value, tp)

    return structure
