"""One regression test per bug of rig-core 0.30's StreamingPromptRequest that agent-fsm fixes.

Each test is named after the bug and asserts our behaviour, which the README lists under
"Differences from rig".
"""

from __future__ import annotations

from typing import Any

from agent_fsm import (
    Agent,
    AssistantMessage,
    HookAction,
    MaxTurnsExceeded,
    PromptCancelled,
    Reasoning,
    StreamingPromptHook,
    Text,
    ToolCall,
    ToolCallHookAction,
    ToolFunction,
    ToolResult,
    Usage,
    UserMessage,
    tool,
)
from agent_fsm.events import Final, ReasoningDelta, TextDelta, ToolCallDelta, ToolCallReady
from agent_fsm.items import FinalResponse, StreamAssistantItem, StreamUserItem
from agent_fsm.machine.table import State
from agent_fsm.testing import ScriptedModel, check_run

from .support import collect


@tool
def echo(text: str) -> str:
    """Echo the text back."""
    return text


def ready(cid: str, text: str = "x", call_id: str | None = None) -> ToolCallReady:
    return ToolCallReady(ToolCall(cid, ToolFunction("echo", {"text": text}), call_id=call_id), f"int-{cid}")


def agent(script: list[list[Any]], **kwargs: Any) -> tuple[Agent, ScriptedModel]:
    model = ScriptedModel(script)
    return Agent(model, tools=[echo], **kwargs), model


async def test_rig_bug_01_terminate_hook_stops_the_run_no_request_no_more_text() -> None:
    class StopBeforeCall(StreamingPromptHook):
        def on_completion_call(self, prompt: Any, history: Any) -> HookAction:
            return HookAction.terminate("budget")

    a, model = agent([[TextDelta("never")]])
    run = a.stream_prompt("go", hook=StopBeforeCall())
    items, outcome = await collect(run)
    assert isinstance(outcome, PromptCancelled) and outcome.reason == "budget"
    assert model.calls == 0, "the request must not be sent"
    assert items == []
    assert run.state is State.Cancelled

    class StopAtSecondDelta(StreamingPromptHook):
        def on_text_delta(self, text_delta: str, aggregated_text: str) -> HookAction | None:
            return HookAction.terminate("enough") if aggregated_text == "ab" else None

    a, model = agent([[TextDelta("a"), TextDelta("b"), TextDelta("c"), Final(Usage())]])
    run = a.stream_prompt("go", hook=StopAtSecondDelta())
    items, outcome = await collect(run)
    assert isinstance(outcome, PromptCancelled)
    assert [i.content for i in items] == [TextDelta("a")], "nothing is yielded after Terminate"
    assert model.closed == 1


async def test_rig_bug_02_tool_hook_terminate_keeps_the_call_in_history_and_no_final_response() -> None:
    class Refuse(StreamingPromptHook):
        def on_tool_call(self, *args: Any) -> ToolCallHookAction:
            return ToolCallHookAction.terminate("dangerous")

    a, model = agent([[ready("c1")], [TextDelta("unreached")]])
    run = a.stream_prompt("go", hook=Refuse())
    items, outcome = await collect(run)
    assert isinstance(outcome, PromptCancelled)
    assert not any(isinstance(i, FinalResponse) for i in items)
    assert run.history[1].tool_calls[0].id == "c1"
    result = run.history[2].content[0]
    assert isinstance(result, ToolResult) and result.id == "c1" and result.is_error
    assert model.calls == 1
    check_run(items, run.history, outcome)


async def test_rig_bug_03_max_turns_is_the_exact_number_of_model_calls() -> None:
    for max_turns in (1, 2, 3):
        a, model = agent([[ready(f"c{t}")] for t in range(10)], max_turns=max_turns)
        items, outcome = await collect(a.stream_prompt("go"))
        assert isinstance(outcome, MaxTurnsExceeded)
        assert model.calls == max_turns


async def test_rig_bug_04_tool_call_followed_by_text_or_reasoning_still_runs_the_tools() -> None:
    a, model = agent(
        [
            [ready("c1", "ping"), TextDelta("while I wait"), ReasoningDelta("hmm"), Final(Usage(1, 1))],
            [TextDelta("pong received"), Final(Usage(1, 1))],
        ]
    )
    run = a.stream_prompt("go")
    items, outcome = await collect(run)
    assert outcome is None
    assert model.calls == 2
    sent = model.requests[1].prompt
    assert sent == UserMessage((ToolResult("c1", (Text("ping"),)),))


async def test_rig_bug_05_assistant_text_reaches_the_history() -> None:
    a, _ = agent([[TextDelta("Hello"), TextDelta(" world"), Final(Usage())]])
    run = a.stream_prompt("go")
    await collect(run)
    assert run.history[-1] == AssistantMessage((Text("Hello world"),))


async def test_rig_bug_06_one_user_message_holds_all_results_in_call_order() -> None:
    a, model = agent([[ready("c1", "one"), ready("c2", "two"), ready("c3", "three")], [TextDelta("ok")]])
    run = a.stream_prompt("go")
    await collect(run)
    results = run.history[2]
    assert isinstance(results, UserMessage)
    assert [(r.id, r.text) for r in results.content] == [("c1", "one"), ("c2", "two"), ("c3", "three")]
    assert isinstance(run.history[3], AssistantMessage)


