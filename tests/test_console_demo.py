"""The demo (``make demo``) and the console printers, as a user sees them."""

from __future__ import annotations

import asyncio
import io
import json

import pytest

from agent_fsm import Agent, Reasoning, Usage
from agent_fsm.cli import main
from agent_fsm.events import Final, ReasoningDelta, TextDelta
from agent_fsm.machine.table import State
from agent_fsm.run.console import print_run, stream_to_stdout
from agent_fsm.testing import ScriptedModel, check_run
from agent_fsm.testing.demo_agent import DEMO_PROMPT, build_demo_agent, calculate, convert_units

from .support import collect


def test_demo_tools_are_real() -> None:
    assert calculate("150 * 6.5 / 100") == "9.75"
    assert calculate("sqrt(16) + 2 ** 3") == "12"
    with pytest.raises(ValueError, match="unsupported expression"):
        calculate("__import__('os')")
    assert convert_units(150, "km", "mi") == "150 km = 93.2057 mi"
    assert convert_units(100, "c", "f") == "100 c = 212 f"
    with pytest.raises(ValueError, match="cannot convert length"):
        convert_units(1, "km", "kg")


def test_demo_run_completes_with_the_tools_answers_in_history() -> None:
    run = build_demo_agent().stream_prompt(DEMO_PROMPT)
    items, outcome = asyncio.run(collect(run))
    assert outcome is None
    assert run.state is State.Done
    results = [p.text for m in run.history for p in m.content if type(p).__name__ == "ToolResult"]
    assert results == ["9.75", "150 km = 93.2057 mi", "18.0375"]
    check_run(items, run.history, outcome, max_turns=4)


def test_cli_demo_prints_the_stream_then_the_history(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["demo"]) == 0
    out = capsys.readouterr().out
    for expected in [
        "thinking: Fuel used is distance",
        'tool call -> calculate [call_1] {"expression": "150 * 6.5 / 100"}',
        "tool result <- [call_2] 150 km = 93.2057 mi",
        "final response: The trip uses 9.75 litres",
        "state: Done, model calls: 3/4",
        "5. assistant: 'The trip uses 9.75 litres",
    ]:
        assert expected in out, expected


def test_cli_demo_control_steers_then_cancels_after_the_turn(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["demo", "--control"]) == 0
    out = capsys.readouterr().out
    assert "cancelled: the user has what they need" in out
    assert "state: Cancelled, model calls: 2/4" in out
    assert "pending steering: 0" in out
    # the steering went with the first turn's tool results; the second turn's result was recorded
    assert (
        "2. user: result call_1: '9.75', result call_2: '150 km = 93.2057 mi', 'Give the cost in euros, please.'" in out
    )
    assert "4. user: result call_3: '18.0375'" in out


def test_cli_demo_json_history_is_the_codec_json(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["demo", "--json-history"]) == 0
    lines = [line for line in capsys.readouterr().out.splitlines() if line.startswith("{")]
    assert [json.loads(line)["role"] for line in lines] == ["user", "assistant"] * 3


def test_stream_to_stdout_prints_text_and_reasoning_once_and_returns_the_final_response() -> None:
    model = ScriptedModel(
        [[ReasoningDelta("think", id="r"), Reasoning(("think",), id="r"), Reasoning(("again",)), TextDelta("Hi"),
          TextDelta("!"), Final(Usage(1, 1))]]
    )  # fmt: skip
    out = io.StringIO()
    final = asyncio.run(stream_to_stdout(Agent(model).stream_prompt("x"), file=out))
    assert out.getvalue() == "thinkagainHi!\n"
    assert final is not None and final.response == "Hi!"


def test_print_run_without_color_has_no_escape_codes() -> None:
    out = io.StringIO()
    asyncio.run(print_run(build_demo_agent().stream_prompt(DEMO_PROMPT), file=out, color=False))
    assert "\x1b[" not in out.getvalue()
    assert "run usage: 951 in / 147 out / 553 cached" in out.getvalue()
