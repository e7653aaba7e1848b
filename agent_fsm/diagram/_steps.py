"""A finished run cut into the steps a report steps through: one per entry of its trace.

A report shows *when* a run took each edge and what it emitted there, but a run keeps only its
path (``run.trace``: edges with counts of consecutive repeats), its items and its history. The
machine's table says the rest, exactly: every step of an emitting edge emitted one item
(:func:`agent_fsm.machine.emits`), and every step of an appending edge added one message to the
history (:func:`agent_fsm.machine.appends`), the ending's sealing adding whatever else the final
history holds. So the items of each step, and the history as of each step, are read off the
trace in order, with nothing recorded on the side and nothing guessed.

Step 0 is the start (the given history and the prompt, in ``AwaitingCompletion``); step ``k`` is
the ``k``-th entry of the trace. The last step shows the ending and the sealed history.
"""

from __future__ import annotations

from attrs import frozen

from ..errors import AgentFSMError, ApprovalRequired
from ..items import StreamItem
from ..machine import appends, emits
from ..machine.table import TERMINAL, Edge, State
from ..messages import Message
from ..run.driver import AgentRun
from ._picture import START, Picture

__all__ = ["RunLog", "Step", "arrow_of", "record_run", "steps", "unsealed_length"]


@frozen
class RunLog:
    """A finished run, as a report shows it.

    Args:
        start: the given history and the prompt, which every history of the run begins with.
        items: what the run emitted, in order (a consumer that closed early saw fewer).
        trace: ``run.trace``.
        history: the run's final, sealed history.
        state: where it ended.
        error: the typed error it ended with (``None`` for ``Done``).
        title: the report's title.
    """

    start: tuple[Message, ...]
    items: tuple[StreamItem, ...]
    trace: tuple[tuple[Edge, int], ...]
    history: tuple[Message, ...]
    state: State
    error: BaseException | None = None
    title: str = "agent-fsm run"

    @property
    def failed(self) -> bool:
        """Whether the run ended in an error (``ApprovalRequired`` is a pause, not a failure)."""
        return self.error is not None and not isinstance(self.error, ApprovalRequired)


@frozen
class Step:
    """What the run did at one step, and where it stood after it."""

    index: int
    edge: Edge | None
    """The edge taken (``None`` at the start)."""
    count: int
    """How many times in a row (a run of text deltas is one step)."""
    state: State
    """The state after the step."""
    items: tuple[StreamItem, ...]
    history: int
    """How many messages of the final history existed after the step."""

    @property
    def sealed(self) -> bool:
        """Whether this is the ending's step, after which the history is sealed."""
        return self.state in TERMINAL or self.state is State.AwaitingApproval


def steps(log: RunLog) -> tuple[Step, ...]:
    """The run's steps: the start, then one per trace entry (see the module doc)."""
    state = log.trace[0][0].source if log.trace else START
    out = [Step(0, None, 0, state, (), len(log.start))]
    sealed = unsealed_length(log)
    items, history = 0, len(log.start)
    for i, (edge, count) in enumerate(log.trace, start=1):
        taken = count if emits(edge) else 0
        emitted = log.items[items : items + taken]
        items += taken
        history += count if appends(edge) else 0
        state = edge.dest or edge.source
        out.append(Step(i, edge, count, state, tuple(emitted), min(history, sealed)))
    if out[-1].sealed or log.error is not None:  # the ending sealed the history: all of it shows
        out[-1] = Step(out[-1].index, out[-1].edge, out[-1].count, state, out[-1].items, len(log.history))
    return tuple(out)


def unsealed_length(log: RunLog) -> int:
    """How long the history was before the ending sealed it: the messages after that are the
    sealing's (the interrupted turn's partial message, synthetic results)."""
    appended = sum(count for edge, count in log.trace if appends(edge))
    return min(len(log.start) + appended, len(log.history))


def arrow_of(picture: Picture) -> dict[int, int]:
    """Each edge's arrow in ``picture``, by edge index and arrow position."""
    return {edge: n for n, arrow in enumerate(picture.arrows) for line in arrow.lines for edge in line.edges}


async def record_run(run: AgentRun, *, title: str = "agent-fsm run") -> RunLog:
    """Consume a run to its end and keep what a report needs.

    Args:
        run: a run that has not been iterated yet (``agent.stream_prompt(...)``).
        title: the report's title.

    Returns:
        The run's :class:`RunLog`; the run's ending error, if any, is in ``error``, not raised.
    """
    start: tuple[Message, ...] = run.history
    items: list[StreamItem] = []
    error: BaseException | None = None
    try:
        async for item in run:
            items.append(item)
    except AgentFSMError as exc:
        error = exc
    return RunLog(
        start,
        tuple(items),
        run.trace,
        run.history,
        run.state,
        error,
        title,
    )
