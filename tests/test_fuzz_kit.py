"""The fuzzing kit itself: cassettes, tool behaviours, the runners, and checks that can fail."""

from __future__ import annotations

import asyncio
from typing import Any

import attrs
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from agent_fsm import Agent, AssistantMessage, Text, ToolCall, ToolFunction, ToolResult, Usage, UserMessage
from agent_fsm.codec import CodecError
from agent_fsm.errors import MaxTurnsExceeded, PromptCancelled
from agent_fsm.events import Final, TextDelta, ToolCallReady
from agent_fsm.items import FinalResponse, StreamAssistantItem, StreamUserItem
from agent_fsm.machine.table import EDGES, State
from agent_fsm.testing import (
    EdgeCoverage,
    FuzzCase,
    HookPolicy,
    ScriptedModel,
    ToolBehaviour,
    ToolBehaviours,
    check_case,
    check_deterministic,
    check_ending,
    check_history_invariants,
    check_run,
    check_trace,
    dump_cassette,
    load_cassette,
    run_agent,
    run_case,
)
from agent_fsm.testing.hook_contract import check_hook_calls
from agent_fsm.testing.servers import serve
from agent_fsm.testing.strategies import fuzz_cases, tool_behaviours

# ---------------------------------------------------------------- cassettes


@given(case=fuzz_cases())
def test_cassette_round_trips_every_case(case: FuzzCase) -> None:
    text = dump_cassette(case)
    again = load_cassette(text)
    assert dump_cassette(again) == text
    lines = text.splitlines()
    assert len(lines) == 1 + len(case.script), "a header, then one line per model call"


@settings(max_examples=50)
@given(case=fuzz_cases(driver="sync"))
def test_cassette_replays_the_same_run(case: FuzzCase) -> None:
    check_deterministic(run_case(case), run_case(load_cassette(case.to_cassette())), what="a case and its cassette")


def test_load_cassette_reads_an_indented_paste() -> None:
    case = FuzzCase([[TextDelta("hi"), Final(Usage(1, 1, 2))]], max_turns=2)
    pasted = "\n".join("        " + line for line in case.to_cassette().splitlines())
    assert load_cassette(pasted).to_cassette() == case.to_cassette()


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (lambda t: t.replace('"version":1', '"version":99'), "version 99"),
        (lambda t: t.replace("agent-fsm/fuzz-case", "something-else"), "not a fuzz cassette"),
        (lambda t: t.replace('"calls":1', '"calls":3'), "announces 3"),
        (lambda t: t.replace('"user_tools":[]', '"user_tools":["search"]'), "pass them as tools="),
        (lambda t: t.replace('"error":"CompletionError"', '"error":"SystemExit"'), "cannot raise"),
        (lambda t: t + "{not json\n", "not valid JSON"),
    ],
)
def test_load_cassette_refuses_what_it_cannot_replay(edit: Any, message: str) -> None:
    from agent_fsm.errors import CompletionError

    case = FuzzCase([[TextDelta("hi"), CompletionError("boom", status=500)]], max_turns=1)
    with pytest.raises(CodecError, match=message):
        load_cassette(edit(case.to_cassette()))


def test_cassette_keeps_errors_and_junk_in_the_script() -> None:
    from agent_fsm.errors import CompletionError

    case = FuzzCase(
        [[CompletionError("boom", status=503), "junk", None, {"type": "textDelta"}, ConnectionResetError("x")]]
    )
    (turn,) = load_cassette(case.to_cassette()).script
    assert isinstance(turn[0], CompletionError) and turn[0].status == 503 and turn[0].message == "boom"
    assert turn[1:4] == ("junk", None, {"type": "textDelta"})
    assert isinstance(turn[4], ConnectionResetError) and str(turn[4]) == "x"


# ---------------------------------------------------------------- tool behaviours

_ARGS = st.one_of(
    st.fixed_dictionaries({}, optional={"text": st.text(max_size=4), "n": st.integers(-3, 3)}),
    st.dictionaries(st.sampled_from(["text", "n", "zz"]), st.one_of(st.none(), st.integers(), st.text(max_size=2))),
    st.sampled_from(['{"text": "a"}', "{", "null", "[1]", ""]),
)


