"""JSON Schemas derived from tool signatures: snapshots, refusals, docstrings."""

from __future__ import annotations

import collections.abc
import dataclasses
import enum
from typing import Annotated, Any, Literal, NotRequired, Optional, TypedDict

import attrs
import pytest

from agent_fsm.errors import ConfigurationError
from agent_fsm.tools import tool
from agent_fsm.tools.schema import json_schema
from agent_fsm.tools.signature import parse_docstring

# ------------------------------------------------------------------------------------ types used below


class Colour(enum.Enum):
    RED = "red"
    GREEN = "green"


class Level(enum.IntEnum):
    LOW = 1
    HIGH = 2


@attrs.frozen
class Address:
    street: str
    zip: int
    country: str = "NL"
    tags: list[str] = attrs.field(factory=list)


@attrs.frozen
class Person:
    name: str
    home: Address
    work: Address | None = None


class _PointBase(TypedDict):
    x: float
    y: float


class Point(_PointBase, total=False):
    label: str


class Marked(TypedDict):
    # Under ``from __future__ import annotations`` Python 3.11 cannot see this marker.
    label: NotRequired[str]


@dataclasses.dataclass
class Window:
    start: int
    end: int = 10


@attrs.frozen
class Node:
    value: int
    children: list[Node]


# ------------------------------------------------------------------------------------ signatures


def no_params() -> str:
    """Say hello."""
    return "hi"


def scalars(a: int, b: float, c: str, d: bool, e: None) -> None:
    """Scalars."""


def with_defaults(text: str, times: int = 2, sep: str = " ", colour: Colour = Colour.RED) -> str:
    """Repeat text."""
    return sep.join([text] * times)


def optionals(
    a: Optional[int],  # noqa: UP045 - Optional is part of what is covered
    b: str | None = None,
    c: int | str = 0,
) -> None:
    """Optionals."""


def collections_(xs: list[int], names: collections.abc.Sequence[str], unique: set[str], frozen: frozenset[int]) -> None:
    """Collections."""


def tuples(pair: tuple[int, str], many: tuple[float, ...], empty: tuple[()] = ()) -> None:
    """Tuples."""


def mappings(scores: dict[str, int], anything: dict[str, Any], meta: collections.abc.Mapping[str, list[str]]) -> None:
    """Mappings."""


def choices(unit: Literal["km", "mi"], mixed: Literal[1, "one", None], colour: Colour, level: Level) -> None:
    """Choices."""


def nested_attrs(person: Person) -> None:
    """Nested attrs classes."""


def typeddict_and_dataclass(point: Point, window: Window) -> None:
    """A TypedDict and a dataclass."""


def documented(city: str, days: int = 3) -> str:
    """Get the weather forecast.

    Uses the national weather service.

    Args:
        city: the city name, e.g.
            "Amsterdam".
        days (int): how many days ahead.

    Returns:
        The forecast.
    """
    return city


def annotated(query: Annotated[str, "what to search for"], limit: Annotated[int, "at most this many"] = 5) -> None:
    """Search."""


def list_of_objects(points: list[Point], by_name: dict[str, Window]) -> None:
    """Objects inside containers."""


def positional_only(a: int, /, b: int) -> int:
    """Positional-only parameters are filled by name too."""
    return a + b


# Schemas of the classes above, used in several snapshots below.
ADDRESS: dict[str, Any] = {
    "type": "object",
    "title": "Address",
    "properties": {
        "street": {"type": "string"},
        "zip": {"type": "integer"},
        "country": {"type": "string", "default": "NL"},
        "tags": {"type": "array", "items": {"type": "string"}},
    },
    "required": ["street", "zip"],
    "additionalProperties": False,
}
POINT: dict[str, Any] = {
    "type": "object",
    "title": "Point",
    "properties": {"x": {"type": "number"}, "y": {"type": "number"}, "label": {"type": "string"}},
    "required": ["x", "y"],
    "additionalProperties": False,
}
WINDOW: dict[str, Any] = {
    "type": "object",
    "title": "Window",
    "properties": {"start": {"type": "integer"}, "end": {"type": "integer", "default": 10}},
    "required": ["start"],
    "additionalProperties": False,
}

