"""The observer seam: what the driver reports, in which order, with which numbers."""

from __future__ import annotations

import asyncio
import contextvars
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest

from agent_fsm import (
    Agent,
    CompletionError,
    HookAction,
    MaxTurnsExceeded,
    PromptCancelled,
    StreamingPromptHook,
    Text,
    ToolCall,
    ToolFunction,
    Usage,
    tool,
)
from agent_fsm.events import Final, TextDelta, ToolCallReady
from agent_fsm.machine.table import State
from agent_fsm.observe import (
    BaseRunObserver,
    ModelCall,
    RunEnd,
    RunInfo,
    StateChange,
    ToolCallRecord,
)
from agent_fsm.observe.genai import describe_model, response_fields
from agent_fsm.observe.log import LoggingObserver
from agent_fsm.providers.cassette import RecordingModel
from agent_fsm.testing import ScriptedModel

from .observe_helpers import ManualClock, TimedModel, captured_logs
from .support import collect

INSIDE: contextvars.ContextVar[str | None] = contextvars.ContextVar("INSIDE", default=None)


class Recorder(BaseRunObserver):
    """Writes down every report; sets ``INSIDE`` while its context managers are entered."""

    def __init__(self, log: list[Any], steps: bool = False) -> None:
        self.log = log
        self.wants_state_changes = steps

    def state_changed(self, change: StateChange) -> None:
        self.log.append(("state", change.source.value, change.dest.value))

    def model_call_started(self, call: ModelCall) -> None:
        self.log.append(("model start", call.turn))

    @contextmanager
    def model_call_context(self, call: ModelCall) -> Iterator[None]:
        token = INSIDE.set(f"model {call.turn}")
        try:
            yield
        finally:
            INSIDE.reset(token)

    def model_call_ended(self, call: ModelCall) -> None:
        self.log.append(("model end", call.turn, call.state.value, call.usage, call))

    @contextmanager
    def tool_call(self, record: ToolCallRecord) -> Iterator[None]:
        self.log.append(("tool start", record.call.id, record.turn))
        token = INSIDE.set(f"tool {record.call.id}")
        try:
            yield
        finally:
            INSIDE.reset(token)
            self.log.append(("tool end", record.call.id, record))

    def run_ended(self, end: RunEnd) -> None:
        self.log.append(("run end", end.state.value, end.usage, end.turns, end))


class Recording:
    def __init__(self, steps: bool = False) -> None:
        self.log: list[Any] = []
        self.runs: list[RunInfo] = []
        self.steps = steps

    def start_run(self, run: RunInfo) -> Recorder:
        self.runs.append(run)
        return Recorder(self.log, self.steps)


seen_inside: list[tuple[str | None, bool]] = []


@tool
async def probe(text: str) -> str:
    """Say where it runs: the observer's context, and whether in a task of its own."""
    seen_inside.append((INSIDE.get(), asyncio.current_task() is not MAIN_TASK[0]))
    return text.upper()


@tool(name="probe")
async def waiting_probe(text: str) -> str:
    """The same, for a tool that can wait (and so runs in a task of its own, within its time)."""
    await asyncio.sleep(0)
    seen_inside.append((INSIDE.get(), asyncio.current_task() is not MAIN_TASK[0]))
    return text.upper()


MAIN_TASK: list[asyncio.Task[Any] | None] = [None]


def ready(cid: str, text: str = "x", name: str = "probe") -> ToolCallReady:
    return ToolCallReady(ToolCall(cid, ToolFunction(name, {"text": text})), f"int-{cid}")


def kinds(log: list[Any]) -> list[tuple[Any, ...]]:
    return [entry[:2] if entry[0] in ("tool start", "tool end", "model start") else entry[:1] for entry in log]


