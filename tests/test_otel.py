"""OpenTelemetry spans: the tree, the GenAI attributes, endings, content opt-in, and no leaks."""

from __future__ import annotations

import asyncio
import json
import logging
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("opentelemetry.sdk")

from opentelemetry import trace
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind, StatusCode

from agent_fsm import (
    Agent,
    ApprovalRequired,
    CompletionError,
    HookAction,
    HookError,
    MaxTurnsExceeded,
    PromptCancelled,
    StreamingPromptHook,
    ToolCall,
    ToolFunction,
    Usage,
    tool,
)
from agent_fsm.events import Final, TextDelta, ToolCallReady
from agent_fsm.observe.otel import OTelObserver
from agent_fsm.testing import ScriptedModel

from .observe_helpers import SlowModel
from .support import collect, modules_after_a_run

PROVIDER: list[TracerProvider] = []
"""The test's provider, for code under test that makes spans of its own (tools, a provider)."""


@pytest.fixture
def tracing() -> Iterator[tuple[TracerProvider, InMemorySpanExporter]]:
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    PROVIDER[:] = [provider]
    yield provider, exporter
    PROVIDER.clear()
    provider.shutdown()


def tracer(name: str) -> trace.Tracer:
    return PROVIDER[0].get_tracer(name)


class NamedModel(ScriptedModel):
    model_name = "model-x"
    provider = "acme"


@tool
async def lookup(key: str) -> str:
    """Look a key up; makes a span of its own, as instrumented code inside a tool would."""
    with tracer("tool").start_as_current_span("inside lookup"):
        await asyncio.sleep(0)
    return f"value of {key}"


@tool
def broken(key: str) -> str:
    """Always fails."""
    raise ValueError("no such key")


def call(cid: str, name: str = "lookup", key: str = "k") -> ToolCallReady:
    return ToolCallReady(ToolCall(cid, ToolFunction(name, {"key": key})), f"i-{cid}")


def two_turns(*calls: ToolCallReady) -> list[list[Any]]:
    raw = {"id": "resp-2", "model": "model-x-2025"}
    return [[*calls, Final(Usage(10, 2))], [TextDelta("the answer"), Final(Usage(20, 3), raw=raw)]]


def by_name(spans: tuple[ReadableSpan, ...], prefix: str) -> list[ReadableSpan]:
    return [s for s in spans if s.name.startswith(prefix)]


def attrs(span: ReadableSpan) -> dict[str, Any]:
    return dict(span.attributes or {})


def parent_id(span: ReadableSpan) -> int | None:
    return span.parent.span_id if span.parent is not None else None


async def test_a_run_is_one_invoke_agent_span_with_chat_and_execute_tool_children(tracing: Any) -> None:
    provider, exporter = tracing
    observer = OTelObserver(provider)
    agent = Agent(NamedModel(two_turns(call("c1"), call("c2"))), tools=[lookup], name="librarian", observers=[observer])
    run = agent.stream_prompt("find k")
    _items, outcome = await collect(run)
    assert outcome is None
    spans = exporter.get_finished_spans()
    (root,) = by_name(spans, "invoke_agent")
    chats, tools = by_name(spans, "chat"), by_name(spans, "execute_tool")
    assert root.name == "invoke_agent librarian" and root.kind is SpanKind.INTERNAL and root.parent is None
    assert [s.name for s in chats] == ["chat model-x", "chat model-x"]
    assert [s.name for s in tools] == ["execute_tool lookup", "execute_tool lookup"]
    for child in chats + tools:
        assert parent_id(child) == root.context.span_id and child.context.trace_id == root.context.trace_id
    assert all(s.kind is SpanKind.CLIENT for s in chats) and all(s.kind is SpanKind.INTERNAL for s in tools)
    # a span made inside a tool nests under its execute_tool span
    inner = by_name(spans, "inside lookup")
    assert sorted(parent_id(s) for s in inner) == sorted(t.context.span_id for t in tools)

    a = attrs(root)
    assert a["gen_ai.operation.name"] == "invoke_agent" and a["gen_ai.agent.name"] == "librarian"
    assert (a["gen_ai.provider.name"], a["gen_ai.request.model"]) == ("acme", "model-x")
    assert (a["gen_ai.usage.input_tokens"], a["gen_ai.usage.output_tokens"]) == (30, 5)
    assert (a["agent_fsm.run.id"], a["agent_fsm.run.state"], a["agent_fsm.turns"]) == (run.run_id, "Done", 2)
    c1, c2 = attrs(chats[0]), attrs(chats[1])
    assert c1["gen_ai.operation.name"] == "chat" and c1["gen_ai.provider.name"] == "acme"
    assert (c1["gen_ai.usage.input_tokens"], c1["gen_ai.usage.output_tokens"], c1["agent_fsm.turn"]) == (
        10,
        2,
        1,
    )
    assert "gen_ai.response.id" not in c1
    assert (c2["gen_ai.response.id"], c2["gen_ai.response.model"]) == ("resp-2", "model-x-2025")
    assert c2["gen_ai.response.time_to_first_chunk"] >= 0
    t1 = attrs(tools[0])
    assert t1["gen_ai.operation.name"] == "execute_tool" and t1["gen_ai.tool.type"] == "function"
    assert (t1["gen_ai.tool.name"], t1["gen_ai.tool.call.id"]) == ("lookup", "c1")
    assert [attrs(t)["gen_ai.tool.call.id"] for t in tools] == ["c1", "c2"]
    states = [e.attributes["agent_fsm.run.state"] for e in root.events if e.name == "agent_fsm.state_change"]
    assert states == ["Streaming", "ExecutingTool", "AwaitingCompletion", "Streaming", "Finalizing", "Done"]
    assert all(s.status.status_code is StatusCode.UNSET for s in spans)


