"""The sans-IO machine, driven synchronously through its step API: no event loop anywhere."""

from __future__ import annotations

from typing import Any

import pytest

from agent_fsm.errors import ConfigurationError, HookError, IllegalTransition, MaxTurnsExceeded, PromptCancelled
from agent_fsm.events import Final, ReasoningDelta, TextDelta, ToolCallDelta, ToolCallReady
from agent_fsm.hooks import HookAction, StreamingPromptHook, ToolCallHookAction
from agent_fsm.items import FinalResponse, StreamAssistantItem, StreamUserItem
from agent_fsm.machine import TurnMachine
from agent_fsm.machine.protocol import NEXT_EVENT, STOP, CallHook, RunTools, SendRequest, ToolOutput
from agent_fsm.machine.table import State
from agent_fsm.messages import (
    AssistantMessage,
    Reasoning,
    Text,
    ToolCall,
    ToolFunction,
    ToolResult,
    Usage,
    UserMessage,
)
from agent_fsm.run.sync_driver import SyncScript, drive_sync
from agent_fsm.testing import check_history_invariants, check_run

from .test_compiled import COMPILED


def call(cid: str, name: str = "echo", **args: Any) -> ToolCallReady:
    return ToolCallReady(ToolCall(cid, ToolFunction(name, args)), f"int-{cid}")


def echo_runner(c: ToolCall) -> ToolOutput:
    return ToolOutput((Text(f"{c.function.name}:{c.function.arguments}"),))


def run(script: list[list[Any]], hook: object | None = None, **kwargs: Any) -> tuple[TurnMachine, list[Any]]:
    from agent_fsm.hooks import live_hooks

    m = TurnMachine("hi", max_turns=kwargs.pop("max_turns", 5), live_hooks=live_hooks(hook).keys(), **kwargs)
    items = drive_sync(m, SyncScript(script), hook=hook, run_tool=echo_runner)
    return m, items


def test_TurnMachine_text_turn_completes_with_final_response() -> None:
    m, items = run([[TextDelta("He"), TextDelta("llo"), Final(Usage(3, 2, 5))]])
    assert m.state is State.Done
    assert [type(i) for i in items] == [StreamAssistantItem] * 3 + [FinalResponse]
    final = items[-1]
    assert final.response == "Hello"
    assert final.usage == Usage(3, 2, 5)
    assert m.history == (UserMessage((Text("hi"),)), AssistantMessage((Text("Hello"),)))
    assert final.history == m.history
    check_run(items, m.history, None)


def test_TurnMachine_step_api_returns_actions_in_order() -> None:
    m = TurnMachine("hi", max_turns=2)
    action = m.start()
    assert isinstance(action, SendRequest)
    assert action.request.prompt == UserMessage((Text("hi"),))
    assert action.request.history == ()
    assert m.state is State.Streaming
    assert m.model_event(call("c1", text="x")) is NEXT_EVENT
    assert m.model_event(Final(Usage(1, 1))) is NEXT_EVENT
    action = m.model_end()
    assert isinstance(action, RunTools)
    assert [c.id for c in action.calls] == ["c1"]
    action = m.tool_output(ToolOutput((Text("x"),)))
    assert isinstance(action, SendRequest)
    assert action.request.history == m.history[:-1]
    assert action.request.prompt == m.history[-1]
    assert m.model_event(TextDelta("done")) is NEXT_EVENT
    assert m.model_end() is STOP
    assert m.state is State.Done


def test_TurnMachine_max_turns_is_the_exact_number_of_model_calls() -> None:
    script = [[call(f"c{t}", text="x")] for t in range(5)]
    m, items = run(script, max_turns=3)
    assert m.turns == 3
    assert m.state is State.MaxTurnsExceeded
    err = m.error
    assert isinstance(err, MaxTurnsExceeded)
    assert err.max_turns == 3
    assert err.prompt == m.history[-1]
    assert isinstance(err.prompt.content[0], ToolResult)
    check_run(items, m.history, err, max_turns=3)