async def test_RunTelemetry_reports_calls_in_order_with_usage_per_call_and_totals() -> None:
    rec = Recording()
    model = ScriptedModel([[ready("c1"), Final(Usage(5, 1))], [TextDelta("done"), Final(Usage(7, 2))]])
    run = Agent(model, tools=[probe], name="adder", observers=[rec]).stream_prompt("go")
    items, outcome = await collect(run)
    assert outcome is None
    assert kinds(rec.log) == [
        ("model start", 1), ("model end",), ("tool start", "c1"), ("tool end", "c1"),
        ("model start", 2), ("model end",), ("run end",),
    ]  # fmt: skip
    first, second = rec.log[1], rec.log[5]
    assert (first[2], first[3]) == ("ExecutingTool", Usage(5, 1))
    assert (second[2], second[3]) == ("Done", Usage(7, 2))
    assert first[4].output.content[0].function.name == "probe"
    assert second[4].output.content == (Text("done"),)
    assert rec.log[3][2].output.content == (Text("X"),) and rec.log[3][2].turn == 1
    assert rec.log[-1][1:4] == ("Done", Usage(12, 3), 2)
    assert rec.log[-1][4].result is items[-1]
    (info,) = rec.runs
    assert (info.run_id, info.agent_name, info.max_turns) == (run.run_id, "adder", 10)
    assert info.messages[-1].content == (Text("go"),)


async def test_RunTelemetry_times_the_first_chunk_and_the_call_with_the_effects_clock() -> None:
    clock = ManualClock()
    rec = Recording()
    model = TimedModel(clock, [[(0.25, TextDelta("a")), (0.5, TextDelta("b")), (0.125, Final(Usage(1, 2)))]])
    run = Agent(model, effects=clock, observers=[rec]).stream_prompt("go")
    await collect(run)
    call: ModelCall = rec.log[1][4]
    assert call.time_to_first_chunk == 0.25
    assert call.duration == 0.875
    assert rec.log[-1][4].duration == 0.875


@pytest.mark.parametrize("quiet", [False, True])
@pytest.mark.parametrize("ending", ["hook", "consumer"])
async def test_a_model_call_the_run_ends_in_keeps_its_first_chunk_and_final(quiet: bool, ending: str) -> None:
    # the run ends during the call (a hook stops it after Final; or the consumer closes the run
    # after that Final, the call still open): the record holds what the driver noted while it
    # streamed; an observer that hears only of failures gets the same record
    class Stop(StreamingPromptHook):
        def on_stream_completion_response_finish(self, prompt: Any, response: Any) -> HookAction:
            return HookAction.terminate("enough")

    class QuietRecording(Recording):
        def start_run(self, run: RunInfo) -> Recorder:
            recorder = super().start_run(run)
            recorder.wants_calls = False  # type: ignore[attr-defined]
            return recorder

    clock = ManualClock()
    rec = QuietRecording() if quiet else Recording()
    raw = {"id": "resp-9", "model": "m-9"}
    model = TimedModel(clock, [[(0.25, TextDelta("a")), (0.5, Final(Usage(1, 2), raw=raw))]])
    run = Agent(model, effects=clock, observers=[rec], hook=Stop() if ending == "hook" else None).stream_prompt("go")
    if ending == "hook":
        _, outcome = await collect(run)
        assert outcome is not None
    else:
        async for item in run:
            if isinstance(item.content, Final):  # type: ignore[union-attr]
                break
        await run.aclose()
    assert run.state is State.Cancelled
    [call] = [entry[4] for entry in rec.log if entry[0] == "model end"]
    assert (call.time_to_first_chunk, call.duration, call.state) == (0.25, 0.75, State.Cancelled)
    assert (call.response_id, call.response_model) == ("resp-9", "m-9")


