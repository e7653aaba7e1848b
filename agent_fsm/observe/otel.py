"""OpenTelemetry spans for runs, following the GenAI semantic conventions (``agent-fsm[otel]``).

Importing this module needs ``opentelemetry-api`` (``pip install 'agent-fsm[otel]'``); nothing
else in agent-fsm imports OpenTelemetry. The observer records, per run::

    invoke_agent {agent}          INTERNAL  parent: the span current where the run starts iterating
    ├── chat {model}              CLIENT    one per model call
    ├── execute_tool {tool}       INTERNAL  one per tool call that runs (not skipped or deferred)
    └── chat {model} ...

with ``gen_ai.operation.name``, ``gen_ai.agent.name``, ``gen_ai.provider.name``,
``gen_ai.request.model`` (and ``temperature`` / ``max_tokens`` when set), ``gen_ai.response.id``
and ``gen_ai.response.model`` (from ``Final.raw``, see :func:`agent_fsm.observe.genai.response_fields`),
``gen_ai.usage.input_tokens`` / ``output_tokens`` (per call on ``chat``, run totals on
``invoke_agent``), ``gen_ai.response.time_to_first_chunk`` (seconds), ``gen_ai.tool.name``,
``gen_ai.tool.call.id`` and ``gen_ai.tool.type``; plus ``agent_fsm.run.id``,
``agent_fsm.run.state``, ``agent_fsm.turn`` and, for a call served by a tool server (an MCP
server), ``agent_fsm.tool.server`` (its command or URL).

Endings: ``Failed`` and ``MaxTurnsExceeded`` set the ``invoke_agent`` status to ERROR with
``error.type``; a failed model call does the same on its ``chat`` span, a tool error result or a
failing tool server on its ``execute_tool`` span. The exception is recorded as an ``exception``
event whose message and stack trace are redacted (:mod:`agent_fsm.observe.redact`) - the SDK's own
``record_exception`` would copy them verbatim. ``Cancelled`` is not an error (a consumer that
stops reading, a hook that terminates): the span keeps an unset status and gets an
``agent_fsm.cancelled`` event with the reason; ``AwaitingApproval`` gets an
``agent_fsm.awaiting_approval`` event. State changes are ``agent_fsm.state_change`` events on
``invoke_agent``.

The ``chat`` span is current only while the stream opens and its first event is awaited (where a
provider sends its request, so an HTTP client's spans nest under it); ``execute_tool`` is current
inside the tool call, in the task that runs it. ``invoke_agent`` is never made current: it is the
explicit parent of the others. Nothing is attached across a ``yield`` (see
:mod:`agent_fsm.observe`), so no span of a run is ever current in the code consuming it.

Span timestamps come from OpenTelemetry's clock; durations in logs come from ``effects.now()``.

Nothing recording costs nothing per call: a run whose ``invoke_agent`` span does not record (no
SDK is configured, so the API's no-op tracer answers; or the SDK's sampler dropped the run) makes
no ``chat`` or ``execute_tool`` span and sets no span current - the observer leaves the run at its
start (see ``start_run``). The run's calls are then children of a trace nobody samples, and an
HTTP client instrumented inside the provider propagates the caller's span instead: the same trace
and the same not-sampled flag.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager, nullcontext
from typing import Any

try:
    from opentelemetry import trace
    from opentelemetry.trace import Span, SpanKind, Status, StatusCode
except ModuleNotFoundError as exc:  # pragma: no cover - exercised only without the extra
    raise ModuleNotFoundError(
        "agent_fsm.otel needs OpenTelemetry: pip install 'agent-fsm[otel]'", name=exc.name
    ) from exc

from .._version import __version__
from ..errors import CompletionError
from ..machine.table import State
from . import ModelCall, RunEnd, RunInfo, StateChange, ToolCallRecord
from . import genai as G
from .redact import Redactor

__all__ = ["OTelObserver"]

_RUN_ID = "agent_fsm.run.id"
_RUN_STATE = "agent_fsm.run.state"
_TURN = "agent_fsm.turn"
_TOOL_SERVER = "agent_fsm.tool.server"
"""The tool server that served an ``execute_tool`` span's call (an MCP server's command or URL)."""


class OTelObserver:
    """Records each run as OpenTelemetry spans (see the module docstring for the tree).

    Args:
        tracer_provider: where spans go; by default OpenTelemetry's global provider (which the
            application configures; the library never does).
        capture_content: also record ``gen_ai.input.messages``, ``gen_ai.output.messages``,
            ``gen_ai.system_instructions``, ``gen_ai.tool.call.arguments`` and
            ``gen_ai.tool.call.result`` (JSON strings). Off by default, as the GenAI conventions
            recommend: prompts, completions and tool data are the user's.
        state_events: add an ``agent_fsm.state_change`` event to ``invoke_agent`` per state change.
    """

    def __init__(
        self, tracer_provider: Any = None, *, capture_content: bool = False, state_events: bool = True
    ) -> None:
        self._tracer = trace.get_tracer("agent_fsm", __version__, tracer_provider=tracer_provider)
        self.capture_content = capture_content
        self.state_events = state_events

    def start_run(self, run: RunInfo) -> _RunSpans | None:
        """The run's spans; ``None`` - nothing to do for the rest of the run - when its
        ``invoke_agent`` span records nothing (no SDK configured, or the sampler dropped it)."""
        spans = _RunSpans(self._tracer, run, self.capture_content, self.state_events)
        if spans.recording:
            return spans
        spans.run_ended(None)  # (ends a span that records nothing: nothing is exported)
        return None


class _RunSpans:
    """One run's spans: ``invoke_agent``, the open ``chat``; ``execute_tool`` spans live in ``tool_call``."""

    def __init__(self, tracer: trace.Tracer, run: RunInfo, capture: bool, state_events: bool) -> None:
        self._tracer = tracer
        self._run = run
        self._capture = capture
        self.wants_state_changes = state_events
        self._common: dict[str, Any] = {G.PROVIDER: run.provider_name}
        if run.agent_name is not None:
            self._common[G.AGENT_NAME] = run.agent_name
        if run.model_name is not None:
            self._common[G.REQUEST_MODEL] = run.model_name
        attributes: dict[str, Any] = {G.OPERATION: G.INVOKE_AGENT, _RUN_ID: run.run_id, **self._common}
        attributes["agent_fsm.max_turns"] = run.max_turns
        if capture:
            attributes[G.INPUT_MESSAGES] = G.messages_json(run.messages)
        name = G.INVOKE_AGENT if run.agent_name is None else f"{G.INVOKE_AGENT} {run.agent_name}"
        # Parent: whatever is current where the run starts iterating (the consumer's span, or a
        # tool's span when an agent runs inside another agent's tool).
        self._span = tracer.start_span(name, kind=SpanKind.INTERNAL, attributes=attributes)
        self.recording = self._span.is_recording()
        """Whether the run's span records anything: read once, at the start of the run."""
        self._parent = trace.set_span_in_context(self._span)
        self._chat: Span | None = None

    # ------------------------------------------------------------------ state

    def state_changed(self, change: StateChange) -> None:
        attributes: dict[str, Any] = {"agent_fsm.from_state": change.source.value, _RUN_STATE: change.dest.value}
        attributes.update({"agent_fsm.trigger": change.trigger, "agent_fsm.guard": change.guard, _TURN: change.turn})
        self._span.add_event("agent_fsm.state_change", attributes)

    # ------------------------------------------------------------------ model calls

    def model_call_started(self, call: ModelCall) -> None:
        request = call.request
        attributes: dict[str, Any] = {G.OPERATION: G.CHAT, **self._common, _TURN: call.turn}
        if request.temperature is not None:
            attributes[G.REQUEST_TEMPERATURE] = request.temperature
        if request.max_tokens is not None:
            attributes[G.REQUEST_MAX_TOKENS] = request.max_tokens
        if self._capture:
            attributes[G.INPUT_MESSAGES] = G.messages_json(request.messages)
            if request.preamble is not None:
                attributes[G.SYSTEM_INSTRUCTIONS] = _json(G.text_parts(request.preamble))
        name = G.CHAT if self._run.model_name is None else f"{G.CHAT} {self._run.model_name}"
        self._chat = self._tracer.start_span(name, context=self._parent, kind=SpanKind.CLIENT, attributes=attributes)

    def model_call_context(self, call: ModelCall) -> AbstractContextManager[object]:
        if self._chat is None:  # pragma: no cover - the telemetry starts a call before entering it
            return nullcontext()
        return trace.use_span(self._chat, end_on_exit=False, record_exception=False, set_status_on_exception=False)

    def model_call_ended(self, call: ModelCall) -> None:
        span, self._chat = self._chat, None
        if span is None:  # pragma: no cover - started and ended in pairs by the telemetry
            return
        rid, rmodel = call.response_id, call.response_model
        if rid is not None:
            span.set_attribute(G.RESPONSE_ID, rid)
        if rmodel is not None:
            span.set_attribute(G.RESPONSE_MODEL, rmodel)
        if call.final is not None:
            span.set_attribute(G.USAGE_INPUT, call.usage.input_tokens)
            span.set_attribute(G.USAGE_OUTPUT, call.usage.output_tokens)
            if call.usage.cached_input_tokens:
                span.set_attribute(G.USAGE_CACHE_READ, call.usage.cached_input_tokens)
        if call.time_to_first_chunk is not None:
            span.set_attribute(G.TIME_TO_FIRST_CHUNK, call.time_to_first_chunk)
        if self._capture and call.output is not None:
            finish = "tool_calls" if call.state is State.ExecutingTool else "stop"
            span.set_attribute(G.OUTPUT_MESSAGES, G.messages_json([call.output], finish))
        error = call.error
        if isinstance(error, CompletionError):
            _fail(span, error, self._run.redact)
        elif call.state is State.Cancelled and error is not None:
            _cancelled(span, str(error), self._run.redact)
        span.end()

    # ------------------------------------------------------------------ tool calls

    @contextmanager
    def tool_call(self, record: ToolCallRecord) -> Iterator[None]:
        call = record.call
        attributes: dict[str, Any] = {
            G.OPERATION: G.EXECUTE_TOOL,
            G.TOOL_NAME: call.function.name,
            G.TOOL_CALL_ID: call.id,
            G.TOOL_TYPE: "function",
            _TURN: record.turn,
        }
        if record.server is not None:
            attributes[_TOOL_SERVER] = record.server
        if self._capture:
            attributes[G.TOOL_ARGUMENTS] = _json(call.function.arguments)
        name = f"{G.EXECUTE_TOOL} {call.function.name}"
        span = self._tracer.start_span(name, context=self._parent, kind=SpanKind.INTERNAL, attributes=attributes)
        try:
            with trace.use_span(span, end_on_exit=False, record_exception=False, set_status_on_exception=False):
                yield
        finally:
            self._tool_ended(span, record)
            span.end()

    def _tool_ended(self, span: Span, record: ToolCallRecord) -> None:
        error, output = record.error, record.output
        if isinstance(error, asyncio.CancelledError):
            _cancelled(span, "the tool call was cancelled", self._run.redact)
        elif error is not None:
            _fail(span, error, self._run.redact)
        elif output is not None:
            if self._capture:
                span.set_attribute(G.TOOL_RESULT, G.result_text(output.content))
            if output.is_error:
                span.set_attribute(G.ERROR_TYPE, "tool_error")
                span.set_status(Status(StatusCode.ERROR, "the tool returned an error result"))

    # ------------------------------------------------------------------ the end

    def run_ended(self, end: RunEnd | None) -> None:
        span = self._span
        if end is None:
            span.end()
            return
        span.set_attribute(_RUN_STATE, end.state.value)
        span.set_attribute("agent_fsm.turns", end.turns)
        span.set_attribute(G.USAGE_INPUT, end.usage.input_tokens)
        span.set_attribute(G.USAGE_OUTPUT, end.usage.output_tokens)
        if self._capture and end.result is not None:
            output = end.result.history[-1:]
            span.set_attribute(G.OUTPUT_MESSAGES, G.messages_json(output, "stop"))
        error = end.error
        if end.state is State.Failed and error is not None:
            _fail(span, error, self._run.redact)
        elif end.state is State.MaxTurnsExceeded and error is not None:
            span.set_attribute(G.ERROR_TYPE, type(error).__name__)
            span.set_status(Status(StatusCode.ERROR, self._run.redact(str(error))))
        elif end.state is State.Cancelled and error is not None:
            _cancelled(span, str(getattr(error, "reason", error)), self._run.redact)
        elif end.state is State.AwaitingApproval and error is not None:
            pending = [c.id for c in getattr(error, "pending", ())]
            span.add_event("agent_fsm.awaiting_approval", {"agent_fsm.pending_call_ids": pending})
        span.end()


def _fail(span: Span, error: BaseException, redact: Redactor) -> None:
    """ERROR status, ``error.type`` and an ``exception`` event, all redacted."""
    span.set_attribute(G.ERROR_TYPE, type(error).__name__)
    status = getattr(error, "status", None)
    if isinstance(status, int):
        span.set_attribute("http.response.status_code", status)
    message = redact(str(error))
    span.add_event(
        "exception",
        {
            "exception.type": f"{type(error).__module__}.{type(error).__qualname__}",
            "exception.message": message,
            "exception.stacktrace": redact.traceback(error),
        },
    )
    span.set_status(Status(StatusCode.ERROR, message))


def _cancelled(span: Span, reason: str, redact: Redactor) -> None:
    span.set_attribute("agent_fsm.cancelled", True)
    span.add_event("agent_fsm.cancelled", {"agent_fsm.cancel.reason": redact(reason)})


def _json(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False, default=str)
