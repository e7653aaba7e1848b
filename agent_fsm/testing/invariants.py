"""The invariants of DESIGN §4 as checks that name what broke.

``check_history_invariants`` asks whether a history is valid to send back to a provider.
``check_run`` asks whether a whole run kept its promises: one ending, nothing after it, nothing
streamed missing from the history, usage adding up, the turn budget kept. ``check_ending`` and
``check_trace`` hold the machine's own account (its state, error and path through the table) to
the same ending. Determinism needs two runs: see :func:`agent_fsm.testing.check_deterministic`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from ..errors import (
    AgentFSMError,
    ApprovalRequired,
    CompletionError,
    HookError,
    IllegalTransition,
    MaxTurnsExceeded,
    PromptCancelled,
    ToolServerError,
    UsageLimitExceeded,
)
from ..events import Final, Reasoning, ReasoningDelta, TextDelta, ToolCallDelta, ToolCallReady
from ..history import history_problem
from ..hooks import HOOK_NAMES
from ..items import FinalResponse, StreamAssistantItem, StreamItem, StreamUserItem
from ..machine.table import FINAL, Edge, State, walk
from ..messages import AssistantMessage, Message, Text, ToolResult, Usage, UserMessage

__all__ = [
    "check_ending",
    "check_history_invariants",
    "check_run",
    "check_steering",
    "check_trace",
    "check_turn_content",
]

SYNTHETIC_RESULT_PREFIX = "Tool call not executed: "
CANCELLED_RESULT_PREFIX = "Tool call cancelled while running: "
"""How the machine's synthetic results (for calls a run never executed) begin."""

_ENDINGS: dict[State, tuple[type[BaseException], ...]] = {
    State.Cancelled: (PromptCancelled,),
    State.MaxTurnsExceeded: (MaxTurnsExceeded,),
    State.Failed: (CompletionError, HookError, IllegalTransition, ToolServerError),
    State.AwaitingApproval: (ApprovalRequired,),
    State.UsageLimitExceeded: (UsageLimitExceeded,),
}


def fail(invariant: str, detail: str) -> AssertionError:
    """The error every check raises: it names the invariant, then what was found."""
    return AssertionError(f"invariant broken: {invariant}: {detail}")


_fail = fail


def check_history_invariants(history: Sequence[Message]) -> None:
    """Check that ``history`` is valid to send back to a provider (see
    :func:`agent_fsm.history.history_problem` for the rules).

    Raises:
        AssertionError: naming the broken invariant and where.
    """
    problem = history_problem(history)
    if problem is not None:
        raise _fail(*problem)


def _run_messages(history: Sequence[Message], initial: int) -> Sequence[Message]:
    return history[initial:]


