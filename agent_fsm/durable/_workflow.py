"""``AgentWorkflow``: one run is one workflow execution, driving the sans-IO machine in workflow code.

The loop is the sync driver's (:mod:`agent_fsm.testing.sync_driver`) with Temporal's I/O: each
model call is an activity that returns the call's events, fed to the machine one by one; each
tool call is an activity; hooks are called right here, in workflow code. The machine is
deterministic, so a replay after a worker crash takes the same steps and emits the same items:
the items are kept in workflow state (as codec JSON) and read through a query, which is why a
consumer sees each item once, in order, whatever happened to the workers.

Continue-as-new happens at a turn start (before ``on_completion_call`` and the request), from the
machine's snapshot, carrying the count of items so far and the approvals that arrived early.

Run control maps onto the machine's step methods. Cancelling the workflow is
``cancel(mode="immediate")``: Temporal raises ``CancelledError`` in whatever the loop awaits (a
model or tool activity, an async hook), the activities in flight are cancelled, and the run ends
``Cancelled`` with its history sealed - the workflow completes with that result. The ``cancel``
signal carries a reason (and, for ``"after_turn"``, is the whole request); the ``steer`` signal
queues a steering message. Signal handlers run between the loop's awaits, so they call the
machine directly; what they queue survives continue-as-new in the snapshot.
"""

from __future__ import annotations

import asyncio
import inspect
from collections.abc import Callable, Mapping
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import ActivityError, ApplicationError
from temporalio.exceptions import CancelledError as TemporalCancelledError

from .. import codec
from ..errors import ApprovalRequired, CompletionError, IllegalTransition, ToolServerError
from ..events import ModelEvent
from ..hooks import live_hooks
from ..machine import (
    CANCELLED_BY_CALLER,
    NEXT_EVENT,
    NEXT_TOOL_OUTPUT,
    STOP,
    Action,
    Approval,
    CallHook,
    RunTools,
    SendRequest,
    State,
    TurnMachine,
)
from ..messages import Message, ToolCall, UserMessage
from ..request import ToolOutput
from ._activities import PAYLOAD_TOO_LARGE
from ._wire import (
    APPROVALS_SIGNAL,
    CANCEL_SIGNAL,
    ITEMS_QUERY,
    MODEL_ACTIVITY,
    STATE_QUERY,
    STEER_SIGNAL,
    TOOL_ACTIVITY,
    WORKFLOW_NAME,
    completion_error,
)

if TYPE_CHECKING:
    from ..agent import Agent

__all__ = ["DEFAULT_ACTIVITY_TIMEOUT", "DEFAULT_CONTINUE_AS_NEW_AFTER", "DEFAULT_HEARTBEAT_TIMEOUT", "AgentWorkflow"]

DEFAULT_ACTIVITY_TIMEOUT = timedelta(minutes=10)
"""How long one model or tool call may take (its activity's start-to-close timeout)."""
DEFAULT_HEARTBEAT_TIMEOUT = timedelta(seconds=10)
"""How soon a worker that died in the middle of a call is noticed, and the call retried elsewhere."""
DEFAULT_CONTINUE_AS_NEW_AFTER = 50
"""Model calls per workflow execution before it continues as new (keeps its event history bounded)."""

_RETRY = RetryPolicy(
    initial_interval=timedelta(seconds=1),
    maximum_interval=timedelta(seconds=30),
    non_retryable_error_types=[PAYLOAD_TOO_LARGE],
)
"""Retries are for crashes and timeouts; a model or tool failure comes back as data."""