@settings(max_examples=60)
@given(behaviours=tool_behaviours(), calls=st.lists(st.tuples(st.sampled_from(["lookup", "convert", "nope"]), _ARGS)))
def test_BehaviourServer_call_sync_gives_what_the_async_server_gives(behaviours: ToolBehaviours, calls: Any) -> None:
    sync_server, async_server = serve(behaviours), serve(behaviours)

    async def run_async() -> list[Any]:
        out: list[Any] = []
        for name, args in calls:
            try:
                out.append(await async_server.call(name, args))
            except Exception as exc:
                out.append(repr(exc))
        return out

    expected = asyncio.run(run_async())
    got: list[Any] = []
    for name, args in calls:
        try:
            got.append(sync_server.call_sync(name, args))
        except Exception as exc:
            got.append(repr(exc))
    assert got == expected


def test_ToolBehaviour_refuses_a_stall_without_timeout_and_duplicate_names() -> None:
    with pytest.raises(ValueError, match="timeout"):
        ToolBehaviour("t", "stall")
    with pytest.raises(ValueError, match="unique"):
        ToolBehaviours([ToolBehaviour("t", "text"), ToolBehaviour("t", "json")])


def test_HookPolicy_refuses_answers_its_method_cannot_give() -> None:
    with pytest.raises(ValueError, match="skip"):
        HookPolicy({"on_text_delta": ("skip",)})
    with pytest.raises(ValueError, match="not async"):
        HookPolicy({"on_tool_call": ("hang",)})
    with pytest.raises(ValueError, match="not a hook method"):
        HookPolicy({"on_everything": ()})


# ---------------------------------------------------------------- runners


def _case(**kwargs: Any) -> FuzzCase:
    script = [[ToolCallReady(ToolCall("c1", ToolFunction("lookup", {"text": "x"})), "i1"), Final(Usage(2, 1, 3))]]
    script.append([TextDelta("done"), Final(Usage(1, 1, 2))])
    defaults: dict[str, Any] = {"tools": ToolBehaviours([ToolBehaviour("lookup", "text", "got ")]), "max_turns": 3}
    return FuzzCase(script, **{**defaults, **kwargs})


@pytest.mark.parametrize("method", ["on_completion_call", "on_tool_call", "on_tool_result"])
def test_run_agent_cancels_the_consumer_of_a_hook_that_hangs(method: str) -> None:
    hook = HookPolicy({method: ("continue", "hang") if method == "on_completion_call" else ("hang",)}, None, [method])
    record = run_case(_case(hook=hook, driver="async"))
    record.check()
    assert record.ended_by_consumer == "cancel"
    assert record.state is State.Cancelled and isinstance(record.outcome, PromptCancelled)
    assert "task was cancelled" in record.outcome.reason
    assert record.trace[-1][0].trigger == "close"


@pytest.mark.parametrize("concurrency", [1, 2])
def test_run_agent_cancels_the_consumer_of_a_tool_that_hangs(concurrency: int) -> None:
    behaviours = ToolBehaviours([ToolBehaviour("lookup", "text"), ToolBehaviour("book", "hang")])
    calls = [ToolCallReady(ToolCall(f"c{i}", ToolFunction(n, {})), f"i{i}") for i, n in enumerate(["lookup", "book"])]
    record = run_case(FuzzCase([calls], max_turns=2, tools=behaviours, tool_concurrency=concurrency, driver="async"))
    record.check()
    assert record.ended_by_consumer == "cancel" and record.state is State.Cancelled
    assert record.trace[-1][0].source is State.ExecutingTool
    results = record.history[-1].content
    assert all(isinstance(r, ToolResult) for r in results) and results[-1].is_error, "the hung call gets a result"


def test_run_agent_closing_before_iterating_cancels_without_a_model_call() -> None:
    record = run_case(_case(close_after=0, driver="async"))
    record.check()
    assert record.state is State.Cancelled and record.model_calls == 0 and record.items == ()


def test_run_agent_stalling_tool_times_out_into_an_error_result() -> None:
    tools = ToolBehaviours([ToolBehaviour("lookup", "stall", timeout=0.001)])
    record = run_case(_case(tools=tools, driver="async"))
    record.check()
    result = next(i.tool_result for i in record.items if isinstance(i, StreamUserItem))
    assert result.is_error and "timed out" in result.text
    assert record.state is State.Done