# The expected parameters schema of each signature, written out in full.
SNAPSHOTS: list[tuple[Any, dict[str, Any]]] = [
    (no_params, {"type": "object", "properties": {}, "required": [], "additionalProperties": False}),
    (
        scalars,
        {
            "type": "object",
            "properties": {
                "a": {"type": "integer"},
                "b": {"type": "number"},
                "c": {"type": "string"},
                "d": {"type": "boolean"},
                "e": {"type": "null"},
            },
            "required": ["a", "b", "c", "d", "e"],
            "additionalProperties": False,
        },
    ),
    (
        with_defaults,
        {
            "type": "object",
            "properties": {
                "text": {"type": "string"},
                "times": {"type": "integer", "default": 2},
                "sep": {"type": "string", "default": " "},
                "colour": {"title": "Colour", "type": "string", "enum": ["red", "green"], "default": "red"},
            },
            "required": ["text"],
            "additionalProperties": False,
        },
    ),
    (
        optionals,
        {
            "type": "object",
            "properties": {
                "a": {"anyOf": [{"type": "integer"}, {"type": "null"}]},
                "b": {"anyOf": [{"type": "string"}, {"type": "null"}], "default": None},
                "c": {"anyOf": [{"type": "integer"}, {"type": "string"}], "default": 0},
            },
            "required": ["a"],
            "additionalProperties": False,
        },
    ),
    (
        collections_,
        {
            "type": "object",
            "properties": {
                "xs": {"type": "array", "items": {"type": "integer"}},
                "names": {"type": "array", "items": {"type": "string"}},
                "unique": {"type": "array", "items": {"type": "string"}, "uniqueItems": True},
                "frozen": {"type": "array", "items": {"type": "integer"}, "uniqueItems": True},
            },
            "required": ["xs", "names", "unique", "frozen"],
            "additionalProperties": False,
        },
    ),
    (
        tuples,
        {
            "type": "object",
            "properties": {
                "pair": {
                    "type": "array",
                    "prefixItems": [{"type": "integer"}, {"type": "string"}],
                    "items": False,
                    "minItems": 2,
                    "maxItems": 2,
                },
                "many": {"type": "array", "items": {"type": "number"}},
                "empty": {"type": "array", "maxItems": 0, "default": []},
            },
            "required": ["pair", "many"],
            "additionalProperties": False,
        },
    ),
    (
        mappings,
        {
            "type": "object",
            "properties": {
                "scores": {"type": "object", "additionalProperties": {"type": "integer"}},
                "anything": {"type": "object", "additionalProperties": {}},
                "meta": {"type": "object", "additionalProperties": {"type": "array", "items": {"type": "string"}}},
            },
            "required": ["scores", "anything", "meta"],
            "additionalProperties": False,
        },
    ),
    (
        choices,
        {
            "type": "object",
            "properties": {
                "unit": {"type": "string", "enum": ["km", "mi"]},
                "mixed": {"type": ["integer", "null", "string"], "enum": [1, "one", None]},
                "colour": {"title": "Colour", "type": "string", "enum": ["red", "green"]},
                "level": {"title": "Level", "type": "integer", "enum": [1, 2]},
            },
            "required": ["unit", "mixed", "colour", "level"],
            "additionalProperties": False,
        },
    ),
    (
        nested_attrs,
        {
            "type": "object",
            "properties": {
                "person": {
                    "type": "object",
                    "title": "Person",
                    "properties": {
                        "name": {"type": "string"},
                        "home": ADDRESS,
                        "work": {
                            "anyOf": [
                                ADDRESS,
                                {"type": "null"},
                            ],
                            "default": None,
                        },
                    },
                    "required": ["name", "home"],
                    "additionalProperties": False,
                }
            },
            "required": ["person"],
            "additionalProperties": False,
        },
    ),
    (
        typeddict_and_dataclass,
        {
            "type": "object",
            "properties": {
                "point": POINT,
                "window": WINDOW,
            },
            "required": ["point", "window"],
            "additionalProperties": False,
        },
    ),
    (
        documented,
        {
            "type": "object",
            "properties": {
                "city": {"type": "string", "description": 'the city name, e.g. "Amsterdam".'},
                "days": {"type": "integer", "description": "how many days ahead.", "default": 3},
            },
            "required": ["city"],
            "additionalProperties": False,
        },
    ),
    (
        annotated,
        {
            "type": "object",
            "properties": {
                "query": {"type": "string", "description": "what to search for"},
                "limit": {"type": "integer", "description": "at most this many", "default": 5},
            },
            "required": ["query"],
            "additionalProperties": False,
        },
    ),
    (
        list_of_objects,
        {
            "type": "object",
            "properties": {
                "points": {
                    "type": "array",
                    "items": POINT,
                },
                "by_name": {
                    "type": "object",
                    "additionalProperties": WINDOW,
                },
            },
            "required": ["points", "by_name"],
            "additionalProperties": False,
        },
    ),
    (
        positional_only,
        {
            "type": "object",
            "properties": {"a": {"type": "integer"}, "b": {"type": "integer"}},
            "required": ["a", "b"],
            "additionalProperties": False,
        },
    ),
]