async def test_rig_bug_07_next_prompt_is_the_tool_results_message_and_history_is_kept() -> None:
    given = [UserMessage((Text("earlier"),)), AssistantMessage((Text("reply"),))]
    a, model = agent([[ready("c1")], [TextDelta("ok")]])
    run = a.stream_prompt("go", history=given)
    await collect(run)
    second = model.requests[1]
    assert second.prompt == run.history[4] == UserMessage((ToolResult("c1", (Text("x"),)),))
    assert second.history == (*given, UserMessage((Text("go"),)), run.history[3])
    assert list(run.history[:2]) == given


async def test_rig_bug_08_tool_call_deltas_are_yielded() -> None:
    deltas = [ToolCallDelta("c1", "int-c1", name="echo"), ToolCallDelta("c1", "int-c1", arguments='{"text":"x"}')]
    a, _ = agent([[*deltas, ready("c1")], [TextDelta("ok")]])
    items, _ = await collect(a.stream_prompt("go"))
    streamed = [i.content for i in items if isinstance(i, StreamAssistantItem)]
    assert streamed[:2] == deltas


async def test_rig_bug_09_final_and_finish_hook_happen_on_every_turn() -> None:
    finishes: list[int] = []

    class Count(StreamingPromptHook):
        def on_stream_completion_response_finish(self, prompt: Any, response: Any) -> None:
            finishes.append(response.usage.input_tokens)

    a, _ = agent([[ready("c1"), Final(Usage(10, 1))], [TextDelta("ok"), Final(Usage(20, 1))]])
    items, _ = await collect(a.stream_prompt("go", hook=Count()))
    finals = [i.content for i in items if isinstance(i, StreamAssistantItem) and isinstance(i.content, Final)]
    assert [f.usage.input_tokens for f in finals] == [10, 20]
    assert finishes == [10, 20]


async def test_rig_bug_10_final_response_is_this_turns_text() -> None:
    a, _ = agent([[TextDelta("let me check"), ready("c1")], [TextDelta("the answer"), Final(Usage())]])
    items, _ = await collect(a.stream_prompt("go"))
    assert isinstance(items[-1], FinalResponse)
    assert items[-1].response == "the answer"

    a, _ = agent([[TextDelta("let me check"), ready("c1")], [Final(Usage())]])
    items, _ = await collect(a.stream_prompt("go"))
    assert items[-1].response == "", "a final turn without text does not reuse an earlier turn's text"


async def test_rig_bug_11_reasoning_blocks_stay_separate_with_their_signatures() -> None:
    blocks = [Reasoning(("first",), id="r1", signature="s1"), Reasoning(("second",), id="r2", signature="s2")]
    a, _ = agent([[ReasoningDelta("fir", id="r1"), ReasoningDelta("st", id="r1"), blocks[0], blocks[1], ready("c1")],
                  [TextDelta("ok")]])  # fmt: skip
    run = a.stream_prompt("go")
    await collect(run)
    assert run.history[1].content[:2] == tuple(blocks)


async def test_rig_bug_12_yielded_tool_result_is_the_history_tool_result() -> None:
    a, _ = agent([[ready("c1", "same"), ready("c2", "form")], [TextDelta("ok")]])
    run = a.stream_prompt("go")
    items, _ = await collect(run)
    yielded = [i.tool_result for i in items if isinstance(i, StreamUserItem)]
    assert yielded == list(run.history[2].content)
    assert [i.internal_call_id for i in items if isinstance(i, StreamUserItem)] == ["int-c1", "int-c2"]


async def test_rig_bug_13_max_turns_error_carries_the_prompt_and_the_full_history() -> None:
    a, _ = agent([[ready("c1")], [ready("c2")]], max_turns=2)
    run = a.stream_prompt("go")
    items, outcome = await collect(run)
    assert isinstance(outcome, MaxTurnsExceeded)
    assert outcome.max_turns == 2
    assert outcome.prompt == UserMessage((ToolResult("c2", (Text("x"),)),))
    assert outcome.history[-1] == outcome.prompt
    assert len(outcome.history) == 5
    assert outcome.history == run.history
    check_run(items, run.history, outcome)


async def test_rig_bug_14_history_is_returned_on_success_and_on_every_error() -> None:
    a, _ = agent([[TextDelta("ok")]])
    items, _ = await collect(a.stream_prompt("go", history=[UserMessage((Text("before"),))]))
    assert items[-1].history[0] == UserMessage((Text("before"),))
    assert items[-1].history[-1] == AssistantMessage((Text("ok"),))
    a, _ = agent([[TextDelta("partial"), RuntimeError("drop")]])
    run = a.stream_prompt("go")
    _, outcome = await collect(run)
    assert outcome is not None and outcome.history == run.history  # type: ignore[attr-defined]
    assert run.history[-1] == AssistantMessage((Text("partial"),))


async def test_rig_bug_15_hooks_get_the_calls_id_not_its_call_id() -> None:
    seen: list[tuple[str, str]] = []

    class Record(StreamingPromptHook):
        def on_tool_call(self, tool_name: str, tool_call_id: str, internal_call_id: str, args: Any) -> None:
            seen.append(("call", tool_call_id))

        def on_tool_result(
            self, tool_name: str, tool_call_id: str, internal_call_id: str, args: Any, result: str
        ) -> None:
            seen.append(("result", tool_call_id))

    a, _ = agent([[ready("toolu_1", call_id="fc_99")], [TextDelta("ok")]])
    await collect(a.stream_prompt("go", hook=Record()))
    assert seen == [("call", "toolu_1"), ("result", "toolu_1")]
