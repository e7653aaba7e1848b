"""Tool servers that play :class:`~agent_fsm.testing.behaviours.ToolBehaviours`: through the library's own
``ToolSet`` (:class:`BehaviourServer`), or as an MCP server would (:class:`FakeMCPServer`).

:meth:`BehaviourServer.call_sync` gives, without an event loop, exactly the output the async
server gives (a property test holds it to that), so the fast sync driver can fuzz tools too.

:class:`FakeMCPServer` is the real MCP clients' code (:class:`~agent_fsm.tools._remote.RemoteTools`:
schema checks with ``jsonschema``, the deadline, result mapping, ``ToolServerError`` for a server
that is gone) over a transport that plays :class:`~agent_fsm.testing.behaviours.ToolBehaviours`
instead of talking to a process. Each behaviour answers as an MCP server would:

=========  ======================================================================================
``text``   a text block, ``value + text``
``json``   ``structuredContent`` only (the client turns it into JSON text)
``raise``  ``isError: true`` with ``value`` as its text
``stall``  no answer: the call's deadline (the behaviour's ``timeout``) cancels it, and the
           server is told (``cancelled`` lists it); ``stubborn`` too (a server that ignores
           being told cannot keep a client waiting: the client stops waiting)
``hang``   no answer until the run's consumer cancels the call
=========  ======================================================================================

and with ``dies_at=n`` the server is gone from its n-th call on: that call and every later one
raise ``ToolServerError``, as when a real server exits. :meth:`FakeMCPServer.call_sync` gives the
same outputs without an event loop, for the fuzz kit's synchronous driver.

Needs ``jsonschema`` (``agent-fsm[fuzz]`` or ``[mcp]``), not ``mcp``.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping, Sequence
from typing import Any

from ..errors import ToolServerError
from ..messages import JSONValue
from ..request import ToolDefinition, ToolOutput
from ..tools import ToolSet, raised, timed_out, to_output, unknown_tool
from ..tools._remote import RemoteTool, RemoteTools
from .behaviours import TIMED, HangInSyncDriver, ToolBehaviour, ToolBehaviours
from .policy import hang

__all__ = ["BehaviourServer", "FakeMCPServer", "serve"]


def serve(behaviours: ToolBehaviours) -> BehaviourServer:
    """A fresh tool server playing ``behaviours`` (its call counter starts at 0)."""
    return BehaviourServer(behaviours)


class BehaviourServer:
    """A :class:`~agent_fsm.tools.ToolServer` playing :class:`ToolBehaviours` through a ``ToolSet``."""

    def __init__(self, spec: ToolBehaviours) -> None:
        self.spec = spec
        self.toolset = ToolSet(spec.tools(), default_timeout=None)
        self.calls: list[tuple[str, JSONValue]] = []
        self._by_name = {b.name: b for b in spec.behaviours}
        self.remote: FakeMCPServer | None = None
        if spec.served_by == "mcp":
            self.remote = FakeMCPServer(spec, dies_at=spec.server_fails_at)

    def definitions(self) -> Sequence[ToolDefinition]:
        return self.toolset.definitions()

    def _count(self, name: str, arguments: JSONValue) -> None:
        self.calls.append((name, arguments))
        if self.spec.server_fails_at == len(self.calls):
            raise ToolServerError(f"tool server lost its connection (call {len(self.calls)})")

    async def call(self, name: str, arguments: JSONValue) -> ToolOutput:
        if self.remote is not None:
            self.calls.append((name, arguments))
            return await self.remote.call(name, arguments)
        self._count(name, arguments)
        return await self.toolset.call(name, arguments)

    def call_sync(self, name: str, arguments: JSONValue) -> ToolOutput:
        """What :meth:`call` gives, computed without running anything that awaits.

        Raises:
            ToolServerError: at the server's failing call, as :meth:`call` does.
            HangInSyncDriver: for a hanging tool (only an async consumer can cancel it).
        """
        if self.remote is not None:
            self.calls.append((name, arguments))
            return self.remote.call_sync(name, arguments)
        self._count(name, arguments)
        b = self._by_name.get(name)
        if b is None:
            return unknown_tool(name, (t.name for t in self.toolset))
        bound = self.toolset[name].prepare(arguments)
        if isinstance(bound, ToolOutput):
            return bound
        kwargs = bound[1]
        if b.kind == "text":
            return to_output(b.value + kwargs["text"])
        if b.kind == "json":
            return to_output({"value": b.value, "text": kwargs["text"], "n": kwargs["n"]})
        if b.kind == "raise":
            return raised(name, ValueError(b.value))
        if b.kind in TIMED:  # a stubborn tool stops within the grace period: it timed out
            return timed_out(name, b.timeout)
        raise HangInSyncDriver(f"tool {name} hangs; only the async driver can run it")


class FakeMCPServer(RemoteTools):
    """A :class:`~agent_fsm.tools.ToolServer` with an MCP server's behaviour and failure modes.

    Args:
        behaviours: the tools and what each call of them does.
        dies_at: the call (1-based) at which the server dies, if any.
        name: how logs, spans and errors name the server.
    """

    def __init__(self, behaviours: ToolBehaviours, *, dies_at: int | None = None, name: str = "fake-mcp") -> None:
        super().__init__(name, timeout=None)
        self.spec = behaviours
        self.dies_at = dies_at
        self.calls = 0
        self.cancelled: list[str] = []
        """Tools whose calls the client cancelled (as MCP's ``notifications/cancelled`` would say)."""
        self._by_name = {b.name: b for b in behaviours.behaviours}
        self._offer((t.name, t.definition.description, t.definition.parameters) for t in behaviours.tools())

    def _timeout(self, tool: RemoteTool) -> float | None:
        return self._by_name[tool.remote_name].timeout

    async def _send(self, remote_name: str, arguments: dict[str, Any]) -> Mapping[str, Any]:
        b = self._answering(remote_name)
        if b.kind in ("stall", "stubborn"):
            try:
                await asyncio.sleep(3600)  # the call's deadline ends this
            except asyncio.CancelledError:
                self.cancelled.append(remote_name)
                raise
        if b.kind == "hang":
            await hang(f"tool {remote_name}")
        return _reply(b, arguments)

    def call_sync(self, name: str, arguments: JSONValue) -> ToolOutput:
        """What :meth:`call` gives, computed without running anything that awaits.

        Raises:
            ToolServerError: from the call at which the server dies on.
            HangInSyncDriver: for a hanging tool (only an async consumer can cancel it).
        """
        prepared = self._prepare(name, arguments)
        if isinstance(prepared, ToolOutput):
            return prepared
        tool, args = prepared
        b = self._answering(tool.remote_name)
        if b.kind in ("stall", "stubborn"):
            self.cancelled.append(tool.remote_name)
            return timed_out(name, b.timeout)
        if b.kind == "hang":
            raise HangInSyncDriver(f"tool {name} hangs; only the async driver can run it")
        return self._output(name, _reply(b, args))

    def _answering(self, remote_name: str) -> ToolBehaviour:
        self.calls += 1
        if self.dies_at is not None and self.calls >= self.dies_at:
            raise self._lost(f"the server process exited (call {self.calls})")
        return self._by_name[remote_name]


def _reply(b: ToolBehaviour, arguments: Mapping[str, Any]) -> dict[str, Any]:
    """The ``CallToolResult`` an MCP server would send for behaviour ``b``."""
    text, n = arguments.get("text", ""), arguments.get("n", 0)
    if b.kind == "text":
        return {"content": [{"type": "text", "text": b.value + text}], "isError": False}
    if b.kind == "json":
        return {"content": [], "structuredContent": {"value": b.value, "text": text, "n": n}, "isError": False}
    return {"content": [{"type": "text", "text": b.value}], "isError": True}
