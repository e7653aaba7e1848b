"""Agents mixing ``@tool`` functions and tool servers (``Toolbox``), and remote tools' schema checks."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pytest

from agent_fsm import Agent, ToolCall, ToolFunction, Usage, tool
from agent_fsm.errors import ConfigurationError
from agent_fsm.events import Final, TextDelta, ToolCallReady
from agent_fsm.messages import JSONValue, Text
from agent_fsm.request import ToolDefinition, ToolOutput
from agent_fsm.testing import ScriptedModel
from agent_fsm.tools import ToolSet
from agent_fsm.tools._schema_check import SchemaCheck
from agent_fsm.tools.arguments import MAX_PROBLEMS, ArgumentError
from agent_fsm.tools.toolbox import Toolbox

pytest.importorskip("jsonschema")


@tool
def add(a: int, b: int) -> int:
    """Add."""
    return a + b


class Weather:
    """A tool server of the user's own."""

    def __init__(self, names: Sequence[str] = ("forecast",)) -> None:
        self.names = names
        self.seen: list[tuple[str, JSONValue]] = []

    def definitions(self) -> list[ToolDefinition]:
        return [ToolDefinition(n, f"{n} tool") for n in self.names]

    async def call(self, name: str, arguments: JSONValue) -> ToolOutput:
        self.seen.append((name, arguments))
        return ToolOutput((Text(f"{name} ok"),))

    def requires_approval(self, name: str) -> bool:
        return name == "forecast"


def test_tools_are_offered_in_the_order_of_the_list() -> None:
    @tool
    def mul(a: int, b: int) -> int:
        """Multiply."""
        return a * b

    box = Toolbox([add, Weather(["forecast", "alerts"]), mul], default_timeout=5)
    assert [d.name for d in box.definitions()] == ["add", "forecast", "alerts", "mul"]
    assert box.requires_approval("forecast") and not box.requires_approval("add")
    assert box.server_of("forecast") == "Weather" and box.server_of("add") is None


@pytest.mark.parametrize(
    ("items", "first", "second"),
    [
        ([add, Weather(["add"])], "@tool tests.test_toolbox.add", "Weather"),
        ([Weather(["x"]), Weather(["x"])], "Weather", "Weather"),
        ([add, Weather(), add], "@tool tests.test_toolbox.add", "@tool tests.test_toolbox.add"),
    ],
)
def test_a_name_offered_twice_is_refused_naming_both_sources(items: list[Any], first: str, second: str) -> None:
    with pytest.raises(ConfigurationError) as refused:
        Agent(ScriptedModel([]), tools=items)
    name = "add" if "add" in str(refused.value) else "x"
    assert str(refused.value) == f"two tools are named {name!r}: one from {first}, one from {second}"


async def test_calls_are_routed_to_the_source_that_offers_the_name() -> None:
    weather = Weather()
    script = [
        [
            ToolCallReady(ToolCall("c1", ToolFunction("forecast", {"city": "Oslo"})), "i1"),
            ToolCallReady(ToolCall("c2", ToolFunction("add", {"a": 1, "b": 2})), "i2"),
            ToolCallReady(ToolCall("c3", ToolFunction("nope", {})), "i3"),
            Final(Usage(1, 1)),
        ],
        [TextDelta("ok"), Final(Usage(1, 1))],
    ]
    agent = Agent(ScriptedModel(script), tools=[add, weather])
    agent.tools.requires_approval = lambda name: False  # type: ignore[attr-defined]  # run them all here
    run = agent.stream_prompt("go")
    async for _ in run:
        pass
    results = run.history[2].content  # type: ignore[union-attr]
    assert [r.content for r in results] == [  # type: ignore[union-attr]
        (Text("forecast ok"),),
        (Text("3"),),
        (Text("Unknown tool 'nope'. Available tools: add, forecast."),),
    ]
    assert weather.seen == [("forecast", {"city": "Oslo"})]


def test_a_list_of_functions_alone_is_still_a_toolset() -> None:
    assert isinstance(Agent(ScriptedModel([]), tools=[add]).tools, ToolSet)


# ---------------------------------------------------------------------------------------------- schema checks


_SCHEMA = {
    "type": "object",
    "properties": {
        "name": {"type": "string"},
        "address": {
            "type": "object",
            "properties": {"zip": {"type": "integer"}, "street": {"type": "string"}},
            "required": ["zip"],
            "additionalProperties": False,
        },
        "tags": {"type": "array", "items": {"type": "string"}},
        "days": {"type": "integer", "minimum": 1},
        "maybe": {"anyOf": [{"type": "integer"}, {"type": "null"}]},
        "odd key": {"const": "x"},
    },
    "required": ["name"],
    "additionalProperties": False,
}


def _problems(arguments: JSONValue) -> tuple[str, ...]:
    with pytest.raises(ArgumentError) as bad:
        SchemaCheck(_SCHEMA)(arguments)
    return bad.value.problems


def test_schema_problems_name_their_path_in_field_order() -> None:
    found = _problems(
        {
            "odd key": "y",
            "maybe": "1",
            "days": 0,
            "tags": ["a", 2],
            "address": {"street": 5, "colour": "red"},
            "extra": 1,
        }
    )
    assert found == (
        "$.name: missing required field (expected string)",
        "$.address.street: expected string, got integer 5",
        "$.address.zip: missing required field (expected integer)",
        "$.address.colour: unexpected field (allowed fields: zip, street)",
        "$.tags[1]: expected string, got integer 2",
        "$.days: 0 is less than the minimum of 1",
        '$.maybe: expected integer or null, got string "1"',
        '$["odd key"]: expected "x", got string "y"',
        "$.extra: unexpected field (allowed fields: name, address, tags, days, maybe, odd key)",
    )


def test_schema_checks_take_json_text_and_cap_the_problems() -> None:
    assert SchemaCheck(_SCHEMA)('{"name": "n"}') == {"name": "n"}
    assert _problems("[1]") == ("$: expected an object of named arguments, got array [1]",)
    many = {"type": "object", "properties": {f"p{i}": {"type": "integer"} for i in range(15)}}
    with pytest.raises(ArgumentError) as bad:
        SchemaCheck(many)({f"p{i}": "x" for i in range(15)})
    assert len(bad.value.problems) == MAX_PROBLEMS + 1 and bad.value.problems[-1] == "... and 5 more problem(s)"


def test_an_invalid_schema_is_refused() -> None:
    with pytest.raises(ValueError, match=r"not a valid JSON Schema: .objekt. is not valid"):
        SchemaCheck({"type": "objekt"})