def test_check_case_attaches_a_cassette_that_replays_the_failure() -> None:
    def no_tools(record: Any) -> None:
        assert not any(isinstance(i, StreamUserItem) for i in record.items), "a tool ran"

    case = _case()
    with pytest.raises(AssertionError, match="a tool ran") as info:
        check_case(case, extra_check=no_tools)
    (note,) = info.value.__notes__
    pasted = note.split('load_cassette(r"""')[1].split('"""')[0]
    with pytest.raises(AssertionError, match="a tool ran"):
        check_case(load_cassette(pasted), extra_check=no_tools)


def test_check_case_compares_the_drivers() -> None:
    record = check_case(_case(driver="sync"))
    assert record.state is State.Done and record.usage == Usage(3, 2, 5)


# ---------------------------------------------------------------- the checks can fail

U = UserMessage((Text("go"),))
CALL = ToolCall("c1", ToolFunction("lookup", {}))
RESULT = ToolResult("c1", (Text("ok"),))
ANSWER = AssistantMessage((Text("done"),))
USAGE = Usage(1, 1, 2)


@pytest.mark.parametrize(
    ("history", "broken"),
    [
        ((U, AssistantMessage((CALL,))), "every call has a result"),
        ((U, AssistantMessage((CALL,)), UserMessage((RESULT, RESULT))), "exactly one result per call"),
        ((U, UserMessage((RESULT,))), "no orphan results"),
        ((U, AssistantMessage((CALL, CALL)), UserMessage((RESULT,))), "unique call ids"),
        ((U, AssistantMessage((CALL,)), ANSWER), "results follow their calls"),
    ],
)
def test_check_history_invariants_names_what_broke(history: Any, broken: str) -> None:
    with pytest.raises(AssertionError, match=broken):
        check_history_invariants(history)


def _done(history: tuple[Any, ...], usage: Usage = USAGE, text: str = "done") -> list[Any]:
    return [
        StreamAssistantItem(TextDelta(text)),
        StreamAssistantItem(Final(usage)),
        FinalResponse(text, usage, history),
    ]


@pytest.mark.parametrize(
    ("items", "outcome", "broken"),
    [
        (lambda h: [*_done(h), StreamAssistantItem(TextDelta("late"))], None, "nothing emitted after the ending"),
        (lambda h: _done(h)[:-1], None, "one FinalResponse"),
        (lambda h: [*_done(h)[:2], FinalResponse("done", Usage(9, 9, 18), h)], None, "usage total"),
        (lambda h: [StreamAssistantItem(TextDelta("lost")), *_done(h)], None, "nothing streamed is missing"),
        (lambda h: _done(h), PromptCancelled("x", ()), "no FinalResponse after an early ending"),
    ],
)
def test_check_run_names_what_broke(items: Any, outcome: Any, broken: str) -> None:
    history = (U, ANSWER)
    with pytest.raises(AssertionError, match=broken):
        check_run(items(history), history, outcome)


def test_check_run_refuses_too_many_calls_and_an_early_MaxTurnsExceeded() -> None:
    history = (U, AssistantMessage((CALL,)), UserMessage((RESULT,)))
    ending = MaxTurnsExceeded(2, history, history[-1])
    items = [StreamAssistantItem(ToolCallReady(CALL, "i1")), StreamUserItem(RESULT, "i1")]
    with pytest.raises(AssertionError, match="model calls <= max_turns"):
        check_run(items, history, ending, max_turns=2, model_calls=3)
    with pytest.raises(AssertionError, match="only after max_turns calls"):
        check_run(items, history, ending, max_turns=2, model_calls=1)
    check_run(items, history, ending, max_turns=2, model_calls=2)


def test_check_run_refuses_an_emitted_synthetic_result() -> None:
    synthetic = ToolResult("c1", (Text("Tool call not executed: the run was cancelled (x)"),), is_error=True)
    history = (U, AssistantMessage((CALL,)), UserMessage((synthetic,)))
    items = [StreamAssistantItem(ToolCallReady(CALL, "i1")), StreamUserItem(synthetic, "i1")]
    with pytest.raises(AssertionError, match="synthetic results are never emitted"):
        check_run(items, history, PromptCancelled("x", history))