async def test_concurrent_tool_spans_are_current_in_their_own_tasks(tracing: Any) -> None:
    provider, exporter = tracing
    agent = Agent(
        NamedModel(two_turns(call("c1"), call("c2"), call("c3"))),
        tools=[lookup],
        tool_concurrency=3,
        observers=[OTelObserver(provider)],
    )
    await collect(agent.stream_prompt("go"))
    spans = exporter.get_finished_spans()
    tools = {attrs(s)["gen_ai.tool.call.id"]: s for s in by_name(spans, "execute_tool")}
    inner = by_name(spans, "inside lookup")
    assert len(inner) == 3 and {parent_id(s) for s in inner} == {s.context.span_id for s in tools.values()}


async def test_the_chat_span_is_current_while_the_provider_sends_its_request(tracing: Any) -> None:
    provider, exporter = tracing

    class Provider(ScriptedModel):
        async def _play(self, index: int) -> Any:
            with tracer("http").start_as_current_span("POST /chat/completions"):
                pass
            async for event in super()._play(index):
                yield event

    await collect(Agent(Provider([[TextDelta("hi")]]), observers=[OTelObserver(provider)]).stream_prompt("go"))
    spans = exporter.get_finished_spans()
    (http,) = by_name(spans, "POST")
    (chat,) = by_name(spans, "chat")
    assert parent_id(http) == chat.context.span_id


async def test_a_failed_model_call_marks_chat_and_invoke_agent_as_errors(tracing: Any) -> None:
    provider, exporter = tracing
    model = ScriptedModel([[TextDelta("par"), CompletionError("upstream overloaded", status=529)]])
    _items, outcome = await collect(Agent(model, observers=[OTelObserver(provider)]).stream_prompt("go"))
    assert isinstance(outcome, CompletionError)
    spans = exporter.get_finished_spans()
    (chat,) = by_name(spans, "chat")
    (root,) = by_name(spans, "invoke_agent")
    for span in (chat, root):
        assert span.status.status_code is StatusCode.ERROR
        assert "upstream overloaded" in (span.status.description or "")
        assert attrs(span)["error.type"] == "CompletionError"
        assert attrs(span)["http.response.status_code"] == 529
        (event,) = [e for e in span.events if e.name == "exception"]
        assert event.attributes["exception.type"] == "agent_fsm.errors.CompletionError"
        assert "upstream overloaded" in event.attributes["exception.message"]
        assert "Traceback" in event.attributes["exception.stacktrace"]
    assert attrs(root)["agent_fsm.run.state"] == "Failed"
    assert attrs(chat)["gen_ai.response.time_to_first_chunk"] >= 0


async def test_a_tool_error_result_marks_its_span_and_the_run_goes_on(tracing: Any) -> None:
    provider, exporter = tracing
    agent = Agent(NamedModel(two_turns(call("c1", "broken"))), tools=[broken], observers=[OTelObserver(provider)])
    _items, outcome = await collect(agent.stream_prompt("go"))
    assert outcome is None
    spans = exporter.get_finished_spans()
    (span,) = by_name(spans, "execute_tool")
    assert span.status.status_code is StatusCode.ERROR and attrs(span)["error.type"] == "tool_error"
    (root,) = by_name(spans, "invoke_agent")
    assert root.status.status_code is StatusCode.UNSET


