"""Structured logs: what every event carries, content only on request, and no context leaks."""

from __future__ import annotations

import asyncio
import io
import json
import logging
import subprocess
import sys
from collections.abc import Sequence
from contextlib import redirect_stderr
from typing import Any

import pytest
import structlog

from agent_fsm import Agent, CompletionError, ToolCall, ToolFunction, ToolServerError, Usage, tool
from agent_fsm.events import Final, TextDelta, ToolCallReady
from agent_fsm.observe.log import LoggingObserver
from agent_fsm.request import ToolDefinition
from agent_fsm.testing import ScriptedModel

from .observe_helpers import SlowModel, captured_logs
from .support import collect

RUN_KEYS = ("run_id", "agent", "turn", "state")
SECRET_PROMPT = "my-private-prompt-text"
SECRET_ARG = "private-argument-value"
SECRET_ANSWER = "confidential-answer"


@tool
def shout(text: str) -> str:
    """Upper-case the text, and log from inside the tool."""
    structlog.get_logger("tool").info("inside the tool", length=len(text))
    return text.upper()


def tool_script(arg: str = SECRET_ARG) -> list[list[Any]]:
    call = ToolCallReady(ToolCall("call-1", ToolFunction("shout", {"text": arg})), "i1")
    raw = {"id": "resp-9", "model": "model-2025-01"}
    return [[call, Final(Usage(5, 1))], [TextDelta(SECRET_ANSWER), Final(Usage(8, 2), raw=raw)]]


class NamedModel(ScriptedModel):
    model_name = "model-x"
    provider = "acme"


def by_event(events: list[dict[str, Any]], name: str) -> list[dict[str, Any]]:
    return [e for e in events if e["event"] == name]


async def test_every_event_of_a_run_carries_run_id_agent_turn_and_state() -> None:
    with captured_logs() as events:
        run = Agent(NamedModel(tool_script()), tools=[shout], name="shouter").stream_prompt(SECRET_PROMPT)
        _items, outcome = await collect(run)
    assert outcome is None
    ours = [e for e in events if e["event"] != "inside the tool"]
    names = [e["event"] for e in ours]
    for expected in ("run started", "state change", "model call started", "model call finished", "tool call started",
                     "tool call finished", "run ended"):  # fmt: skip
        assert expected in names
    for event in ours:
        assert all(key in event for key in RUN_KEYS), event
        assert event["run_id"] == run.run_id and event["agent"] == "shouter"
    assert [(e["turn"], e["state"]) for e in by_event(events, "model call finished")] == [
        (1, "ExecutingTool"),
        (2, "Done"),
    ]
    assert [e["state"] for e in by_event(events, "state change")] == [
        "Streaming", "ExecutingTool", "AwaitingCompletion", "Streaming", "Finalizing", "Done",
    ]  # fmt: skip


async def test_events_carry_the_gen_ai_fields_that_apply() -> None:
    with captured_logs() as events:
        await collect(Agent(NamedModel(tool_script()), tools=[shout], name="shouter").stream_prompt("go"))
    started = by_event(events, "run started")[0]
    assert started["gen_ai.operation.name"] == "invoke_agent"
    assert (started["gen_ai.agent.name"], started["gen_ai.provider.name"]) == ("shouter", "acme")
    first, second = by_event(events, "model call finished")
    assert first["gen_ai.operation.name"] == "chat" and first["gen_ai.request.model"] == "model-x"
    assert (first["gen_ai.usage.input_tokens"], first["gen_ai.usage.output_tokens"]) == (5, 1)
    assert "gen_ai.response.id" not in first
    assert (second["gen_ai.response.id"], second["gen_ai.response.model"]) == ("resp-9", "model-2025-01")
    assert second["gen_ai.response.time_to_first_chunk"] >= 0 and second["duration_s"] >= 0
    tool_done = by_event(events, "tool call finished")[0]
    assert tool_done["gen_ai.operation.name"] == "execute_tool"
    assert (tool_done["gen_ai.tool.name"], tool_done["gen_ai.tool.call.id"]) == ("shout", "call-1")
    assert tool_done["is_error"] is False
    ended = by_event(events, "run ended")[0]
    assert (ended["gen_ai.usage.input_tokens"], ended["gen_ai.usage.output_tokens"], ended["turn"]) == (13, 3, 2)


async def test_a_tool_and_a_provider_log_with_the_run_context_bound_around_their_calls() -> None:
    with captured_logs() as events:
        model = SlowModel(tool_script(), pause=0, log_requests=True)
        run = Agent(model, tools=[shout]).stream_prompt("go")
        await collect(run)
    inside = by_event(events, "inside the tool")[0]
    assert (inside["run_id"], inside["turn"]) == (run.run_id, 1)
    assert (inside["gen_ai.tool.name"], inside["gen_ai.tool.call.id"]) == ("shout", "call-1")
    requests = by_event(events, "provider request")
    assert [(e["run_id"], e["turn"]) for e in requests] == [(run.run_id, 1), (run.run_id, 2)]