def test_check_ending_and_check_trace_name_what_broke() -> None:
    with pytest.raises(AssertionError, match="a Done run has no error"):
        check_ending(State.Done, None, PromptCancelled("x"))
    with pytest.raises(AssertionError, match="the error matches the state"):
        check_ending(State.Failed, None, PromptCancelled("x"))
    with pytest.raises(AssertionError, match="final state"):
        check_ending(State.Streaming, None, None)
    request = next(e for e in EDGES if e.trigger == "request" and e.dest is State.Streaming)
    close = next(e for e in EDGES if e.trigger == "close" and e.source is State.Streaming)
    text = next(e for e in EDGES if e.trigger == "text_delta")
    with pytest.raises(AssertionError, match="walk"):
        check_trace([(text, 1)], State.Streaming)
    with pytest.raises(AssertionError, match="exactly one terminal outcome"):
        check_trace([(request, 1), (close, 1), (text, 1)], State.Cancelled)
    with pytest.raises(AssertionError, match="ends in the run's state"):
        check_trace([(request, 1)], State.Done)
    check_trace([(request, 1), (text, 3), (close, 1)], State.Cancelled)


def test_RunRecord_check_refuses_leaks_open_streams_and_usage_it_never_got() -> None:
    good = run_case(_case())
    good.check()
    for change, broken in [
        ({"leaked_tasks": 1}, "no task is left running"),
        ({"open_streams": 1}, "every model stream is closed"),
        ({"after_end": 1}, "nothing is emitted after the ending"),
        ({"played_usage": Usage(99, 0, 99)}, "usage total"),
        ({"model_calls": 1}, "every request is one model call"),
        ({"start": (UserMessage((Text("another prompt"),)),)}, "the given history, the prompt, then the run"),
    ]:
        with pytest.raises(AssertionError, match=broken):
            attrs.evolve(good, **change).check()


def test_check_deterministic_names_the_part_that_differs() -> None:
    a = run_case(_case())
    b = run_case(_case(tools=ToolBehaviours([ToolBehaviour("lookup", "text", "other ")])))
    with pytest.raises(AssertionError, match="determinism: runs of the same case differ in items"):
        check_deterministic(a, b)


def test_check_hook_calls_names_what_broke() -> None:
    history = (U, AssistantMessage((Text("ab"), CALL)), UserMessage((RESULT,)))
    check_hook_calls([("on_text_delta", ("b", "ab")), ("on_tool_result", ("lookup", "c1", "i1", {}, "ok"))], history)
    for call, broken in [
        (("on_text_delta", ("b", "xb")), "this turn's text so far"),
        (("on_text_delta", ("b", "a")), "includes text_delta"),
        (("on_tool_call", ("lookup", None, "i1", {})), "tool_call_id is the id"),
        (("on_tool_call", ("lookup", "c1", "i1", {"a": 1})), "parsed arguments"),
        (("on_tool_result", ("lookup", "c1", "i1", {}, "nope")), "text of the recorded result"),
        (("on_completion_call", (U, (ANSWER,))), "messages before it"),
    ]:
        with pytest.raises(AssertionError, match=broken):
            check_hook_calls([call], history)


# ---------------------------------------------------------------- coverage


def test_EdgeCoverage_counts_hits_and_runs_and_names_what_is_missing() -> None:
    coverage = EdgeCoverage()
    record = run_case(_case())
    coverage.add(record.trace)
    coverage.add(record.trace)
    assert coverage.total_runs == 2
    taken = {edge.index for edge, _ in record.trace}
    assert coverage.covered == len(taken)
    assert {e.index for e in coverage.missing} == set(range(len(EDGES))) - taken
    table = coverage.table()
    assert all(e.label in table for e in EDGES)
    assert table.count("MISSING") == len(EDGES) - len(taken)
    assert coverage.to_json_value()["covered"] == len(taken)


