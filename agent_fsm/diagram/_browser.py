"""Headless Chromium for reports: the README's screenshot, and the tests that open reports.

The browser is the system's (Debian's ``chromium``), driven by Playwright for Python through
``executable_path``: Playwright's own browser builds are never downloaded. Playwright is a
``dev`` dependency, imported only here and only when a screenshot is taken.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from ..errors import AgentFSMError

__all__ = ["CHROMIUM_ARGS", "BrowserNotFound", "chromium", "chromium_path", "screenshot"]

CHROMIUM_ARGS = (
    "--no-sandbox",  # CI runs as root, where Chromium's sandbox cannot start
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
)
"""Headless, and nothing that talks to the network on the browser's own account."""


class BrowserNotFound(AgentFSMError):
    """Raised when a screenshot is asked for and Chromium or Playwright is not installed."""


def chromium_path() -> str | None:
    """The system Chromium: ``$AGENT_FSM_CHROMIUM``, else ``chromium`` on ``PATH``."""
    return os.environ.get("AGENT_FSM_CHROMIUM") or shutil.which("chromium")


@contextmanager
def chromium() -> Iterator[Any]:
    """A headless system Chromium (a Playwright ``Browser``), closed on exit.

    Raises:
        BrowserNotFound: when Chromium or Playwright is missing.
    """
    exe = chromium_path()
    if exe is None:
        raise BrowserNotFound("screenshots need Chromium (Debian/Ubuntu: apt-get install chromium)")
    try:
        from playwright.sync_api import sync_playwright
    except ModuleNotFoundError as exc:
        raise BrowserNotFound("screenshots need Playwright for Python: pip install 'agent-fsm[dev]'") from exc
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=exe, args=list(CHROMIUM_ARGS))
        try:
            yield browser
        finally:
            browser.close()


def screenshot(html: Path, png: Path, *, steps: int = 0, width: int = 1440, height: int = 900) -> bytes:
    """A PNG of the report ``html`` after pressing ArrowRight ``steps`` times.

    Raises:
        BrowserNotFound: when Chromium or Playwright is missing.
    """
    with chromium() as browser:
        page = browser.new_page(viewport={"width": width, "height": height}, device_scale_factor=1)
        page.goto(html.resolve().as_uri())
        for _ in range(steps):
            page.keyboard.press("ArrowRight")
        data: bytes = page.screenshot(path=str(png), animations="disabled", caret="hide")
        page.close()
    return data
