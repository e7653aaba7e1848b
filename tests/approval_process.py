"""Run by test_approvals in a fresh process: resume a snapshot from disk with approvals.

Usage: python -m tests.approval_process SNAPSHOT_FILE APPROVALS_JSON
"""

from __future__ import annotations

import asyncio
import json
import sys
from pathlib import Path

from agent_fsm import approve, deny
from agent_fsm.codec import to_json

from .test_approvals import build_agent, second_turn


async def main() -> None:
    snapshot_text = Path(sys.argv[1]).read_text(encoding="utf-8")  # noqa: ASYNC240 - a tiny file, once
    decisions = json.loads(sys.argv[2])
    approvals = {cid: approve if ok else deny("the operator said no") for cid, ok in decisions.items()}
    run = build_agent(second_turn()).resume(snapshot_text, approvals=approvals)
    items = [item async for item in run]
    print(json.dumps({"state": run.state.value, "items": json.loads(to_json(items)),
                      "history": json.loads(to_json(list(run.history)))}))  # fmt: skip


if __name__ == "__main__":
    asyncio.run(main())
