"""A fake MCP server: tool behaviours served the way an MCP server serves them, with no server.

:class:`FakeMCPServer` is the real MCP clients' code (:class:`~agent_fsm._remote_tools.RemoteTools`:
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
from collections.abc import Mapping
from typing import Any

from .._remote_tools import RemoteTool, RemoteTools
from ..messages import JSONValue
from ..protocol import ToolOutput
from ..tools import timed_out
from .behaviours import HangInSyncDriver, ToolBehaviour, ToolBehaviours
from .policy import hang

__all__ = ["FakeMCPServer"]


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