async def test_an_observer_of_failures_hears_only_of_the_model_call_that_failed() -> None:
    # Only failures listened for, the driver notes each call on the telemetry without a call
    # per call: a call that ended well must leave nothing behind that a later ending (here a tool
    # server failing after it) could report as a failed model call; the call that fails is
    # reported with its own turn, request and usage.
    from agent_fsm.errors import ToolServerError

    @tool
    async def echo(text: str = "") -> str:
        """Echo."""
        return text

    class Broken:
        def definitions(self) -> list[Any]:
            return []

        async def call(self, name: str, arguments: Any) -> Any:
            raise ToolServerError("server down")

    class QuietRecording(Recording):
        def start_run(self, run: RunInfo) -> Recorder:
            recorder = super().start_run(run)
            recorder.wants_calls = False  # type: ignore[attr-defined]
            return recorder

    tool_turn = [ToolCallReady(ToolCall("c1", ToolFunction("echo", {})), "i1"), Final(Usage(3, 4))]
    rec = QuietRecording()
    run = Agent(ScriptedModel([tool_turn]), tools=Broken(), observers=[rec]).stream_prompt("go")  # type: ignore[arg-type]
    _, outcome = await collect(run)
    assert isinstance(outcome, ToolServerError)
    assert [e for e in rec.log if e[0] == "model end"] == []

    rec = QuietRecording()
    model = ScriptedModel([tool_turn, [TextDelta("a"), CompletionError("stream broke")]])
    run = Agent(model, tools=[echo], observers=[rec]).stream_prompt("go")
    _, outcome = await collect(run)
    assert isinstance(outcome, CompletionError)
    [(_, turn, state, usage, call)] = [e for e in rec.log if e[0] == "model end"]
    assert (turn, state, usage) == (2, "Failed", Usage())
    assert call.request.prompt == run.history[2] and call.first_chunk is not None and call.final is None


@pytest.mark.parametrize("wants", [True, False, None])
async def test_run_ended_is_reported_unless_the_observer_says_it_does_not_want_it(wants: bool | None) -> None:
    class Choosy(Recording):
        def start_run(self, run: RunInfo) -> Recorder:
            recorder = super().start_run(run)
            if wants is not None:  # None: the attribute is absent, which means True
                recorder.wants_run_end = wants  # type: ignore[attr-defined]
            return recorder

    rec = Choosy()
    await collect(Agent(ScriptedModel([[TextDelta("a")]]), observers=[rec]).stream_prompt("go"))
    ends = [e for e in rec.log if e[0] == "run end"]
    assert len(ends) == (0 if wants is False else 1)


async def test_a_quiet_log_records_no_run_end_and_an_info_log_does(caplog: pytest.LogCaptureFixture) -> None:
    import logging

    from agent_fsm.observe.log import _RunLog

    info = RunInfo("r1", None, "p", None, 1, (), State.AwaitingCompletion, None)  # type: ignore[arg-type]
    with caplog.at_level(logging.WARNING, logger="agent_fsm"):
        assert _RunLog(info, False).wants_run_end is False
    with caplog.at_level(logging.INFO, logger="agent_fsm"):
        assert _RunLog(info, False).wants_run_end is True


async def test_an_agent_describes_its_model_once_and_again_when_the_model_is_replaced() -> None:
    class Named(ScriptedModel):
        provider = "acme"

        def __init__(self, name: str) -> None:
            super().__init__([[TextDelta("a")]])
            self.model_name = name

    rec = Recording()
    agent = Agent(Named("m-1"), observers=[rec])
    await collect(agent.stream_prompt("go"))
    agent.model = Named("m-2")
    await collect(agent.stream_prompt("go"))
    assert [(r.provider_name, r.model_name) for r in rec.runs] == [("acme", "m-1"), ("acme", "m-2")]


async def test_RunTelemetry_reads_the_response_id_and_model_from_the_final_raw_payload() -> None:
    rec = Recording()
    raw = {"id": "chatcmpl-1", "model": "gpt-x-2025", "object": "chat.completion.chunk"}
    run = Agent(ScriptedModel([[TextDelta("a"), Final(Usage(1, 1), raw=raw)]]), observers=[rec]).stream_prompt("go")
    await collect(run)
    call: ModelCall = rec.log[1][4]
    assert (call.response_id, call.response_model) == ("chatcmpl-1", "gpt-x-2025")
    assert call.final is not None and call.final.raw == raw


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ({"id": "a", "model": "m"}, ("a", "m")),
        ({"type": "response.completed", "response": {"id": "resp_1", "model": "o4"}}, ("resp_1", "o4")),
        ({"type": "message_start", "message": {"id": "msg_1", "model": "claude"}}, ("msg_1", "claude")),
        ({"model": "llama3", "done": True}, (None, "llama3")),
        (["not", "a", "mapping"], (None, None)),
        (None, (None, None)),
    ],
)
def test_response_fields_reads_the_known_provider_shapes(raw: Any, expected: tuple[str | None, str | None]) -> None:
    assert response_fields(Final(Usage(), raw=raw)) == expected