async def test_content_is_logged_only_when_the_user_opts_in() -> None:
    for capture in (False, True):
        with captured_logs() as events:
            observers = [LoggingObserver(capture_content=capture)]
            run = Agent(ScriptedModel(tool_script()), tools=[shout], observers=observers).stream_prompt(SECRET_PROMPT)
            await collect(run)
        text = repr(events)
        for secret in (SECRET_PROMPT, SECRET_ARG, SECRET_ARG.upper(), SECRET_ANSWER):
            assert (secret in text) is capture, (capture, secret)
    tool_done = by_event(events, "tool call finished")[0]
    assert tool_done["gen_ai.tool.call.arguments"] == {"text": SECRET_ARG}
    assert tool_done["gen_ai.tool.call.result"] == SECRET_ARG.upper()
    output = by_event(events, "model call finished")[1]["gen_ai.output.messages"]
    assert output == [{"role": "assistant", "parts": [{"type": "text", "content": SECRET_ANSWER}]}]


async def test_levels_warn_only_for_failed_calls_not_for_endings_the_caller_receives() -> None:
    with captured_logs(logging.WARNING) as events:
        await collect(Agent(ScriptedModel(tool_script()), tools=[shout]).stream_prompt("go"))
        assert events == []
        await collect(Agent(ScriptedModel([[CompletionError("down", status=503)]])).stream_prompt("go"))
        await collect(Agent(ScriptedModel(tool_script()), tools=[shout], max_turns=1).stream_prompt("go"))
    assert [(e["event"], e["level"]) for e in events] == [("model call failed", "warning")]
    failed = events[0]
    assert failed["error.type"] == "CompletionError" and failed["http.response.status_code"] == 503


async def test_a_model_call_failing_mid_stream_is_a_full_warning_when_nothing_listens_at_info() -> None:
    # At WARNING the call's record is built only once it failed: it must still say everything.
    raw = {"id": "resp-1", "model": "m-1"}
    script = [[TextDelta("partial"), Final(Usage(3, 1), raw=raw), CompletionError("cut", status=502)]]
    with captured_logs(logging.WARNING) as events:
        run = Agent(NamedModel(script)).stream_prompt("go")
        _items, outcome = await collect(run)
    assert isinstance(outcome, CompletionError)
    [failed] = events
    assert (failed["event"], failed["turn"], failed["state"]) == ("model call failed", 1, "Failed")
    assert failed["gen_ai.response.time_to_first_chunk"] >= 0 and failed["duration_s"] >= 0
    assert (failed["gen_ai.response.id"], failed["gen_ai.usage.input_tokens"]) == ("resp-1", 3)
    assert failed["gen_ai.request.model"] == "model-x" and failed["http.response.status_code"] == 502


class GoneServer:
    """A tool server that cannot serve any call (its connection is lost, say)."""

    def definitions(self) -> Sequence[ToolDefinition]:
        return (ToolDefinition("shout", "Shout.", {"type": "object"}),)

    async def call(self, name: str, arguments: Any) -> Any:
        raise ToolServerError("connection lost")


@pytest.mark.parametrize("level", [logging.INFO, logging.WARNING])
async def test_a_failed_tool_server_is_a_warning_whether_or_not_anything_listens_at_info(level: int) -> None:
    with captured_logs(level) as events:
        run = Agent(ScriptedModel(tool_script()), tools=GoneServer()).stream_prompt("go")
        _items, outcome = await collect(run)
    assert isinstance(outcome, ToolServerError)
    [failed] = by_event(events, "tool call failed")
    assert failed["level"] == "warning"
    assert (failed["gen_ai.tool.name"], failed["gen_ai.tool.call.id"]) == ("shout", "call-1")
    assert (failed["run_id"], failed["turn"], failed["error.type"]) == (run.run_id, 1, "ToolServerError")


@pytest.mark.parametrize("level", [logging.INFO, logging.WARNING])
async def test_the_run_context_is_bound_around_calls_only_when_something_listens_at_info(level: int) -> None:
    seen: list[dict[str, Any]] = []

    @tool
    def shout(text: str) -> str:
        """Upper-case the text, noting the bound context."""
        seen.append(structlog.contextvars.get_contextvars())
        return text.upper()

    with captured_logs(level):
        run = Agent(ScriptedModel(tool_script()), tools=[shout]).stream_prompt("go")
        _items, outcome = await collect(run)
    assert outcome is None
    if level == logging.INFO:
        assert [(c["run_id"], c["turn"], c["gen_ai.tool.name"]) for c in seen] == [(run.run_id, 1, "shout")]
    else:  # decided once per run: nobody would read it, so nothing is bound
        assert seen == [{}]


async def test_without_structlog_configured_events_go_to_the_stdlib_logger(caplog: pytest.LogCaptureFixture) -> None:
    structlog.reset_defaults()
    with caplog.at_level(logging.INFO, logger="agent_fsm"):
        run = Agent(ScriptedModel([[CompletionError("down", status=503)]])).stream_prompt("go")
        await collect(run)
    messages = [r.getMessage() for r in caplog.records if r.name == "agent_fsm"]
    assert any("event='run ended'" in m and f"run_id='{run.run_id}'" in m and "state='Failed'" in m for m in messages)