def check_run(
    items: Sequence[StreamItem],
    history: Sequence[Message],
    outcome: State | BaseException | None,
    *,
    initial: int = 0,
    max_turns: int | None = None,
    model_calls: int | None = None,
) -> None:
    """Check every invariant of a run that has ended.

    Args:
        items: everything the run yielded, in order.
        history: the run's final history (``run.history``).
        outcome: the exception the run raised, or ``None`` (or ``State.Done``) if it completed; a
            terminal ``State`` is accepted too.
        initial: how many messages of ``history`` were given before the prompt.
        max_turns: the run's budget, to check that it made at most that many model calls.
        model_calls: how many model calls it made (``ScriptedModel.calls``).

    Raises:
        AssertionError: naming the broken invariant.
    """
    check_history_invariants(history)
    done = outcome is None or outcome is State.Done
    finals = [i for i, item in enumerate(items) if isinstance(item, FinalResponse)]
    # exactly one ending, nothing after it
    if done:
        if len(finals) != 1:
            raise _fail("one FinalResponse per completed run", f"{len(finals)} were emitted")
        if finals[0] != len(items) - 1:
            raise _fail(
                "nothing emitted after the ending", f"{len(items) - 1 - finals[0]} item(s) follow FinalResponse"
            )
        final = items[-1]
        assert isinstance(final, FinalResponse)
        if tuple(final.history) != tuple(history):
            raise _fail("FinalResponse.history is the run's history", "they differ")
        last = history[-1]
        if not isinstance(last, AssistantMessage) or last.tool_calls:
            raise _fail("a completed run ends with the assistant's answer", f"it ends with {type(last).__name__}")
        if final.response != last.text:
            raise _fail("FinalResponse.response is this turn's text", f"{final.response!r} != {last.text!r}")
        emitted_usage = sum(
            (i.content.usage for i in items if isinstance(i, StreamAssistantItem) and isinstance(i.content, Final)),
            Usage(),
        )
        if final.usage != emitted_usage:
            raise _fail("usage total = sum of per-turn usage", f"{final.usage} != {emitted_usage}")
    else:
        if finals:
            raise _fail("no FinalResponse after an early ending", f"{len(finals)} emitted")
        if isinstance(outcome, AgentFSMError) and tuple(outcome.history) != tuple(history):
            raise _fail("the ending error carries the history", f"{type(outcome).__name__}.history differs")
        if isinstance(outcome, MaxTurnsExceeded):
            if not history or outcome.prompt != history[-1]:
                raise _fail("MaxTurnsExceeded.prompt ends the history", "it does not")
            if not all(isinstance(p, ToolResult) for p in outcome.prompt.content):
                raise _fail("MaxTurnsExceeded.prompt is the tool-results message", f"{outcome.prompt!r}")
        if isinstance(outcome, UsageLimitExceeded) and outcome.usage != _usage_of(items):
            raise _fail("UsageLimitExceeded.usage is the run's usage", f"{outcome.usage} != {_usage_of(items)}")
        if isinstance(outcome, HookError) and (outcome.hook_name not in HOOK_NAMES or outcome.__cause__ is None):
            raise _fail("HookError names the hook and chains what it raised", f"{outcome!r}")
    if max_turns is not None and model_calls is not None:
        if model_calls > max_turns:
            raise _fail("model calls <= max_turns", f"{model_calls} > {max_turns}")
        if isinstance(outcome, MaxTurnsExceeded) and model_calls != max_turns:
            raise _fail("MaxTurnsExceeded only after max_turns calls", f"{model_calls} of {max_turns} were made")
    run = _run_messages(history, initial)
    assistants = [m for m in run if isinstance(m, AssistantMessage)]
    if max_turns is not None and len(assistants) > max_turns:
        raise _fail("model calls <= max_turns", f"{len(assistants)} assistant messages > {max_turns}")
    _check_results_in_call_order(run)
    _check_nothing_missing(items, run)


def _usage_of(items: Sequence[StreamItem]) -> Usage:
    finals = (i.content.usage for i in items if isinstance(i, StreamAssistantItem) and isinstance(i.content, Final))
    return sum(finals, Usage())


def check_steering(given: Sequence[UserMessage], pending: Sequence[UserMessage], history: Sequence[Message]) -> None:
    """Every steering message given to a run is in its history exactly once, where it was
    delivered, or else still pending and in no history. Steering messages must be unique (one
    ``Text`` part each, of a text that occurs nowhere else).

    Raises:
        AssertionError: naming the broken invariant.
    """
    parts = [p for m in history if isinstance(m, UserMessage) for p in m.content]
    for message in given:
        (part,) = message.content
        found = parts.count(part)
        waiting = message in pending
        if found != (0 if waiting else 1):
            where = "pending" if waiting else "delivered"
            raise _fail("every delivered steering message is in history once", f"{part!r} ({where}) found {found}x")


def _check_results_in_call_order(run: Sequence[Message]) -> None:
    """Each turn's results are one user message, in the order of the calls."""
    for i, message in enumerate(run[:-1]):
        if isinstance(message, AssistantMessage) and message.tool_calls:
            after = run[i + 1]
            got = [p.id for p in after.content if isinstance(p, ToolResult)]
            want = [c.id for c in message.tool_calls]
            if got != want:
                raise _fail("results in one message, in call order", f"calls {want}, results {got}")


