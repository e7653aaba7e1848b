"""agent_fsm.diagram: what the pictures contain, for the table as it is and for any run's trace."""

from __future__ import annotations

import asyncio
import html
import os
import re
import subprocess
import sys

import pytest

from agent_fsm import Agent, HookAction, StreamingPromptHook, tool
from agent_fsm.diagram import FORMATS, TITLE, TraceError, render
from agent_fsm.diagram._gallery import demo_trace
from agent_fsm.diagram._mermaid import _text
from agent_fsm.diagram._picture import picture, shared_sources
from agent_fsm.events import Final, TextDelta, ToolCallReady
from agent_fsm.machine.table import EDGES, FINAL, STATES, TRANSITIONS, Edge, State
from agent_fsm.messages import ToolCall, ToolFunction, Usage
from agent_fsm.testing import ScriptedModel

from .support import collect

UNIVERSAL = ("close", "hook_error", "illegal_event")
X = "\N{MULTIPLICATION SIGN}"


@pytest.fixture(scope="module")
def demo() -> tuple[tuple[Edge, int], ...]:
    return demo_trace()


@tool
def echo(text: str) -> str:
    """Say it back."""
    return text


class _StopOnText(StreamingPromptHook):
    def on_text_delta(self, text_delta: str, aggregated_text: str) -> HookAction:
        return HookAction.terminate("seen enough")


def _trace_of(script: list[list[object]], *, max_turns: int = 3, hook: object = None) -> tuple[tuple[Edge, int], ...]:
    """The trace of a scripted run, however it ends."""

    run = Agent(model=ScriptedModel(script), tools=[echo], max_turns=max_turns).stream_prompt("hi", hook=hook)
    asyncio.run(collect(run))
    return run.trace


def _call(call_id: str) -> ToolCallReady:
    return ToolCallReady(ToolCall(call_id, ToolFunction("echo", {"text": call_id})), f"i-{call_id}")


def _mermaid_label(text: str) -> str:
    return _text(text)


def _dot_label(text: str) -> str:
    return html.escape(text, quote=True).replace("&#x27;", "'")


# ---------------------------------------------------------------- the picture of the table


@pytest.mark.parametrize("fmt", FORMATS)
def test_render_every_state_appears(fmt: str) -> None:
    out = render(fmt)  # type: ignore[arg-type]
    for state in State:
        assert re.search(rf"\b{state.value}\b", out), state


def test_render_mermaid_marks_start_and_final_states() -> None:
    out = render("mermaid")
    assert "  [*] --> AwaitingCompletion\n" in out
    finals = set(re.findall(r"^  (\w+) --> \[\*\]$", out, re.M))
    assert finals == {s.value for s in FINAL}
    assert "  class AwaitingApproval resumable\n" in out


def test_render_dot_marks_start_and_final_states() -> None:
    out = render("dot")
    assert "  start -> AwaitingCompletion\n" in out
    doubled = set(re.findall(r"^  (\w+) \[peripheries=\"2\"", out, re.M))
    assert doubled == {s.value for s in FINAL}


def test_render_mermaid_title_is_front_matter() -> None:
    assert render("mermaid").startswith(f'---\ntitle: "{TITLE}"\n---\nstateDiagram-v2\n')


@pytest.mark.parametrize("fmt", FORMATS)
def test_render_every_edge_is_labelled_with_trigger_and_guard(fmt: str) -> None:
    out = render(fmt)  # type: ignore[arg-type]
    escape = _mermaid_label if fmt == "mermaid" else _dot_label
    for edge in EDGES:
        assert escape(edge.label) in out, edge.label
    # the examples, verbatim
    for words in (
        "tool_verdict [on_tool_call = skip]",
        "turn_limit [model calls = max_turns]",
        "text_delta [on_text_delta =",
    ):
        assert words in out


def test_picture_groups_the_states_that_share_the_abort_edges() -> None:
    """Found from the table: the states with close/hook_error/illegal_event (Finalizing is transient)."""
    aborting = {e.source for e in EDGES if e.trigger == "close"}
    assert shared_sources(EDGES) == aborting
    assert picture(EDGES, None, TITLE).group == tuple(s for s in State if s in aborting)
    out = render("mermaid")
    assert "  state Live {\n" in out
    assert "  note left of Live: any of AwaitingCompletion, Streaming, ExecutingTool\n" in out
    block = out[out.index("  state Live {\n") : out.index("\n  }\n")]
    assert re.findall(r'^    state "\w+" as (\w+)$', block, re.M) == [
        "AwaitingCompletion",
        "Streaming",
        "ExecutingTool",
    ]


