"""Observability's seam: what a run reports about itself, and to whom.

An :class:`Observer` is configuration (``Agent(observers=[...])``); its ``start_run`` makes the
:class:`RunObserver` of one run, which holds that run's state (its spans, its logger) and nothing
shared. The driver reports through a :class:`~agent_fsm.run.telemetry.RunTelemetry`, which keeps the
bookkeeping (clock readings through ``effects.now()``, usage per call, the ``Final`` event, the
machine's state and turn) and hands the records below to the run's observers: the run starts,
its state changes, a model call starts and ends, a tool call runs, the run ends. Two observers
ship: :class:`~agent_fsm.observe.log.LoggingObserver` (structlog; the default) and
:class:`~agent_fsm.observe.otel.OTelObserver` (OpenTelemetry spans; ``agent-fsm[otel]``).

Nothing is bound across a yield
-------------------------------
The driver is an async generator: its code runs in the *consumer's* task and context, and
whatever it sets in a ``contextvars`` variable (structlog's bound context, OpenTelemetry's
current span) is still set in the consumer's code after a ``yield``, and in every task the
consumer starts from there. So observers never bind for the run's lifetime. They may bind only
inside the two context managers the telemetry enters around awaits that contain no ``yield``:

* :meth:`RunObserver.model_call_context` - around opening the model stream and awaiting its
  first event (where a provider sends its request, retries, and logs), so that the provider's own
  logs and spans carry the run's context;
* :meth:`RunObserver.tool_call` - around one tool call, inline or in its own task, so that the
  tool's logs and spans carry the run's and the call's context.

Everything else (the run, state changes, the ends of calls) is reported with plain method calls,
and observers emit those with explicitly bound loggers and explicitly parented spans.

Cost: the hot per-event loop makes no telemetry call; it checks one local flag to catch the first
event of each model call. Per model call and per tool call the cost is a few clock readings and
the observers' own work. An observer that raises is logged and ignored: observing a run never
changes how it goes.
"""

from __future__ import annotations

from contextlib import AbstractContextManager
from typing import TYPE_CHECKING, Protocol, runtime_checkable

from attrs import frozen

from ..errors import AgentFSMError, ToolServerError
from ..events import Final as FinalEvent
from ..machine.table import State
from ..messages import AssistantMessage, Message, ToolCall, Usage
from .genai import response_fields
from .redact import Redactor

if TYPE_CHECKING:
    from ..items import FinalResponse
    from ..request import CompletionRequest, ToolOutput

__all__ = [
    "BaseRunObserver",
    "ModelCall",
    "Observer",
    "RunEnd",
    "RunInfo",
    "RunObserver",
    "StateChange",
    "ToolCallRecord",
]


@frozen
class RunInfo:
    """What an observer learns when a run starts.

    ``messages`` are the given history and the prompt (for a resumed run: the snapshot's
    history); ``state`` is where the run starts (``ExecutingTool`` for some resumed runs).
    ``redact`` cleans error text of the run's secrets (see :mod:`agent_fsm.observe.redact`).
    """

    run_id: str
    agent_name: str | None
    provider_name: str
    model_name: str | None
    max_turns: int
    messages: tuple[Message, ...]
    state: State
    redact: Redactor


@frozen
class StateChange:
    """The run moved from ``source`` to ``dest`` by ``trigger`` (``guard`` in words)."""

    turn: int
    source: State
    dest: State
    trigger: str
    guard: str


class ModelCall:
    """One model call, filled in as it goes; read-only for observers."""

    __slots__ = ("ended", "error", "final", "first_chunk", "output", "request", "started", "state", "turn", "usage")

    def __init__(self, turn: int, request: CompletionRequest, started: float) -> None:
        self.turn = turn
        self.request = request
        self.started = started
        self.first_chunk: float | None = None
        self.ended: float | None = None
        self.final: FinalEvent | None = None
        """The call's ``Final`` event, if it sent one."""
        self.usage = Usage()
        self.error: AgentFSMError | None = None
        """Set when the run ended during this call (``CompletionError``, ``PromptCancelled``...)."""
        self.state = State.Streaming
        """The run's state once the call ended."""
        self.output: AssistantMessage | None = None
        """What the model said in this call (also partial, when the run ended mid-stream)."""

    @property
    def time_to_first_chunk(self) -> float | None:
        """Seconds from the request to the first model event."""
        return None if self.first_chunk is None else self.first_chunk - self.started

    @property
    def duration(self) -> float | None:
        return None if self.ended is None else self.ended - self.started

    @property
    def response_id(self) -> str | None:
        return response_fields(self.final)[0]

    @property
    def response_model(self) -> str | None:
        return response_fields(self.final)[1]