def _check_nothing_missing(items: Sequence[StreamItem], run: Sequence[Message]) -> None:
    """Everything streamed is in the history, in the order it streamed."""
    streamed_text = "".join(
        i.content.text for i in items if isinstance(i, StreamAssistantItem) and isinstance(i.content, TextDelta)
    )
    history_text = "".join(
        p.text for m in run if isinstance(m, AssistantMessage) for p in m.content if isinstance(p, Text)
    )
    if streamed_text != history_text:
        raise _fail("nothing streamed is missing", f"streamed text {streamed_text!r} != history text {history_text!r}")
    streamed_calls = [
        i.content.tool_call
        for i in items
        if isinstance(i, StreamAssistantItem) and isinstance(i.content, ToolCallReady)
    ]
    history_calls = [c for m in run if isinstance(m, AssistantMessage) for c in m.tool_calls]
    if streamed_calls != history_calls:
        raise _fail(
            "every streamed tool call is in history", f"{len(streamed_calls)} streamed, {len(history_calls)} in history"
        )
    blocks = [i.content for i in items if isinstance(i, StreamAssistantItem) and isinstance(i.content, Reasoning)]
    history_blocks = [p for m in run if isinstance(m, AssistantMessage) for p in m.content if isinstance(p, Reasoning)]
    if any(b not in history_blocks for b in blocks):
        raise _fail("every reasoning block is in history", "one is missing")
    # A streamed reasoning block is kept under its id (whole, or as the complete block that
    # replaced it); id-less deltas may be replaced by a complete block of any id.
    delta_ids = {
        i.content.id for i in items if isinstance(i, StreamAssistantItem) and isinstance(i.content, ReasoningDelta)
    }
    kept_ids = {b.id for b in history_blocks}
    lost = sorted(str(i) for i in delta_ids if i is not None and i not in kept_ids)
    if lost or (None in delta_ids and not history_blocks):
        raise _fail("streamed reasoning is in history", f"reasoning deltas of ids {lost or ['None']} are not")
    emitted: list[Any] = [i.tool_result for i in items if isinstance(i, StreamUserItem)]
    for result in emitted:
        if result.text.startswith((SYNTHETIC_RESULT_PREFIX, CANCELLED_RESULT_PREFIX)):
            raise _fail("synthetic results are never emitted", f"result {result.id!r} was")
    recorded = [p for m in run if isinstance(m, UserMessage) for p in m.content if isinstance(p, ToolResult)]
    it = iter(recorded)
    if not all(any(r == e for r in it) for e in emitted):
        raise _fail("emitted tool results are in history, in order", "one is missing or out of order")


def check_ending(
    state: State,
    outcome: BaseException | None,
    error: AgentFSMError | None,
    *,
    closed_by_consumer: bool = False,
) -> None:
    """Exactly one terminal outcome: the state, the error the run holds and what its consumer got
    agree on one ending.

    Args:
        state: the run's state after it ended.
        outcome: what the iteration raised (``None`` when it completed, or when the consumer
            closed it).
        error: the run's ``error``.
        closed_by_consumer: the consumer closed or cancelled the run itself.

    Raises:
        AssertionError: naming the broken invariant.
    """
    if state not in FINAL:
        raise fail("a finished run is in a final state", f"it is in {state.value}")
    if state is State.Done:
        if error is not None or outcome is not None:
            raise fail("a Done run has no error", f"it has {error!r} / raised {outcome!r}")
        return
    allowed = _ENDINGS[state]
    if not isinstance(error, allowed):
        raise fail("the error matches the state", f"{state.value} with {type(error).__name__}")
    if outcome is not error and not (closed_by_consumer and outcome is None):
        raise fail("the consumer gets the run's error", f"it got {outcome!r}, the run holds {error!r}")


