"""The reports in a real browser: headless Chromium (Debian's ``chromium``) driven by Playwright.

Each report is opened from a file, as a CI artifact would be, and checked through the DOM
contract: no console error and no request but the page itself, every state of the table in the
diagram, one timeline entry per step, the arrow keys (and clicks) moving the highlighted state
along the run's path edge by edge with the history as of each step, and a failing run or fuzz
case opening at its failing step. A screenshot of each report is saved beside it.

Skipped, saying so, only when Chromium or Playwright is absent; ``.ci/run`` installs both, so CI
never skips.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from agent_fsm import State
from agent_fsm.diagram import RunLog, steps
from agent_fsm.diagram._browser import CHROMIUM_ARGS, chromium_path
from agent_fsm.diagram._picture import picture
from agent_fsm.diagram._steps import arrow_of
from agent_fsm.table import EDGES

from .reports import FAILING_TURNS, TOOL_TURNS, record_cassette, replayed_log, report, run_failing_campaign

try:
    from playwright.sync_api import Browser, Page, sync_playwright
except ModuleNotFoundError:  # pragma: no cover - the dev extra installs it
    sync_playwright = None

pytestmark = pytest.mark.skipif(
    chromium_path() is None or sync_playwright is None,
    reason="needs Chromium (apt-get install chromium) and Playwright for Python (the dev extra)",
)


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    assert sync_playwright is not None
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=chromium_path(), args=list(CHROMIUM_ARGS))
        yield b
        b.close()


class Opened:
    """A report open in a page, with every console error and request it caused."""

    def __init__(self, browser: Browser, path: Path) -> None:
        self.page: Page = browser.new_page(viewport={"width": 1600, "height": 1000})
        self.errors: list[str] = []
        self.requests: list[str] = []
        self.page.on("console", lambda m: self.errors.append(m.text) if m.type == "error" else None)
        self.page.on("pageerror", lambda e: self.errors.append(str(e)))
        self.page.on("request", lambda r: self.requests.append(r.url))
        self.url = path.resolve().as_uri()
        self.page.goto(self.url)
        self.page.wait_for_load_state("networkidle")
        self.page.screenshot(path=str(path.with_suffix(".png")), full_page=True)

    def view(self, n: int = 0) -> Any:
        return self.page.locator(".run-view").nth(n)

    def current(self, n: int = 0) -> list[str]:
        states: list[str] = (
            self.view(n).locator("svg [data-state].current").evaluate_all("els => els.map(e => e.dataset.state)")
        )
        return states

    def taken_now(self, n: int = 0) -> list[str]:
        arrows: list[str] = (
            self.view(n).locator("svg [data-arrow].taken-now").evaluate_all("els => els.map(e => e.dataset.arrow)")
        )
        return arrows

    def selected(self, n: int = 0) -> list[str]:
        picked: list[str] = (
            self.view(n).locator(".timeline [data-step].selected").evaluate_all("els => els.map(e => e.dataset.step)")
        )
        return picked

    def shown_messages(self, n: int = 0) -> int:
        return self.view(n).locator(".history [data-message]:not(.hidden)").count()


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, tuple[Path, RunLog]]:
    d = tmp_path_factory.mktemp("browser")
    out = {}
    for name, turns in (("tools", TOOL_TURNS), ("failed", FAILING_TURNS)):
        record_cassette(d / f"{name}.jsonl", turns)
        assert report(d / f"{name}.jsonl", d / f"{name}.html") == 0
        out[name] = (d / f"{name}.html", replayed_log(d / f"{name}.jsonl"))
    return out


def test_a_run_report_loads_with_no_error_and_no_request(browser: Browser, runs: Any) -> None:
    for path, _ in runs.values():
        opened = Opened(browser, path)
        assert opened.errors == []
        assert opened.requests == [opened.url], "the page itself, nothing else"


def test_every_state_of_the_table_is_in_the_diagram_and_one_entry_per_step(browser: Browser, runs: Any) -> None:
    path, log = runs["tools"]
    opened = Opened(browser, path)
    names = opened.page.locator("svg [data-state]").evaluate_all("els => els.map(e => e.dataset.state)")
    assert sorted(names) == sorted(s.value for s in State)
    entries = opened.page.locator(".timeline [data-step]").evaluate_all("els => els.map(e => e.dataset.step)")
    assert entries == [str(i) for i in range(len(log.trace) + 1)]


def test_stepping_moves_the_highlighted_state_along_the_path_edge_by_edge(browser: Browser, runs: Any) -> None:
    path, log = runs["tools"]
    opened = Opened(browser, path)
    arrows = arrow_of(picture(EDGES, log.trace, log.title))
    run_steps = steps(log)
    assert opened.selected() == ["0"] and opened.current() == [run_steps[0].state.value], "opens at the start"
    assert opened.taken_now() == [] and opened.shown_messages() == len(log.start)
    for step in run_steps[1:]:
        opened.page.keyboard.press("ArrowRight")
        assert step.edge is not None
        assert opened.selected() == [str(step.index)]
        assert opened.current() == [(step.edge.dest or step.edge.source).value], step
        assert opened.taken_now() == [str(arrows[step.edge.index])], step
        assert opened.shown_messages() == step.history, step
    opened.page.keyboard.press("ArrowRight")
    assert opened.selected() == [str(run_steps[-1].index)], "the last step stays the last"
    assert opened.current() == ["Done"] and opened.shown_messages() == len(log.history)
    for step in reversed(run_steps[:-1]):
        opened.page.keyboard.press("ArrowLeft")
        assert opened.selected() == [str(step.index)] and opened.current() == [step.state.value]
    opened.page.locator('.timeline [data-step="5"]').click()
    assert opened.selected() == ["5"] and opened.current() == [run_steps[5].state.value]
    opened.page.locator("button.forward").click()
    assert opened.selected() == ["6"]
    assert opened.errors == []


def test_a_failed_run_opens_at_its_failing_step(browser: Browser, runs: Any) -> None:
    path, log = runs["failed"]
    opened = Opened(browser, path)
    last = len(log.trace)
    assert opened.selected() == [str(last)] and opened.current() == ["Failed"]
    assert opened.shown_messages() == len(log.history), "the sealed history the error carries"
    assert opened.view().locator(f'[data-step="{last}"] .error-type').inner_text() == "CompletionError"
    assert opened.page.locator(".history .tag.sealed").count() == 1, "the interrupted turn's partial message"
    assert opened.errors == [] and opened.requests == [opened.url]


def test_a_failing_fuzz_case_opens_at_its_failing_step(browser: Browser, failing_campaign: Path) -> None:
    opened = Opened(browser, failing_campaign)
    assert opened.errors == [] and opened.requests == [opened.url]
    last = opened.view().locator(".timeline [data-step]").count() - 1
    assert opened.selected() == [str(last)] and opened.current() == ["Failed"]
    never = {int(i) for i in opened.page.locator(".heat tr.never").evaluate_all("els => els.map(e => e.dataset.edge)")}
    heat = picture(EDGES, None, "", hits=[0 if e.index in never else 1 for e in EDGES])
    unlit = [line for arrow in heat.arrows for line in arrow.lines if not line.count]
    assert never and unlit, "a campaign this short leaves edges untaken"
    assert opened.page.locator(".heat svg text", has_text="(never taken)").count() == len(unlit)
    opened.view().click()
    opened.page.keyboard.press("ArrowLeft")
    assert opened.selected() == [str(last - 1)]


def test_the_plugin_report_opens_its_failing_case_at_the_failing_step(
    browser: Browser, plugin_session: tuple[str, Path]
) -> None:
    opened = Opened(browser, plugin_session[1])
    assert opened.errors == [] and opened.requests == [opened.url]
    last = opened.view().locator(".timeline [data-step]").count() - 1
    assert opened.selected() == [str(last)] and opened.current() == ["Cancelled"]


@pytest.fixture(scope="module")
def failing_campaign(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return run_failing_campaign(tmp_path_factory.mktemp("campaign"))