def test_ScriptedModel_records_what_it_played() -> None:
    model = ScriptedModel([[TextDelta("a"), Final(Usage(1, 1, 2))]])
    record = run_agent(Agent(model))
    assert model.played == [[TextDelta("a"), Final(Usage(1, 1, 2))]]
    assert record.played_usage == Usage(1, 1, 2) and model.exhausted == 1


def test_check_hook_calls_holds_the_tool_stage_to_call_order_and_concurrency() -> None:
    c2 = ToolCall("c2", ToolFunction("lookup", {}))
    r2 = ToolResult("c2", (Text("ok"),))
    history = (U, AssistantMessage((CALL, c2)), UserMessage((RESULT, r2)))

    def ask(i: str) -> tuple[str, tuple[Any, ...]]:
        return ("on_tool_call", ("lookup", i, "int", {}))

    def told(i: str) -> tuple[str, tuple[Any, ...]]:
        return ("on_tool_result", ("lookup", i, "int", {}, "ok"))

    one_by_one = [ask("c1"), told("c1"), ask("c2"), told("c2")]
    all_first = [ask("c1"), ask("c2"), told("c1"), told("c2")]
    check_hook_calls(one_by_one, history, tool_concurrency=1)
    check_hook_calls(all_first, history, tool_concurrency=2)
    with pytest.raises(AssertionError, match="every on_tool_call comes first"):
        check_hook_calls(one_by_one, history, tool_concurrency=2)
    with pytest.raises(AssertionError, match="asked after the previous result"):
        check_hook_calls(all_first, history, tool_concurrency=1)
    with pytest.raises(AssertionError, match="call order"):
        check_hook_calls([ask("c2"), ask("c1")], history, tool_concurrency=2)


def test_check_turn_content_follows_the_rules_and_names_a_merged_reasoning_block() -> None:
    from agent_fsm.events import ReasoningDelta
    from agent_fsm.messages import Reasoning
    from agent_fsm.testing.invariants import check_turn_content

    streamed = [
        ReasoningDelta("a1", id="A"),
        TextDelta("x"),
        ReasoningDelta("n1"),
        TextDelta("y"),
        TextDelta("z"),
        Reasoning(("whole",), id="B", signature="sig"),  # replaces the id-less deltas, in their place
        ToolCallReady(CALL, "i1"),
        Final(USAGE),
    ]
    items = [StreamAssistantItem(e) for e in streamed]
    kept = (Reasoning(("a1",), id="A"), Text("x"), Reasoning(("whole",), id="B", signature="sig"), Text("yz"), CALL)
    history = (U, AssistantMessage(kept), UserMessage((RESULT,)))
    check_turn_content(items, history)
    merged = (Reasoning(("a1", "whole"), id="A"), Text("x"), Text("yz"), CALL)  # rig merged blocks: a bug
    with pytest.raises(AssertionError, match="each turn keeps what streamed"):
        check_turn_content(items, (U, AssistantMessage(merged), UserMessage((RESULT,))))
    moved = (Text("x"), Reasoning(("a1",), id="A"), Reasoning(("whole",), id="B", signature="sig"), Text("yz"), CALL)
    with pytest.raises(AssertionError, match="part 0"):
        check_turn_content(items, (U, AssistantMessage(moved), UserMessage((RESULT,))))


def test_check_run_holds_the_ending_errors_to_their_contract() -> None:
    from agent_fsm.errors import HookError

    history = (U, AssistantMessage((Text("a"),)))
    items = [StreamAssistantItem(TextDelta("a"))]
    with pytest.raises(AssertionError, match="HookError names the hook"):
        check_run(items, history, HookError("on_text_delta", history))  # nothing chained
    with pytest.raises(AssertionError, match="the tool-results message"):
        check_run(items, (*history, U), MaxTurnsExceeded(1, (*history, U), U))


def test_check_ending_accepts_a_stop_for_approvals_and_refuses_a_mismatch() -> None:
    from agent_fsm import ApprovalRequired, Snapshot

    snap = Snapshot(State.ExecutingTool, State.AwaitingApproval, (), 1, 3, Usage(), 0)
    pending = ApprovalRequired((), snap)
    check_ending(State.AwaitingApproval, pending, pending)
    with pytest.raises(AssertionError, match="the error matches the state"):
        check_ending(State.AwaitingApproval, None, PromptCancelled("x"))
