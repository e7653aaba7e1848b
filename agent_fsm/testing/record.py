"""A run, written down: everything its consumer saw and how it ended, ready to be checked.

:func:`run_agent` (sync) and :func:`arun_agent` consume a run the way an application does - to the
end, or closing it after ``close_after`` items - and return a :class:`RunRecord`.
:meth:`RunRecord.check` holds it to every invariant of DESIGN §4;
:func:`check_deterministic` compares two records byte for byte (canonical JSON from the codec).

Example::

    record = run_agent(Agent(ScriptedModel(script), tools=[add]), "2+3?", hook=MyHook())
    record.check()
    check_deterministic(record, run_agent(Agent(ScriptedModel(script), tools=[add]), "2+3?", hook=MyHook()))
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Sequence
from typing import Any

from attrs import frozen

from ..codec import to_dict
from ..errors import AgentFSMError
from ..events import Final, event_problem
from ..items import StreamItem
from ..machine import TurnMachine
from ..machine.table import Edge, State
from ..messages import Message, Text, Usage, UserMessage
from .control import ControlStep, apply_controls
from .hook_contract import check_hook_calls
from .invariants import check_ending, check_run, check_steering, check_trace, check_turn_content, fail
from .policy import STALLED, PolicyHook

__all__ = ["RunRecord", "arun_agent", "check_deterministic", "played_usage", "run_agent"]

CONSUMER_CLOSED = "the run was closed by its consumer"
CONSUMER_CANCELLED = "the run's task was cancelled"


@frozen(eq=False)
class RunRecord:
    """One finished run as its consumer saw it, plus what the machine and the model report.

    ``outcome`` is what the iteration raised (``None`` when it completed); when the consumer
    closed or cancelled the run, it is the run's ending error (``PromptCancelled``), or ``None``
    when the run had completed anyway.
    """

    items: tuple[StreamItem, ...]
    history: tuple[Message, ...]
    outcome: BaseException | None
    state: State
    error: AgentFSMError | None
    trace: tuple[tuple[Edge, int], ...]
    usage: Usage
    max_turns: int
    turns: int
    initial: int = 0
    model_calls: int | None = None
    played_usage: Usage | None = None
    ended_by_consumer: str | None = None
    after_end: int = 0
    leaked_tasks: int = 0
    open_streams: int = 0
    hook_calls: tuple[tuple[str, tuple[Any, ...]], ...] | None = None
    """What a recording hook (``PolicyHook``) was called with, to check the hook contract."""
    tool_concurrency: int = 1
    start: tuple[Message, ...] | None = None
    """The given history and the prompt, which every history of the run begins with."""
    steered: tuple[UserMessage, ...] = ()
    """The steering messages the consumer gave the run (see :mod:`~agent_fsm.testing.control`)."""
    pending_steering: tuple[UserMessage, ...] = ()
    cancelled_by_consumer: bool = False
    """The consumer called ``cancel()`` (now), which, like closing, may come between a request
    and the driver sending it."""

    @classmethod
    def of(cls, m: TurnMachine, items: Sequence[StreamItem], outcome: BaseException | None, **more: Any) -> RunRecord:
        """The record of the run ``m`` ran (either driver), with what only the driver knows in ``more``."""
        return cls(
            items=tuple(items),
            history=m.history,
            outcome=outcome,
            state=m.state,
            error=m.error,
            trace=m.trace,
            usage=m.usage,
            max_turns=m.max_turns,
            turns=m.turns,
            tool_concurrency=m.tool_concurrency,
            **more,
        )

    def check(self) -> None:
        """Check every invariant of DESIGN §4 that one run can show.

        Raises:
            AssertionError: naming the broken invariant.
        """
        check_run(
            self.items,
            self.history,
            self.outcome,
            initial=self.initial,
            max_turns=self.max_turns,
            model_calls=self.model_calls,
        )
        check_ending(self.state, self.outcome, self.error, closed_by_consumer=self.ended_by_consumer is not None)
        check_trace(self.trace, self.state)
        if self.model_calls is not None:
            # A consumer that closes the run on the item before a request may do so after the
            # machine issued it (``turns`` counts it) and before the driver sent it.
            unsent = self.turns - self.model_calls
            stopped = self.ended_by_consumer is not None or self.cancelled_by_consumer
            if unsent < 0 or unsent > (1 if stopped else 0):
                raise fail("every request is one model call", f"{self.model_calls} calls for {self.turns} requests")
        if self.played_usage is not None and self.usage != self.played_usage:
            raise fail(
                "usage total = sum of per-turn usage", f"{self.usage} != {self.played_usage} (sent by the model)"
            )
        if self.after_end:
            raise fail("nothing is emitted after the ending", f"{self.after_end} item(s) came after it")
        if self.leaked_tasks:
            raise fail("no task is left running", f"{self.leaked_tasks} task(s) outlived the run")
        if self.open_streams:
            raise fail("every model stream is closed", f"{self.open_streams} stream(s) left open")
        if self.start is not None and self.history[: len(self.start)] != self.start:
            raise fail("the history is the given history, the prompt, then the run", "it begins otherwise")
        if self.ended_by_consumer is None and not self.cancelled_by_consumer and self.pending_steering == self.steered:
            # (delivered steering can join two turns with no item between them: see check_turn_content)
            check_turn_content(self.items, self.history, initial=self.initial)
        if self.steered or self.pending_steering:
            check_steering(self.steered, self.pending_steering, self.history)
        if self.hook_calls is not None:
            check_hook_calls(self.hook_calls, self.history, tool_concurrency=self.tool_concurrency)

    def canonical(self) -> str:
        """The record as canonical JSON: equal runs give equal bytes (what determinism compares)."""
        outcome = None if self.outcome is None else [type(self.outcome).__name__, str(self.outcome)]
        data = {
            "items": to_dict(list(self.items)),
            "history": to_dict(list(self.history)),
            "state": self.state.value,
            "outcome": outcome,
            "usage": to_dict(self.usage),
            "trace": [[edge.index, n] for edge, n in self.trace],
            "turns": self.turns,
        }
        return json.dumps(data, sort_keys=True, ensure_ascii=False, separators=(",", ":"))


def check_deterministic(first: RunRecord, *others: RunRecord, what: str = "runs of the same case") -> None:
    """Same inputs, same bytes: every record must equal ``first`` as canonical JSON.

    Raises:
        AssertionError: naming the first part that differs (items, history, state, ...).
    """
    expected = json.loads(first.canonical())
    for other in others:
        got = json.loads(other.canonical())
        for key in ("items", "history", "state", "outcome", "usage", "trace", "turns"):
            if expected[key] != got[key]:
                raise fail("determinism", f"{what} differ in {key}: {_diff(expected[key], got[key])}")


def _diff(a: Any, b: Any) -> str:
    if isinstance(a, list) and isinstance(b, list):
        for i, (x, y) in enumerate(zip(a, b, strict=False)):
            if x != y:
                return f"at [{i}]: {json.dumps(x)[:300]} != {json.dumps(y)[:300]}"
        return f"lengths {len(a)} != {len(b)}"
    return f"{json.dumps(a)[:300]} != {json.dumps(b)[:300]}"


def played_usage(played: Sequence[Sequence[Any]]) -> Usage:
    """The usage a model reported: the first ``Final`` of each call it streamed (a second one is
    illegal and never counted)."""
    total = Usage()
    for events in played:
        final = next((e for e in events if isinstance(e, Final)), None)
        if final is not None and event_problem(final) is None:  # a malformed one fails the run there
            total = total + final.usage
    return total


def run_agent(
    agent: Any,
    prompt: str | UserMessage = "go",
    history: Sequence[Message] | None = None,
    hook: object | None = None,
    *,
    close_after: int | None = None,
    runner: asyncio.Runner | None = None,
    watchdog: float = 30.0,
    control: Sequence[ControlStep] = (),
) -> RunRecord:
    """Run ``agent.stream_prompt(prompt, history, hook)`` to its end; see :func:`arun_agent`.

    Runs its own event loop (or ``runner``'s, to reuse one across many runs).
    """
    coro = arun_agent(agent, prompt, history, hook, close_after=close_after, watchdog=watchdog, control=control)
    return runner.run(coro) if runner is not None else asyncio.run(coro)


async def arun_agent(
    agent: Any,
    prompt: str | UserMessage = "go",
    history: Sequence[Message] | None = None,
    hook: object | None = None,
    *,
    close_after: int | None = None,
    watchdog: float = 30.0,
    control: Sequence[ControlStep] = (),
) -> RunRecord:
    """Consume one run as an application would, and record it.

    Args:
        agent: an ``Agent`` (its ``model``'s ``calls``, ``played`` and stream counters are read
            when it has them, as ``ScriptedModel`` does).
        close_after: close the run (``aclose()``) after this many items; 0 closes it before
            iterating.
        watchdog: seconds after which a run that neither ends nor hangs on purpose fails the
            check. Not a timing assertion: only a run stuck for good gets near it.
        control: what to do to the run as its items arrive (steer it, cancel it, have a second
            task cancel it); see :mod:`~agent_fsm.testing.control`.

    A hook or tool of the kit that *hangs* makes the consumer cancel its task, as a user hitting
    Ctrl-C would; the record then says ``ended_by_consumer == "cancel"``.
    """
    before = asyncio.all_tasks()
    run = agent.stream_prompt(prompt, history, hook)
    items: list[StreamItem] = []
    stalled = asyncio.Event()
    token = STALLED.set(stalled)
    steered: list[UserMessage] = []
    reasons: list[str] = []
    wake = asyncio.Event()

    async def second_task() -> None:  # cancels the run from outside the consumer, when woken
        await wake.wait()
        run.cancel("immediate", reasons[0])

    def wake_second_task(reason: str) -> None:
        reasons.append(reason)
        wake.set()

    cancelled: list[bool] = []

    def control_step(seen: int) -> None:
        if apply_controls(control, seen, run, steered=steered, in_task=wake_second_task):
            cancelled.append(True)

    try:
        canceller = asyncio.ensure_future(second_task()) if control else None
        consumer = asyncio.ensure_future(_consume(run, items, close_after, control_step if control else None))
        watcher = asyncio.ensure_future(stalled.wait())
    finally:
        STALLED.reset(token)
    done, _ = await asyncio.wait({consumer, watcher}, timeout=watchdog, return_when=asyncio.FIRST_COMPLETED)
    watcher.cancel()
    ended_by: str | None = None
    outcome: BaseException | None = None
    after_end = 0
    if consumer not in done:
        consumer.cancel()
        ended_by = "cancel"
    try:
        outcome, after_end, closed = await consumer
        ended_by = "close" if closed else None
    except asyncio.CancelledError:
        if not done and not stalled.is_set():
            raise fail("a run ends", f"it was still running after {watchdog:g} s and nothing hung on purpose") from None
        ended_by = "cancel"
    await asyncio.gather(watcher, return_exceptions=True)
    if canceller is not None:
        if not wake.is_set():
            canceller.cancel()
        await asyncio.gather(canceller, return_exceptions=True)
    if ended_by is not None:
        outcome = run.error
    leaked = [t for t in asyncio.all_tasks() - before if t is not asyncio.current_task() and not t.done()]
    model = agent.model
    played = getattr(model, "played", None)
    opened, closed_streams = getattr(model, "calls", None), getattr(model, "closed", 0) + getattr(model, "exhausted", 0)
    m = run.machine
    used = hook if hook is not None else getattr(agent, "hook", None)
    return RunRecord.of(
        m,
        items,
        outcome,
        initial=len(history or ()),
        model_calls=opened,
        played_usage=played_usage(played) if played is not None else None,
        ended_by_consumer=ended_by,
        after_end=after_end,
        leaked_tasks=len(leaked),
        open_streams=(opened - closed_streams) if opened is not None and hasattr(model, "exhausted") else 0,
        hook_calls=tuple(used.calls) if isinstance(used, PolicyHook) else None,
        start=(*(history or ()), UserMessage((Text(prompt),)) if isinstance(prompt, str) else prompt),
        steered=tuple(steered),
        pending_steering=run.pending_steering,
        cancelled_by_consumer=bool(cancelled),
    )


async def _consume(
    run: Any, items: list[StreamItem], close_after: int | None, control: Any = None
) -> tuple[BaseException | None, int, bool]:
    """Iterate ``run``: (what it raised, items that came after its ending, whether we closed it)."""
    if close_after == 0:
        await run.aclose()
        return None, 0, True
    if control is not None:
        control(0)
    agen = run.__aiter__()
    outcome: BaseException | None = None
    try:
        async for item in agen:
            items.append(item)
            if control is not None:
                control(len(items))
            if close_after is not None and len(items) >= close_after:
                await run.aclose()
                return None, 0, True
    except Exception as exc:
        outcome = exc
    after = 0
    try:
        await agen.__anext__()
        after = 1
    except StopAsyncIteration:
        pass
    return outcome, after, False
