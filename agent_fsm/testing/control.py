"""Run control in a fuzz case: what the consumer does to the run while it iterates it.

A :class:`ControlStep` happens once the consumer has seen ``after`` items: it steers the run
(``steer``), cancels it now (``cancel``) or after the turn (``cancel_after_turn``), or - async
driver only - has a *second task* cancel it now (``cancel_task``): the consumer wakes that task,
which cancels the run wherever the driver waits next (a hook, a tool, the model stream). The
controller is the :class:`~agent_fsm.run.driver.AgentRun` on the async driver and the
:class:`~agent_fsm.machine.TurnMachine` on the sync driver: both have ``cancel(mode, reason)``
and ``steer(message)``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any, Final

from attrs import frozen

from ..messages import Text, UserMessage

__all__ = ["CONTROL_KINDS", "ControlStep", "apply_controls", "steering_message"]

CONTROL_KINDS: Final = ("steer", "cancel", "cancel_after_turn", "cancel_task")


@frozen
class ControlStep:
    """After ``after`` items, do ``kind`` (one of :data:`CONTROL_KINDS`); ``n`` numbers the step."""

    after: int
    kind: str
    n: int = 0

    def to_json_value(self) -> list[Any]:
        return [self.after, self.kind, self.n]

    @classmethod
    def from_json_value(cls, value: Any) -> ControlStep:
        after, kind, n = value
        if kind not in CONTROL_KINDS or type(after) is not int or type(n) is not int:
            raise ValueError(f"not a control step: {value!r}")
        return cls(after, kind, n)


def steering_message(n: int) -> UserMessage:
    """The steering message of step ``n``: unique, so the history shows where it went."""
    return UserMessage((Text(f"steering #{n}"),))


def apply_controls(
    steps: Iterable[ControlStep],
    seen: int,
    controller: Any,
    *,
    steered: list[UserMessage],
    in_task: Callable[[str], None] | None = None,
) -> bool:
    """Do every step due after ``seen`` items, in order, on ``controller``.

    ``steered`` collects the steering messages given; ``in_task`` (async driver) hands a
    ``cancel_task`` step's reason to the second task, else it is a plain ``cancel``.

    Returns:
        Whether a step cancelled the run now (or asked the second task to).
    """
    cancelled = False
    for step in steps:
        if step.after != seen:
            continue
        reason = f"control step {step.n}"
        if step.kind == "steer":
            message = steering_message(step.n)
            steered.append(message)
            controller.steer(message)
        elif step.kind == "cancel_after_turn":
            controller.cancel("after_turn", reason)
        elif step.kind == "cancel_task" and in_task is not None:
            in_task(reason)
            cancelled = True
        else:
            controller.cancel("immediate", reason)
            cancelled = True
    return cancelled