def test_render_mermaid_leaves_the_composite_state_for_cancelled_and_lists_the_one_state_edges_in_the_box() -> None:
    out = render("mermaid")
    assert re.findall(r"^  (\w+) --> Cancelled", out, re.M) == ["Live"]
    assert "  Live --> Cancelled: cancel<br>close\n" in out
    assert "  Live --> Failed: hook_error<br>illegal_event\n" in out
    assert "  Cancelled: AwaitingCompletion: request [on_completion_call = terminate]\n" in out
    assert "  Cancelled: ExecutingTool: tool_result [on_tool_result = terminate]\n" in out
    assert "  Failed: ExecutingTool: tool_error\n" in out


@pytest.mark.parametrize("trigger", UNIVERSAL)
@pytest.mark.parametrize("fmt", FORMATS)
def test_render_draws_edges_leaving_every_live_state_once(fmt: str, trigger: str) -> None:
    out = render(fmt)  # type: ignore[arg-type]
    assert len(re.findall(rf"(?<![\w]){trigger}(?![\w])", out)) == 1


def test_render_dot_internal_transitions_are_labelled_self_loops() -> None:
    out = render("dot")
    for edge in (e for e in EDGES if e.internal):
        loop = re.search(rf"^  {edge.source.value} -> {edge.source.value} \[label=<(.*)>", out, re.M)
        assert loop is not None, edge.label
        assert _dot_label(edge.label) in loop.group(1), edge.label


def test_render_mermaid_internal_transitions_are_a_loop_and_listed_in_the_state() -> None:
    out = render("mermaid")
    for edge in (e for e in EDGES if e.internal):
        name = edge.source.value
        assert f"  {name} --> {name}\n" in out
        assert f"  {name}: {_mermaid_label(edge.label)}\n" in out


def test_render_mermaid_one_arrow_per_pair_of_states() -> None:
    """Mermaid draws only the last of several arrows between the same two states."""
    pairs = re.findall(r"^  (\w+|\[\*\]) --> (\w+|\[\*\])", render("mermaid"), re.M)
    assert len(pairs) == len(set(pairs))


def test_render_dot_one_arrow_per_pair_of_states() -> None:
    pairs = re.findall(r"^  (\w+) -> (\w+) \[label", render("dot"), re.M)
    assert len(pairs) == len(set(pairs))


def test_picture_draws_what_transitions_graphmachine_sees() -> None:
    """Our grouping loses no edge: the (source, dest, trigger) triples equal GraphMachine's."""
    from transitions.extensions.diagrams import GraphMachine

    machine = GraphMachine(
        model="self",
        states=STATES,
        transitions=TRANSITIONS,
        initial=State.AwaitingCompletion,
        auto_transitions=False,
        graph_engine="mermaid",
        show_conditions=True,
    )
    theirs = set()
    for source, dest, labels in re.findall(r"^  (\w+) --> (\w+): (.*)$", machine.get_graph().draw(None), re.M):
        theirs |= {(source, dest, label.split(" ")[0]) for label in labels.split(" | ")}
    drawn = picture(EDGES, None, TITLE)
    ours = set()
    for arrow in drawn.arrows:
        for line in arrow.lines:
            words = line.text.split(" ")
            if arrow.source is not None:
                ours.add((arrow.source.value, arrow.dest.value, words[0]))
            elif words[0].endswith(":"):  # a state's own edge, joined to the group's arrow
                ours.add((words[0][:-1], arrow.dest.value, words[1]))
            else:
                ours |= {(s.value, arrow.dest.value, words[0]) for s in drawn.group}
    assert ours == theirs


def test_render_mermaid_label_text_is_escaped() -> None:
    assert _text('a;b #c <d> "e"') == "a#59;b #35;c #60;d#62; #34;e#34;"
    for line in render("mermaid").splitlines():
        assert ";" not in line.replace("#59;", "").replace("#35;", "").replace("#60;", "").replace("#62;", "")


def test_render_is_deterministic_across_processes() -> None:
    """Diffs of diagrams/ show only real changes: no set or hash order leaks into the text."""
    code = "from agent_fsm.diagram import render; print(render('mermaid') + render('dot'), end='')"
    outs = {
        subprocess.run(
            [sys.executable, "-c", code],
            capture_output=True,
            text=True,
            check=True,
            env={**os.environ, "PYTHONHASHSEED": seed},
        ).stdout
        for seed in ("1", "2", "3")
    }
    assert outs == {render("mermaid") + render("dot")}


