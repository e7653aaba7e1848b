"""Runs to report, shared by the report tests (with and without a browser)."""

from __future__ import annotations

import asyncio
import re
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from html.parser import HTMLParser
from pathlib import Path
from typing import Any, TypeVar

from agent_fsm import Agent, CompletionError, RecordingModel, State, Usage, tool
from agent_fsm.cli import main
from agent_fsm.diagram import RunLog, record_run
from agent_fsm.events import Final, ReasoningDelta, TextDelta, ToolCallDelta, ToolCallReady
from agent_fsm.messages import Reasoning, ToolCall, ToolFunction
from agent_fsm.testing import ScriptedModel

from .support import collect

T = TypeVar("T")


@tool
def shout(text: str) -> str:
    """Upper-case the text."""
    return text.upper()


TOOL_TURNS: list[list[Any]] = [
    [ReasoningDelta("hm", id="r"), Reasoning(("hm",), id="r", signature="s"), TextDelta("Let me "), TextDelta("shout."),
     ToolCallDelta("c1", "i1", "shout", '{"text"'), ToolCallDelta("c1", "i1", None, ': "hi"}'),
     ToolCallReady(ToolCall("c1", ToolFunction("shout", {"text": "hi"})), "i1"), Final(Usage(3, 2))],
    [TextDelta("said "), TextDelta("HI"), Final(Usage(5, 2))],
]  # fmt: skip
"""Reasoning, text, a streamed tool call and its result, then the answer: every kind of step."""

FAILING_TURNS: list[list[Any]] = [
    [ToolCallReady(ToolCall("c1", ToolFunction("shout", {"text": "a"})), "i1"), Final(Usage(1, 1))],
    [TextDelta("half an ans"), CompletionError("upstream went away", status=502)],
]
"""A tool turn, then the model fails mid-answer: the run ends in Failed."""


def off_loop(fn: Callable[[], T]) -> T:
    """``fn()``, in a thread of its own when this one runs an event loop (Playwright's sync API
    keeps one running), since the CLI and the recordings start event loops of their own."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return fn()
    with ThreadPoolExecutor(1) as pool:
        return pool.submit(fn).result()


def record_cassette(path: Path, turns: list[list[Any]], **agent: Any) -> None:
    """Record a run of a scripted model into a cassette, as ``agent-fsm run --record`` does."""

    async def go() -> None:
        model = RecordingModel(ScriptedModel(turns), path)
        await collect(Agent(model, preamble="be loud", tools=[shout], **agent).stream_prompt("shout hi"))

    off_loop(lambda: asyncio.run(go()))


def report(cassette: Path, out: Path, *options: str) -> int:
    """``agent-fsm report CASSETTE -o OUT [options]``; its exit code."""
    return off_loop(lambda: main(["report", str(cassette), "-o", str(out), *options]))


class Dom(HTMLParser):
    """The report's elements with the attributes the DOM contract names, in document order."""

    def __init__(self, html: str) -> None:
        super().__init__()
        self.steps: list[dict[str, str | None]] = []
        self.states: list[str] = []
        self.views: list[dict[str, str | None]] = []
        self.external: list[str] = []
        self.feed(html)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        if "data-step" in a:
            self.steps.append(a)
        if "data-state" in a:
            self.states.append(str(a["data-state"]))
        if "run-view" in (a.get("class") or "").split():
            self.views.append(a)
        for name in ("src", "href", "action", "poster", "srcset"):
            if name in a:
                self.external.append(f"{tag} {name}={a[name]}")


URL = re.compile(r"https?://[^\s\"'<>]+")
"""Any absolute URL; a report may hold only the SVG namespaces (names, never fetched)."""
NAMESPACES = {"http://www.w3.org/2000/svg", "http://www.w3.org/1999/xlink"}


def plugin_session(directory: Path) -> tuple[str, Path]:
    """The plugin, as a user meets it: a suite of the user's own (``USER_TESTS``, one test of
    which fails on purpose) run with ``--agent-fsm-report``. Returns pytest's output and the
    report's path."""
    import subprocess
    import sys

    from .test_fuzz_plugin import USER_TESTS

    (directory / "test_user.py").write_text(USER_TESTS)
    out = directory / "report.html"
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "--agent-fsm-examples", "12",
         "--agent-fsm-report", str(out), "test_user.py"],
        capture_output=True, text=True, cwd=directory, timeout=300,
    )  # fmt: skip
    return result.stdout + result.stderr, out


def replayed_log(cassette: Path) -> RunLog:
    """The cassette re-run as ``agent-fsm report`` re-runs it, as a :class:`RunLog`."""
    from argparse import Namespace

    from agent_fsm.cli.replay import replay_agent, start_run

    args = Namespace(cassette=str(cassette), hook=None, tools=None, max_turns=None)
    agent, calls = replay_agent(args)
    return off_loop(lambda: asyncio.run(record_run(start_run(agent, calls), title=cassette.name)))


def run_failing_campaign(directory: Path) -> Path:
    """``agent-fsm fuzz --report`` on a campaign whose invariant check is made to fail on every
    run that ends in ``Failed``; returns the report's path."""
    import pytest

    from agent_fsm.testing import record

    out = directory / "fuzz.html"
    original = record.RunRecord.check

    def check(self: Any) -> None:
        original(self)
        assert self.state is not State.Failed, "planted: no run may fail"

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(record.RunRecord, "check", check)
        argv = ["fuzz", "--examples", "200", "--seed", "1", "--plain", "--shares", "sync=1", "--report", str(out)]
        code = off_loop(lambda: main(argv))
    assert code == 1
    return out