def test_TurnMachine_empty_turn_records_empty_text() -> None:
    m, items = run([[]])
    assert m.state is State.Done
    assert m.history[-1] == AssistantMessage((Text(""),))
    assert items[-1].response == ""


def test_TurnMachine_reasoning_blocks_stay_whole_and_in_arrival_order() -> None:
    script = [
        [
            ReasoningDelta("a1", id="r1"),
            ReasoningDelta("b1", id="r2"),
            ReasoningDelta("a2", id="r1"),
            Reasoning(("a1a2",), id="r1", signature="s1"),
            TextDelta("x"),
            ReasoningDelta("u1"),
            Reasoning(("u1",), signature="s3"),
            ReasoningDelta("dangling"),
            TextDelta("y"),
        ]
    ]
    m, _ = run(script)
    assert m.history[-1].content == (
        Reasoning(("a1a2",), id="r1", signature="s1"),
        Reasoning(("b1",), id="r2"),
        Text("x"),
        Reasoning(("u1",), signature="s3"),
        Reasoning(("dangling",)),
        Text("y"),
    )


def test_TurnMachine_event_after_final_is_illegal_and_fails_with_history() -> None:
    m = TurnMachine("hi", max_turns=2)
    m.start()
    m.model_event(TextDelta("partial"))
    m.model_event(Final(Usage(1, 1)))
    with pytest.raises(IllegalTransition) as info:
        m.model_event(TextDelta("late"))
    assert info.value.state == "Streaming"
    assert "text_delta" in info.value.event
    assert m.state is State.Failed
    assert m.error is info.value
    assert info.value.history == (UserMessage((Text("hi"),)), AssistantMessage((Text("partial"),)))
    check_history_invariants(info.value.history)


@pytest.mark.parametrize("fast_path", [True, False])
@pytest.mark.parametrize(
    "event",
    [TextDelta(None), ToolCallDelta("c1", "i1", "f", None), ReasoningDelta(7), Final(None)],  # type: ignore[arg-type]
    ids=["text", "tool-call-delta", "reasoning-delta", "final"],
)
def test_every_event_handler_refuses_a_malformed_event_itself(event: Any, fast_path: bool) -> None:
    # A driver dispatching through ``event_handlers`` makes no check of its own (it used to call
    # ``check_event`` on every event): the handlers, the fast path's included, check.
    m = TurnMachine("hi", max_turns=1, fast_path=fast_path)
    m.start()
    m.event_handlers[TextDelta](TextDelta("ok"))
    with pytest.raises(IllegalTransition, match="malformed event"):
        m.event_handlers[type(event)](event)
    assert m.state is State.Failed
    check_history_invariants(m.history)


def test_TurnMachine_second_final_is_illegal() -> None:
    m = TurnMachine("hi", max_turns=1)
    m.start()
    m.model_event(Final(Usage()))
    with pytest.raises(IllegalTransition):
        m.model_event(Final(Usage()))
    assert m.state is State.Failed


def test_TurnMachine_duplicate_call_id_in_a_turn_is_illegal_and_history_stays_valid() -> None:
    m = TurnMachine("hi", max_turns=3)
    m.start()
    m.model_event(call("c1", text="a"))
    with pytest.raises(IllegalTransition, match="already used"):
        m.model_event(call("c1", text="b"))
    assert m.state is State.Failed
    check_history_invariants(m.history)
    results = m.history[-1].content
    assert [r.id for r in results] == ["c1"] and results[0].is_error


def test_TurnMachine_model_event_before_request_is_illegal() -> None:
    m = TurnMachine("hi", max_turns=1)
    with pytest.raises(IllegalTransition, match="AwaitingCompletion"):
        m.model_event(TextDelta("x"))
    assert m.state is State.Failed


def test_TurnMachine_unknown_event_type_is_illegal() -> None:
    m = TurnMachine("hi", max_turns=1)
    m.start()
    with pytest.raises(IllegalTransition, match="not a model event"):
        m.model_event("a string")
    assert m.state is State.Failed


