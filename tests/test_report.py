"""Run and fuzz reports without a browser: what each step shows, the DOM contract in the HTML,
byte-stable output, nothing fetched, the CLI (``report``, ``fuzz --report``, ``run --record``).

``tests/test_report_browser.py`` opens the same reports in headless Chromium.
"""

from __future__ import annotations

import asyncio
import json
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings

from agent_fsm import Agent, CompletionError, RecordingModel, State
from agent_fsm.cassette import read_cassette
from agent_fsm.cli import main
from agent_fsm.diagram import RunLog, record_run, report, steps
from agent_fsm.diagram._steps import unsealed_length
from agent_fsm.items import StreamAssistantItem, StreamUserItem
from agent_fsm.machine import TurnMachine, appends, emits
from agent_fsm.table import EDGES
from agent_fsm.testing import FuzzCase, ScriptedModel
from agent_fsm.testing.case import sync_machine
from agent_fsm.testing.servers import serve
from agent_fsm.testing.strategies import fuzz_cases
from agent_fsm.testing.sync_driver import SyncScript, iter_sync

from .reports import (
    FAILING_TURNS,
    NAMESPACES,
    TOOL_TURNS,
    URL,
    Dom,
    record_cassette,
    replayed_log,
    run_failing_campaign,
    shout,
)
from .reports import report as report_cli
from .support import collect
from .test_compiled import COMPILED
from .wire_server import WIRE_DIR, Reply, WireServer

# ---------------------------------------------------------------------------- steps off the trace


class _Appends(list[Any]):
    """A history list that notes, at each append, which trace entry the machine was in."""

    def __init__(self, items: Any, machine: TurnMachine) -> None:
        super().__init__(items)
        self.machine = machine
        self.at: list[int] = []

    def append(self, value: Any) -> None:
        self.at.append(len(self.machine.trace))
        super().append(value)

    def extend(self, values: Any) -> None:
        for v in values:
            self.append(v)


def _run_watching_history(case: FuzzCase) -> tuple[RunLog, list[int]]:
    hook = case.make_hook(sync=True)
    server = serve(case.tools)
    m = sync_machine(case, hook, server)
    start = m.history
    history = m._history = _Appends(m._history, m)
    items: list[Any] = []
    try:
        for item in iter_sync(
            m,
            SyncScript(case.fresh_script()),
            hook=hook,
            run_tool=lambda c: server.call_sync(c.function.name, c.function.arguments),
        ):
            items.append(item)
    except Exception:
        pass
    return RunLog(start, tuple(items), m.trace, m.history, m.state, m.error), history.at


@pytest.mark.skipif(COMPILED, reason="it watches the history through a list subclass, which compiled code bypasses")
@settings(max_examples=150, deadline=None)
@given(case=fuzz_cases(driver="sync").filter(lambda c: c.sync_runnable and c.close_after is None))
def test_steps_read_each_steps_items_and_history_off_the_trace_exactly(case: FuzzCase) -> None:
    log, appended_at = _run_watching_history(case)
    run_steps = steps(log)
    assert [s.index for s in run_steps] == list(range(len(log.trace) + 1))
    # Every item belongs to exactly one step, in order, and its kind is the step's trigger's.
    assert [i for s in run_steps for i in s.items] == list(log.items)
    for step in run_steps[1:]:
        assert step.edge is not None
        assert len(step.items) == (step.count if emits(step.edge) else 0)
        for item in step.items:
            if isinstance(item, StreamUserItem):
                assert step.edge.trigger == "tool_result"
            elif isinstance(item, StreamAssistantItem):
                assert step.edge.trigger in ("text_delta", "tool_call_delta", "reasoning_delta", "reasoning",
                                             "tool_call_ready", "final")  # fmt: skip
    # The history as of each step is what the machine held once that trace entry was taken;
    # the ending's step shows the sealed history.
    for step in run_steps[:-1]:
        held = len(log.start) + sum(1 for at in appended_at if at <= step.index)
        assert step.history == held, step
    assert run_steps[-1].history == len(log.history)
    appended = sum(count for edge, count in log.trace if appends(edge))
    assert unsealed_length(log) == len(log.start) + appended
    assert log.history[: len(log.start)] == log.start


