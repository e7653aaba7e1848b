"""Tool calls of one turn running concurrently: hook order, the limit, ordered results, determinism."""

from __future__ import annotations

import asyncio
import threading
import time
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from agent_fsm.agent import Agent
from agent_fsm.codec import to_json
from agent_fsm.events import Final, TextDelta, ToolCallReady
from agent_fsm.hooks import StreamingPromptHook, ToolCallHookAction
from agent_fsm.items import StreamItem, StreamUserItem
from agent_fsm.machine.table import State
from agent_fsm.messages import ToolCall, ToolFunction, Usage
from agent_fsm.testing import ScriptedModel, check_run
from agent_fsm.tools import ToolSet, tool

from .support import collect


def call(cid: str, name: str, arguments: Any) -> ToolCallReady:
    return ToolCallReady(ToolCall(cid, ToolFunction(name, arguments)), f"int-{cid}")


def script(*rounds: list[ToolCallReady]) -> ScriptedModel:
    turns: list[list[Any]] = [[*calls, Final(Usage(1, 1))] for calls in rounds]
    return ScriptedModel([*turns, [TextDelta("done"), Final(Usage(1, 1))]])


def result_ids(items: list[StreamItem]) -> list[str]:
    return [i.tool_result.id for i in items if isinstance(i, StreamUserItem)]


class Recorder(StreamingPromptHook):
    """Logs hook calls into a shared event log; skips the calls named in ``skip``."""

    def __init__(self, log: list[str], skip: frozenset[str] = frozenset()) -> None:
        self.log = log
        self.skip = skip

    async def on_tool_call(
        self, tool_name: str, tool_call_id: str, internal_call_id: str, args: Any
    ) -> ToolCallHookAction | None:
        self.log.append(f"call {tool_call_id}")
        return ToolCallHookAction.skip("skipped by hook") if tool_call_id in self.skip else None

    def on_tool_result(self, tool_name: str, tool_call_id: str, internal_call_id: str, args: Any, result: str) -> None:
        self.log.append(f"result {tool_call_id}")


class Probe:
    """Tools that record when they start and end, and how many run at once."""

    def __init__(self, log: list[str]) -> None:
        self.log = log
        self.active = 0
        self.peak = 0
        self.lock = threading.Lock()

    def _enter(self, key: str) -> None:
        with self.lock:
            self.log.append(f"start {key}")
            self.active += 1
            self.peak = max(self.peak, self.active)

    def _exit(self, key: str) -> None:
        with self.lock:
            self.active -= 1
            self.log.append(f"end {key}")

    @tool
    async def work(self, key: str, ms: int = 0, fail: bool = False) -> str:
        """Sleep ``ms`` milliseconds, then answer (or fail)."""
        self._enter(key)
        try:
            await asyncio.sleep(ms / 1000)
            if fail:
                raise RuntimeError(f"{key} failed")
            return f"{key} done"
        finally:
            self._exit(key)

    @tool
    def work_sync(self, key: str, ms: int = 0, fail: bool = False) -> dict[str, str]:
        """Block ``ms`` milliseconds, then answer (or fail)."""
        self._enter(key)
        try:
            time.sleep(ms / 1000)
            if fail:
                raise RuntimeError(f"{key} failed")
            return {"key": key}
        finally:
            self._exit(key)

    @tool(timeout=0.03)  # its own limit: the default stays generous, so that only this tool times out
    async def stall(self, key: str) -> str:
        """Never answer in time."""
        self._enter(key)
        try:
            await asyncio.sleep(10)
            return "never"
        finally:
            self._exit(key)


def agent(model: ScriptedModel, probe: Probe, n: int, timeout: float = 1.0) -> Agent:
    return Agent(model, tools=ToolSet.from_object(probe, default_timeout=timeout), tool_concurrency=n)


# ------------------------------------------------------------------------------------ ordering


async def test_results_follow_call_order_whatever_order_calls_finish_in() -> None:
    log: list[str] = []
    probe = Probe(log)
    model = script([call(f"c{i}", "work", {"key": f"c{i}", "ms": ms}) for i, ms in enumerate([60, 30, 0])])
    run = agent(model, probe, 3).stream_prompt("go", hook=Recorder(log))
    items, outcome = await collect(run)
    assert outcome is None
    assert [e for e in log if e.startswith("end")] == ["end c2", "end c1", "end c0"]
    assert result_ids(items) == ["c0", "c1", "c2"]
    assert [i.tool_result.text for i in items if isinstance(i, StreamUserItem)] == ["c0 done", "c1 done", "c2 done"]
    assert [e for e in log if e.startswith("result")] == ["result c0", "result c1", "result c2"]
    assert [r.id for r in run.history[2].content] == ["c0", "c1", "c2"]  # type: ignore[union-attr]
    check_run(items, run.history, outcome)