@pytest.mark.parametrize(
    "poke",
    [
        lambda m: m.model_event(TextDelta("x")),
        lambda m: m.model_end(),
        lambda m: m.hook_answer(None),
        lambda m: m.tool_output(ToolOutput((Text("x"),))),
        lambda m: m.start(),
    ],
)
def test_TurnMachine_terminal_states_absorb(poke: Any) -> None:
    m, _ = run([[TextDelta("done")]])
    assert m.state is State.Done
    history = m.history
    with pytest.raises(IllegalTransition):
        poke(m)
    assert m.state is State.Done
    assert m.history == history
    assert m.close() is STOP
    assert m.state is State.Done


def test_TurnMachine_failed_is_absorbing() -> None:
    m = TurnMachine("hi", max_turns=1)
    m.start()
    m.model_failed(RuntimeError("boom"))
    assert m.state is State.Failed
    with pytest.raises(IllegalTransition):
        m.model_event(TextDelta("x"))
    assert m.state is State.Failed


def test_TurnMachine_hook_answer_nobody_asked_for_is_illegal() -> None:
    m = TurnMachine("hi", max_turns=1)
    m.start()
    with pytest.raises(IllegalTransition, match="no hook was asked"):
        m.hook_answer(None)


def test_TurnMachine_tool_output_with_no_running_call_is_illegal() -> None:
    m = TurnMachine("hi", max_turns=1)
    m.start()
    with pytest.raises(IllegalTransition, match="no tool call is running"):
        m.tool_output(ToolOutput((Text("x"),)))


def test_TurnMachine_invalid_verdict_is_a_hook_error() -> None:
    m = TurnMachine("hi", max_turns=1, live_hooks={"on_text_delta"})
    m.start()
    action = m.model_event(TextDelta("x"))
    assert action == CallHook("on_text_delta", ("x", "x"))
    assert m.hook_answer(ToolCallHookAction.skip("no")) is STOP
    assert m.state is State.Failed
    assert isinstance(m.error, HookError)
    assert m.error.hook_name == "on_text_delta"
    assert isinstance(m.error.__cause__, TypeError)


@pytest.mark.parametrize(
    "answer",
    [HookAction("terminate", None), HookAction("terminate", 5), HookAction(None), HookAction(7)],  # type: ignore[arg-type]
    ids=["reason-None", "reason-int", "kind-None", "kind-int"],
)
def test_a_verdict_with_wrong_typed_fields_is_a_hook_error_not_a_crash(answer: HookAction) -> None:
    # Its reason would become the text of a tool result or an error: only a str is taken. (Compiled,
    # a typed read of the field would otherwise raise a TypeError from inside the machine.)
    m = TurnMachine("hi", max_turns=1, live_hooks={"on_text_delta"})
    m.start()
    m.model_event(TextDelta("x"))
    assert m.hook_answer(answer) is STOP
    assert m.state is State.Failed
    assert isinstance(m.error, HookError)
    assert "not one of its verdicts" in str(m.error)
    check_history_invariants(m.history)


@pytest.mark.parametrize(
    "kwargs",
    [{"max_turns": "3"}, {"max_turns": 1, "tool_concurrency": None}, {"max_turns": 1, "on_max_turns": 3}],
    ids=["max_turns-str", "tool_concurrency-None", "on_max_turns-int"],
)
def test_a_wrong_typed_setting_is_refused_before_the_run_in_either_build(kwargs: dict[str, Any]) -> None:
    # The Python build's own check says ConfigurationError; the compiled build's signature checks
    # the argument's type first and says TypeError, naming the type it expected (README, "The
    # compiled core"). Either way nothing is built.
    with pytest.raises((ConfigurationError, TypeError)) as raised:
        TurnMachine("hi", **kwargs)
    if COMPILED:
        assert isinstance(raised.value, TypeError) and "expected" in str(raised.value)
    else:
        assert isinstance(raised.value, ConfigurationError)


