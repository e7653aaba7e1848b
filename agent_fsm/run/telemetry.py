"""The driver's side of the observer seam: one :class:`RunTelemetry` per run.

The driver tells it what happens - a model call starts, sees its first event, ends; a tool call
runs; a step was taken; the run ends - and it turns that into the records of
:mod:`agent_fsm.observe`, reading the machine (state, turns, usage, history, error) and the
effects' clock, and hands them to every observer of the run, guarding the run against observers
that raise.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager
from typing import TYPE_CHECKING, Any, Literal

from ..events import Final as FinalEvent
from ..messages import AssistantMessage, Message, ToolCall, Usage
from ..observe import NULL_CONTEXT, ModelCall, Observer, RunEnd, RunInfo, RunObserver, StateChange, ToolCallRecord
from ..observe.genai import describe_model
from ..observe.logger import get_logger
from ..observe.redact import Redactor

if TYPE_CHECKING:
    from ..errors import ToolServerError
    from ..items import FinalResponse
    from ..machine import TurnMachine
    from ..machine.protocol import ToolOutput
    from ..request import CompletionRequest

__all__ = ["RunTelemetry"]


class RunTelemetry:
    """What the driver reports to: one per run, made when the run starts iterating.

    ``described`` is the model's ``(provider, model name)`` (:func:`~agent_fsm.observe.genai.describe_model`)
    when the caller already has it: an :class:`~agent_fsm.Agent` reads it once per model.

    It reads the machine (state, turns, usage, history, error) and the clock, and hands records
    to the observers. A driver of one's own (see :mod:`agent_fsm.machine`) can use it the same
    way: for each model call, when ``watch_model_calls``, ``model_call_started`` (entering the
    context it gives around the awaits that open the stream), setting ``first_chunk`` and
    ``final`` as they come, ``model_call_ended``; ``tool_call`` around each tool call, ``steps``
    after each step, ``run_ended`` once.
    """

    def __init__(
        self,
        observers: Sequence[Observer],
        machine: TurnMachine,
        model: object,
        *,
        run_id: str,
        agent_name: str | None,
        now: Callable[[], float],
        redact: Redactor | None = None,
        described: tuple[str, str | None] | None = None,
    ) -> None:
        self._m = machine
        self._now = now
        self._started = now()
        self.redact = redact if redact is not None else Redactor(model)
        sinks: list[RunObserver] = []
        if observers:  # (nobody to tell: no record of the run is made)
            provider, model_name = described if described is not None else describe_model(model)
            info = RunInfo(
                run_id, agent_name, provider, model_name, machine.max_turns, machine.history, machine.state, self.redact
            )
        for observer in observers:
            try:
                sink = observer.start_run(info)
            except Exception as exc:
                self._observer_failed(observer, "start_run", exc)
            else:
                if sink is not None:  # None: it has nothing to record for this run
                    sinks.append(sink)
        self._sinks = tuple(sinks)
        # Decided once per run: who hears every model and tool call (and has its context entered
        # around them), and who hears only of the calls that failed. Nobody listening costs
        # nothing per call: no context is bound, no record built unless a call fails.
        steps: list[RunObserver] = []
        calls: list[RunObserver] = []
        failures: list[RunObserver] = []
        for sink in sinks:
            if getattr(sink, "wants_state_changes", False):
                steps.append(sink)
            (calls if getattr(sink, "wants_calls", True) else failures).append(sink)
        self._step_sinks, self._call_sinks, self._failure_sinks = tuple(steps), tuple(calls), tuple(failures)
        self._end_sinks = tuple(sink for sink in sinks if getattr(sink, "wants_run_end", True))
        self.watch_steps = bool(self._step_sinks)
        """Whether :meth:`steps` has anyone to tell (the driver skips the call otherwise)."""
        self.watch_tool_calls = bool(self._call_sinks)
        """Whether :meth:`tool_call` has anyone to tell; otherwise the driver reports only a
        failed tool call, with :meth:`tool_failed`."""
        self.watch_model_calls = bool(self._call_sinks)
        """Whether someone hears of every model call: the driver then calls
        :meth:`model_call_started` and :meth:`model_call_ended` around each one."""
        self.watch_failed_model_calls = bool(self._failure_sinks) and not self._call_sinks
        """Whether only the model call that ends a run is listened for. The driver then makes no
        call per model call: it sets ``call_started`` and ``usage_before``, then ``first_chunk`` and
        ``final`` as they come,
        clears ``call_started`` when a call ends with the run going on, and calls
        :meth:`model_call_ended` only when the run ended in the call (which :meth:`run_ended`
        also does for a call still open): the record is built then, from the machine."""
        self.call_started: float | None = None
        """When the open model call started (``now()``), while only failures are listened for."""
        self.usage_before = machine.usage
        """The run's usage when the current model call started."""
        self._mark = 0
        self.first_chunk: float | None = None
        """When the current model call's first event came (``now()``): the driver sets it."""
        self.final: FinalEvent | None = None
        """The current model call's ``Final`` event, once it came: the driver sets it (the
        observers read the response id and model from its ``raw``)."""
        self._call: ModelCall | None = None
        self._ended = False

    # ------------------------------------------------------------------ steps

    def steps(self) -> None:
        """Report the state changes since the last call (internal edges change no state)."""
        steps, self._mark = self._m.steps_since(self._mark)
        for edge, _count in steps:
            if edge.dest is not None:
                change = StateChange(self._m.turns, edge.source, edge.dest, edge.trigger, edge.guard)
                self._notify(self._step_sinks, "state_changed", change)

    # ------------------------------------------------------------------ model calls

    def model_call_started(self, request: CompletionRequest) -> AbstractContextManager[object]:
        """A model call starts: gives its context (log context, current span), to enter around
        the awaits that open its stream only, never across a yield."""
        m = self._m
        self.first_chunk = self.final = None
        if not self._call_sinks:  # only failures are listened for: a record only if this one fails
            self.call_started = self._now() if self._failure_sinks else None
            self.usage_before = m.usage
            return NULL_CONTEXT
        self.usage_before = m.usage
        call = self._call = ModelCall(m.turns, request, self._now())
        self._notify(self._call_sinks, "model_call_started", call)
        return _Contexts(self, self._call_sinks, "model_call_context", call)

    def model_call_ended(self) -> None:
        call, self._call = self._call, None
        m = self._m
        if call is not None:
            before = self.usage_before
        else:
            started, self.call_started = self.call_started, None
            if started is None or m.error is None or m.request is None:
                return  # nobody listens, or only for failures and no call ended the run
            call = ModelCall(m.turns, m.request, started)  # the machine's current call: its turn, its request
            before = self.usage_before
        call.first_chunk, call.final = self.first_chunk, self.final
        call.ended = self._now()
        call.usage = _minus(m.usage, before)
        call.state = m.state
        call.error = m.error
        call.output = _first_assistant(m.history[len(call.request.history) + 1 :])  # (its history, then its prompt)
        self._notify(self._call_sinks, "model_call_ended", call)
        if call.error is not None:
            self._notify(self._failure_sinks, "model_call_ended", call)

    # ------------------------------------------------------------------ tool calls

    @contextmanager
    def tool_call(
        self, call: ToolCall, server: str | None = None
    ) -> Iterator[Callable[[ToolOutput | ToolServerError], None]]:
        """Around one tool call (served by ``server``): yields ``finish(output)``, to call with what it gave."""
        record = ToolCallRecord(call, self._m.turns, self._now(), server)

        def finish(output: ToolOutput | ToolServerError) -> None:
            record.finish(output, self._now())

        if not self._call_sinks:
            yield finish
            return
        try:
            with _Contexts(self, self._call_sinks, "tool_call", record):
                try:
                    yield finish
                except BaseException as exc:  # cancelled or failed: the observers see why on exit
                    record.ended, record.error = self._now(), exc
                    raise
        finally:
            record.ended = record.ended if record.ended is not None else self._now()

    def tool_failed(self, call: ToolCall, error: ToolServerError, server: str | None = None) -> None:
        """Report a failed tool call to the observers that hear only of failures (when nobody
        watches every call, the driver calls this instead of :meth:`tool_call`): each one's
        ``tool_call`` context is entered and left at once, with the complete record."""
        if self._failure_sinks:
            now = self._now()
            record = ToolCallRecord(call, self._m.turns, now, server)
            record.finish(error, now)
            with _Contexts(self, self._failure_sinks, "tool_call", record):
                pass

    # ------------------------------------------------------------------ the end

    def run_ended(self, result: FinalResponse | None) -> None:
        """Report the end (once): a model call still open ends first, then the run."""
        if self._ended:
            return
        self._ended = True
        if self.watch_steps:
            self.steps()
        self.model_call_ended()
        if self._end_sinks:  # (nobody wants the end: no record of it is made)
            m = self._m
            end = RunEnd(m.state, m.error, m.usage, m.turns, result, self._now() - self._started)
            self._notify(self._end_sinks, "run_ended", end)

    # ------------------------------------------------------------------ fan-out

    def _notify(self, sinks: Sequence[RunObserver], method: str, record: object) -> None:
        for sink in sinks:
            try:
                getattr(sink, method)(record)
            except Exception as exc:
                self._observer_failed(sink, method, exc)

    def _observer_failed(self, observer: object, method: str, exc: BaseException) -> None:
        """Log an observer's failure; when logging is what fails, give up quietly."""
        try:
            trace = self.redact.traceback(exc)
            get_logger().warning("observer raised", observer=type(observer).__name__, method=method, exception=trace)
        except Exception:
            return


