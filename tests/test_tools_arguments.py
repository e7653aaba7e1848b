"""The model's arguments: structured strictly into typed values, or an exact message saying why not.

This module deliberately does not use ``from __future__ import annotations``: it checks that
``NotRequired`` works when Python can see it.
"""

import dataclasses
import enum
import json
from typing import Any, Literal, NotRequired, TypedDict

import attrs
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from agent_fsm.machine.protocol import ToolOutput
from agent_fsm.messages import Text
from agent_fsm.tools import Tool, ToolSet, tool
from agent_fsm.tools.arguments import ArgumentError, describe_value


class Unit(enum.Enum):
    KM = "km"
    MI = "mi"


class Level(enum.IntEnum):
    LOW = 1
    HIGH = 2


@attrs.frozen
class Address:
    street: str
    zip: int
    country: str = "NL"


class Point(TypedDict):
    x: float
    y: float
    label: NotRequired[str]


@dataclasses.dataclass
class Window:
    start: int
    end: int = 10


received: list[dict[str, Any]] = []


@tool
def book(
    name: str,
    guests: int,
    address: Address,
    unit: Unit = Unit.KM,
    level: Level = Level.LOW,
    point: Point | None = None,
    window: Window | None = None,
    tags: list[str] | None = None,
    pair: tuple[int, str] = (0, ""),
    scores: dict[str, float] | None = None,
    mode: Literal["fast", "slow"] = "fast",
    ratio: float = 1.0,
    vip: bool = False,
    unique: frozenset[int] = frozenset(),
) -> str:
    """Book something."""
    received.append(dict(locals()))
    return "booked"


GOOD = {"name": "Ada", "guests": 2, "address": {"street": "Main", "zip": 1234}}


async def run_book(arguments: Any) -> ToolOutput:
    received.clear()
    return await ToolSet([book]).call("book", arguments)


def error_text(output: ToolOutput) -> str:
    assert output.is_error
    assert len(output.content) == 1
    assert isinstance(output.content[0], Text)
    return output.content[0].text


# ------------------------------------------------------------------------------------ structuring


async def test_arguments_are_structured_into_real_objects() -> None:
    output = await run_book(
        {
            **GOOD,
            "unit": "mi",
            "level": 2,
            "point": {"x": 1, "y": 2.5},
            "window": {"start": 3},
            "pair": [7, "seven"],
            "scores": {"a": 1},
            "ratio": 2,
            "unique": [3, 1],
        }
    )
    assert output == ToolOutput((Text("booked"),))
    (got,) = received
    assert got["address"] == Address("Main", 1234)
    assert got["unit"] is Unit.MI
    assert got["level"] is Level.HIGH
    assert got["point"] == {"x": 1.0, "y": 2.5}
    assert type(got["point"]["x"]) is float
    assert got["window"] == Window(3, 10)
    assert got["pair"] == (7, "seven")
    assert got["scores"] == {"a": 1.0}
    assert type(got["scores"]["a"]) is float
    assert got["ratio"] == 2.0
    assert type(got["ratio"]) is float
    assert got["unique"] == frozenset({1, 3})


async def test_arguments_may_arrive_as_a_json_string() -> None:
    output = await run_book(json.dumps(GOOD))
    assert not output.is_error
    assert received[0]["address"] == Address("Main", 1234)


async def test_defaults_fill_what_the_model_left_out() -> None:
    await run_book(GOOD)
    got = received[0]
    assert (got["unit"], got["mode"], got["tags"], got["pair"]) == (Unit.KM, "fast", None, (0, ""))


@pytest.mark.parametrize("arguments", ["", "   ", None, {}])
async def test_no_arguments_is_an_empty_object(arguments: Any) -> None:
    @tool
    def ping() -> str:
        """Ping."""
        return "pong"

    assert await ToolSet([ping]).call("ping", arguments) == ToolOutput((Text("pong"),))


# ------------------------------------------------------------------------------------ messages for the model

HEADER = "Invalid arguments for tool 'book' (the tool was not called):\n"


