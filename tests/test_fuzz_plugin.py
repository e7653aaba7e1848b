"""The pytest plugin, as a user meets it: installed through its entry point, in a pytest of its own."""

from __future__ import annotations

from pathlib import Path

USER_TESTS = '''
from agent_fsm import HookAction, StreamingPromptHook, tool
from agent_fsm.events import Final, TextDelta
from agent_fsm.messages import Usage


@tool
def lookup(text: str = "") -> str:
    """Look something up."""
    return "found " + text


class AtMostTwoTools(StreamingPromptHook):
    def __init__(self) -> None:
        self.calls = 0

    def on_tool_call(self, tool_name, tool_call_id, internal_call_id, args):
        self.calls += 1
        return HookAction.terminate("budget") if self.calls > 2 else None


def test_my_hook_keeps_every_run_valid(fuzz_agent):
    summary = fuzz_agent(AtMostTwoTools, tools=[lookup], prompt="find things")
    assert summary.examples == 12
    assert summary.coverage.total_runs == 12


def test_a_check_of_mine_that_fails(fuzz_agent):
    def never_cancelled(record):
        assert record.state.value != "Cancelled", "cancelled"

    fuzz_agent(AtMostTwoTools, tools=[lookup], check=never_cancelled)


def test_scripted_model(scripted_model):
    model = scripted_model([[TextDelta("hi"), Final(Usage(1, 1, 2))]])
    assert model.calls == 0 and model.turns == [[TextDelta("hi"), Final(Usage(1, 1, 2))]]
'''


def test_plugin_fixtures_and_option_work_in_a_users_suite(plugin_session: tuple[str, Path]) -> None:
    out, _ = plugin_session  # USER_TESTS, run with --agent-fsm-examples 12 (tests/reports.py)
    assert "2 passed" in out and "1 failed" in out, out
    assert "test_a_check_of_mine_that_fails" in out.split("short test summary")[1]
    failure = out.split("short test summary")[0]
    assert "AssertionError: cancelled" in failure
    assert 'check_case(load_cassette(r"""' in failure, "the failing run is printed as a cassette"
    assert '"user_hook":"AtMostTwoTools"' in failure and '"user_tools":["lookup"]' in failure
