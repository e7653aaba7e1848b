"""The demo: a scripted agent with two real tools, printed as it streams (``make demo``).

The model is a :class:`~agent_fsm.testing.ScriptedModel` - no network, no API key - but the tools
are real: a calculator that evaluates arithmetic safely and a unit converter. The script streams
reasoning, text and tool calls over three turns, as a real model would.
"""

from __future__ import annotations

import ast
import math
import operator
from collections.abc import Callable
from typing import Literal

from ..agent import Agent
from ..events import Final, ModelEvent, ReasoningDelta, TextDelta, ToolCallDelta, ToolCallReady
from ..messages import Reasoning, ToolCall, ToolFunction, Usage
from ..tools import tool
from .scripted import ScriptedModel

__all__ = ["build_demo_agent", "calculate", "convert_units", "DEMO_PROMPT"]

_BINARY: dict[type[ast.operator], Callable[[float, float], float]] = {
    ast.Add: operator.add,
    ast.Sub: operator.sub,
    ast.Mult: operator.mul,
    ast.Div: operator.truediv,
    ast.FloorDiv: operator.floordiv,
    ast.Mod: operator.mod,
    ast.Pow: operator.pow,
}
_FUNCTIONS: dict[str, Callable[..., float]] = {
    "sqrt": math.sqrt,
    "abs": abs,
    "round": round,
    "min": min,
    "max": max,
}


def _evaluate(node: ast.AST) -> float:
    if isinstance(node, ast.Expression):
        return _evaluate(node.body)
    if isinstance(node, ast.Constant) and isinstance(node.value, int | float) and not isinstance(node.value, bool):
        return node.value
    if isinstance(node, ast.BinOp) and type(node.op) in _BINARY:
        left, right = _evaluate(node.left), _evaluate(node.right)
        if isinstance(node.op, ast.Pow) and abs(right) > 100:
            raise ValueError("exponent too large")
        return _BINARY[type(node.op)](left, right)
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub | ast.UAdd):
        value = _evaluate(node.operand)
        return -value if isinstance(node.op, ast.USub) else value
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in _FUNCTIONS:
        return _FUNCTIONS[node.func.id](*(_evaluate(a) for a in node.args))
    raise ValueError(f"unsupported expression: {ast.unparse(node)}")


@tool
def calculate(expression: str) -> str:
    """Evaluate an arithmetic expression and return the result.

    Supports + - * / // % ** and parentheses, and the functions sqrt, abs, round, min and max.

    Args:
        expression: the expression, e.g. "150 * 6.5 / 100".
    """
    try:
        tree = ast.parse(expression, mode="eval")
    except SyntaxError as exc:
        raise ValueError(f"not an arithmetic expression: {expression!r}") from exc
    value = _evaluate(tree)
    return f"{value:.10g}"


Unit = Literal["km", "mi", "m", "ft", "kg", "lb", "l", "gal", "c", "f"]
_TO_BASE: dict[str, tuple[str, float]] = {
    "km": ("length", 1000.0),
    "mi": ("length", 1609.344),
    "m": ("length", 1.0),
    "ft": ("length", 0.3048),
    "kg": ("mass", 1.0),
    "lb": ("mass", 0.45359237),
    "l": ("volume", 1.0),
    "gal": ("volume", 3.785411784),
}


@tool
def convert_units(value: float, from_unit: Unit, to_unit: Unit) -> str:
    """Convert a quantity between units of length, mass, volume or temperature.

    Args:
        value: the quantity to convert.
        from_unit: its unit.
        to_unit: the unit wanted.
    """
    if {from_unit, to_unit} <= {"c", "f"}:
        result = value if from_unit == to_unit else (value * 9 / 5 + 32 if from_unit == "c" else (value - 32) * 5 / 9)
        return f"{value:g} {from_unit} = {result:.4g} {to_unit}"
    if from_unit not in _TO_BASE or to_unit not in _TO_BASE:
        raise ValueError(f"cannot convert {from_unit} to {to_unit}")
    kind_from, factor_from = _TO_BASE[from_unit]
    kind_to, factor_to = _TO_BASE[to_unit]
    if kind_from != kind_to:
        raise ValueError(f"cannot convert {kind_from} ({from_unit}) to {kind_to} ({to_unit})")
    result = value * factor_from / factor_to
    return f"{value:g} {from_unit} = {result:.4f} {to_unit}"


DEMO_PROMPT = (
    "I'm driving 150 km in a car that uses 6.5 litres per 100 km, and fuel costs 1.85 per litre. "
    "What will the fuel cost, and how far is the trip in miles?"
)


def _stream_text(text: str, size: int = 6) -> list[ModelEvent]:
    return [TextDelta(text[i : i + size]) for i in range(0, len(text), size)]


def _streamed_call(
    call_id: str, internal: str, name: str, arguments: str, parsed: dict[str, object]
) -> list[ModelEvent]:
    pieces = [arguments[i : i + 12] for i in range(0, len(arguments), 12)]
    return [
        ToolCallDelta(call_id, internal, name=name),
        *(ToolCallDelta(call_id, internal, arguments=p) for p in pieces),
        ToolCallReady(ToolCall(call_id, ToolFunction(name, parsed)), internal),
    ]


def demo_script() -> list[list[ModelEvent]]:
    """Three turns: two tool calls in parallel, one more, then the answer."""
    thinking = "Fuel used is distance x consumption / 100; cost is litres x price. Miles need a unit conversion."
    return [
        [
            *(ReasoningDelta(thinking[i : i + 16], id="rs_1") for i in range(0, len(thinking), 16)),
            Reasoning((thinking,), id="rs_1", signature="sig-demo-1"),
            *_stream_text("Let me work out the fuel and convert the distance."),
            *_streamed_call("call_1", "int_1", "calculate", '{"expression": "150 * 6.5 / 100"}',
                            {"expression": "150 * 6.5 / 100"}),
            *_streamed_call("call_2", "int_2", "convert_units", '{"value": 150, "from_unit": "km", "to_unit": "mi"}',
                            {"value": 150, "from_unit": "km", "to_unit": "mi"}),
            Final(Usage(input_tokens=212, output_tokens=87, total_tokens=299)),
        ],
        [
            *_stream_text("That is 9.75 litres. Now the cost:"),
            *_streamed_call("call_3", "int_3", "calculate", '{"expression": "9.75 * 1.85"}',
                            {"expression": "9.75 * 1.85"}),
            Final(Usage(input_tokens=341, output_tokens=31, total_tokens=372, cached_input_tokens=212)),
        ],
        [
            *_stream_text(
                "The trip uses 9.75 litres of fuel, which costs about 18.04. "
                "150 km is about 93.21 miles."
            ),
            Final(Usage(input_tokens=398, output_tokens=29, total_tokens=427, cached_input_tokens=341)),
        ],
    ]  # fmt: skip


def build_demo_agent(*, tool_concurrency: int = 2) -> Agent:
    """The demo's agent: the scripted model, the two tools, four turns at most."""
    return Agent(
        model=ScriptedModel(demo_script(), name="scripted-demo"),
        preamble="You are a careful assistant. Use the tools for every calculation.",
        tools=[calculate, convert_units],
        max_turns=4,
        name="trip-planner",
        tool_concurrency=tool_concurrency,
    )