@pytest.mark.parametrize(("fn", "expected"), SNAPSHOTS, ids=[fn.__name__ for fn, _ in SNAPSHOTS])
def test_tool_schema_snapshot(fn: Any, expected: dict[str, Any]) -> None:
    assert tool(fn).definition.parameters == expected


def test_tool_definition_takes_name_and_first_docstring_paragraph() -> None:
    t = tool(documented)
    assert t.definition.name == "documented"
    assert t.definition.description == "Get the weather forecast."


def test_tool_name_and_description_can_be_overridden() -> None:
    t = tool(name="weather", description="Forecast for a city.")(documented)
    assert (t.definition.name, t.definition.description) == ("weather", "Forecast for a city.")
    assert t.definition.parameters == tool(documented).definition.parameters


def test_json_schema_of_any_is_the_empty_schema() -> None:
    assert json_schema(Any) == {}
    assert json_schema(list) == {"type": "array", "items": {}}
    assert json_schema(dict) == {"type": "object", "additionalProperties": {}}


def test_json_schema_returns_a_fresh_dict_each_time() -> None:
    first = json_schema(Address)
    first["properties"]["street"]["description"] = "changed"
    assert "description" not in json_schema(Address)["properties"]["street"]


# ------------------------------------------------------------------------------------ refusals


def _bytes(data: bytes) -> None:
    """Unsupported."""


def _int_keys(table: dict[int, str]) -> None:
    """Unsupported."""


def _object(thing: object) -> None:
    """Unsupported."""


def _recursive(node: Node) -> None:
    """Unsupported."""


def _nested_bad(people: list[dict[str, bytes]]) -> None:
    """Unsupported."""


def _bad_literal(x: Literal[Colour.RED]) -> None:
    """Unsupported."""


def _marked(m: Marked) -> None:
    """Unsupported here."""


def _unannotated(x) -> None:  # type: ignore[no-untyped-def]
    """Unsupported."""


def _var_args(*xs: int) -> None:
    """Unsupported."""


def _var_kwargs(**kw: int) -> None:
    """Unsupported."""


def _unresolvable(x: NoSuchType) -> None:  # type: ignore[name-defined]  # noqa: F821
    """Unsupported."""


SUPPORTED = (
    "str, int, float, bool, None, Any, list/Sequence/set/frozenset[T], tuple[...], dict[str, T], X | Y, "
    "Optional[X], Literal of JSON scalars, Enum of JSON scalars, attrs classes, dataclasses, TypedDict"
)


