"""The observer that logs every run (the default; the library's logger is :mod:`~.logger`).

:class:`LoggingObserver` (the default observer, see :mod:`agent_fsm.observe`) logs a run as
structured events - ``run started``, ``state change``, ``model call started`` / ``finished`` /
``failed``, ``tool call started`` / ``finished`` / ``failed`` / ``cancelled``, ``run ended`` -
each carrying ``run_id``, ``agent``, ``turn``, ``state`` and the ``gen_ai.*`` fields that apply.
Around a model call's request and around each tool call it also binds ``run_id``, ``agent``,
``turn`` (and the tool's name, call id and server) with ``structlog.contextvars``, so that a provider's or
a tool's own log events carry them too, when the application merges context variables (the CLI
does). That binding never outlives the awaited call, so it never reaches the code consuming the
run or the tasks that code starts.

Decided once per run: when the logger does not listen at INFO (where finished calls are logged),
nothing is bound and the telemetry builds no call records (``wants_calls``); only failed calls are
reported, and logged at WARNING. A quiet log then costs nothing per call.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

from structlog.contextvars import bind_contextvars, reset_contextvars

from ..errors import CompletionError
from . import genai as G
from .logger import enabled, get_logger, listening

if TYPE_CHECKING:
    from . import ModelCall, RunEnd, RunInfo, StateChange, ToolCallRecord

TOOL_SERVER = "tool_server"
"""The field naming the tool server (an MCP server's command or URL) on a tool call's events."""

__all__ = ["LoggingObserver"]


class LoggingObserver:
    """Logs every run as structured events (the default observer of an ``Agent``).

    Levels: the run's start, state changes and the starts of calls at DEBUG; finished calls and
    the run's end at INFO, however it ended (an ending the caller receives as an exception, such
    as ``Failed`` or ``MaxTurnsExceeded``, is not a warning); failed model calls and failed tool
    servers at WARNING. Error text is redacted (:mod:`agent_fsm.observe.redact`).

    Args:
        capture_content: also log the prompt, each model call's input and output messages, tool
            arguments and tool results, and the final response. Off by default, as the GenAI
            semantic conventions recommend: they are the user's data.
    """

    def __init__(self, *, capture_content: bool = False) -> None:
        self.capture_content = capture_content

    def start_run(self, run: RunInfo) -> _RunLog:
        return _RunLog(run, self.capture_content)


class _RunLog:
    """One run's logging: a logger bound to the run, and the run's fixed fields."""

    def __init__(self, run: RunInfo, capture: bool) -> None:
        self._run = run
        self._capture = capture
        debug = listening(logging.DEBUG)
        if debug is None:  # the application's structlog decides: ask its logger
            self._bound: Any = get_logger(run_id=run.run_id, agent=run.agent_name)
            self._debug = enabled(self._bound, logging.DEBUG)
            self._info = enabled(self._bound, logging.INFO)
        else:  # the stdlib logger decides: the run's logger is made when it first logs (if ever)
            self._bound = None
            self._debug, self._info = debug, bool(listening(logging.INFO))
        self.wants_state_changes = self._debug
        # Nothing listens at INFO: hear of failed calls only (WARNING), bind no context per call.
        self.wants_calls = self._info
        self.wants_run_end = self._info  # the end is logged at INFO: unheard, it is not even recorded
        if self._debug:
            fields = {G.OPERATION: G.INVOKE_AGENT, G.AGENT_NAME: run.agent_name, **self._model_fields}
            if capture:
                fields[G.INPUT_MESSAGES] = G.to_messages(run.messages[-1:])
            self._log.debug("run started", turn=0, state=run.state.value, max_turns=run.max_turns, **fields)

    @property
    def _model_fields(self) -> dict[str, Any]:
        """The provider and the requested model, as every model event names them."""
        fields: dict[str, Any] = {G.PROVIDER: self._run.provider_name}
        if self._run.model_name is not None:
            fields[G.REQUEST_MODEL] = self._run.model_name
        return fields

    @property
    def _log(self) -> Any:
        """The run's logger (bound to its id and agent)."""
        if self._bound is None:
            self._bound = get_logger(run_id=self._run.run_id, agent=self._run.agent_name)
        return self._bound

    # ------------------------------------------------------------------ state

    def state_changed(self, change: StateChange) -> None:
        self._log.debug(
            "state change",
            turn=change.turn,
            state=change.dest.value,
            from_state=change.source.value,
            trigger=change.trigger,
            guard=change.guard,
        )

    # ------------------------------------------------------------------ model calls

    def model_call_started(self, call: ModelCall) -> None:
        if not self._debug:
            return
        fields: dict[str, Any] = {G.OPERATION: G.CHAT, **self._model_fields}
        if self._capture:
            fields[G.INPUT_MESSAGES] = G.to_messages(call.request.messages)
            fields[G.SYSTEM_INSTRUCTIONS] = G.text_parts(call.request.preamble)
        self._log.debug("model call started", turn=call.turn, state="Streaming", **fields)

    def model_call_context(self, call: ModelCall) -> _Bound:
        return _Bound({"run_id": self._run.run_id, "agent": self._run.agent_name, "turn": call.turn})

    def model_call_ended(self, call: ModelCall) -> None:
        failed = isinstance(call.error, CompletionError)
        if not (failed or self._info):
            return
        fields: dict[str, Any] = {G.OPERATION: G.CHAT, **self._model_fields}
        rid, rmodel = call.response_id, call.response_model
        if rid is not None:
            fields[G.RESPONSE_ID] = rid
        if rmodel is not None:
            fields[G.RESPONSE_MODEL] = rmodel
        if call.final is not None:
            fields[G.USAGE_INPUT] = call.usage.input_tokens
            fields[G.USAGE_OUTPUT] = call.usage.output_tokens
        if call.time_to_first_chunk is not None:
            fields[G.TIME_TO_FIRST_CHUNK] = call.time_to_first_chunk
        if call.error is not None:
            fields.update(self._error_fields(call.error))
        if self._capture and call.output is not None:
            fields[G.OUTPUT_MESSAGES] = G.to_messages([call.output])
        emit = self._log.warning if failed else self._log.info
        event = "model call failed" if failed else "model call finished"
        emit(event, turn=call.turn, state=call.state.value, duration_s=call.duration, **fields)

    # ------------------------------------------------------------------ tool calls

    @contextmanager
    def tool_call(self, record: ToolCallRecord) -> Iterator[None]:
        run, call = self._run, record.call
        tool = {G.TOOL_NAME: call.function.name, G.TOOL_CALL_ID: call.id}
        if record.server is not None:
            tool[TOOL_SERVER] = record.server
        with _Bound({"run_id": run.run_id, "agent": run.agent_name, "turn": record.turn, **tool}):
            if self._debug:
                self._log.debug("tool call started", turn=record.turn, state="ExecutingTool", **tool)
            try:
                yield
            finally:
                self._tool_ended(record, tool)

    def _tool_ended(self, record: ToolCallRecord, tool: dict[str, str]) -> None:
        fields: dict[str, Any] = {G.OPERATION: G.EXECUTE_TOOL, **tool}
        base = {"turn": record.turn, "state": "ExecutingTool", "duration_s": record.duration}
        error = record.error
        if isinstance(error, asyncio.CancelledError):
            self._log.info("tool call cancelled", **base, **fields)
        elif error is not None:
            self._log.warning("tool call failed", **base, **fields, **self._error_fields(error))
        elif self._info and record.output is not None:
            if self._capture:
                fields[G.TOOL_ARGUMENTS] = record.call.function.arguments
                fields[G.TOOL_RESULT] = G.result_text(record.output.content)
            self._log.info("tool call finished", **base, is_error=record.output.is_error, **fields)

    # ------------------------------------------------------------------ the end

    def run_ended(self, end: RunEnd) -> None:
        if not self._info:
            return
        fields: dict[str, Any] = {
            G.OPERATION: G.INVOKE_AGENT,
            G.USAGE_INPUT: end.usage.input_tokens,
            G.USAGE_OUTPUT: end.usage.output_tokens,
        }
        if end.error is not None:
            fields.update(self._error_fields(end.error))
        if self._capture and end.result is not None:
            fields["response"] = end.result.response
        self._log.info("run ended", turn=end.turns, state=end.state.value, duration_s=end.duration, **fields)

    def _error_fields(self, error: BaseException) -> dict[str, Any]:
        fields: dict[str, Any] = {G.ERROR_TYPE: type(error).__name__, "error": self._run.redact.error(error)}
        status = getattr(error, "status", None)
        if isinstance(status, int):
            fields["http.response.status_code"] = status
        return fields


class _Bound:
    """``structlog.contextvars.bound_contextvars`` at a third of its cost (it runs on every call)."""

    __slots__ = ("_tokens", "_values")

    def __init__(self, values: dict[str, Any]) -> None:
        self._values = values
        self._tokens: Any = None

    def __enter__(self) -> None:
        self._tokens = bind_contextvars(**self._values)

    def __exit__(self, *exc_info: object) -> None:
        reset_contextvars(**self._tokens)