def test_describe_model_reads_attributes_looks_through_wrappers_and_falls_back_to_the_class(tmp_path: Any) -> None:
    class Provider:
        provider = "openai"

        def __init__(self, model_name: str) -> None:
            self.model_name = model_name

        def stream(self, request: Any) -> Any:
            raise NotImplementedError

    assert describe_model(Provider("gpt-4o")) == ("openai", "gpt-4o")
    assert describe_model(RecordingModel(Provider("gpt-4o"), tmp_path / "c.jsonl")) == ("openai", "gpt-4o")
    assert describe_model(ScriptedModel([])) == ("ScriptedModel", None)


async def test_tool_context_is_entered_inside_the_tool_one_by_one_and_concurrently() -> None:
    MAIN_TASK[0] = asyncio.current_task()
    # a call that can wait runs in a task of its own (so one that ignores cancellation cannot hang
    # the run); one that cannot runs at once, in the driver's task, unless calls run concurrently
    for tool_, concurrency, in_task in ((waiting_probe, 1, True), (waiting_probe, 2, True), (probe, 1, False),
                                        (probe, 2, True)):  # fmt: skip
        seen_inside.clear()
        model = ScriptedModel([[ready("c1"), ready("c2"), Final(Usage())], [TextDelta("ok")]])
        agent = Agent(model, tools=[tool_], tool_concurrency=concurrency, observers=[Recording()])
        items, outcome = await collect(agent.stream_prompt("go"))
        assert outcome is None
        assert sorted(seen_inside) == [("tool c1", in_task), ("tool c2", in_task)]
        assert INSIDE.get() is None


async def test_model_context_is_current_while_the_model_sends_its_request_and_never_after_a_yield() -> None:
    seen: list[str | None] = []

    class Probing(ScriptedModel):
        async def _play(self, index: int) -> Any:
            seen.append(INSIDE.get())  # runs on the first __anext__: the provider's request
            async for event in super()._play(index):
                yield event
                seen.append(INSIDE.get())

    run = Agent(Probing([[TextDelta("a"), TextDelta("b")]]), observers=[Recording()]).stream_prompt("go")
    async for _item in run:
        assert INSIDE.get() is None
    assert seen[0] == "model 1"
    assert seen[1:] == [None, None]


async def test_state_changes_are_reported_to_observers_that_want_them() -> None:
    rec, quiet = Recording(steps=True), Recording(steps=False)
    model = ScriptedModel([[ready("c1"), Final(Usage())], [TextDelta("ok")]])
    await collect(Agent(model, tools=[probe], observers=[rec, quiet]).stream_prompt("go"))
    path = [e[1:] for e in rec.log if e[0] == "state"]
    assert path == [
        ("AwaitingCompletion", "Streaming"), ("Streaming", "ExecutingTool"), ("ExecutingTool", "AwaitingCompletion"),
        ("AwaitingCompletion", "Streaming"), ("Streaming", "Finalizing"), ("Finalizing", "Done"),
    ]  # fmt: skip
    assert not [e for e in quiet.log if e[0] == "state"]


class Terminate(StreamingPromptHook):
    def on_text_delta(self, text_delta: str, aggregated_text: str) -> HookAction:
        return HookAction.terminate("enough") if aggregated_text == "ab" else HookAction.cont()


@pytest.mark.parametrize(
    ("script", "max_turns", "hook", "state", "error"),
    [
        ([[TextDelta("a"), TextDelta("b"), TextDelta("c")]], 3, Terminate(), "Cancelled", PromptCancelled),
        ([[TextDelta("a"), CompletionError("boom", status=500)]], 3, None, "Failed", CompletionError),
        ([[ready("c1"), Final(Usage(2, 1))]], 1, None, "MaxTurnsExceeded", MaxTurnsExceeded),
    ],
)
async def test_every_ending_reaches_the_observers_with_its_error(
    script: list[Any], max_turns: int, hook: Any, state: str, error: type[Exception]
) -> None:
    rec = Recording()
    run = Agent(ScriptedModel(script), tools=[probe], max_turns=max_turns, observers=[rec]).stream_prompt(
        "go", hook=hook
    )
    _items, outcome = await collect(run)
    assert isinstance(outcome, error)
    end: RunEnd = rec.log[-1][4]
    assert end.state.value == state and end.error is outcome
    assert [e[0] for e in rec.log].count("model end") == 1