async def test_concurrent_calls_ask_every_on_tool_call_before_any_tool_starts() -> None:
    log: list[str] = []
    model = script([call(f"c{i}", "work", {"key": f"c{i}"}) for i in range(3)])
    items, outcome = await collect(
        agent(model, Probe(log), 2).stream_prompt("go", hook=Recorder(log, frozenset({"c1"})))
    )
    assert outcome is None
    assert log[:3] == ["call c0", "call c1", "call c2"]
    assert sorted(log[3:7]) == ["end c0", "end c2", "start c0", "start c2"]
    assert log[7:] == ["result c0", "result c1", "result c2"]
    assert [r.text for r in (i.tool_result for i in items if isinstance(i, StreamUserItem))] == [
        "c0 done",
        "skipped by hook",
        "c2 done",
    ]


async def test_one_at_a_time_each_call_is_asked_run_and_reported_in_turn() -> None:
    log: list[str] = []
    model = script([call(f"c{i}", "work", {"key": f"c{i}"}) for i in range(2)])
    _, outcome = await collect(agent(model, Probe(log), 1).stream_prompt("go", hook=Recorder(log)))
    assert outcome is None
    assert log == ["call c0", "start c0", "end c0", "result c0", "call c1", "start c1", "end c1", "result c1"]


async def test_at_most_n_calls_run_at_once() -> None:
    for n in (1, 2, 3):
        probe = Probe([])
        model = script([call(f"c{i}", "work", {"key": f"c{i}", "ms": 10}) for i in range(6)])
        items, outcome = await collect(agent(model, probe, n).stream_prompt("go"))
        assert outcome is None
        assert probe.peak == n, f"tool_concurrency={n}"
        assert result_ids(items) == [f"c{i}" for i in range(6)]


async def test_tool_concurrency_defaults_to_one() -> None:
    assert Agent(script()).tool_concurrency == 1


# ------------------------------------------------------------------------------------ not blocking the loop


async def test_a_blocking_sync_tool_does_not_stall_other_runs() -> None:
    other_run_done = threading.Event()

    @tool
    def blocking() -> str:
        """Block the calling thread until the other run is done (or 0.2 s pass)."""
        return "released" if other_run_done.wait(0.2) else "waited out"

    async def other() -> None:
        await asyncio.sleep(0.01)  # let the blocking tool start first
        tools = ToolSet.from_object(Probe([]))
        _, outcome = await collect(Agent(script([call("o1", "work", {"key": "o1"})]), tools=tools).stream_prompt("go"))
        assert outcome is None
        other_run_done.set()

    blocked = Agent(script([call("b1", "blocking", {})]), tools=[blocking]).stream_prompt("go")
    (items, outcome), _ = await asyncio.gather(collect(blocked), other())
    assert outcome is None
    assert [i.tool_result.text for i in items if isinstance(i, StreamUserItem)] == ["released"]


# ------------------------------------------------------------------------------------ determinism


CALL = st.tuples(
    st.sampled_from(["work", "work", "work_sync", "fail", "fail_sync", "bad_args", "unknown", "stall"]),
    st.sampled_from([0, 1, 2, 5, 8]),
)
ROUNDS = st.lists(st.lists(CALL, min_size=1, max_size=5), min_size=1, max_size=2)


def build_rounds(plan: list[list[tuple[str, int]]]) -> list[list[ToolCallReady]]:
    rounds = []
    for t, calls in enumerate(plan):
        made = []
        for k, (kind, ms) in enumerate(calls):
            key = f"t{t}c{k}"
            name = {"fail": "work", "fail_sync": "work_sync", "bad_args": "work", "unknown": "nope"}.get(kind, kind)
            args: dict[str, Any] = {"key": key} if kind == "stall" else {"key": key, "ms": ms}
            if kind.startswith("fail"):
                args["fail"] = True
            if kind == "bad_args":
                args["ms"] = str(ms)
            made.append(call(key, name, args))
        rounds.append(made)
    return rounds


async def play(plan: list[list[tuple[str, int]]], skip: frozenset[str], n: int) -> tuple[Any, ...]:
    log: list[str] = []
    probe = Probe(log)
    run = agent(script(*build_rounds(plan)), probe, n).stream_prompt("go", hook=Recorder(log, skip))
    items, outcome = await collect(run)
    assert outcome is None
    assert run.state is State.Done
    check_run(items, run.history, outcome)
    assert probe.peak <= n
    hooks = [e for e in log if e.startswith(("call", "result"))]
    return to_json(list(run.history)), to_json(items), hooks


@settings(max_examples=25, deadline=None)
@given(plan=ROUNDS, skip_mask=st.integers(0, 2**10 - 1))
def test_history_and_items_are_identical_for_any_tool_concurrency(
    plan: list[list[tuple[str, int]]], skip_mask: int
) -> None:
    ids = [f"t{t}c{k}" for t, calls in enumerate(plan) for k in range(len(calls))]
    skip = frozenset(cid for i, cid in enumerate(ids) if skip_mask >> i & 1)

    async def main() -> list[tuple[Any, ...]]:
        return [await play(plan, skip, n) for n in (1, 2, 4)]

    played = asyncio.run(main())
    history1, items1, _ = played[0]
    for history, items, hooks in played:
        assert history == history1
        assert items == items1
        calls_asked = [h for h in hooks if h.startswith("call")]
        results_seen = [h for h in hooks if h.startswith("result")]
        assert calls_asked == [f"call {cid}" for cid in ids]
        assert results_seen == [f"result {cid}" for cid in ids]