# ---------------------------------------------------------------------------- the page


@pytest.fixture(scope="module")
def reports(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """A run with every kind of step, and a run that failed, recorded and reported by the CLI."""
    d = tmp_path_factory.mktemp("reports")
    out = {}
    for name, turns in (("tools", TOOL_TURNS), ("failed", FAILING_TURNS)):
        record_cassette(d / f"{name}.jsonl", turns)
        assert report_cli(d / f"{name}.jsonl", d / f"{name}.html") == 0
        out[name] = d / f"{name}.html"
        out[f"{name}.jsonl"] = d / f"{name}.jsonl"
    return out


def test_report_holds_the_dom_contract(reports: dict[str, Path]) -> None:
    html = reports["tools"].read_text()
    dom = Dom(html)
    log = replayed_log(reports["tools.jsonl"])
    assert [s["data-step"] for s in dom.steps] == [str(i) for i in range(len(log.trace) + 1)]
    assert sorted(dom.states) == sorted(s.value for s in State), "every state of the table, once"
    assert [s["data-at"] for s in dom.steps] == [s.state.value for s in steps(log)]
    assert len(dom.views) == 1 and dom.views[0]["data-open"] == "0", "a run that went well opens at its start"


def test_a_failed_run_opens_at_its_failing_step(reports: dict[str, Path]) -> None:
    dom = Dom(reports["failed"].read_text())
    last = dom.steps[-1]
    assert dom.views[0]["data-open"] == last["data-step"]
    assert last["data-at"] == "Failed"
    assert "CompletionError" in reports["failed"].read_text() and "upstream went away" in reports["failed"].read_text()


def test_report_shows_each_kind_of_step(reports: dict[str, Path]) -> None:
    html = reports["tools"].read_text()
    assert "Let me shout." in html, "text joined per turn"
    assert "<details><summary>reasoning" in html, "reasoning folded"
    assert "<b>shout</b><code>{&quot;text&quot;: &quot;hi&quot;}</code>" in html, "tool calls with their arguments"
    assert '<div class="text"><span class="t">HI</span></div>' in html, "and their results"
    failed = reports["failed"].read_text()
    assert 'class="tag sealed"' in failed, "the sealed history the error carries"


def test_report_fetches_nothing(reports: dict[str, Path]) -> None:
    for name in ("tools", "failed"):
        html = reports[name].read_text()
        assert Dom(html).external == [], "no src, href or action attribute at all"
        assert set(URL.findall(html)) <= NAMESPACES
        assert "url(" not in html and "@import" not in html
        assert "Content-Security-Policy\" content=\"default-src 'none'" in html


def test_report_is_byte_stable_for_a_cassette(reports: dict[str, Path], tmp_path: Path) -> None:
    again = tmp_path / "again.html"
    assert report_cli(reports["tools.jsonl"], again, "--title", "tools.jsonl") == 0
    assert again.read_bytes() == reports["tools"].read_bytes()


async def test_report_from_code_is_the_cli_report(reports: dict[str, Path]) -> None:
    run = Agent(ScriptedModel(TOOL_TURNS), preamble="be loud", tools=[shout]).stream_prompt("shout hi")
    log = await record_run(run, title="tools.jsonl")
    assert report(log) == reports["tools"].read_text()


# ---------------------------------------------------------------------------- the CLI


def test_report_cli_takes_the_replay_options(reports: dict[str, Path], tmp_path: Path, monkeypatch: Any) -> None:
    real = tmp_path / "tools.html"
    assert report_cli(reports["tools.jsonl"], real, "--tools", "tests.reports:shout", "--title", "tools.jsonl") == 0
    assert real.read_bytes() == reports["tools"].read_bytes(), "the real tool answers what was recorded"
    out = tmp_path / "one.html"
    assert report_cli(reports["tools.jsonl"], out, "--max-turns", "1") == 0
    dom = Dom(out.read_text())
    assert dom.steps[-1]["data-at"] == "MaxTurnsExceeded" and dom.views[0]["data-open"] == dom.steps[-1]["data-step"]
    (tmp_path / "report_hooks.py").write_text(
        textwrap.dedent(
            """
            from agent_fsm import StreamingPromptHook, ToolCallHookAction

            class Skip(StreamingPromptHook):
                def on_tool_call(self, tool_name, tool_call_id, internal_call_id, args):
                    return ToolCallHookAction.skip("not now")
            """
        )
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    try:
        assert report_cli(reports["tools.jsonl"], out, "--hook", "report_hooks:Skip") == 3, (
            "the skip changes the next request"
        )
    finally:
        sys.modules.pop("report_hooks", None)


def test_report_cli_refuses_what_it_cannot_report(tmp_path: Path, capsys: Any) -> None:
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"not": "a cassette"}\n')
    assert report_cli(bad, tmp_path / "x.html") == 2
    assert "not an agent-fsm cassette" in capsys.readouterr().err
    assert not (tmp_path / "x.html").exists()


async def test_a_recording_keeps_credentials_out_of_recorded_errors(tmp_path: Path) -> None:
    key = "sk-test-0123456789abcdefghijklmnop"

    class Keyed(ScriptedModel):
        api_key = key

    path = tmp_path / "run.jsonl"
    model = RecordingModel(
        Keyed([[CompletionError(f"401: bad key {key}", status=401, body=f'{{"key": "{key}"}}')]]), path
    )
    await collect(Agent(model).stream_prompt("hi"))
    assert key not in path.read_text()
    _, calls = read_cassette(path)
    assert calls[0].error is not None and calls[0].error.status == 401


needs_wire = pytest.mark.skipif(not WIRE_DIR.exists(), reason=f"the shared recordings are absent ({WIRE_DIR})")


@needs_wire
async def test_cli_run_records_a_real_provider_run_that_reports(tmp_path: Path, monkeypatch: Any) -> None:
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    cassette = tmp_path / "run.cassette.jsonl"
    async with WireServer() as server:
        for name in ("tool_call_gpt4o_mini.sse", "text_after_tool_gpt4o_mini.sse"):
            server.queue(Reply(body=(WIRE_DIR / "openai_chat" / name).read_bytes()))
        argv = ["run", "--model", "openai:gpt-4o-mini", "--base-url", f"{server.url}/v1",
                "--tools", "tests.test_providers_e2e:get_capital", "--record", str(cassette),
                "What is the capital of the UK?"]  # fmt: skip
        monkeypatch.setenv("OPENAI_API_KEY", "sk-recorded-never-0123456789abcdef")
        assert await asyncio.to_thread(main, argv) == 0
    text = cassette.read_text()
    assert "sk-recorded-never" not in text
    header, calls = read_cassette(cassette)
    assert header["kind"] == "recording" and len(calls) == 2
    out = tmp_path / "run.html"
    assert await asyncio.to_thread(report_cli, cassette, out) == 0
    html = out.read_text()
    assert "The capital of the UK is London." in html and "get_capital" in html
    assert Dom(html).steps[-1]["data-at"] == "Done"


# ---------------------------------------------------------------------------- the fuzz report


def test_fuzz_report_marks_edges_never_taken(tmp_path: Path, capsys: Any) -> None:
    out = tmp_path / "fuzz.html"
    code = main(["fuzz", "--examples", "40", "--seed", "3", "--plain", "--shares", "sync=1", "--report", str(out)])
    assert code == 1, "40 sync examples cannot reach every edge"
    html = out.read_text()
    assert f"report: {out}" in capsys.readouterr().out
    assert "agent-fsm fuzz --examples 40 --seed 3 --shares sync=1" in html
    assert "(never taken)" in html, "never-taken edges are marked on the heat map"
    assert "illegal_event never taken" in html, "and in the coverage table"
    assert sorted(Dom(html).states) == sorted(s.value for s in State)
    assert Dom(html).views == [], "no failure, no run view"


@pytest.fixture(scope="module")
def failing_campaign(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return run_failing_campaign(tmp_path_factory.mktemp("campaign"))


def test_fuzz_report_shows_each_failure_with_its_case_and_replay_command(failing_campaign: Path) -> None:
    html = failing_campaign.read_text()
    saved = failing_campaign.with_name("fuzz.failure-1.jsonl")
    assert saved.exists()
    assert f"agent-fsm fuzz --case {saved}" in html
    assert "planted: no run may fail" in html
    dom = Dom(html)
    assert len(dom.views) == 1
    last = [s for s in dom.steps][-1]
    assert dom.views[0]["data-open"] == last["data-step"] and last["data-at"] == "Failed"
    assert main(["fuzz", "--case", str(saved)]) == 0, "the saved case replays (here it passes: the plant is gone)"


def test_fuzz_json_is_unchanged_by_a_report(tmp_path: Path) -> None:
    main(["fuzz", "--examples", "10", "--seed", "2", "--plain", "--json", str(tmp_path / "r.json")])
    data = json.loads((tmp_path / "r.json").read_text())
    assert len(data["coverage"]["edges"]) == len(EDGES)


def test_pytest_plugin_writes_the_same_report(plugin_session: tuple[str, Path]) -> None:
    _, plugin_report = plugin_session
    html = plugin_report.read_text()
    assert "test_a_check_of_mine_that_fails" in html and "AssertionError: cancelled" in html
    assert plugin_report.with_name("report.failure-1.jsonl").exists()
    assert "pytest test_user.py::test_a_check_of_mine_that_fails" in html, "a user's own hook: replayed by pytest"
    dom = Dom(html)
    assert len(dom.views) == 1 and dom.steps[-1]["data-at"] == "Cancelled"
    assert dom.views[0]["data-open"] == dom.steps[-1]["data-step"]


def test_a_run_ending_in_an_illegal_transition_opens_at_that_step() -> None:
    from agent_fsm import Usage
    from agent_fsm.diagram import log_of_record
    from agent_fsm.errors import IllegalTransition
    from agent_fsm.events import Final, TextDelta
    from agent_fsm.testing import run_case

    record = run_case(FuzzCase([[TextDelta("a"), Final(Usage(1, 1)), TextDelta("after the end")]]))
    assert isinstance(record.error, IllegalTransition)
    dom = Dom(report(log_of_record(record, "illegal")))
    assert dom.steps[-1]["data-at"] == "Failed" and dom.views[0]["data-open"] == dom.steps[-1]["data-step"]
    assert dom.views[0]["data-open"] == str(len(record.trace))


def test_readme_shows_the_screenshot_make_diagrams_takes() -> None:
    from agent_fsm.diagram._gallery import REPORT, SCREENSHOT

    root = Path(__file__).resolve().parent.parent
    assert f"](diagrams/{SCREENSHOT})" in (root / "README.md").read_text()
    png = (root / "diagrams" / SCREENSHOT).read_bytes()
    assert png[:8] == b"\x89PNG\r\n\x1a\n" and int.from_bytes(png[16:20], "big") == 1440
    assert (root / "diagrams" / REPORT).exists(), "its source, drift-checked by test_diagram_committed"


def test_reports_import_no_browser_and_no_fuzz_kit_until_used() -> None:
    import subprocess

    code = (
        "import sys, agent_fsm.diagram, agent_fsm.cli.report, agent_fsm.cli.run;"
        "print(sorted(m for m in ('playwright', 'hypothesis') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"