@pytest.mark.parametrize(
    ("fn", "message"),
    [
        (_bytes, f"tool '_bytes', parameter 'data': the annotation bytes has no JSON Schema; supported: {SUPPORTED}"),
        (
            _int_keys,
            "tool '_int_keys', parameter 'table': dict[int, str] has int keys; JSON object keys are strings, "
            "so use dict[str, ...]",
        ),
        (
            _object,
            f"tool '_object', parameter 'thing': the annotation object has no JSON Schema; supported: {SUPPORTED}",
        ),
        (
            _recursive,
            "tool '_recursive', parameter 'node'.children[]: Node contains itself, which a tool schema cannot express",
        ),
        (
            _nested_bad,
            f"tool '_nested_bad', parameter 'people'[]{{}}: the annotation bytes has no JSON Schema; "
            f"supported: {SUPPORTED}",
        ),
        (
            _bad_literal,
            "tool '_bad_literal', parameter 'x': Literal has the value <Colour.RED: 'red'>; "
            "values must be str, int, float, bool or None",
        ),
        (
            _marked,
            "tool '_marked', parameter 'm': TypedDict Marked marks 'label' NotRequired, but Python did not see it "
            "(the annotation is a string, as under `from __future__ import annotations`); declare optional keys "
            "in a `total=False` TypedDict instead",
        ),
        (_unannotated, "tool '_unannotated': parameter 'x' needs a type annotation"),
        (_var_args, "tool '_var_args': *args and **kwargs cannot be described to a model"),
        (_var_kwargs, "tool '_var_kwargs': *args and **kwargs cannot be described to a model"),
        (
            _unresolvable,
            "tool '_unresolvable': cannot resolve its type hints (NameError: name 'NoSuchType' is not defined)",
        ),
    ],
    ids=lambda v: getattr(v, "__name__", "msg"),
)
def test_tool_refuses_unsupported_signatures_at_decoration(fn: Any, message: str) -> None:
    with pytest.raises(ConfigurationError) as info:
        tool(fn)
    assert str(info.value) == message


def test_tool_refuses_enum_with_values_json_cannot_hold() -> None:
    class Shape(enum.Enum):
        BOX = (1, 2)

    with pytest.raises(ConfigurationError, match=r"enum Shape has the value \(1, 2\)"):
        json_schema(Shape)


@pytest.mark.parametrize("name", ["", "has space", "dotted.name", "x" * 65, "émoji"])
def test_tool_refuses_names_providers_reject(name: str) -> None:
    with pytest.raises(ConfigurationError, match="is not accepted by providers"):
        tool(name=name)(no_params)


def test_tool_refuses_generator_functions() -> None:
    def numbers() -> collections.abc.Iterator[int]:
        """Count."""
        yield 1

    with pytest.raises(ConfigurationError, match="generator functions are not supported"):
        tool(numbers)


@pytest.mark.parametrize("timeout", [0, -1.0])
def test_tool_refuses_a_timeout_that_is_not_positive(timeout: float) -> None:
    with pytest.raises(ConfigurationError, match="timeout must be positive"):
        tool(timeout=timeout)(no_params)


# ------------------------------------------------------------------------------------ docstrings


def test_parse_docstring_google_style() -> None:
    doc = """Summary line
    that wraps.

    Body paragraph.

    Args:
        a: first
            and more.
        b (list[int]): second.
        *rest: ignored star.

    Returns:
        Something.
            b: not a parameter.
    """
    assert parse_docstring(doc) == (
        "Summary line that wraps.",
        {"a": "first and more.", "b": "second.", "rest": "ignored star."},
    )


def test_parse_docstring_sphinx_style() -> None:
    doc = """Do it.

    :param str a: first
        continued.
    :param b: second.
    :returns: nothing.
    """
    assert parse_docstring(doc) == ("Do it.", {"a": "first continued.", "b": "second."})


def test_parse_docstring_without_args_or_text() -> None:
    assert parse_docstring(None) == ("", {})
    assert parse_docstring("Only a summary.") == ("Only a summary.", {})
    assert parse_docstring("Args:\n    a: x") == ("", {"a": "x"})


def test_parse_docstring_summary_stops_at_a_section() -> None:
    assert parse_docstring("Summary.\nArgs:\n    a: x\n")[0] == "Summary."