class ToolCallRecord:
    """One tool call, filled in as it runs; read-only for observers."""

    __slots__ = ("call", "ended", "error", "output", "server", "started", "turn")

    def __init__(self, call: ToolCall, turn: int, started: float, server: str | None = None) -> None:
        self.call = call
        self.turn = turn
        self.started = started
        self.server = server
        """The tool server serving the call (an MCP server's command or URL); ``None`` for a function."""
        self.ended: float | None = None
        self.output: ToolOutput | None = None
        """The output (``is_error`` for a tool that failed, timed out, or was unknown)."""
        self.error: BaseException | None = None
        """A ``ToolServerError`` (fails the run), or what interrupted the call (cancellation)."""

    @property
    def duration(self) -> float | None:
        return None if self.ended is None else self.ended - self.started

    def finish(self, output: ToolOutput | ToolServerError, now: float) -> None:
        self.ended = now
        if isinstance(output, BaseException):
            self.error = output
        else:
            self.output = output


@frozen
class RunEnd:
    """How the run ended: its state, its error (for any ending but ``Done``), totals."""

    state: State
    error: AgentFSMError | None
    usage: Usage
    turns: int
    result: FinalResponse | None
    duration: float


@runtime_checkable
class RunObserver(Protocol):
    """One run's observer. Subclass :class:`BaseRunObserver` to implement only some methods."""

    wants_state_changes: bool
    """Whether :meth:`state_changed` should be called (decided once, at run start)."""

    # Optional, read with a default of True: ``wants_calls``, decided once at run start. False
    # means: report model and tool calls only when they fail (``model_call_ended`` for a call the
    # run ended in with an error; ``tool_call`` entered and left at once, after the fact, for a
    # tool server's failure) and enter no context around calls. The logging observer sets it
    # when nothing listens at INFO, so a quiet log costs nothing per call. ``wants_run_end``, the
    # same way: False means ``run_ended`` is not called (the logging observer logs the end at INFO).

    def state_changed(self, change: StateChange) -> None: ...

    def model_call_started(self, call: ModelCall) -> None: ...

    def model_call_context(self, call: ModelCall) -> AbstractContextManager[object]:
        """Entered around opening the stream and awaiting its first event; never across a yield."""
        ...

    def model_call_ended(self, call: ModelCall) -> None: ...

    def tool_call(self, record: ToolCallRecord) -> AbstractContextManager[object]:
        """Entered around one tool call (in the task that runs it); ``record`` is complete on exit."""
        ...

    def run_ended(self, end: RunEnd) -> None: ...


@runtime_checkable
class Observer(Protocol):
    """Observes runs: makes one :class:`RunObserver` per run, in the context the run starts in."""

    def start_run(self, run: RunInfo) -> RunObserver | None:
        """The run's observer, or ``None`` when it has nothing to record for this run (decided
        once, at its start: the run then makes no call to it at all)."""
        ...


class BaseRunObserver:
    """A :class:`RunObserver` that does nothing: override what you need."""

    wants_state_changes = False
    wants_calls = True

    def state_changed(self, change: StateChange) -> None:
        return None

    def model_call_started(self, call: ModelCall) -> None:
        return None

    def model_call_context(self, call: ModelCall) -> AbstractContextManager[object]:
        return NULL_CONTEXT

    def model_call_ended(self, call: ModelCall) -> None:
        return None

    def tool_call(self, record: ToolCallRecord) -> AbstractContextManager[object]:
        return NULL_CONTEXT

    def run_ended(self, end: RunEnd) -> None:
        return None


class _Null:
    """A context manager that does nothing (cheaper than ``nullcontext()``: one shared instance)."""

    def __enter__(self) -> None:
        return None

    def __exit__(self, *exc: object) -> None:
        return None


NULL_CONTEXT = _Null()