def test_TurnMachine_text_delta_hook_sees_aggregated_text_and_terminate_drops_the_delta() -> None:
    m = TurnMachine("hi", max_turns=1, live_hooks={"on_text_delta"})
    m.start()
    assert m.model_event(TextDelta("a")).args == ("a", "a")
    assert m.hook_answer(None) is NEXT_EVENT
    assert m.model_event(TextDelta("b")).args == ("b", "ab")
    assert m.hook_answer(HookAction.terminate("enough")) is STOP
    assert m.state is State.Cancelled
    assert [i.content for i in m.outbox] == [TextDelta("a")]
    assert m.history[-1] == AssistantMessage((Text("a"),))
    assert isinstance(m.error, PromptCancelled) and m.error.reason == "enough"


def test_TurnMachine_concurrent_tools_ask_every_on_tool_call_first() -> None:
    class Hook(StreamingPromptHook):
        def __init__(self) -> None:
            self.log: list[str] = []

        def on_tool_call(self, tool_name: str, tool_call_id: str, internal_call_id: str, args: Any) -> None:
            self.log.append(f"call:{tool_call_id}")

        def on_tool_result(self, *args: Any) -> None:
            self.log.append(f"result:{args[1]}")

    script = [[call("a", text="1"), call("b", text="2"), call("c", text="3")], [TextDelta("ok")]]
    for concurrency, expected in [
        (1, ["call:a", "result:a", "call:b", "result:b", "call:c", "result:c"]),
        (3, ["call:a", "call:b", "call:c", "result:a", "result:b", "result:c"]),
    ]:
        hook = Hook()
        m, items = run(script, hook=hook, tool_concurrency=concurrency)
        assert hook.log == expected
        assert m.state is State.Done
        check_run(items, m.history, None)


def test_TurnMachine_skip_records_the_reason_as_result_without_running() -> None:
    class Hook(StreamingPromptHook):
        def on_tool_call(self, tool_name: str, tool_call_id: str, internal_call_id: str, args: Any) -> Any:
            return ToolCallHookAction.skip("not allowed") if tool_call_id == "b" else None

    m, items = run([[call("a", text="1"), call("b", text="2")], [TextDelta("ok")]], hook=Hook())
    results = m.history[2].content
    assert [(r.id, r.text, r.is_error) for r in results] == [
        ("a", "echo:{'text': '1'}", False),
        ("b", "not allowed", False),
    ]
    emitted = [i.tool_result for i in items if isinstance(i, StreamUserItem)]
    assert emitted == list(results)


def test_TurnMachine_trace_counts_repeated_edges_once() -> None:
    m, _ = run([[TextDelta("a"), TextDelta("b"), TextDelta("c"), Final(Usage())]])
    labels = [(e.label, n) for e, n in m.trace]
    assert labels == [
        ("request [on_completion_call = continue]", 1),
        ("text_delta [on_text_delta = continue]", 3),
        ("final [on_stream_completion_response_finish = continue]", 1),
        ("stream_end [no tool calls]", 1),
        ("finish", 1),
    ]


def test_TurnMachine_rejects_bad_configuration() -> None:
    from agent_fsm.errors import ConfigurationError

    with pytest.raises(ConfigurationError, match="max_turns"):
        TurnMachine("hi", max_turns=0)
    with pytest.raises(ConfigurationError, match="history\\[1\\]"):
        TurnMachine("hi", [UserMessage((Text("a"),)), "oops"], max_turns=1)  # type: ignore[list-item]
    with pytest.raises(ConfigurationError, match="prompt"):
        TurnMachine(42, max_turns=1)  # type: ignore[arg-type]
    with pytest.raises(ConfigurationError, match="unknown hook"):
        TurnMachine("hi", max_turns=1, live_hooks={"on_everything"})


def test_TurnMachine_tool_call_deltas_are_emitted_and_break_text_runs() -> None:
    m, items = run([[TextDelta("a"), ToolCallDelta("c1", "i1", name="echo"), TextDelta("b")]])
    assert [i.content for i in items[:3]] == [TextDelta("a"), ToolCallDelta("c1", "i1", name="echo"), TextDelta("b")]
    assert m.history[-1].content == (Text("a"), Text("b"))