@workflow.defn(name=WORKFLOW_NAME)
class AgentWorkflow:
    """One agent run. Start it with :func:`~agent_fsm.durable.temporal.start_run`.

    Its input and result are JSON dicts (see ``start_run`` and ``handle.result()``). Its agents
    are handed to it by the worker (:func:`~agent_fsm.durable.temporal.worker_for`).
    """

    @workflow.init
    def __init__(self, args: dict[str, Any]) -> None:
        self.agents: Mapping[str, Agent] | None = None  # set by worker_for's interceptor
        self._machine: TurnMachine | None = None
        self._items: list[Any] = []
        self._base = int(args.get("items_before", 0))  # before any query or signal is handled
        self._approvals = {k: Approval(v["approved"], v["reason"]) for k, v in args.get("approvals", {}).items()}
        self._finished = False
        self._continued = False
        self._cancel_reason: str | None = None  # the reason an immediate cancel will be given
        self._early: list[tuple[str, Any]] = []  # run control that came before the machine existed

    # ------------------------------------------------------------------ what clients read

    @workflow.signal(name=APPROVALS_SIGNAL)
    def approvals(self, decisions: dict[str, dict[str, Any]]) -> None:
        """Decisions on deferred tool calls, by call id; kept until the call waits for one."""
        for call_id, d in decisions.items():
            self._approvals[call_id] = Approval(bool(d.get("approved")), str(d.get("reason", "")))

    @workflow.signal(name=CANCEL_SIGNAL)
    def cancel(self, request: dict[str, Any]) -> None:
        """``{"mode": "immediate" | "after_turn", "reason": str | None}``. An after-turn cancel goes
        to the machine; an immediate one only records its reason: the workflow cancellation that
        ``cancel_run`` sends next interrupts the run (see the module docstring)."""
        mode, reason = str(request.get("mode", "immediate")), request.get("reason")
        if mode == "immediate":
            self._cancel_reason = str(reason) if reason is not None else None
        else:
            self._control("cancel", (mode, reason))

    @workflow.signal(name=STEER_SIGNAL)
    def steer(self, message: dict[str, Any]) -> None:
        """A steering message (a ``UserMessage`` as codec JSON) for the run's next model call."""
        self._control("steer", codec.from_dict(message, UserMessage))

    def _control(self, kind: str, arg: Any) -> None:
        m = self._machine
        if m is None:
            self._early.append((kind, arg))
        elif kind == "steer":
            m.steer(arg)
        else:
            m.cancel(*arg)

    @workflow.query(name=ITEMS_QUERY)
    def items(self, since: int) -> dict[str, Any]:
        """The items from position ``since`` that this execution holds, and where it stands."""
        start = max(since - self._base, 0)
        return {
            "base": self._base,
            "items": self._items[start:],
            "finished": self._finished,
            "continued": self._continued,
            "previous_run_id": workflow.info().continued_run_id,
        }

    @workflow.query(name=STATE_QUERY)
    def run_state(self) -> dict[str, Any]:
        m = self._machine
        pending = m.error.pending if m is not None and isinstance(m.error, ApprovalRequired) else ()
        return {
            "state": m.state.value if m is not None else State.AwaitingCompletion.value,
            "pending_approvals": [codec.to_json_value(c) for c in pending],
            "history": codec.to_json_value(list(m.history)) if m is not None else [],
            "items": self._base + len(self._items),
        }

    # ------------------------------------------------------------------ the run

    @workflow.run
    async def run(self, args: dict[str, Any]) -> dict[str, Any]:
        if self.agents is None:
            raise ApplicationError("AgentWorkflow runs only on a worker made by worker_for", non_retryable=True)
        name = args["agent"]
        agent = self.agents.get(name)
        if agent is None:
            known = ", ".join(sorted(self.agents)) or "none"
            raise ApplicationError(f"no agent named {name!r} on this worker (it has: {known})", non_retryable=True)
        opts = _Options(args)
        machine = self._machine = _first_machine(agent, args)
        for kind, arg in self._early:
            self._control(kind, arg)
        hooks = live_hooks(agent.hook)
        calls_here = 0
        tools: _ToolBatch | None = None
        while True:
            action = machine.start()
            try:
                while action is not STOP:
                    self._drain(machine)
                    if _turn_start(action) and opts.continue_as_new_after and calls_here >= opts.continue_as_new_after:
                        self._continue_as_new(args, machine)
                    if isinstance(action, SendRequest):
                        calls_here += 1
                        action = await self._model_call(agent, name, machine, action, hooks, opts)
                    elif isinstance(action, CallHook):
                        action = await _call_hook(machine, hooks, action)
                    elif isinstance(action, RunTools):
                        tools = _ToolBatch(name, action.calls, machine.tool_concurrency, opts)
                        action = await tools.next(machine)
                    elif action is NEXT_TOOL_OUTPUT:
                        assert tools is not None
                        action = await tools.next(machine)
                    else:  # pragma: no cover - the protocol has no other action
                        raise AssertionError(f"unknown action {action!r}")
            except asyncio.CancelledError:  # the workflow was cancelled: cancel(mode="immediate")
                machine.cancel("immediate", self._cancel_reason or CANCELLED_BY_CALLER)
            except IllegalTransition:
                if not machine.done:
                    raise
            finally:
                if tools is not None:  # calls of a batch the run stopped in (a tool server failed)
                    tools.cancel()
            self._drain(machine)
            if not isinstance(machine.error, ApprovalRequired):
                break
            waiting = machine.error
            decided = await self._decisions(waiting, opts.approval_timeout)
            if not decided:
                break
            machine = self._machine = agent.resume(waiting.snapshot, approvals=decided).machine
        self._finished = True
        return _result(machine, self._items)

    def _drain(self, machine: TurnMachine) -> None:
        out = machine.outbox
        while out:
            self._items.append(codec.to_json_value(out.popleft()))

    async def _model_call(
        self,
        agent: Agent,
        name: str,
        machine: TurnMachine,
        action: SendRequest,
        hooks: Mapping[str, Callable[..., Any]],
        opts: _Options,
    ) -> Action:
        args = {"agent": name, "call": machine.turns, "request": codec.to_json_value(action.request)}
        try:
            result = await workflow.execute_activity(MODEL_ACTIVITY, args, result_type=dict, **opts.activity())
        except ActivityError as exc:
            _reraise_cancellation(exc)
            return machine.model_failed(CompletionError(_activity_failure(exc, f"model call {machine.turns}")))
        for data in result["events"]:
            next_action = machine.model_event(codec.from_dict(data, ModelEvent))
            self._drain(machine)
            while isinstance(next_action, CallHook):
                next_action = await _call_hook(machine, hooks, next_action)
                self._drain(machine)
            if next_action is not NEXT_EVENT:
                return next_action
        if result["error"] is not None:
            return machine.model_failed(completion_error(result["error"]))
        return machine.model_end()

    async def _decisions(self, waiting: ApprovalRequired, limit: timedelta | None) -> dict[str, Approval]:
        ids = [c.id for c in waiting.pending]
        try:
            await workflow.wait_condition(lambda: any(i in self._approvals for i in ids), timeout=limit)
        except TimeoutError:
            return {}
        return {i: self._approvals.pop(i) for i in ids if i in self._approvals}

    def _continue_as_new(self, args: dict[str, Any], machine: TurnMachine) -> None:
        snapshot = machine.snapshot()
        count = self._base + len(self._items)
        if snapshot.items_emitted != count:  # pragma: no cover - a bug, never a user's doing
            raise ApplicationError(f"snapshot counts {snapshot.items_emitted} items, the run emitted {count}")
        self._continued = True
        workflow.continue_as_new(
            {
                **{k: v for k, v in args.items() if k not in ("prompt", "history")},
                "snapshot": snapshot.to_json(),
                "items_before": count,
                "approvals": {k: {"approved": a.approved, "reason": a.reason} for k, a in self._approvals.items()},
            }
        )


