"""Durable runs on Temporal: a run survives its worker, an approval waits for days, a consumer sees each item once.

``pip install 'agent-fsm[temporal]'``. One run is one workflow execution of :class:`AgentWorkflow`,
which drives the sans-IO :class:`~agent_fsm.machine.TurnMachine` in workflow code through its step
API. Each model call and each tool call is an activity; hooks run in workflow code. ::

    worker = worker_for(client, "agents", {"calculator": agent})          # in each worker process
    handle = await start_run(client, "calculator", "2+3?", id="run-1", task_queue="agents")
    async for item in stream_run(handle):                                 # each item once, in order
        print(item)
    result = await handle.result()       # {"state", "history", "usage", "turns", "response" | "error"}

What each piece guarantees:

- **Model calls** are one activity each: it streams the call to its end and returns the events,
  so a call's items become available when its activity completes (this is the granularity of
  :func:`stream_run`). A provider failure comes back as data and ends the run as it would
  in-process (same error type, message and history); Temporal retries only crashes and timeouts.
  A result over Temporal's payload limit fails the call with an error naming it, never retried.
- **Tool calls** are one activity each; with ``tool_concurrency > 1`` they run at once and their
  outputs are still fed back in call order.
- **Heartbeats** come from a task beside each call: a dead worker is noticed within
  ``heartbeat_timeout``, and the call runs again on another worker. A completed call never runs
  again: its result is in the workflow's event history.
- **Hooks run in workflow code**, on every replay, so they must be deterministic: a verdict that
  depends only on its arguments (and on the hook's own state, rebuilt the same way on replay). No
  clock, randomness, network or files; a hook that needs I/O awaits an activity itself
  (``workflow.execute_activity``). A sandbox violation in a hook fails the workflow *task* (it is
  retried, e.g. after a fixed deployment), it is never recorded as the run's ``HookError``.
- **Agents are registered by name** (:func:`worker_for`). The name is part of the run's durable
  identity: a run started for ``"calculator"`` finds its agent by that name on whichever worker
  picks it up, today or after a deploy. Keep names stable.
- **Long runs** continue-as-new from the machine's snapshot every ``continue_as_new_after`` model
  calls (default :data:`DEFAULT_CONTINUE_AS_NEW_AFTER`), at a turn start, before the request,
  carrying the count of items and approvals that arrived early; no call is repeated. A real
  server spaces the executions of one workflow id by about a second
  (``workflowIdReuseMinimalInterval``), so each continue-as-new costs about 1 s of wall time.

- **Run control**: cancelling the workflow (``handle.cancel()``, or :func:`cancel_run`) is
  ``AgentRun.cancel(mode="immediate")``: the call in flight is cancelled and the run ends
  ``Cancelled`` with its history sealed (the workflow completes with that result).
  ``cancel_run(handle, "after_turn")`` lets the current turn finish first, and
  :func:`steer_run` sends a steering message for the next model call; both are signals, kept
  across continue-as-new.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Mapping, Sequence
from datetime import timedelta
from typing import Any

from temporalio import workflow
from temporalio.client import Client, WorkflowExecutionStatus, WorkflowHandle, WorkflowQueryFailedError
from temporalio.service import RPCError
from temporalio.worker import (
    ExecuteWorkflowInput,
    Interceptor,
    Replayer,
    Worker,
    WorkflowInboundInterceptor,
    WorkflowInterceptorClassInput,
)
from temporalio.worker.workflow_sandbox import SandboxedWorkflowRunner, SandboxRestrictions

from .. import codec
from ..agent import Agent
from ..errors import ConfigurationError
from ..items import StreamItem
from ..machine import Approval, check_limits, user_message
from ..messages import Message, UserMessage
from ._activities import Activities
from ._wire import (
    APPROVALS_SIGNAL,
    CANCEL_SIGNAL,
    DEFAULT_MAX_PAYLOAD_BYTES,
    ITEMS_QUERY,
    STATE_QUERY,
    STEER_SIGNAL,
    WORKFLOW_NAME,
)
from ._workflow import (
    DEFAULT_ACTIVITY_TIMEOUT,
    DEFAULT_CONTINUE_AS_NEW_AFTER,
    DEFAULT_HEARTBEAT_TIMEOUT,
    AgentWorkflow,
)

__all__ = [
    "DEFAULT_ACTIVITY_TIMEOUT",
    "DEFAULT_CONTINUE_AS_NEW_AFTER",
    "DEFAULT_HEARTBEAT_TIMEOUT",
    "DEFAULT_MAX_PAYLOAD_BYTES",
    "STICKY_QUEUE_TIMEOUT",
    "AgentWorkflow",
    "cancel_run",
    "replayer_for",
    "run_state",
    "send_approvals",
    "start_run",
    "steer_run",
    "stream_run",
    "worker_for",
]

STICKY_QUEUE_TIMEOUT = timedelta(seconds=1)
"""How long a run's next workflow task waits for the worker that ran its last one before any worker
may take it: short, so that a run whose worker died moves on within about a second."""

RunHandle = WorkflowHandle[Any, dict[str, Any]]
Seconds = float | timedelta | None


def worker_for(client: Client, task_queue: str, agents: Mapping[str, Agent], **worker_kwargs: Any) -> Worker:
    """A Temporal worker that runs :class:`AgentWorkflow` and its activities for these agents.

    Args:
        client: a connected ``temporalio.client.Client``.
        task_queue: the queue runs are started on (``start_run(task_queue=...)``).
        agents: the agents, by durable name (see the module's notes: keep names stable).
        worker_kwargs: passed to ``temporalio.worker.Worker`` (they override the defaults set
            here); ``max_payload_bytes`` (default 2 MiB, Temporal's limit) caps one activity result.

    The workflow sandbox passes ``agent_fsm`` through (re-importing it for every run would cost
    about 4x), and the sticky queue times out after :data:`STICKY_QUEUE_TIMEOUT` so that failover
    is quick.
    """
    activities = Activities(
        _checked(agents, "worker_for"),
        max_payload_bytes=worker_kwargs.pop("max_payload_bytes", DEFAULT_MAX_PAYLOAD_BYTES),
    )
    kwargs: dict[str, Any] = {
        "activities": [activities.model_call, activities.tool_call],
        "sticky_queue_schedule_to_start_timeout": STICKY_QUEUE_TIMEOUT,
        **_workflow_setup(agents, worker_kwargs),
    }
    return Worker(client, task_queue=task_queue, **kwargs)


def replayer_for(agents: Mapping[str, Agent], **replayer_kwargs: Any) -> Replayer:
    """A ``temporalio.worker.Replayer`` of :class:`AgentWorkflow` with these agents, set up as
    :func:`worker_for` sets up a worker: replaying a recorded history checks that the workflow
    code (and the hooks) still take the same steps."""
    return Replayer(**_workflow_setup(_checked(agents, "replayer_for"), replayer_kwargs))


def _checked(agents: Mapping[str, Agent], who: str) -> Mapping[str, Agent]:
    if not agents:
        raise ConfigurationError(f"{who} needs at least one agent")
    for name, agent in agents.items():
        if not isinstance(agent, Agent):
            raise ConfigurationError(f"agents[{name!r}] is a {type(agent).__name__}, not an Agent")
    return agents


def _workflow_setup(agents: Mapping[str, Agent], overrides: dict[str, Any]) -> dict[str, Any]:
    """The workflow, its sandbox (``agent_fsm`` passed through) and the agents' interceptor."""
    restrictions = SandboxRestrictions.default.with_passthrough_modules("agent_fsm")
    setup: dict[str, Any] = {
        "workflows": [AgentWorkflow],
        "workflow_runner": SandboxedWorkflowRunner(restrictions=restrictions),
        "interceptors": [_AgentsInterceptor(agents), *overrides.pop("interceptors", ())],
    }
    setup.update(overrides)
    return setup


async def start_run(
    client: Client,
    agent_name: str,
    prompt: str | UserMessage,
    history: Sequence[Message] | None = None,
    *,
    id: str,
    task_queue: str,
    activity_timeout: Seconds = None,
    heartbeat_timeout: Seconds = None,
    approval_timeout: Seconds = None,
    max_turns: int | None = None,
    continue_as_new_after: int | None = None,
) -> RunHandle:
    """Start one run as a workflow execution; returns its handle.

    Args:
        client, id, task_queue: where and as what to start it (``id`` is the workflow id).
        agent_name: the agent's durable name on the workers (see :func:`worker_for`).
        prompt, history: as for ``Agent.stream_prompt``.
        activity_timeout: how long one model or tool call may take (default 10 min).
        heartbeat_timeout: how soon a dead worker is noticed (default 10 s).
        approval_timeout: how long the run waits for approvals before it ends in
            ``AwaitingApproval`` (default: no limit).
        max_turns: the run's model-call budget (default: the agent's).
        continue_as_new_after: model calls per workflow execution (default 50).

    ``await handle.result()`` is a dict: ``state``, ``history`` (codec JSON), ``usage``, ``turns``,
    and ``response`` when the run is ``Done``, else ``error: {type, message}`` as the in-process
    ending (a run whose approval timed out adds ``snapshot`` and ``pending_approvals``).
    """
    prompt = user_message(prompt, "prompt")
    if continue_as_new_after is not None and (type(continue_as_new_after) is not int or continue_as_new_after < 1):
        raise ConfigurationError(f"continue_as_new_after must be an int >= 1, got {continue_as_new_after!r}")
    if max_turns is not None:
        check_limits(max_turns, 1)
    args = {
        "agent": agent_name,
        "prompt": codec.to_json_value(prompt),
        "history": codec.to_json_value(list(history or ())),
        "activity_timeout": _seconds(activity_timeout),
        "heartbeat_timeout": _seconds(heartbeat_timeout),
        "approval_timeout": _seconds(approval_timeout),
        "max_turns": max_turns,
        "continue_as_new_after": continue_as_new_after,
    }
    handle: RunHandle = await client.start_workflow(WORKFLOW_NAME, args, id=id, task_queue=task_queue, result_type=dict)
    return handle


async def send_approvals(handle: RunHandle, approvals: Mapping[str, Approval]) -> None:
    """Deliver decisions, ``{call_id: approve | deny(reason)}`` as for ``Agent.resume``.

    A run in ``AwaitingApproval`` waits for them durably; decisions that arrive before their call
    is deferred are kept until it is.
    """
    decisions: dict[str, dict[str, Any]] = {}
    for call_id, decision in approvals.items():
        if not isinstance(decision, Approval):
            raise ConfigurationError(f"approvals[{call_id!r}] is {decision!r}, not approve or deny(reason)")
        decisions[call_id] = {"approved": decision.approved, "reason": decision.reason}
    await handle.signal(APPROVALS_SIGNAL, decisions)


async def cancel_run(handle: RunHandle, mode: str = "immediate", reason: str | None = None) -> None:
    """Cancel a durable run, as ``AgentRun.cancel(mode, reason)`` does in-process.

    ``"immediate"`` cancels the workflow (the call in flight is cancelled, the run ends
    ``Cancelled``); ``"after_turn"`` lets the current turn finish first. Cancelling a run that has
    ended does nothing.

    Raises:
        ConfigurationError: for an unknown mode or a reason that is not a ``str``.
    """
    if mode not in ("immediate", "after_turn"):
        raise ConfigurationError(f"cancel mode must be 'immediate' or 'after_turn', got {mode!r}")
    if reason is not None and not isinstance(reason, str):
        raise ConfigurationError(f"cancel reason must be a str or None, got {type(reason).__name__}")
    await handle.signal(CANCEL_SIGNAL, {"mode": mode, "reason": reason})
    if mode == "immediate":
        await handle.cancel()


async def steer_run(handle: RunHandle, message: str | UserMessage) -> None:
    """Send a steering message to a durable run, as ``AgentRun.steer(message)`` does in-process.

    Raises:
        ConfigurationError: for a message that is neither a ``str`` nor a ``UserMessage``.
    """
    await handle.signal(STEER_SIGNAL, codec.to_json_value(user_message(message, "a steering message")))


async def run_state(handle: RunHandle) -> dict[str, Any]:
    """The run now: ``state``, ``pending_approvals`` (tool calls, codec JSON), ``history``, ``items``."""
    state: dict[str, Any] = await handle.query(STATE_QUERY, result_type=dict)
    return state


async def stream_run(handle: RunHandle, since: int = 0, *, poll_interval: float = 0.05) -> AsyncIterator[StreamItem]:
    """The run's items from position ``since`` (counted from 0 over the whole run), as they come.

    Each item is delivered once and in order, also across worker crashes and continue-as-new:
    the items are computed by deterministic workflow code, and the consumer keeps its position
    (a failed query is retried from there, never from 0). A model call's items arrive together,
    when its activity completes. The iterator ends quietly after the run's last item, whatever
    the ending (read it from ``handle.result()``), or when the workflow closes otherwise
    (failed, terminated, cancelled, timed out).
    """
    client: Client = handle._client  # the handle's own client; temporalio has no public accessor
    latest = client.get_workflow_handle(handle.id, result_type=dict)
    position = since
    closed = False  # the workflow closed without finishing: one last read, then stop
    while True:
        try:
            page = await _page(latest, position)
            while position < page["base"]:  # items of an earlier execution (continue-as-new)
                page = await _page(client.get_workflow_handle(handle.id, run_id=page["previous_run_id"]), position)
        except (RPCError, WorkflowQueryFailedError):
            if closed or await _closed_early(latest):
                return
            await asyncio.sleep(poll_interval)
            continue
        for data in page["items"]:
            yield codec.from_dict(data, StreamItem)
            position += 1
        if page["finished"] or closed:
            return
        if page["items"]:
            continue
        if not page["continued"]:
            closed = await _closed_early(latest)
        if not closed:
            await asyncio.sleep(poll_interval)


async def _page(handle: WorkflowHandle[Any, Any], since: int) -> dict[str, Any]:
    page: dict[str, Any] = await handle.query(ITEMS_QUERY, since, result_type=dict)
    return page


async def _closed_early(handle: WorkflowHandle[Any, Any]) -> bool:
    """Whether the run's workflow closed without finishing the run (failed, terminated, ...)."""
    try:
        status = (await handle.describe()).status
    except RPCError:
        return False
    return status not in (None, WorkflowExecutionStatus.RUNNING, WorkflowExecutionStatus.COMPLETED,
                          WorkflowExecutionStatus.CONTINUED_AS_NEW)  # fmt: skip


def _seconds(value: Seconds) -> float | None:
    if value is None:
        return None
    seconds = value.total_seconds() if isinstance(value, timedelta) else float(value)
    if seconds <= 0:
        raise ConfigurationError(f"a timeout must be positive, got {value!r}")
    return seconds


class _AgentsInterceptor(Interceptor):
    """Hands the worker's agents to each :class:`AgentWorkflow` it runs (no global registry)."""

    def __init__(self, agents: Mapping[str, Agent]) -> None:
        self._agents = dict(agents)

    def workflow_interceptor_class(
        self, input: WorkflowInterceptorClassInput
    ) -> type[WorkflowInboundInterceptor] | None:
        agents = self._agents

        class _Inbound(WorkflowInboundInterceptor):
            async def execute_workflow(self, input: ExecuteWorkflowInput) -> Any:
                instance = workflow.instance()
                if isinstance(instance, AgentWorkflow):
                    instance.agents = agents
                return await super().execute_workflow(input)

        return _Inbound