def test_an_application_that_configured_no_logging_sees_nothing_on_stderr() -> None:
    code = (
        "import asyncio, structlog\n"
        "from agent_fsm import Agent, CompletionError\n"
        "from agent_fsm.testing import ScriptedModel\n"
        "async def main():\n"
        "    run = Agent(ScriptedModel([[CompletionError('down', status=503)]])).stream_prompt('go')\n"
        "    try:\n"
        "        async for _ in run: pass\n"
        "    except CompletionError:\n"
        "        print('raised')\n"
        "asyncio.run(main())\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert (done.returncode, done.stdout, done.stderr) == (0, "raised\n", "")


def test_the_cli_renders_json_lines_when_not_on_a_terminal() -> None:
    from agent_fsm.cli import configure_logging

    buffer = io.StringIO()
    try:
        with redirect_stderr(buffer):
            configure_logging(2)
            asyncio.run(collect(Agent(ScriptedModel([[TextDelta("hi")]])).stream_prompt("go")))
    finally:
        structlog.reset_defaults()
    lines = [json.loads(line) for line in buffer.getvalue().splitlines()]
    assert {"run started", "run ended"} <= {line["event"] for line in lines}
    assert all("run_id" in line and "level" in line for line in lines)


# ---------------------------------------------------------------------------------- the leak test
# rig's test_span_context_isolation, ported: a background task logs every 50 ms while runs stream,
# and none of its events may carry a run's context. In asyncio a task copies its creator's context
# when it is created, so a task started *before* the runs cannot see a leak; the consumers here
# also log after every item and start background loggers *while* iterating, in the context a
# leaking driver would have polluted - and the tools and the provider, which must carry their own
# run's context, are checked too.


async def background_logger(name: str, stop: asyncio.Event) -> None:
    log = structlog.get_logger("background")
    tick = 0
    while not stop.is_set():
        tick += 1
        log.info("background tick", logger_name=name, tick=tick)
        await asyncio.sleep(0.05)


async def consume(agent: Agent, index: int, stop: asyncio.Event, spawned: list[asyncio.Task[None]]) -> str:
    structlog.contextvars.bind_contextvars(consumer=index)  # the consumer's own context: must survive
    run = agent.stream_prompt(f"prompt {index}")
    log = structlog.get_logger("consumer")
    async for item in run:
        log.info("consumer got an item", item=type(item).__name__)
        if item is not None and f"spawned-{index}" not in {t.get_name() for t in spawned}:
            # Started mid-run, from the consumer's context as it is right after a yield.
            task = asyncio.create_task(background_logger(f"spawned-{index}", stop), name=f"spawned-{index}")
            spawned.append(task)
    return run.run_id


@pytest.mark.parametrize("concurrency", [1, 3])
async def test_run_context_never_leaks_into_the_consumer_or_its_tasks_under_many_concurrent_runs(
    concurrency: int,
) -> None:
    with captured_logs() as events:
        stop = asyncio.Event()
        global_logger = asyncio.create_task(background_logger("global", stop))
        spawned: list[asyncio.Task[None]] = []
        calls = [ToolCallReady(ToolCall(f"c{i}", ToolFunction("shout", {"text": f"t{i}"})), f"i{i}") for i in range(3)]
        script = [[TextDelta("thinking "), *calls, Final(Usage(1, 1))], [TextDelta("done"), Final(Usage(1, 1))]]
        agents = [
            Agent(SlowModel(script, log_requests=True), tools=[shout], name=f"agent-{i}", tool_concurrency=concurrency)
            for i in range(20)
        ]
        run_ids = await asyncio.gather(*(consume(a, i, stop, spawned) for i, a in enumerate(agents)))
        await asyncio.sleep(0.06)  # let every background logger tick at least once more after the runs
        stop.set()
        await asyncio.gather(global_logger, *spawned)
        assert structlog.contextvars.get_contextvars() == {}
    background = by_event(events, "background tick")
    consumer = by_event(events, "consumer got an item")
    assert {e["logger_name"] for e in background} >= {"global", *(f"spawned-{i}" for i in range(20))}
    assert len(consumer) == 20 * 11  # per run: 5 items of turn 1, 3 tool results, 2 of turn 2, the final one
    for event in background + consumer:
        leaked = {"run_id", "agent", "turn", "gen_ai.tool.name", "gen_ai.tool.call.id"} & event.keys()
        assert not leaked, event
    assert all(isinstance(e["consumer"], int) for e in consumer)
    # The positive side: tools and the provider did see their own run's context, and only theirs.
    for name, expected in (("inside the tool", 20 * 3), ("provider request", 20 * 2)):
        seen = by_event(events, name)
        assert len(seen) == expected
        for event in seen:
            assert event["run_id"] in run_ids and event["consumer"] == run_ids.index(event["run_id"])
