"""Snapshots: a run as of its last completed step, as versioned JSON that another process can resume.

A snapshot is taken at a *checkpoint*: the start of a model call (``AwaitingCompletion``), or in
the tool stage after the last processed tool result, with the verdicts already given to the next
calls (approved, skipped, or deferred for approval). A model stream cannot be resumed halfway,
so a snapshot taken while a turn streams holds the start of that turn, and resuming requests it
again. Resuming repeats exactly what came after the checkpoint: for the same model events, hook
answers and tool outputs, the resumed run emits the same items, byte for byte, and ends with the
same history as the run that was not interrupted.

The JSON carries a schema ``version`` and the ``definition`` hash of the machine it was taken
with. A snapshot of another machine definition, or of a newer schema, is refused; an older schema
is migrated (see ``_MIGRATIONS``).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from typing import Any, Final, Literal

from attrs import frozen

from ..errors import SnapshotError
from ..events import ToolCallReady, event_problem
from ..history import history_problem
from ..hooks import ToolCallHookAction, Verdict
from ..messages import AssistantMessage, Message, Text, ToolResult, Usage, UserMessage, json_problem
from ..request import UsageLimits
from .table import State, definition_hash

__all__ = ["SNAPSHOT_VERSION", "Approval", "Snapshot", "ToolStageSnapshot", "approve", "deny"]

SNAPSHOT_VERSION: Final = 3
FORMAT: Final = "agent-fsm/snapshot"


@frozen
class Approval:
    """A decision on a deferred tool call: approved (it runs), or denied with a reason (the
    reason becomes its result, which the model sees)."""

    approved: bool
    reason: str = ""


approve: Final = Approval(True)
"""Let a deferred tool call run."""


def deny(reason: str) -> Approval:
    """Refuse a deferred tool call; ``reason`` becomes its result."""
    return Approval(False, reason)


@frozen
class ToolStageSnapshot:
    """The tool stage at a checkpoint: the turn's calls, the results already processed (for the
    first ``len(results)`` calls), and the verdicts already given to the calls after them."""

    calls: tuple[ToolCallReady, ...]
    results: tuple[ToolResult, ...]
    decisions: tuple[Verdict, ...]

    @property
    def pending_approvals(self) -> tuple[ToolCallReady, ...]:
        start = len(self.results)
        return tuple(self.calls[start + i] for i, d in enumerate(self.decisions) if d.kind == "defer")


@frozen
class Snapshot:
    """A resumable run. ``state`` is where the resumed run starts (``AwaitingCompletion``,
    ``ExecutingTool``, or ``Done`` for a completed run, which cannot be resumed); ``stopped_in``
    is the state the run was in when the snapshot was taken. ``steering`` are the messages given
    to ``steer()`` and not yet sent, ``limits`` the run's ``UsageLimits``, ``tool_calls_run`` the
    tool calls executed by the checkpoint, and ``cancel_after_turn`` the reason of a cancel asked
    for after the turn (the resumed run honours it)."""

    state: State
    stopped_in: State
    history: tuple[Message, ...]
    turns: int
    max_turns: int
    usage: Usage
    items_emitted: int
    tools: ToolStageSnapshot | None = None
    steering: tuple[UserMessage, ...] = ()
    limits: UsageLimits | None = None
    tool_calls_run: int = 0
    cancel_after_turn: str | None = None
    definition: str = definition_hash()
    version: int = SNAPSHOT_VERSION

    @property
    def pending_approvals(self) -> tuple[ToolCallReady, ...]:
        """The tool calls waiting for an approval, in call order."""
        return self.tools.pending_approvals if self.tools is not None else ()

    def to_dict(self) -> dict[str, Any]:
        """The snapshot as plain JSON data (what :meth:`from_dict` reads back)."""
        from ..codec import to_dict  # cattrs only when a snapshot is encoded: the core never loads it

        tools = None
        if self.tools is not None:
            tools = {
                "calls": to_dict(list(self.tools.calls)),
                "results": to_dict(list(self.tools.results)),
                "decisions": [{"kind": d.kind, "reason": d.reason} for d in self.tools.decisions],
            }
        return {
            "format": FORMAT,
            "version": self.version,
            "definition": self.definition,
            "state": self.state.value,
            "stopped_in": self.stopped_in.value,
            "history": to_dict(list(self.history)),
            "turns": self.turns,
            "max_turns": self.max_turns,
            "usage": to_dict(self.usage),
            "items_emitted": self.items_emitted,
            "tools": tools,
            "steering": to_dict(list(self.steering)),
            "limits": to_dict(self.limits) if self.limits is not None else None,
            "tool_calls_run": self.tool_calls_run,
            "cancel_after_turn": self.cancel_after_turn,
        }

    def to_json(self) -> str:
        """JSON text of the snapshot.

        Keys keep their order - fields in declaration order, and the model's own objects (tool
        arguments, raw payloads) as they came - so a resumed run hands tools exactly what the
        uninterrupted run would have, down to the order of their argument keys.
        """
        try:
            return json.dumps(self.to_dict(), ensure_ascii=False, separators=(",", ":"), allow_nan=False)
        except (ValueError, RecursionError) as exc:  # kept out where values come in: a last line
            raise SnapshotError(f"the snapshot cannot be written as JSON: {type(exc).__name__}: {exc}") from None

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Snapshot:
        """Read a snapshot, migrating an older schema.

        Raises:
            SnapshotError: for another format, a newer schema, another machine definition, or
                data that does not describe a snapshot.
        """
        from ..codec import CodecError, from_dict  # cattrs only when a snapshot is decoded

        if not isinstance(data, Mapping) or data.get("format") != FORMAT:
            raise SnapshotError(f"not an agent-fsm snapshot (expected format {FORMAT!r})")
        version = data.get("version")
        if not isinstance(version, int) or version < 1:
            raise SnapshotError(f"snapshot has no valid schema version: {version!r}")
        if version > SNAPSHOT_VERSION:
            raise SnapshotError(
                f"snapshot schema version {version} is newer than this agent-fsm understands "
                f"({SNAPSHOT_VERSION}); upgrade agent-fsm to resume it"
            )
        try:
            data = dict(data)
            while data["version"] < SNAPSHOT_VERSION:
                data = _MIGRATIONS[data["version"]](data)
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            raise SnapshotError(f"malformed snapshot of schema version {version}: {type(exc).__name__}: {exc}") from exc
        expected = definition_hash()
        if data.get("definition") != expected:
            raise SnapshotError(
                f"snapshot was taken with machine definition {data.get('definition')!r}, but this agent-fsm's "
                f"definition is {expected!r}: its states or edges differ, so the run cannot be resumed here"
            )
        try:
            tools = None
            if data.get("tools") is not None:
                t = data["tools"]
                tools = ToolStageSnapshot(
                    tuple(from_dict(t["calls"], list[ToolCallReady])),
                    tuple(from_dict(t["results"], list[ToolResult])),
                    tuple(_verdict(d) for d in t["decisions"]),
                )
            snapshot = cls(
                State(data["state"]),
                State(data["stopped_in"]),
                tuple(from_dict(data["history"], list[Message])),
                data["turns"],  # checked by validate(), never coerced (int(True) is 1)
                data["max_turns"],  # checked by validate(), never coerced (int(True) is 1)
                from_dict(data["usage"], Usage),
                data["items_emitted"],  # checked by validate(), never coerced (int(True) is 1)
                tools,
                steering=tuple(from_dict(data["steering"], list[UserMessage])),
                limits=UsageLimits(**data["limits"]) if data["limits"] is not None else None,
                tool_calls_run=data["tool_calls_run"],  # checked by validate()
                cancel_after_turn=data["cancel_after_turn"],
                definition=data["definition"],
                version=data["version"],
            )
        except (KeyError, TypeError, ValueError, AttributeError, IndexError, CodecError) as exc:
            raise SnapshotError(f"malformed snapshot: {type(exc).__name__}: {exc}") from exc
        except RecursionError as exc:
            raise SnapshotError("malformed snapshot: nested too deeply to read") from exc
        snapshot.validate()
        return snapshot

    @classmethod
    def from_json(cls, text: str | bytes) -> Snapshot:
        """Read a snapshot from JSON text (see :meth:`from_dict`)."""
        try:
            data = json.loads(text)
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise SnapshotError(f"snapshot is not valid JSON: {exc}") from exc
        except RecursionError as exc:
            raise SnapshotError("snapshot is not valid JSON: nested too deeply to read") from exc
        return cls.from_dict(data)

    def validate(self) -> None:
        """Check the snapshot against the invariants of a run, as input from outside must be.

        A tampered snapshot must never resume into a run that sends an invalid history to a
        model or outspends its budget: counts are non-negative and ``turns`` within
        ``max_turns``; the history is valid to send (every call answered once, no orphan
        result, every call with an id); a tool-stage snapshot's calls are those of the history's
        last message, with no more results and decisions than calls.

        Raises:
            SnapshotError: naming what is wrong.
        """

        def count(name: str, value: object, least: int = 0) -> None:
            if type(value) is not int or value < least:
                raise SnapshotError(f"malformed snapshot: {name} is {value!r}, not an integer >= {least}")

        count("turns", self.turns)
        count("max_turns", self.max_turns, 1)
        count("items_emitted", self.items_emitted)
        count("tool_calls_run", self.tool_calls_run)
        if self.limits is not None and not isinstance(self.limits, UsageLimits):
            raise SnapshotError("malformed snapshot: limits is not a UsageLimits")
        if self.cancel_after_turn is not None and not isinstance(self.cancel_after_turn, str):
            raise SnapshotError("malformed snapshot: cancel_after_turn is not a reason (str) or null")
        if not all(isinstance(m, UserMessage) for m in self.steering):
            raise SnapshotError("malformed snapshot: a steering message is not a user message")
        if not isinstance(self.usage, Usage):
            raise SnapshotError("malformed snapshot: usage is not a Usage")
        for field in ("input_tokens", "output_tokens", "total_tokens", "cached_input_tokens"):
            count(f"usage.{field}", getattr(self.usage, field))
        if self.turns > self.max_turns:
            raise SnapshotError(f"malformed snapshot: {self.turns} turns made of max_turns={self.max_turns}")
        if self.state not in _CHECKPOINT_STATES:
            raise SnapshotError(f"malformed snapshot: no checkpoint is taken in state {self.state.value}")
        history = list(self.history)
        for message in history:
            for c in message.tool_calls if isinstance(message, AssistantMessage) else ():
                problem = json_problem(c.function.arguments)
                if problem is not None:
                    raise SnapshotError(f"malformed snapshot: the arguments of call {c.id!r} are not JSON: {problem}")
        if (self.tools is not None) != (self.state is State.ExecutingTool):
            raise SnapshotError("malformed snapshot: a tool stage belongs to, and only to, state ExecutingTool")
        if self.tools is not None:
            history.append(_stage_results(self.tools, history))
        broken = history_problem(history)
        if broken is not None:
            raise SnapshotError(f"malformed snapshot: its history is not valid to send: {broken[0]}: {broken[1]}")


_CHECKPOINT_STATES: Final = (State.AwaitingCompletion, State.ExecutingTool, State.Done)


def _stage_results(stage: ToolStageSnapshot, history: list[Message]) -> UserMessage:
    """The results message the tool stage will add, for checking the history it completes:
    the stage's calls must be the last message's, each result in its call's place."""
    last = history[-1] if history else None
    called = [c.id for c in last.tool_calls] if isinstance(last, AssistantMessage) else []
    staged = [c.tool_call.id if isinstance(c, ToolCallReady) else None for c in stage.calls]
    for c in stage.calls:
        problem = event_problem(c)
        if problem is not None:
            raise SnapshotError(f"malformed snapshot: a tool-stage call is malformed: {problem}")
    if not staged or staged != called:
        raise SnapshotError(
            f"malformed snapshot: the tool stage's calls {staged} are not those of the history's last message {called}"
        )
    if len(stage.results) + len(stage.decisions) > len(stage.calls):
        raise SnapshotError(
            f"malformed snapshot: {len(stage.results)} results and {len(stage.decisions)} decisions "
            f"for {len(stage.calls)} calls"
        )
    for result, call_id in zip(stage.results, staged, strict=False):
        if not isinstance(result, ToolResult) or result.id != call_id:
            raise SnapshotError(f"malformed snapshot: a tool-stage result does not answer call {call_id!r}")
    parts = [*stage.results, *(ToolResult(i, (Text(""),)) for i in staged[len(stage.results) :])]
    return UserMessage(tuple(parts))