async def test_closing_mid_stream_ends_the_open_model_call_before_the_run() -> None:
    rec = Recording()
    run = Agent(ScriptedModel([[TextDelta(str(i)) for i in range(50)]]), observers=[rec]).stream_prompt("go")
    async for _item in run:
        break
    await run.aclose()
    assert kinds(rec.log) == [("model start", 1), ("model end",), ("run end",)]
    call: ModelCall = rec.log[1][4]
    assert call.state is State.Cancelled and isinstance(call.error, PromptCancelled)
    assert call.output is not None and call.output.content == (Text("0"),)


class Broken:
    """An observer whose every method raises."""

    def start_run(self, run: RunInfo) -> Any:
        return BrokenRun()


class BrokenRun:
    wants_state_changes = True

    def __getattr__(self, name: str) -> Any:
        def fail(*args: Any) -> Any:
            raise RuntimeError(f"observer bug in {name}")

        return fail


class BrokenStart:
    def start_run(self, run: RunInfo) -> Any:
        raise RuntimeError("cannot start")


async def test_an_observer_that_raises_never_changes_the_run() -> None:
    def script() -> ScriptedModel:
        return ScriptedModel([[ready("c1"), Final(Usage(1, 1))], [TextDelta("ok"), Final(Usage(1, 1))]])

    with captured_logs() as events:
        baseline = await collect(Agent(script(), tools=[probe], observers=()).stream_prompt("go"))
        rec = Recording()
        broken = await collect(
            Agent(script(), tools=[probe], observers=[Broken(), BrokenStart(), rec]).stream_prompt("go")
        )
    assert broken[0] == baseline[0] and broken[1] is None
    assert kinds(rec.log)[-1] == ("run end",)
    failures = {(e["observer"], e["method"]) for e in events if e["event"] == "observer raised"}
    assert ("BrokenStart", "start_run") in failures
    assert {"state_changed", "model_call_started", "model_call_context", "tool_call", "run_ended"} <= {
        m for o, m in failures if o == "BrokenRun"
    }


def test_runs_log_by_default_and_observe_nothing_with_an_empty_list() -> None:
    model = ScriptedModel([])
    default = Agent(model).stream_prompt("go")
    assert [type(o) for o in default._observers] == [LoggingObserver]
    assert Agent(model, observers=()).stream_prompt("go")._observers == ()


def test_providers_name_themselves_as_the_genai_conventions_do() -> None:
    from agent_fsm.observe.genai import describe_model
    from agent_fsm.providers import AnthropicModel, OllamaModel, OpenAIChatModel, OpenAIResponsesModel

    assert describe_model(OpenAIChatModel("gpt-4o-mini", api_key="k")) == ("openai", "gpt-4o-mini")
    assert describe_model(OpenAIResponsesModel("o4-mini", api_key="k")) == ("openai", "o4-mini")
    assert describe_model(AnthropicModel("claude-sonnet-4-5", api_key="k")) == ("anthropic", "claude-sonnet-4-5")
    assert describe_model(OllamaModel("llama3.2")) == ("ollama", "llama3.2")


def test_response_id_and_model_come_from_a_real_providers_final_event() -> None:
    from pathlib import Path

    import pytest

    from agent_fsm.events import Final
    from agent_fsm.observe.genai import response_fields
    from agent_fsm.providers import replay

    wire = Path(__file__).resolve().parent.parent.parent / "shared" / "wire"
    body = wire / "openai_chat" / "text_usage_gpt4o.sse"
    if not body.exists():
        pytest.skip(f"the shared recordings are absent ({wire})")
    final = [e for e in replay("openai_chat", body.read_bytes()) if isinstance(e, Final)][-1]
    response_id, model = response_fields(final)
    assert response_id is not None and response_id.startswith("chatcmpl-")
    assert model is not None and model.startswith("gpt-4o")