async def test_max_turns_is_an_error_and_cancelling_is_visible_without_being_one(tracing: Any) -> None:
    provider, exporter = tracing
    model = NamedModel([[call("c1"), Final(Usage(1, 1))]])
    agent = Agent(model, tools=[lookup], max_turns=1, observers=[OTelObserver(provider)])
    _items, outcome = await collect(agent.stream_prompt("go"))
    assert isinstance(outcome, MaxTurnsExceeded)
    (root,) = by_name(exporter.get_finished_spans(), "invoke_agent")
    assert root.status.status_code is StatusCode.ERROR
    assert (attrs(root)["error.type"], attrs(root)["agent_fsm.run.state"]) == ("MaxTurnsExceeded", "MaxTurnsExceeded")
    exporter.clear()

    class Stop(StreamingPromptHook):
        def on_text_delta(self, text_delta: str, aggregated_text: str) -> HookAction:
            return HookAction.terminate("policy says stop") if text_delta == "b" else HookAction.cont()

    agent = Agent(NamedModel([[TextDelta("a"), TextDelta("b")]]), observers=[OTelObserver(provider)])
    _items, outcome = await collect(agent.stream_prompt("go", hook=Stop()))
    assert isinstance(outcome, PromptCancelled)
    spans = exporter.get_finished_spans()
    for span in spans:
        assert span.status.status_code is StatusCode.UNSET
        assert attrs(span)["agent_fsm.cancelled"] is True
        (event,) = [e for e in span.events if e.name == "agent_fsm.cancelled"]
        assert "policy says stop" in event.attributes["agent_fsm.cancel.reason"]
    (root,) = by_name(spans, "invoke_agent")
    assert attrs(root)["agent_fsm.run.state"] == "Cancelled"


async def test_a_run_stopping_for_approval_says_which_calls_wait(tracing: Any) -> None:
    provider, exporter = tracing

    @tool(requires_approval=True)
    def wire(key: str) -> str:
        """Move money."""
        return "done"

    agent = Agent(
        NamedModel([[call("c7", "wire"), Final(Usage(1, 1))]]), tools=[wire], observers=[OTelObserver(provider)]
    )
    _items, outcome = await collect(agent.stream_prompt("pay"))
    assert isinstance(outcome, ApprovalRequired)
    (root,) = by_name(exporter.get_finished_spans(), "invoke_agent")
    assert root.status.status_code is StatusCode.UNSET and attrs(root)["agent_fsm.run.state"] == "AwaitingApproval"
    (event,) = [e for e in root.events if e.name == "agent_fsm.awaiting_approval"]
    assert tuple(event.attributes["agent_fsm.pending_call_ids"]) == ("c7",)
    assert by_name(exporter.get_finished_spans(), "execute_tool") == []


async def test_a_hook_that_raises_fails_the_run_span_with_the_hook_error(tracing: Any) -> None:
    provider, exporter = tracing

    class Raising(StreamingPromptHook):
        def on_completion_call(self, prompt: Any, history: Any) -> None:
            raise RuntimeError("hook bug")

    agent = Agent(NamedModel([[TextDelta("x")]]), observers=[OTelObserver(provider)])
    _items, outcome = await collect(agent.stream_prompt("go", hook=Raising()))
    assert isinstance(outcome, HookError)
    (root,) = exporter.get_finished_spans()
    assert root.status.status_code is StatusCode.ERROR and attrs(root)["error.type"] == "HookError"
    (event,) = [e for e in root.events if e.name == "exception"]
    assert "RuntimeError: hook bug" in event.attributes["exception.stacktrace"]


async def test_a_consumer_that_stops_reading_ends_every_span(tracing: Any) -> None:
    provider, exporter = tracing
    run = Agent(ScriptedModel([[TextDelta(str(i)) for i in range(20)]]), observers=[OTelObserver(provider)])
    run_ = run.stream_prompt("go")
    async for _item in run_:
        break
    await run_.aclose()
    spans = exporter.get_finished_spans()
    assert sorted(s.name for s in spans) == ["chat", "invoke_agent"]
    assert all(attrs(s)["agent_fsm.cancelled"] for s in spans)


