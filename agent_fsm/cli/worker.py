"""``agent-fsm worker --agents module:attribute --task-queue Q``: serve durable runs on Temporal.

The attribute is a mapping of durable names to agents (or a function returning one). The worker
says ``worker ready`` on standard error once it polls, and shuts down gracefully on SIGINT or
SIGTERM. Needs ``agent-fsm[temporal]``.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import sys
from collections.abc import Mapping
from typing import Any

from ..agent import Agent
from ..errors import ConfigurationError
from ._load import LoadError, load_object


def register(sub: Any) -> None:
    p: argparse.ArgumentParser = sub.add_parser("worker", help="run a Temporal worker that serves durable agent runs")
    p.add_argument("--agents", required=True, metavar="MODULE:ATTR", help="a mapping of names to agents")
    p.add_argument("--task-queue", required=True, metavar="Q", help="the task queue to poll")
    p.add_argument("--address", default="localhost:7233", metavar="HOST:PORT", help="the Temporal server (%(default)s)")
    p.add_argument("--namespace", default="default", help="the Temporal namespace (%(default)s)")
    p.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    try:
        from ..durable import temporal  # noqa: F401 - only to say clearly when the extra is missing
    except ImportError:
        _say("agent-fsm worker needs the temporal extra: pip install 'agent-fsm[temporal]'")
        return 2
    try:
        agents = _agents(args.agents)
    except (LoadError, ConfigurationError) as exc:
        _say(str(exc))
        return 2
    code = asyncio.run(_serve(args, agents))
    # temporalio's native runtime can abort the interpreter's finalization (sdk-python#300);
    # everything is shut down and flushed by now, so leave without it.
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)


def _agents(spec: str) -> Mapping[str, Agent]:
    obj = load_object(spec)
    if callable(obj) and not isinstance(obj, Mapping):
        obj = obj()
    if not isinstance(obj, Mapping) or not all(isinstance(a, Agent) for a in obj.values()):
        raise ConfigurationError(f"{spec} is not a mapping of names to agents")
    return obj


async def _serve(args: argparse.Namespace, agents: Mapping[str, Agent]) -> int:
    from temporalio.client import Client

    from ..durable.temporal import worker_for

    try:
        client = await Client.connect(args.address, namespace=args.namespace)
    except Exception as exc:  # the SDK's connection errors have no common base
        _say(f"cannot connect to Temporal at {args.address}: {exc}")
        return 2
    worker = worker_for(client, args.task_queue, agents)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    async with worker:
        _say(f"worker ready: task queue {args.task_queue!r} at {args.address}, agents {', '.join(sorted(agents))}")
        await stop.wait()
    return 0


def _say(message: str) -> None:
    print(f"agent-fsm worker: {message}", file=sys.stderr, flush=True)
