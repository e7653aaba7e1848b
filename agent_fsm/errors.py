"""Every way a run can end early, as one exception tree.

::

    AgentFSMError                  root: catch this to catch anything the library raises
    ├── PromptCancelled            a hook said Terminate, the consumer closed the run, or cancel() stopped it
    ├── MaxTurnsExceeded           the run used its ``max_turns`` model calls and still had tool results to send
    ├── UsageLimitExceeded         the run reached one of its ``UsageLimits`` (tokens, tool calls)
    ├── CompletionError            the model failed (HTTP error, dropped connection, bad stream, any exception)
    ├── HookError                  a hook raised; the hook's exception is ``__cause__``
    ├── IllegalTransition          an event the machine does not allow in its state (a caller or provider bug)
    ├── ToolServerError            a tool *server* failed as a whole (not one tool: those become error results)
    ├── ApprovalRequired           the run stopped until deferred tool calls are approved (resumable)
    ├── SnapshotError              a snapshot cannot be resumed (other machine definition, newer schema, bad data)
    ├── CodecError                 JSON that does not describe a value of the requested type (also a ``ValueError``)
    │   └── CassetteError          a cassette that cannot be read (also a ``ConfigurationError``)
    ├── TraceError                 a run's trace that is not a path through the machine (also a ``ValueError``)
    ├── GraphvizError              Graphviz's ``dot`` failed to render a diagram
    │   └── GraphvizNotFound       an image was asked for and ``dot`` is not installed
    └── ConfigurationError         bad arguments to the library itself (also a ``ValueError``)

The providers' errors (``agent_fsm.providers.errors``: HTTP status, connection, protocol) are
``CompletionError`` subclasses, drawn there.

Every run-ending exception carries ``.history``: the given history, the prompt, and every message
of the run up to the end, always valid to send back to a provider. Nothing is lost.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .messages import Message, ToolCall, Usage, UserMessage

__all__ = [
    "AgentFSMError",
    "ApprovalRequired",
    "CassetteError",
    "CodecError",
    "CompletionError",
    "ConfigurationError",
    "GraphvizError",
    "GraphvizNotFound",
    "HookError",
    "IllegalTransition",
    "MaxTurnsExceeded",
    "PromptCancelled",
    "SnapshotError",
    "ToolServerError",
    "TraceError",
    "UsageLimitExceeded",
]


class AgentFSMError(Exception):
    """Root of every exception agent-fsm raises."""

    history: tuple[Message, ...]

    def __init__(self, message: str, history: Sequence[Message] = ()) -> None:
        super().__init__(message)
        self.history = tuple(history)


class PromptCancelled(AgentFSMError):
    """Raised when a hook returned Terminate, the consumer closed the run, or ``cancel()`` stopped
    it; ``reason`` is the hook's (or the caller's) reason."""

    def __init__(self, reason: str, history: Sequence[Message] = ()) -> None:
        super().__init__(f"prompt cancelled: {reason}", history)
        self.reason = reason


class MaxTurnsExceeded(AgentFSMError):
    """Raised when the run made ``max_turns`` model calls and the last one asked for tools.

    ``prompt`` is the tool-results message the next call would have sent; ``history`` ends with it.
    """

    def __init__(self, max_turns: int, history: Sequence[Message], prompt: UserMessage) -> None:
        super().__init__(f"max turns exceeded: the run made {max_turns} model call(s)", history)
        self.max_turns = max_turns
        self.prompt = prompt


class UsageLimitExceeded(AgentFSMError):
    """Raised when the run reached one of its ``UsageLimits`` before spending more.

    ``limit`` is the field's name (``"input_tokens"``, ``"output_tokens"``, ``"total_tokens"``,
    ``"tool_calls"``), ``maximum`` its maximum and ``value`` the value observed (for
    ``tool_calls``: the calls run so far plus the batch that was refused). ``usage`` is the
    run's token usage. The turn that crossed the limit is in ``history``; calls it did not run
    have synthetic results there.
    """

    def __init__(self, limit: str, maximum: int, value: int, usage: Usage, history: Sequence[Message] = ()) -> None:
        super().__init__(f"usage limit exceeded: {limit} is {value}, its maximum is {maximum}", history)
        self.limit = limit
        self.maximum = maximum
        self.value = value
        self.usage = usage


class CompletionError(AgentFSMError):
    """Raised when a model call fails.

    ``status`` is the HTTP status when there was one; ``body`` an excerpt of the response body.
    ``retryable`` says whether the same request may succeed if sent again. A model raises it
    without history; the driver sets ``.history`` before it reaches the consumer.
    """

    retryable: bool = False

    def __init__(
        self,
        message: str,
        *,
        status: int | None = None,
        body: str | None = None,
        history: Sequence[Message] = (),
        retryable: bool | None = None,
    ) -> None:
        super().__init__(message, history)
        self.message = message
        self.status = status
        self.body = body
        if retryable is not None:
            self.retryable = retryable


class HookError(AgentFSMError):
    """Raised when a hook raised (or returned something that is not a verdict)."""

    def __init__(self, hook_name: str, history: Sequence[Message] = (), detail: str = "") -> None:
        super().__init__(f"hook {hook_name} failed" + (f": {detail}" if detail else ""), history)
        self.hook_name = hook_name


class IllegalTransition(AgentFSMError):
    """Raised when the machine is fed an event its table does not allow in the current state.

    ``state`` is the state's name, ``event`` a short description of what was fed.
    """

    def __init__(self, state: str, event: str, history: Sequence[Message] = (), detail: str = "") -> None:
        msg = f"illegal transition: {event} is not allowed in state {state}"
        super().__init__(msg + (f" ({detail})" if detail else ""), history)
        self.state = state
        self.event = event


class ToolServerError(AgentFSMError):
    """Raised by a tool server that cannot serve any call (for example a lost MCP connection).

    A single tool failing is not this: that becomes an error result the model sees.
    """


class ApprovalRequired(AgentFSMError):
    """Raised when the run stopped in ``AwaitingApproval``: some tool calls wait for a decision.

    ``pending`` are those calls; ``snapshot`` is what ``Agent.resume(snapshot, approvals={call.id:
    approve | deny(reason)})`` continues from (it can be stored as JSON and resumed in another
    process). ``history`` is sealed like every ending's: valid to send to a provider as is.
    """

    def __init__(self, pending: Sequence[ToolCall], snapshot: Any, history: Sequence[Message] = ()) -> None:
        # ``snapshot`` is an ``agent_fsm.machine.Snapshot``, typed ``Any`` because the vocabulary
        # never imports the machine (not even for types: that was an import cycle).
        ids = ", ".join(c.id for c in pending)
        super().__init__(f"approval required for tool call(s) {ids}", history)
        self.pending = tuple(pending)
        self.snapshot = snapshot


class SnapshotError(AgentFSMError, ValueError):
    """Raised when a snapshot cannot be resumed: taken with another machine definition, written
    by a newer schema, malformed, or of a run that has already completed."""


class ConfigurationError(AgentFSMError, ValueError):
    """Raised for invalid arguments to the library (for example ``max_turns=0``)."""


class CodecError(AgentFSMError, ValueError):
    """Raised when JSON does not describe a value of the requested type."""


class CassetteError(ConfigurationError, CodecError):
    """Raised when a cassette cannot be read: not a cassette, a newer version, a malformed line.

    A ``ConfigurationError`` where a cassette is configuration (``ReplayModel(path)``) and a
    ``CodecError`` where it is data (``load_cassette(text)``): one reader raises it for both.
    """


class TraceError(AgentFSMError, ValueError):
    """Raised for a trace that is malformed, not a path through the machine, or names an edge the
    machine does not have (the table changed since it was recorded)."""


class GraphvizError(AgentFSMError):
    """Raised when Graphviz's ``dot`` fails to render a diagram."""


class GraphvizNotFound(GraphvizError):
    """Raised when an image is asked for and Graphviz's ``dot`` is not installed."""