async def test_content_is_recorded_only_when_the_user_opts_in(tracing: Any) -> None:
    provider, exporter = tracing
    content_keys = {
        "gen_ai.input.messages",
        "gen_ai.output.messages",
        "gen_ai.system_instructions",
        "gen_ai.tool.call.arguments",
        "gen_ai.tool.call.result",
    }
    for capture in (False, True):
        exporter.clear()
        observer = OTelObserver(provider, capture_content=capture)
        agent = Agent(NamedModel(two_turns(call("c1", key="secret-key-name"))), tools=[lookup], preamble="Be brief.",
                      observers=[observer])  # fmt: skip
        await collect(agent.stream_prompt("private question"))
        spans = exporter.get_finished_spans()
        recorded = set().union(*(attrs(s).keys() for s in spans)) & content_keys
        assert recorded == (content_keys if capture else set())
        dump = json.dumps([attrs(s) for s in spans])
        for text in ("private question", "secret-key-name", "the answer", "Be brief."):
            assert (text in dump) is capture
    (tool_span,) = by_name(spans, "execute_tool")
    assert json.loads(attrs(tool_span)["gen_ai.tool.call.arguments"]) == {"key": "secret-key-name"}
    assert attrs(tool_span)["gen_ai.tool.call.result"] == "value of secret-key-name"
    chat = by_name(spans, "chat")[1]
    assert json.loads(attrs(chat)["gen_ai.output.messages"]) == [
        {"role": "assistant", "parts": [{"type": "text", "content": "the answer"}], "finish_reason": "stop"}
    ]
    inputs = json.loads(attrs(chat)["gen_ai.input.messages"])
    assert [m["role"] for m in inputs] == ["user", "assistant", "tool"]
    assert inputs[2]["parts"] == [{"type": "tool_call_response", "id": "c1", "response": "value of secret-key-name"}]


async def test_an_agent_run_inside_a_tool_nests_under_that_tool_span(tracing: Any) -> None:
    provider, exporter = tracing
    inner_agent = Agent(ScriptedModel([[TextDelta("inner answer")]]), name="inner", observers=[OTelObserver(provider)])

    @tool
    async def ask_inner(key: str) -> str:
        """Ask another agent."""
        items, _ = await collect(inner_agent.stream_prompt(key))
        return str(items[-1].response)  # type: ignore[union-attr]

    outer = Agent(NamedModel(two_turns(call("c1", "ask_inner"))), tools=[ask_inner], name="outer",
                  observers=[OTelObserver(provider)])  # fmt: skip
    await collect(outer.stream_prompt("go"))
    spans = exporter.get_finished_spans()
    (tool_span,) = by_name(spans, "execute_tool")
    (inner,) = by_name(spans, "invoke_agent inner")
    assert parent_id(inner) == tool_span.context.span_id


# ---------------------------------------------------------------------------------- the leak test
# rig's test_span_context_isolation, ported to spans: while many runs stream concurrently, each
# inside its consumer's own span, (1) no span of a run is current in the consumer after a yield,
# (2) background tasks - one started before the runs, one started by each consumer mid-run - make
# spans every 50 ms that must all be roots, (3) every run's spans hang under its own consumer.


async def background_spans(name: str, stop: asyncio.Event) -> None:
    while not stop.is_set():
        with tracer("background").start_as_current_span(f"background {name}"):
            pass
        await asyncio.sleep(0.05)


@pytest.mark.parametrize("concurrency", [1, 3])
async def test_no_span_leaks_across_concurrent_runs_or_into_their_consumers(
    tracing: Any, concurrency: int, caplog: pytest.LogCaptureFixture
) -> None:
    provider, exporter = tracing
    stop = asyncio.Event()
    calls = [call(f"c{i}") for i in range(3)]
    script = [[TextDelta("thinking "), *calls, Final(Usage(1, 1))], [TextDelta("done"), Final(Usage(1, 1))]]
    spawned: list[asyncio.Task[None]] = []

    async def consume(index: int) -> tuple[int, str]:
        agent = Agent(SlowModel(script), tools=[lookup], name=f"agent-{index}", tool_concurrency=concurrency,
                      observers=[OTelObserver(provider)])  # fmt: skip
        with tracer("test").start_as_current_span(f"consumer {index}") as mine:
            run = agent.stream_prompt(f"prompt {index}")
            async for _item in run:
                assert trace.get_current_span() is mine
                if len([t for t in spawned if t.get_name() == f"spawned-{index}"]) == 0:
                    task = asyncio.create_task(background_spans(f"spawned-{index}", stop), name=f"spawned-{index}")
                    spawned.append(task)
        assert trace.get_current_span() is trace.INVALID_SPAN
        return mine.get_span_context().span_id, run.run_id

    with caplog.at_level(logging.ERROR, logger="opentelemetry.context"):
        global_task = asyncio.create_task(background_spans("global", stop))
        consumers = await asyncio.gather(*(consume(i) for i in range(20)))
        await asyncio.sleep(0.06)
        stop.set()
        await asyncio.gather(global_task, *spawned)
    assert not [r for r in caplog.records if "detach" in r.getMessage().lower()]
    spans = exporter.get_finished_spans()
    background = by_name(spans, "background")
    assert {s.name for s in background} >= {"background global", *(f"background spawned-{i}" for i in range(20))}
    by_id = {s.context.span_id: s for s in spans}
    for span in background:  # the global logger's spans are roots; a consumer's are its own children
        parent = by_id[span.parent.span_id].name if span.parent is not None else None
        expected = None if span.name == "background global" else f"consumer {span.name.rsplit('-', 1)[1]}"
        assert parent == expected, (span.name, parent)
    roots = by_name(spans, "invoke_agent")
    assert len(roots) == 20
    for consumer_id, run_id in consumers:
        (root,) = [r for r in roots if attrs(r)["agent_fsm.run.id"] == run_id]
        assert parent_id(root) == consumer_id
        children = [s for s in spans if parent_id(s) == root.context.span_id]
        assert sorted(s.name.split()[0] for s in children).count("execute_tool") == 3
        assert sorted(s.name.split()[0] for s in children).count("chat") == 2
    for span in spans:  # every run span's chain of parents stays inside one consumer's tree
        if span.name.split()[0] in ("chat", "execute_tool", "inside"):
            chain = [span]
            while chain[-1].parent is not None:
                chain.append(by_id[chain[-1].parent.span_id])
            assert chain[-1].name.startswith("consumer")
            assert chain[-2].name.startswith("invoke_agent")