class _Options:
    """The run's options, from ``start_run``'s arguments."""

    def __init__(self, args: Mapping[str, Any]) -> None:
        def seconds(key: str, default: timedelta | None) -> timedelta | None:
            value = args.get(key)
            return default if value is None else timedelta(seconds=float(value))

        self.activity_timeout = seconds("activity_timeout", DEFAULT_ACTIVITY_TIMEOUT)
        self.heartbeat_timeout = seconds("heartbeat_timeout", DEFAULT_HEARTBEAT_TIMEOUT)
        self.approval_timeout = seconds("approval_timeout", None)
        n = args.get("continue_as_new_after")
        self.continue_as_new_after = DEFAULT_CONTINUE_AS_NEW_AFTER if n is None else int(n)

    def activity(self) -> dict[str, Any]:
        return {
            "start_to_close_timeout": self.activity_timeout,
            "heartbeat_timeout": self.heartbeat_timeout,
            "retry_policy": _RETRY,
        }


class _ToolBatch:
    """One ``RunTools`` batch: activities started at most ``concurrency`` at once, outputs in call order."""

    def __init__(self, agent: str, calls: tuple[ToolCall, ...], concurrency: int, opts: _Options) -> None:
        self._agent = agent
        self._opts = opts
        self._calls = list(calls)
        self._started: list[asyncio.Task[dict[str, Any] | BaseException]] = []
        if concurrency > 1 and len(calls) > 1:
            gate = asyncio.Semaphore(concurrency)

            async def limited(call: ToolCall) -> dict[str, Any] | BaseException:
                async with gate:
                    return await self._run(call)

            self._started = [asyncio.ensure_future(limited(c)) for c in calls]

    async def next(self, machine: TurnMachine) -> Action:
        call = self._calls.pop(0)
        result = await (self._started.pop(0) if self._started else self._run(call))
        if isinstance(result, BaseException):
            _reraise_cancellation(result)
            return machine.tool_failed(ToolServerError(_activity_failure(result, f"tool call {call.id!r}")))
        if "server_error" in result:
            return machine.tool_failed(ToolServerError(result["server_error"]))
        return machine.tool_output(codec.from_dict(result["output"], ToolOutput))

    def cancel(self) -> None:
        """Cancel the calls still running: the run will never read their outputs."""
        for task in self._started:
            task.cancel()

    async def _run(self, call: ToolCall) -> dict[str, Any] | BaseException:
        args = {"agent": self._agent, "call": codec.to_json_value(call)}
        try:
            result: dict[str, Any] = await workflow.execute_activity(
                TOOL_ACTIVITY, args, result_type=dict, **self._opts.activity()
            )
        except ActivityError as exc:
            return exc
        return result