class _Contexts:
    """Every observer's context manager for one call, entered and exited in nested order.

    An observer's failure to enter or exit is logged, never raised; an observer cannot swallow
    the exception of the body either. (A small class, not an ``ExitStack``: this runs on every
    model and tool call.)
    """

    __slots__ = ("_entered", "_method", "_record", "_sinks", "_telemetry")

    def __init__(self, telemetry: RunTelemetry, sinks: Sequence[RunObserver], method: str, record: object) -> None:
        self._telemetry, self._sinks, self._method, self._record = telemetry, sinks, method, record
        self._entered: list[tuple[RunObserver, AbstractContextManager[object]]] = []

    def __enter__(self) -> None:
        for sink in self._sinks:
            try:
                cm = getattr(sink, self._method)(self._record)
                cm.__enter__()
            except Exception as exc:
                self._telemetry._observer_failed(sink, self._method, exc)
            else:
                self._entered.append((sink, cm))

    def __exit__(self, *exc_info: Any) -> Literal[False]:
        entered, self._entered = self._entered, []
        for sink, cm in reversed(entered):
            try:
                cm.__exit__(*exc_info)
            except Exception as exc:
                if exc is not exc_info[1]:
                    self._telemetry._observer_failed(sink, self._method, exc)
        return False


def _minus(total: Usage, before: Usage) -> Usage:
    return Usage(
        total.input_tokens - before.input_tokens,
        total.output_tokens - before.output_tokens,
        total.total_tokens - before.total_tokens,
        total.cached_input_tokens - before.cached_input_tokens,
    )


def _first_assistant(messages: Sequence[Message]) -> AssistantMessage | None:
    """The assistant message a model call added (the messages added since it started)."""
    return next((m for m in messages if isinstance(m, AssistantMessage)), None)