def check_trace(trace: Sequence[tuple[Edge, int]], state: State) -> None:
    """The machine's path is a walk through the table from ``AwaitingCompletion`` that enters a
    terminal state exactly once, as its last step, and that state is ``state``.

    Raises:
        AssertionError: naming the broken invariant.
    """
    ends = [i for i, (edge, _) in enumerate(trace) if edge.dest in FINAL]
    try:
        here = walk(trace[: ends[0] + 1] if ends else trace, State.AwaitingCompletion)
    except ValueError as exc:
        raise fail("the trace is a walk", str(exc)) from None
    if ends and ends[0] != len(trace) - 1:
        raise fail(
            "exactly one terminal outcome",
            f"the run reached {here.value if here else None} at step {ends[0]} and went on",
        )
    assert here is not None  # a walk from a given start ends somewhere
    if here is not state:
        raise fail("the trace ends in the run's state", f"trace ends in {here.value}, run is {state.value}")


def check_turn_content(items: Sequence[StreamItem], history: Sequence[Message], *, initial: int = 0) -> None:
    """Each turn's assistant message holds exactly what streamed, by the rules of DESIGN §4.

    Adjacent text deltas join into one ``Text``; each reasoning block is kept whole, in arrival
    order; a complete ``Reasoning`` replaces the deltas that streamed it (those with its id, or
    else id-less ones) in their place; deltas no complete block follows become one ``Reasoning``
    per id where the first of them arrived; tool calls keep their order. Turns are told apart by
    the tool results between them; empty ``Text`` parts are left out of the comparison. Use it
    for runs whose consumer saw every item (not closed early) and that delivered no steering
    message (one can end a text turn with no item before the next turn: the turns run together).

    Raises:
        AssertionError: naming the first part that differs.
    """
    expected: list[Any] = []
    turn: list[Any] = []
    for item in items:
        if isinstance(item, StreamAssistantItem):
            turn.append(item.content)
        elif turn:
            expected.extend(_turn_parts(turn))
            turn = []
    expected.extend(_turn_parts(turn))
    kept = [p for m in history[initial:] if isinstance(m, AssistantMessage) for p in m.content if p != Text("")]
    expected = [p for p in expected if p != Text("")]
    if kept != expected:
        at = next(
            (i for i, (a, b) in enumerate(zip(kept, expected, strict=False)) if a != b), min(len(kept), len(expected))
        )
        got = kept[at] if at < len(kept) else None
        want = expected[at] if at < len(expected) else None
        raise _fail("each turn keeps what streamed, by the rules", f"part {at}: history has {got!r}, expected {want!r}")


def _turn_parts(events: Sequence[Any]) -> list[Any]:
    parts: list[Any] = []  # Text pieces as lists, reasoning slots as dicts, or final parts
    open_slots: dict[str | None, dict[str, Any]] = {}
    text: list[str] | None = None
    for e in events:
        if isinstance(e, TextDelta):
            if text is None:
                text = []
                parts.append(text)
            text.append(e.text)
            continue
        text = None
        if isinstance(e, ReasoningDelta):
            slot = open_slots.get(e.id)
            if slot is None:
                slot = open_slots[e.id] = {"id": e.id, "pieces": [], "block": None}
                parts.append(slot)
            slot["pieces"].append(e.reasoning)
        elif isinstance(e, Reasoning):
            slot = open_slots.pop(e.id, None) if e.id is not None else None
            slot = slot if slot is not None else open_slots.pop(None, None)
            if slot is None:
                parts.append(e)
            else:
                slot["block"] = e
        elif isinstance(e, ToolCallReady):
            parts.append(e.tool_call)
        elif not isinstance(e, ToolCallDelta | Final):
            raise _fail("only model events stream", f"{e!r}")
    out: list[Any] = []
    for p in parts:
        if isinstance(p, list):
            out.append(Text("".join(p)))
        elif isinstance(p, dict):
            out.append(p["block"] or Reasoning(("".join(p["pieces"]),), id=p["id"]))
        else:
            out.append(p)
    return out