def _first_machine(agent: Agent, args: Mapping[str, Any]) -> TurnMachine:
    """The machine this execution starts with: a new run, or the snapshot it continued from."""
    max_turns = args.get("max_turns")
    if args.get("snapshot") is not None:
        return agent.resume(args["snapshot"]).machine
    prompt: UserMessage = codec.from_dict(args["prompt"], UserMessage)
    history: list[Message] = codec.from_dict(args.get("history") or [], list[Message])
    machine = agent.stream_prompt(prompt, history).machine
    if max_turns is not None:  # the agent's budget, replaced for this run
        machine = agent.resume(machine.snapshot(), max_turns=int(max_turns)).machine
    return machine


def _turn_start(action: Action) -> bool:
    return isinstance(action, SendRequest) or (isinstance(action, CallHook) and action.name == "on_completion_call")


async def _call_hook(machine: TurnMachine, hooks: Mapping[str, Callable[..., Any]], action: CallHook) -> Action:
    """Ask a hook, in workflow code. A sandbox violation fails the workflow task (it is retried
    after a fix is deployed); any other exception is the hook's failure, as in-process."""
    try:
        answer = hooks[action.name](*action.args)
        if inspect.isawaitable(answer):
            answer = await answer
    except workflow.NondeterminismError:
        raise
    except Exception as exc:
        return machine.hook_failed(exc)
    return machine.hook_answer(answer)


def _reraise_cancellation(exc: BaseException) -> None:
    """An activity cancelled because the workflow was cancelled is the run's cancellation, not a failure."""
    if isinstance(exc, ActivityError) and isinstance(exc.__cause__, TemporalCancelledError):
        raise asyncio.CancelledError() from exc


def _activity_failure(exc: BaseException, what: str) -> str:
    cause = exc.__cause__ if isinstance(exc, ActivityError) and exc.__cause__ is not None else exc
    text = str(cause)
    return text if what in text else f"{what} failed in Temporal: {text}"


def _result(machine: TurnMachine, items: list[Any]) -> dict[str, Any]:
    out: dict[str, Any] = {
        "state": machine.state.value,
        "history": codec.to_json_value(list(machine.history)),
        "usage": codec.to_json_value(machine.usage),
        "turns": machine.turns,
    }
    if machine.state is State.Done:
        out["response"] = items[-1]["response"]  # the FinalResponse, always the last item
    else:
        err = machine.error
        assert err is not None
        out["error"] = {"type": type(err).__name__, "message": str(err)}
        if isinstance(err, ApprovalRequired):  # approval_timeout ran out: resumable in-process
            out["snapshot"] = err.snapshot.to_json()
            out["pending_approvals"] = [codec.to_json_value(c) for c in err.pending]
    return out