@pytest.mark.parametrize(
    ("arguments", "problems"),
    [
        ({**GOOD, "guests": "2"}, ['$.guests: expected integer, got string "2"']),
        ({**GOOD, "guests": 2.5}, ["$.guests: expected integer, got number 2.5"]),
        ({**GOOD, "guests": True}, ["$.guests: expected integer, got boolean true"]),
        ({**GOOD, "vip": 1}, ["$.vip: expected boolean, got integer 1"]),
        ({**GOOD, "ratio": "1.5"}, ['$.ratio: expected number, got string "1.5"']),
        ({**GOOD, "name": None}, ["$.name: expected string, got null"]),
        ({"guests": 2, "address": GOOD["address"]}, ["$.name: missing required field (expected string)"]),
        ({**GOOD, "colour": "red"}, [
            "$.colour: unexpected field (allowed fields: name, guests, address, unit, level, point, window, tags, "
            "pair, scores, mode, ratio, vip, unique)"
        ]),
        ({**GOOD, "address": {"street": "Main"}}, ["$.address.zip: missing required field (expected integer)"]),
        ({**GOOD, "address": {"street": "Main", "zip": 1, "city": "X"}}, [
            "$.address.city: unexpected field (allowed fields: street, zip, country)"
        ]),
        ({**GOOD, "address": "Main 1"}, ['$.address: expected object, got string "Main 1"']),
        ({**GOOD, "unit": "yards"}, ['$.unit: expected one of "km", "mi", got string "yards"']),
        ({**GOOD, "level": "1"}, ['$.level: expected one of 1, 2, got string "1"']),
        ({**GOOD, "mode": "FAST"}, ['$.mode: expected one of "fast", "slow", got string "FAST"']),
        ({**GOOD, "tags": "a,b"}, ['$.tags: expected array of string or null, got string "a,b"']),
        ({**GOOD, "tags": ["a", 2, "c", None]}, [
            "$.tags[1]: expected string, got integer 2",
            "$.tags[3]: expected string, got null",
        ]),
        ({**GOOD, "pair": [1, "x", 3]}, [
            '$.pair: expected array of 2 items [integer, string], got array [1, "x", 3]'
        ]),
        ({**GOOD, "pair": ["1", "x"]}, ['$.pair[0]: expected integer, got string "1"']),
        ({**GOOD, "scores": {"a": "high"}}, ['$.scores["a"]: expected number, got string "high"']),
        ({**GOOD, "scores": [1]}, ["$.scores: expected object of number or null, got array [1]"]),
        ({**GOOD, "point": {"x": 1}}, ["$.point.y: missing required field (expected number)"]),
        ({**GOOD, "point": {"x": 1, "y": 2, "z": 3}}, ["$.point.z: unexpected field (allowed fields: x, y, label)"]),
        ({**GOOD, "window": {"start": "0"}}, ['$.window.start: expected integer, got string "0"']),
        ({**GOOD, "unique": [1, 1]}, ["$.unique: expected array of unique integer, got array [1, 1]"]),
        ({**GOOD, "guests": "2", "address": {"zip": "1"}, "extra": 1}, [
            '$.guests: expected integer, got string "2"',
            "$.address.street: missing required field (expected string)",
            '$.address.zip: expected integer, got string "1"',
            "$.extra: unexpected field (allowed fields: name, guests, address, unit, level, point, window, tags, "
            "pair, scores, mode, ratio, vip, unique)",
        ]),
        ([1, 2], ["$: expected an object of named arguments, got array [1, 2]"]),
        ('"text"', ['$: expected an object of named arguments, got string "text"']),
        ('{"name": "Ada", ', ['$: the arguments are not valid JSON (Expecting property name enclosed in double quotes '
                              'at line 1 column 17): {"name": "Ada", ']),
    ],
)  # fmt: skip
async def test_invalid_arguments_give_an_exact_message_and_the_tool_is_not_called(
    arguments: Any, problems: list[str]
) -> None:
    output = await run_book(arguments)
    assert error_text(output) == HEADER + "\n".join(problems)
    assert received == []


async def test_many_problems_are_capped_with_a_count() -> None:
    @tool
    def many(xs: list[int]) -> None:
        """Many."""

    with pytest.raises(ArgumentError) as info:
        many.signature.bind({"xs": [str(i) for i in range(13)]})
    assert len(info.value.problems) == 11
    assert info.value.problems[-1] == "... and 3 more problem(s)"


async def test_union_reports_the_nested_problem_when_one_member_fits() -> None:
    @tool
    def where(address: Address | None) -> None:
        """Where."""

    with pytest.raises(ArgumentError) as info:
        where.signature.bind({"address": {"street": "x", "zip": "1"}})
    assert info.value.problems == ('$.address.zip: expected integer, got string "1"',)


async def test_union_of_scalars_takes_the_first_member_that_fits() -> None:
    @tool
    def either(v: int | float | str) -> None:
        """Either."""

    assert either.signature.bind({"v": 3}) == ((), {"v": 3})
    assert either.signature.bind({"v": 3.5}) == ((), {"v": 3.5})
    assert either.signature.bind({"v": "x"}) == ((), {"v": "x"})
    with pytest.raises(ArgumentError) as info:
        either.signature.bind({"v": [1]})
    assert info.value.problems == ("$.v: expected integer or number or string, got array [1]",)


def test_keys_that_are_not_identifiers_are_bracketed_in_paths() -> None:
    @tool
    def f(m: dict[str, int]) -> None:
        """F."""

    with pytest.raises(ArgumentError) as info:
        f.signature.bind({"m": {"a b": "1"}, "not valid": 1})
    assert info.value.problems == (
        '$.m["a b"]: expected integer, got string "1"',
        '$["not valid"]: unexpected field (allowed fields: m)',
    )


def test_describe_value_cuts_long_values() -> None:
    assert describe_value("x" * 100) == 'string "' + "x" * 56 + "..."
    assert describe_value({"a": [1, 2]}) == 'object {"a": [1, 2]}'


# ------------------------------------------------------------------------------------ hand-written schemas


