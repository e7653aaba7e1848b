"""One turn's tool calls, from their verdicts to the message that carries their results.

Calls are taken in call order. Each gets a verdict - approved, skipped (the reason becomes its
result) or deferred for an approval - at most ``window`` calls ahead of the results: one at a
time when tools run one by one, the whole batch first when they run concurrently. Approved calls
leave in batches (``take_approved``) and their outputs come back in batch order (``record``);
results are then processed strictly in call order, so the results message is in call order
whatever order the calls finished in.

A :class:`ToolBatch` holds only this bookkeeping. It never fires an edge: the machine asks it
what comes next and fires the table's edges, whose callbacks call back into it. It is also
where the rule that seals an interrupted batch lives (:meth:`sealed`), so that a run that stops
mid-batch still leaves every call with exactly one result.
"""

from __future__ import annotations

from collections.abc import Iterable

from ..errors import ConfigurationError
from ..events import ToolCallReady
from ..hooks import TOOL_CONTINUE, ToolCallHookAction, Verdict
from ..messages import Text, ToolCall, ToolResult, UserMessage
from ..request import ToolOutput
from .snapshot import Approval, ToolStageSnapshot

__all__ = ["ToolBatch"]


class ToolBatch:
    """The verdicts, runs and results of one turn's tool calls (see the module docstring)."""

    __slots__ = ("_running", "_verdicts", "approved", "calls", "decided", "deferred", "result_ix", "results",
                 "verdict_ix")  # fmt: skip

    def __init__(self, calls: Iterable[ToolCallReady]) -> None:
        self.calls: tuple[ToolCallReady, ...] = tuple(calls)
        self.results: list[ToolResult | None] = [None] * len(self.calls)
        self.decided: dict[int, Verdict] = {}
        """Verdicts recorded before the run resumed (approvals, deferrals), by call index."""
        self._verdicts: dict[int, Verdict] = {}
        self.deferred: list[int] = []
        self.approved: list[int] = []
        """Approved calls not yet handed out (``take_approved``)."""
        self._running: list[int] = []  # (a few calls: a list, not a deque and its 600-byte block)
        self.verdict_ix = 0
        """The next call to get a verdict."""
        self.result_ix = 0
        """The next result to process (ask ``on_tool_result``, emit)."""

    @classmethod
    def resume(cls, stage: ToolStageSnapshot, approvals: dict[str, Approval]) -> ToolBatch:
        """The batch a snapshot was taken in; ``approvals`` decide its deferred calls (each one
        used is removed from the dict, so the caller can refuse the ones left over)."""
        batch = cls(stage.calls)
        done = len(stage.results)
        batch.results[:done] = stage.results
        batch.verdict_ix = batch.result_ix = done
        for offset, decision in enumerate(stage.decisions):
            if decision.kind == "defer":
                decision = _apply_approval(batch.calls[done + offset], decision, approvals)
            batch.decided[done + offset] = decision
        return batch

    # ------------------------------------------------------------------ what comes next
    # The machine reads the cursors (verdict_ix, result_ix) and lists above directly: it steps
    # through the batch on every tool step, where a method call per question would show.

    def take_approved(self) -> tuple[ToolCall, ...]:
        """The approved calls not yet handed out, which are now running."""
        batch, self.approved = self.approved, []
        self._running.extend(batch)
        return tuple(self.calls[j].tool_call for j in batch)

    def handed_out_after_results(self) -> int:
        """Calls handed out to run whose results are not processed yet (a resumed run runs them again)."""
        return sum(
            1
            for i in range(self.result_ix, self.verdict_ix)
            if self._verdicts[i].kind == "continue" and i not in self.approved
        )

    @property
    def running(self) -> bool:
        return bool(self._running)

    # ------------------------------------------------------------------ what happened

    def approve(self, index: int, verdict: Verdict) -> None:
        self.approved.append(index)
        self._verdicts[index] = verdict
        self.verdict_ix += 1

    def skip(self, index: int, verdict: Verdict) -> None:
        call = self.calls[index].tool_call
        self.results[index] = ToolResult(call.id, (Text(verdict.reason),), call.call_id)
        self._verdicts[index] = verdict
        self.verdict_ix += 1

    def defer(self, index: int, verdict: Verdict) -> None:
        self.deferred.append(index)
        self._verdicts[index] = verdict
        self.verdict_ix += 1

    def record(self, output: ToolOutput) -> None:
        """The output of the oldest running call."""
        index = self._running.pop(0)
        call = self.calls[index].tool_call
        self.results[index] = ToolResult(call.id, output.content or (Text(""),), call.call_id, output.is_error)

    def processed(self) -> tuple[ToolResult, ToolCallReady]:
        """The next result has passed ``on_tool_result``: it and its call, to emit."""
        i = self.result_ix
        result = self.results[i]
        assert result is not None
        self.result_ix += 1
        return result, self.calls[i]

    def message(self) -> UserMessage:
        """Every result, in call order: the next prompt."""
        return UserMessage(tuple(r for r in self.results if r is not None))

    def sealed(self, why: str) -> UserMessage:
        """Every result, with a synthetic error result saying ``why`` for each call that has none:
        a call handed to the driver and not back yet was cancelled while running, and may have
        had effects; any other was never executed."""
        not_run = (Text(f"Tool call not executed: {why}"),)
        stopped = (Text(f"Tool call cancelled while running: {why}. It may have had effects."),)
        running = set(self._running)
        return UserMessage(
            tuple(
                r
                if r is not None
                else ToolResult(c.tool_call.id, stopped if i in running else not_run, c.tool_call.call_id, True)
                for i, (c, r) in enumerate(zip(self.calls, self.results, strict=True))
            )
        )

    # ------------------------------------------------------------------ checkpoints

    @property
    def pending_approvals(self) -> tuple[ToolCallReady, ...]:
        """The calls waiting for an approval, in call order."""
        return tuple(self.calls[i] for i in self.deferred)

    def checkpoint(self) -> ToolStageSnapshot:
        """The batch after its last processed result, with the verdicts given to the calls after it."""
        done = tuple(r for r in self.results[: self.result_ix] if r is not None)
        decisions = tuple(self._verdicts[i] for i in range(self.result_ix, self.verdict_ix))
        return ToolStageSnapshot(self.calls, done, decisions)


def _apply_approval(call: ToolCallReady, deferred: Verdict, approvals: dict[str, Approval]) -> Verdict:
    decision = approvals.pop(call.tool_call.id, None)
    if decision is None:
        return deferred
    if not isinstance(decision, Approval):
        raise ConfigurationError(f"approval for {call.tool_call.id!r} must be approve or deny(reason): {decision!r}")
    return TOOL_CONTINUE if decision.approved else ToolCallHookAction.skip(decision.reason)