def test_opentelemetry_is_never_imported_unless_asked_for() -> None:
    imports = (
        "import agent_fsm.observe, agent_fsm.observe.log, agent_fsm.observe.genai, agent_fsm.observe.redact, "
        "agent_fsm.cli"
    )
    assert modules_after_a_run(imports, ("opentelemetry",)) == []


def test_the_documented_console_snippet_prints_the_span_tree() -> None:
    doc = (Path(__file__).parent.parent / "docs" / "observability.md").read_text()
    snippet = doc.split("```python\n", 1)[1].split("```", 1)[0]
    out = subprocess.run([sys.executable, "-c", snippet], capture_output=True, text=True, check=True, timeout=60)
    names = [json.loads(block)["name"] for block in _json_objects(out.stdout)]
    assert names[-1] == "invoke_agent calculator"
    assert "execute_tool add" in names and "chat demo-model" in names


def _json_objects(text: str) -> list[str]:
    """The JSON objects ConsoleSpanExporter printed, one after another."""
    decoder, objects, i = json.JSONDecoder(), [], 0
    while (start := text.find("{", i)) != -1:
        value, i = decoder.raw_decode(text, start)
        objects.append(json.dumps(value))
    return objects


class CountingProvider(trace.TracerProvider):
    """A tracer provider that counts the spans asked of it, handing out another provider's."""

    def __init__(self, inner: trace.TracerProvider) -> None:
        self.inner, self.started = inner, 0

    def get_tracer(self, *args: Any, **kwargs: Any) -> trace.Tracer:
        provider, tracer = self, self.inner.get_tracer(*args, **kwargs)

        class Counting(trace.Tracer):
            def start_span(self, *a: Any, **k: Any) -> trace.Span:
                provider.started += 1
                return tracer.start_span(*a, **k)

            def start_as_current_span(self, *a: Any, **k: Any) -> Any:  # pragma: no cover - unused
                return tracer.start_as_current_span(*a, **k)

        return Counting()


async def test_a_run_nobody_records_makes_one_span_and_a_recorded_one_all(tracing: Any) -> None:
    from opentelemetry.sdk.trace.sampling import ALWAYS_OFF

    provider, exporter = tracing
    dropped = TracerProvider(sampler=ALWAYS_OFF)
    dropped.add_span_processor(SimpleSpanProcessor(exporter))

    @tool(name="lookup")
    async def plain_lookup(key: str) -> str:
        """Look a key up, making no span of its own."""
        await asyncio.sleep(0)
        return key

    runs = {}
    for name, inner in [("no SDK", trace.NoOpTracerProvider()), ("sampled out", dropped), ("recorded", provider)]:
        counting = CountingProvider(inner)
        model = NamedModel(two_turns(call("c1"), call("c2")))
        run = Agent(model, tools=[plain_lookup], observers=[OTelObserver(counting)]).stream_prompt("go")
        items, outcome = await collect(run)
        assert outcome is None and len(items) == 8
        runs[name] = (counting.started, len(exporter.get_finished_spans()))
        exporter.clear()
    # a run whose invoke_agent span records nothing asks for no other span: nothing per call;
    # with an SDK tracer that records, every span is there (invoke_agent, 2 chat, 2 execute_tool)
    assert runs == {"no SDK": (1, 0), "sampled out": (1, 0), "recorded": (5, 5)}
