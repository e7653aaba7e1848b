"""S4: machine-only throughput - random fuzz scripts straight into the sans-IO machine, no asyncio.

The scripts are drawn once, deterministically (``derandomize=True``), from the package's own
``turn_scripts(tools=["echo"])`` strategy: 1-5 turns mixing text, reasoning (streamed and/or
complete), tool calls (streamed as deltas or not, parallel, sometimes to an unknown tool) and
``Final``. Each timed pass drives every script through a fresh ``TurnMachine`` with
``drive_sync`` and a synchronous ``echo`` runner: no event loop, no hooks.

The scripts are drawn in a child process of their own (``python bench/s4.py --draw FILE``, from the
project's own venv, run by ``bench/run.py`` once per ``make bench``) and pickled: Hypothesis
biases its draws with constants found in the loaded modules it counts as local - the
package's sources in an editable install, nothing in the compiled wheel's venv - so only a file
gives both builds the same scripts. The timing runs as another child (``python bench/s4.py ROUNDS
FILE``, one JSON line out).

The baseline is a synchronous hand-written loop over the same scripts doing the same logical work
as in S1/S2 (items for every event, text joined, reasoning kept per block, tool calls run, results
appended, usage summed), without the machine's rules and checks. It is a floor, not a twin.
"""

from __future__ import annotations

import gc
import json
import pickle
import statistics
import sys
import time
from collections.abc import Callable, Iterator
from typing import Any

from hypothesis import HealthCheck, Phase, given, settings

from agent_fsm.events import Final, ModelEvent, ReasoningDelta, TextDelta, ToolCallDelta, ToolCallReady
from agent_fsm.items import FinalResponse, StreamAssistantItem, StreamItem, StreamUserItem
from agent_fsm.machine import TurnMachine
from agent_fsm.machine.protocol import ToolOutput
from agent_fsm.messages import (
    AssistantMessage,
    Message,
    Reasoning,
    Text,
    ToolCall,
    ToolResult,
    Usage,
    UserMessage,
)
from agent_fsm.request import CompletionRequest
from agent_fsm.run.sync_driver import SyncScript, drive_sync
from agent_fsm.testing.strategies import turn_scripts

SCRIPTS = 400

Script = list[list[Any]]


def draw_scripts(n: int = SCRIPTS) -> list[Script]:
    """``n`` scripts from ``turn_scripts(tools=["echo"])``, the same ones every time."""
    out: list[Script] = []

    @settings(
        max_examples=n,
        derandomize=True,
        database=None,
        deadline=None,
        phases=[Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    @given(turn_scripts(tools=["echo"]))
    def collect(script: Script) -> None:
        out.append(script)

    collect()
    return out


def count_events(scripts: list[Script]) -> int:
    return sum(1 for s in scripts for turn in s for e in turn if not isinstance(e, BaseException))


def run_tool(call: ToolCall) -> ToolOutput:
    if call.function.name != "echo":
        return ToolOutput((Text(f"Unknown tool {call.function.name!r}. Available tools: echo."),), is_error=True)
    args = call.function.arguments
    text = args.get("text", "") if isinstance(args, dict) else ""
    return ToolOutput((Text(str(text)),))


def engine_pass(scripts: list[Script]) -> int:
    """Drive every script through the machine; return the items emitted."""
    n = 0
    for script in scripts:
        machine = TurnMachine("go", max_turns=len(script))
        n += len(drive_sync(machine, SyncScript(script), run_tool=run_tool))
    return n


def _play(events: list[ModelEvent]) -> Iterator[ModelEvent]:
    yield from events


def handwritten(script: Script, prompt: str, max_turns: int) -> list[StreamItem]:
    """The sync hand-written loop (see the module docstring)."""
    items: list[StreamItem] = []
    emit = items.append
    history: list[Message] = [UserMessage((Text(prompt),))]
    usage = Usage()
    for turn in range(max_turns):
        CompletionRequest(history[-1], tuple(history[:-1]))  # type: ignore[arg-type]
        parts: list[Any] = []
        text: list[str] | None = None
        reasoning: dict[str | None, list[str]] = {}
        calls: list[ToolCallReady] = []
        for event in _play(script[turn]):
            kind = type(event)
            if kind is TextDelta:
                if text is None:
                    text = []
                    parts.append(text)
                text.append(event.text)
            elif kind is ReasoningDelta:
                text = None
                pieces = reasoning.get(event.id)
                if pieces is None:
                    pieces = reasoning[event.id] = []
                    parts.append((event.id, pieces))
                pieces.append(event.reasoning)
            elif kind is Reasoning:
                text = None
                reasoning.pop(event.id, None)
                parts.append(event)
            elif kind is ToolCallDelta:
                text = None
            elif kind is ToolCallReady:
                text = None
                parts.append(event.tool_call)
                calls.append(event)
            elif kind is Final:
                usage = usage + event.usage
            emit(StreamAssistantItem(event))
        content: list[Any] = []
        final_text = []
        for p in parts:
            if type(p) is list:
                joined = "".join(p)
                final_text.append(joined)
                content.append(Text(joined))
            elif type(p) is tuple:
                content.append(Reasoning(("".join(p[1]),), id=p[0]))
            else:
                content.append(p)
        history.append(AssistantMessage(tuple(content) or (Text(""),)))
        if not calls:
            emit(FinalResponse("".join(final_text), usage, tuple(history)))
            return items
        results = []
        for ready in calls:
            call = ready.tool_call
            out = run_tool(call)
            result = ToolResult(call.id, out.content, call.call_id, out.is_error)
            results.append(result)
            emit(StreamUserItem(result, ready.internal_call_id))
        history.append(UserMessage(tuple(results)))
    return items


def baseline_pass(scripts: list[Script]) -> int:
    n = 0
    for script in scripts:
        n += len(handwritten(script, "go", len(script)))
    return n


def main(rounds: int, scripts_file: str) -> dict[str, Any]:
    with open(scripts_file, "rb") as f:
        scripts: list[Script] = pickle.load(f)
    events = count_events(scripts)
    if engine_pass(scripts) != baseline_pass(scripts):
        raise AssertionError("S4: the engine and the baseline emit different numbers of items")
    passes: dict[str, Callable[[list[Script]], int]] = {"engine": engine_pass, "baseline": baseline_pass}
    times: dict[str, list[float]] = {"engine": [], "baseline": []}
    for r in range(rounds + 2):
        for name in ("engine", "baseline") if r % 2 == 0 else ("baseline", "engine"):
            gc.collect()
            t = time.perf_counter()
            passes[name](scripts)
            if r >= 2:  # two warm-up rounds
                times[name].append(time.perf_counter() - t)
    e, b = statistics.median(times["engine"]), statistics.median(times["baseline"])
    ratios = [x / y for x, y in zip(times["engine"], times["baseline"], strict=True)]
    q = statistics.quantiles(ratios, n=4)
    return {
        "scripts": len(scripts),
        "events": events,
        "turns": sum(len(s) for s in scripts),
        "rounds": rounds,
        "engine_runs_per_s": len(scripts) / e,
        "engine_events_per_s": events / e,
        "baseline_runs_per_s": len(scripts) / b,
        "baseline_events_per_s": events / b,
        "ratio": statistics.median(ratios),
        "ratio_q1": q[0],
        "ratio_q3": q[2],
    }


if __name__ == "__main__":
    if sys.argv[1] == "--draw":
        with open(sys.argv[2], "wb") as out:
            pickle.dump(draw_scripts(), out)
    else:
        print(json.dumps(main(int(sys.argv[1]), sys.argv[2])))