async def test_hand_written_definition_gets_the_arguments_as_keywords() -> None:
    from agent_fsm.request import ToolDefinition

    seen: list[dict[str, Any]] = []

    def lookup(**kwargs: Any) -> dict[str, Any]:
        seen.append(kwargs)
        return {"found": True}

    schema = {"type": "object", "properties": {"q": {"type": "string"}}, "required": ["q"]}
    tools = ToolSet([(ToolDefinition("lookup", "Look something up.", schema), lookup)])
    assert tools.definitions() == (ToolDefinition("lookup", "Look something up.", schema),)
    assert await tools.call("lookup", '{"q": "x"}') == ToolOutput((Text('{"found": true}'),))
    assert seen == [{"q": "x"}]


async def test_hand_written_definition_checks_the_arguments_bind_to_the_function() -> None:
    from agent_fsm.request import ToolDefinition

    def area(width: float, height: float) -> float:
        return width * height

    t = Tool.from_definition(ToolDefinition("area", "Area.", {"type": "object"}), area, timeout=1.0)
    assert t.timeout == 1.0
    assert await t.run({"width": 2, "height": 3}) == ToolOutput((Text("6"),))
    output = await t.run({"width": 2})
    assert error_text(output) == (
        "Invalid arguments for tool 'area' (the tool was not called):\n$: missing a required argument: 'height'"
    )


# ------------------------------------------------------------------------ the quick check of plain parameters


@tool
def plain(s: str, i: int, f: float, b: bool, o: int = 7, g: float = 0.5) -> str:
    """Take plain parameters only."""
    return "ok"


_NEAR_MISSES = st.sampled_from(
    [float("nan"), float("inf"), -float("inf"), 10**400, True, 0, 1.0, 1.5, "1", None, [], {}]
)  # (no float can hold 10**400)
_JSONISH = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=3),
    st.lists(st.integers(), max_size=2),
    st.dictionaries(st.text(max_size=2), st.integers(), max_size=2),
)


def _as_called(signature: Any, arguments: Any) -> Any:
    """What the function would be called with (each value with its exact type), or the problems."""
    try:
        args, kwargs = signature.bind(arguments)
    except ArgumentError as exc:
        return exc.problems
    return args, [(name, type(value), repr(value)) for name, value in kwargs.items()]


_FITTING = {
    "s": st.text(max_size=3),
    "i": st.integers(),
    "f": st.one_of(st.integers(), st.floats(allow_nan=False, allow_infinity=False)),
    "b": st.booleans(),
    "o": st.integers(),
    "g": st.floats(allow_nan=False, allow_infinity=False),
}


@st.composite
def near_plain_arguments(draw: st.DrawFn) -> dict[str, Any]:
    """Arguments that fit ``plain``, then a few of them spoilt: a value of another kind, a field
    left out or one too many (so that both the fitting and the failing paths are taken)."""
    arguments = {name: draw(values) for name, values in _FITTING.items() if name in "sifb" or draw(st.booleans())}
    for _ in range(draw(st.integers(0, 2))):
        name = draw(st.sampled_from([*_FITTING, "extra"]))
        if draw(st.booleans()):
            arguments[name] = draw(st.one_of(_NEAR_MISSES, _JSONISH))
        else:
            arguments.pop(name, None)
    return arguments


_FIT = {"s": "x", "i": 1, "f": 1.5, "b": False}


@settings(max_examples=500, deadline=None)
@given(arguments=near_plain_arguments())
@example(arguments={**_FIT, "f": float("nan")})
@example(arguments={**_FIT, "g": float("inf")})
@example(arguments={**_FIT, "f": 10**400})
@example(arguments={**_FIT, "i": True})
@example(arguments={**_FIT, "extra": 1})
@example(arguments={"s": "x", "i": 1, "f": 2})
def test_the_quick_check_of_plain_parameters_takes_and_refuses_exactly_what_the_structurer_does(
    arguments: dict[str, Any],
) -> None:
    quick = plain.signature
    assert quick._plain is not None  # the tool qualifies for the quick check
    structurer_only = attrs.evolve(quick, plain=None)
    assert _as_called(quick, arguments) == _as_called(structurer_only, arguments)


def test_the_quick_check_is_only_for_plain_parameters() -> None:
    @tool
    def nested(a: int, tags: list[str]) -> str:
        """Take a list."""
        return "ok"

    @tool
    def optional(a: int | None = None) -> str:
        """Take an optional."""
        return "ok"

    assert plain.signature._plain is not None
    assert nested.signature._plain is None and optional.signature._plain is None


async def test_a_plain_tool_gets_its_defaults_and_floats_from_the_quick_check() -> None:
    seen: list[tuple[Any, ...]] = []

    @tool
    async def take(i: int, f: float, b: bool = True) -> str:
        """Take plain parameters."""
        seen.append((i, f, b))
        return "ok"

    assert await ToolSet([take]).call("take", {"i": 1, "f": 2}) == ToolOutput((Text("ok"),))
    assert seen == [(1, 2.0, True)] and type(seen[0][1]) is float