def _verdict(d: Mapping[str, Any]) -> Verdict:
    kind: Literal["continue", "skip", "defer"] = d["kind"]
    if kind not in ("continue", "skip", "defer"):
        raise ValueError(f"unknown decision {kind!r}")
    return ToolCallHookAction(kind, str(d.get("reason", "")))


def _v1_to_v2(data: dict[str, Any]) -> dict[str, Any]:
    """Schema 1 predates approvals: tool decisions were a list of ``approved`` flags (no
    deferrals), and it recorded neither ``stopped_in`` nor ``items_emitted``."""
    out = dict(data, version=2)
    out.setdefault("stopped_in", data.get("state"))
    out.setdefault("items_emitted", 0)
    tools = data.get("tools")
    if tools is not None:
        decisions = [{"kind": "continue" if ok else "skip", "reason": ""} for ok in tools.get("approved", [])]
        out["tools"] = {"calls": tools["calls"], "results": tools["results"], "decisions": decisions}
    return out


def _v2_to_v3(data: dict[str, Any]) -> dict[str, Any]:
    """Schema 2 predates run control: no steering, limits, tool-call count or after-turn cancel."""
    return dict(data, version=3, steering=[], limits=None, tool_calls_run=0, cancel_after_turn=None)


_MIGRATIONS: Final[dict[int, Callable[[dict[str, Any]], dict[str, Any]]]] = {1: _v1_to_v2, 2: _v2_to_v3}
"""version -> how to lift a snapshot of that version to the next."""