def test_render_rejects_an_unknown_format() -> None:
    with pytest.raises(ValueError, match="unknown diagram format 'svg'"):
        render("svg")  # type: ignore[arg-type]


# ---------------------------------------------------------------- overlays


def test_render_overlay_counts_every_delta_of_the_demo_run(demo: tuple[tuple[Edge, int], ...]) -> None:
    out = render("mermaid", trace=demo)
    assert out.startswith(f'---\ntitle: "{TITLE}: one run\'s path, ended in Done"\n')
    assert f"  Streaming: <b>text_delta [on_text_delta = continue] {X}30</b>\n" in out
    assert f"  Streaming: <b>tool_call_delta [on_tool_call_delta = continue] {X}14</b>\n" in out
    assert "  ExecutingTool: tool_verdict [on_tool_call = skip]\n" in out  # not taken: not bold
    assert f"<br><b>request [on_completion_call = continue] {X}3</b>" in out
    assert f"ExecutingTool --> AwaitingCompletion: <b>tools_done {X}2</b>" in out
    assert f'state "Done · run ended here, visited {X}1" as Done' in out
    assert f'state "Streaming · visited {X}3" as Streaming' in out
    assert "  class Done ended\n" in out
    assert "  class Cancelled unvisited\n" in out
    assert "  class ExecutingTool visited\n" in out


def test_render_dot_overlay_highlights_taken_arrows_and_the_end(demo: tuple[tuple[Edge, int], ...]) -> None:
    out = render("dot", trace=demo)
    finish = next(line for line in out.splitlines() if line.startswith("  Finalizing -> Done"))
    assert f"{X}1" in finish
    assert 'color="#1d4ed8"' in finish
    close = next(line for line in out.splitlines() if "close" in line)
    assert 'color="#cbd5e1"' in close  # not taken: faint
    done = next(line for line in out.splitlines() if line.startswith("  Done ["))
    assert "run ended here" in done
    assert 'penwidth="3"' in done
    assert f"visited {X}3" in next(line for line in out.splitlines() if line.startswith("    Streaming ["))


def test_render_overlay_of_a_cancelled_run_marks_the_grouped_edge_it_took() -> None:
    trace = _trace_of([[TextDelta("Hel"), TextDelta("lo"), Final(Usage())]], hook=_StopOnText())
    assert [(e.trigger, e.dest) for e, _ in trace] == [("request", State.Streaming), ("text_delta", State.Cancelled)]
    out = render("mermaid", trace=trace)
    assert f"<b>Streaming: text_delta [on_text_delta = terminate] {X}1</b>" in out
    assert "  class Cancelled ended\n" in out
    assert "ended in Cancelled" in out


def test_render_overlay_sums_a_universal_edge_over_the_states_it_left() -> None:
    by_close = [e for e in EDGES if e.trigger == "close"]
    request = next(e for e in EDGES if e.trigger == "request" and e.dest is State.Streaming)
    trace = ((request, 1), (next(e for e in by_close if e.source is State.Streaming), 1))
    out = render("mermaid", trace=trace)
    assert f"Live --> Cancelled: cancel<br><b>close {X}1</b>" in out


def test_render_overlay_of_a_run_out_of_turns() -> None:
    trace = _trace_of([[_call("c1"), Final(Usage())]], max_turns=1)
    assert trace[-1][0].dest is State.MaxTurnsExceeded
    out = render("dot", trace=trace)
    assert "ended in MaxTurnsExceeded" in out
    assert f"turn_limit [model calls = max_turns]  {X}1" in out


def test_render_rejects_a_trace_with_an_edge_the_machine_lacks(demo: tuple[tuple[Edge, int], ...]) -> None:
    import attrs

    forged = ((attrs.evolve(demo[0][0], trigger="teleport"), 1),)
    with pytest.raises(TraceError, match="no edge teleport"):
        render("dot", trace=forged)


def test_render_overlay_of_a_resumed_run_marks_where_it_began() -> None:
    """A resumed run's trace starts mid-path; the start arrow is then not part of it."""
    delta = next(e for e in EDGES if e.trigger == "text_delta" and e.dest is None)
    end = next(e for e in EDGES if e.trigger == "stream_end" and e.dest is State.Finalizing)
    finish = next(e for e in EDGES if e.trigger == "finish")
    trace = ((delta, 4), (end, 1), (finish, 1))
    assert f'state "Streaming · resumed here, visited {X}1" as Streaming' in render("mermaid", trace=trace)
    dot = render("dot", trace=trace)
    assert "resumed here, visited" in dot
    assert "  start -> AwaitingCompletion\n" in dot  # not highlighted
