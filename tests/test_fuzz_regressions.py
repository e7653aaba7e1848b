"""One regression test per bug the fuzzer found, named after the bug.

Each drives the sans-IO machine through its step API to the state the fuzzer found broken.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest

from agent_fsm.errors import IllegalTransition
from agent_fsm.events import Final, TextDelta
from agent_fsm.machine import TurnMachine
from agent_fsm.messages import Usage
from agent_fsm.table import State

# Bug: a Final's usage was added only once its hook answered continue or terminate. When
# on_stream_completion_response_finish raised, answered something that is not a verdict, or the run
# was closed or failed while it was pending, the tokens the model reported (and billed) were lost:
# run.usage and the ending error undercounted. Fixed in TurnMachine: dropping a pending hook
# question (hook_failed, close, an illegal event) still adds a pending Final's usage.


@pytest.mark.parametrize(
    ("drop", "state"),
    [
        (lambda m: m.hook_failed(RuntimeError("hook broke")), State.Failed),
        (lambda m: m.hook_answer("not a verdict"), State.Failed),
        (lambda m: m.close(), State.Cancelled),
        (lambda m: m.model_end(), State.Failed),  # a driver bug: the stream ends before the hook answered
    ],
    ids=["hook raises", "no verdict", "run closed", "illegal event"],
)
def test_fuzz_bug_final_usage_lost_when_the_finish_hook_question_is_dropped(
    drop: Callable[[TurnMachine], object], state: State
) -> None:
    m = TurnMachine("go", max_turns=1, live_hooks=["on_stream_completion_response_finish"])
    m.start()
    m.model_event(TextDelta("Hi"))
    m.model_event(Final(Usage(3, 2, 5)))  # asks the hook
    try:
        drop(m)
    except IllegalTransition:
        assert state is State.Failed
    assert m.state is state
    assert m.usage == Usage(3, 2, 5)
    assert m.error is not None and m.error.history == m.history
