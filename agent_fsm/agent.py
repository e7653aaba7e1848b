"""The front door: an :class:`Agent` holds configuration; ``stream_prompt`` starts a run.

An agent is configuration only - model, preamble, tools, limits, default hook - and can run any
number of prompts, concurrently too: every run gets its own machine and shares nothing mutable.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, Literal

from .errors import ConfigurationError, SnapshotError
from .hooks import live_hooks
from .machine import Approval, Snapshot, TurnMachine, check_limits
from .messages import Message, UserMessage
from .observe.genai import describe_model
from .observe.log import LoggingObserver
from .request import Model, UsageLimits
from .run.driver import AgentRun
from .run.effects import Effects
from .tools import DEFAULT_TOOL_TIMEOUT, Tool, ToolServer, ToolSet
from .tools.toolbox import Toolbox

if TYPE_CHECKING:
    from .observe import Observer

__all__ = ["DEFAULT_MAX_TURNS", "Agent"]


class _Unset:
    """The default of ``tool_timeout``, told apart from any value a user could pass."""


_UNSET = _Unset()

DEFAULT_MAX_TURNS = 10
"""Model calls a run may make unless the agent says otherwise: enough for a few rounds of tools."""


class Agent:
    """An LLM agent: a model, instructions, tools and limits.

    Args:
        model: anything with ``stream(request)`` (see :class:`~agent_fsm.request.Model`).
        preamble: the system prompt.
        tools: ``@tool`` functions (or plain functions, or ``(ToolDefinition, callable)`` pairs),
            or a :class:`~agent_fsm.tools.ToolServer` of your own, or a list mixing both (MCP
            servers, say: see :class:`~agent_fsm.tools.toolbox.Toolbox`). A name offered twice is a
            ``ConfigurationError`` naming both sources, raised here or when a run starts.
        max_turns: the exact number of model calls a run may make, at least 1 (default 10). A run
            whose last allowed call still asks for tools ends in ``MaxTurnsExceeded``.
        hook: the default hook of every run (``stream_prompt(hook=...)`` replaces it).
        name: the agent's name, for logs and traces.
        tool_concurrency: how many tool calls of one turn may run at once (default 1: one by
            one, each ``on_tool_call`` asked right before its call). Results are emitted and
            recorded in call order whatever the order they finish in.
        temperature, max_tokens, additional_params: passed on in every request.
        tool_timeout: seconds a tool call may take unless its ``@tool`` says otherwise (default
            60). Only for ``tools`` given as functions: a ``ToolServer`` of your own (a
            ``ToolSet`` included) carries its own timeouts, and giving both is an error.
        effects: how the driver calls the model and tools, reads the clock and makes ids (see
            :mod:`agent_fsm.run.effects`); the default does it directly.
        limits: what each run may spend (:class:`~agent_fsm.request.UsageLimits`: tokens, tool
            calls); a run over a limit ends ``UsageLimitExceeded``. ``stream_prompt(limits=...)``
            replaces it for one run.
        on_max_turns: ``"error"`` (default): a last allowed call that still asks for tools ends
            the run in ``MaxTurnsExceeded``; ``"final_answer"``: the last allowed call is made
            with ``tool_choice="none"`` so the model answers in text and the run ends ``Done``.
        observers: who observes each run (see :mod:`agent_fsm.observe`); by default one
            :class:`~agent_fsm.observe.log.LoggingObserver`. Add an :class:`~agent_fsm.observe.otel.OTelObserver`
            for spans; ``()`` observes nothing.
    """

    def __init__(
        self,
        model: Model,
        preamble: str | None = None,
        tools: ToolServer | Iterable[Tool | Any] = (),
        max_turns: int = DEFAULT_MAX_TURNS,
        hook: object | None = None,
        name: str | None = None,
        tool_concurrency: int = 1,
        *,
        temperature: float | None = None,
        max_tokens: int | None = None,
        additional_params: Mapping[str, Any] | None = None,
        tool_timeout: float | _Unset | None = _UNSET,
        effects: Effects | None = None,
        observers: Iterable[Observer] | None = None,
        limits: UsageLimits | None = None,
        on_max_turns: Literal["error", "final_answer"] = "error",
    ) -> None:
        if not callable(getattr(model, "stream", None)):
            raise ConfigurationError(f"model must have a stream(request) method; got {type(model).__name__}")
        check_limits(max_turns, tool_concurrency)
        if limits is not None and not isinstance(limits, UsageLimits):
            raise ConfigurationError(f"limits must be a UsageLimits or None, not {type(limits).__name__}")
        if on_max_turns not in ("error", "final_answer"):
            raise ConfigurationError(f"on_max_turns must be 'error' or 'final_answer', got {on_max_turns!r}")
        self.model = model
        self.preamble = preamble
        if isinstance(tools, ToolServer):
            if not isinstance(tool_timeout, _Unset):
                raise ConfigurationError(
                    "tool_timeout applies to tools given as functions; set the timeout on your ToolServer instead"
                )
            self.tools: ToolServer = tools
        else:
            timeout = DEFAULT_TOOL_TIMEOUT if isinstance(tool_timeout, _Unset) else tool_timeout
            items = list(tools)
            if any(isinstance(t, ToolServer) for t in items):
                self.tools = Toolbox(items, default_timeout=timeout)
            else:
                self.tools = ToolSet(items, default_timeout=timeout)
        self.max_turns = max_turns
        self.hook = hook
        self.name = name
        self.tool_concurrency = tool_concurrency
        self.temperature = temperature
        self.max_tokens = max_tokens
        self.additional_params = dict(additional_params) if additional_params is not None else None
        self.effects = effects
        self.observers = tuple(observers) if observers is not None else None
        self._default_observers = (LoggingObserver(),)  # for runs while ``observers`` is None
        self._described: tuple[Model, tuple[str, str | None]] | None = None  # the model, and what observers call it
        self.limits = limits
        self.on_max_turns = on_max_turns

    def stream_prompt(
        self,
        prompt: str | UserMessage,
        history: Sequence[Message] | None = None,
        hook: object | None = None,
        *,
        limits: UsageLimits | None = None,
    ) -> AgentRun:
        """Start a run (lazily: nothing happens until it is iterated).

        Args:
            prompt: a ``str`` (wrapped in a ``UserMessage``) or a ``UserMessage``.
            history: the conversation so far, before the prompt.
            hook: this run's hook, replacing the agent's.
            limits: this run's usage limits, replacing the agent's.

        Returns:
            The run: an async iterator of stream items, with ``state``, ``history`` and ``usage``.

        Raises:
            ConfigurationError: for a prompt or history that is not valid.
        """
        run_hook = hook if hook is not None else self.hook
        hooks = live_hooks(run_hook)
        config = self._machine_config(hooks.keys())
        machine = TurnMachine(
            prompt, history, max_turns=self.max_turns, limits=limits if limits is not None else self.limits, **config
        )
        return self._run(machine, hooks)

    def resume(
        self,
        snapshot: Snapshot | str | bytes | dict[str, Any],
        approvals: Mapping[str, Approval] | None = None,
        hook: object | None = None,
        *,
        max_turns: int | None = None,
        limits: UsageLimits | None = None,
    ) -> AgentRun:
        """Continue a run from its snapshot (lazily, like ``stream_prompt``).

        The resumed run repeats what came after the snapshot's checkpoint: a model call that was
        streaming is requested again; tool calls that were approved but whose results were not
        yet processed run again. Its items continue the original run's; its history and ending
        are those of the original run had it not been interrupted.

        Args:
            snapshot: a :class:`Snapshot`, or its JSON (text or parsed).
            approvals: ``{call_id: approve | deny(reason)}`` for calls awaiting approval; calls
                left out stay deferred.
            hook: this run's hook, replacing the agent's.
            max_turns: the run's budget; by default the one the snapshot recorded.
            limits: the run's usage limits; by default the ones the snapshot recorded. Pending
                steering messages and a cancel asked for after the turn carry over too.

        Raises:
            SnapshotError: for a snapshot of another machine definition, a newer schema, bad
                data, or a completed run.
            ConfigurationError: for an approval naming no deferred call.
        """
        if isinstance(snapshot, str | bytes):
            snapshot = Snapshot.from_json(snapshot)
        elif isinstance(snapshot, dict):
            snapshot = Snapshot.from_dict(snapshot)
        if not isinstance(snapshot, Snapshot):
            raise SnapshotError(f"not a snapshot: {type(snapshot).__name__}")
        run_hook = hook if hook is not None else self.hook
        hooks = live_hooks(run_hook)
        config = self._machine_config(hooks.keys())
        if limits is not None:
            config["limits"] = limits
        machine = TurnMachine.restore(snapshot, approvals=approvals, max_turns=max_turns, **config)
        return self._run(machine, hooks)

    def _machine_config(self, hooks: Iterable[str]) -> dict[str, Any]:
        definitions = tuple(self.tools.definitions())
        needs_approval = getattr(self.tools, "requires_approval", None)
        approval_tools = [d.name for d in definitions if needs_approval is not None and needs_approval(d.name)]
        return {
            "live_hooks": hooks,
            "tool_concurrency": self.tool_concurrency,
            "approval_tools": approval_tools,
            "preamble": self.preamble,
            "tools": definitions,
            "temperature": self.temperature,
            "max_tokens": self.max_tokens,
            "additional_params": self.additional_params,
            "on_max_turns": self.on_max_turns,
        }

    def _run(self, machine: TurnMachine, hooks: Mapping[str, Any]) -> AgentRun:
        observers = self.observers if self.observers is not None else self._default_observers
        if self._described is None or self._described[0] is not self.model:  # read once per model
            self._described = (self.model, describe_model(self.model))
        return AgentRun(machine, self.model, hooks, self.tools, agent_name=self.name, effects=self.effects,
                        observers=observers, described=self._described[1])  # fmt: skip
