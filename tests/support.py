"""Helpers shared by test modules."""

from __future__ import annotations

import ast
import subprocess
import sys
from collections.abc import AsyncIterable

from agent_fsm.items import StreamItem


async def collect(run: AsyncIterable[StreamItem]) -> tuple[list[StreamItem], BaseException | None]:
    """Every item of a run, and the exception it ended with (None when it completed)."""
    items: list[StreamItem] = []
    try:
        async for item in run:
            items.append(item)
    except Exception as exc:
        return items, exc
    return items, None


def modules_after_a_run(imports: str, roots: tuple[str, ...]) -> list[str]:
    """The modules under ``roots`` that a fresh interpreter has loaded after ``imports`` and one
    scripted run of an agent: what a feature behind an extra must keep at ``[]``."""
    code = (
        "import asyncio, sys\n"
        "from agent_fsm import Agent\n"
        "from agent_fsm.events import TextDelta\n"
        "from agent_fsm.testing import ScriptedModel\n"
        "async def main():\n"
        "    async for _ in Agent(ScriptedModel([[TextDelta('hi')]])).stream_prompt('go'):\n"
        "        pass\n"
        "asyncio.run(main())\n"
        f"{imports}\n"
        f"print(sorted(m for m in sys.modules if m.split('.')[0] in {roots!r}))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return list(ast.literal_eval(out.stdout.strip()))
