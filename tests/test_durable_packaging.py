"""Durable runs without a server: what is importable when, the worker command's errors, and the
stateless scripted model that lets a run change process."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from agent_fsm import Agent, CompletionRequest, UserMessage, codec
from agent_fsm.messages import AssistantMessage, Text, ToolResult
from agent_fsm.testing import ScriptedModel, StatelessScriptedModel, turn_of

from .durable_agents import tool_turns
from .support import collect

ROOT = Path(__file__).resolve().parent.parent
pytest.importorskip("temporalio")


def test_nothing_imports_temporalio_unless_the_durable_module_is_used() -> None:
    code = (
        "import sys, agent_fsm, agent_fsm.durable, agent_fsm.machine, agent_fsm.testing, agent_fsm.codec\n"
        "from agent_fsm import Agent\n"
        "from agent_fsm.testing import StatelessScriptedModel\n"
        "from agent_fsm.cli import build_parser\n"
        "build_parser()\n"
        "assert 'temporalio' not in sys.modules, 'temporalio was imported'\n"
        "import agent_fsm.durable.temporal\n"
        "assert 'temporalio' in sys.modules\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, cwd=ROOT)


def test_the_worker_command_says_what_is_wrong_with_its_agents() -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "agent_fsm", "worker", "--agents", "tests.durable_agents:calculator",
         "--task-queue", "q"],
        cwd=ROOT, capture_output=True, text=True,
    )  # fmt: skip
    assert proc.returncode == 2
    assert "is not a mapping of names to agents" in proc.stderr


def test_worker_for_refuses_what_is_not_an_agent() -> None:
    from agent_fsm.durable.temporal import worker_for

    with pytest.raises(ValueError, match="not an Agent"):
        worker_for(None, "q", {"x": object()})  # type: ignore[arg-type, dict-item]


# ---------------------------------------------------------------------------------------- the stateless model


def request(*messages: UserMessage | AssistantMessage) -> CompletionRequest:
    *history, prompt = messages
    assert isinstance(prompt, UserMessage)
    return CompletionRequest(prompt, tuple(history))


def test_turn_of_counts_assistant_messages_since_the_runs_prompt() -> None:
    ask, answer = UserMessage((Text("go"),)), AssistantMessage((Text("ok"),))
    results = UserMessage((ToolResult("c1", (Text("2"),)),))
    assert turn_of(request(ask)) == 0
    assert turn_of(request(ask, answer, results)) == 1
    assert turn_of(request(ask, answer, results, answer, results)) == 2
    # an earlier conversation in the given history does not count
    assert turn_of(request(ask, answer, ask)) == 0
    assert turn_of(request(ask, answer, ask, answer, results)) == 1


async def test_a_stateless_model_plays_like_a_scripted_one_and_can_change_hands() -> None:
    from .durable_agents import add

    expected, _ = await collect(Agent(ScriptedModel(tool_turns(2)), tools=[add]).stream_prompt("go"))
    played, _ = await collect(Agent(StatelessScriptedModel(tool_turns(2)), tools=[add]).stream_prompt("go"))
    assert codec.to_json(played) == codec.to_json(expected)
    # a fresh instance (a new process) asked for the third call plays the third turn
    run = Agent(ScriptedModel(tool_turns(2)), tools=[add]).stream_prompt("go")
    await collect(run)
    last_request = CompletionRequest(run.history[-2], tuple(run.history[:-2]))  # type: ignore[arg-type]
    fresh = StatelessScriptedModel(tool_turns(2))
    events = [e async for e in fresh.stream(last_request)]
    assert events == tool_turns(2)[2]


def test_the_durable_demo_survives_its_worker_and_prints_each_item_once() -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "agent_fsm.cli.durable_demo"],
        cwd=ROOT, capture_output=True, text=True, timeout=300, env={**os.environ, "AGENT_FSM_DEMO_PACE": "0.4"},
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    out = proc.stdout
    assert "killed worker 1" in out and "worker 2" in out
    assert "the run ended Done after 3 model calls" in out
    positions = [int(line.split()[0]) for line in out.splitlines() if line.startswith("  ")]
    assert positions == list(range(len(positions))) and len(positions) > 40
    # the kill landed mid-run: items were printed both before and after it
    kill = out.index("killed worker 1")
    assert "FinalResponse" in out[kill:] and "ToolResult" in out[:kill]
