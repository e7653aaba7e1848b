"""Tools another process runs (an MCP server): everything that does not depend on the transport.

:class:`RemoteTools` is a :class:`~agent_fsm.tools.ToolServer` over a list of tools someone else
listed. It offers them (``prefix`` added), checks each call's arguments against the tool's own
schema, runs the call under a deadline, and turns what came back - or did not - into a result,
with the same texts as local tools (:mod:`agent_fsm.tools` builds every one of them):

=======================================  ==========================================================
what happened                            what the run gets
=======================================  ==========================================================
a name the server does not offer         ``Unknown tool 'x'. Available tools: ...`` (error result)
arguments that do not fit the schema     ``Invalid arguments for tool 'x' ...`` with ``$.a: ...``
                                         lines; the server is not called (error result)
the call runs past ``timeout``           ``Tool 'x' timed out after N s.`` (error result); the
                                         request is cancelled on the server
the server answers with ``isError``      its content, ``is_error=True``
the server answers with a JSON-RPC error ``Tool 'x' raised McpError: ...`` (error result)
the server is gone (exited, dropped the  :class:`~agent_fsm.errors.ToolServerError` naming the
connection, never connected)             server: the run fails, its history sealed
=======================================  ==========================================================

A subclass supplies the transport: :meth:`RemoteTools._send` sends one call and returns the
result as its wire JSON (MCP's ``CallToolResult``), raising ``ToolServerError`` when the server is
gone; on cancellation it tells the server to stop. The MCP clients in :mod:`agent_fsm.mcp` and the
fuzz kit's fake server (:mod:`agent_fsm.testing.servers`) are the two subclasses, so both go
through this code.
"""

from __future__ import annotations

import asyncio
import json
import math
from collections.abc import Iterable, Mapping
from typing import Any

from attrs import frozen

from ..errors import ConfigurationError, ToolServerError
from ..messages import Image, JSONValue, Text, ToolResultContent
from ..observe.logger import get_logger
from ..observe.redact import Redactor
from ..request import ToolDefinition, ToolOutput
from ._convert import to_output
from ._schema_check import SchemaCheck
from .arguments import ArgumentError, load_arguments
from .outcomes import invalid_arguments, raised, timed_out, unknown_tool

__all__ = ["RemoteTool", "RemoteTools", "result_output"]


@frozen
class RemoteTool:
    """One tool of a remote server: as the model sees it, and as the server knows it."""

    definition: ToolDefinition
    remote_name: str
    check: SchemaCheck | None
    """The compiled input schema; ``None`` when the server's schema is not valid JSON Schema."""

    @property
    def name(self) -> str:
        return self.definition.name


class RemoteTools:
    """A :class:`~agent_fsm.tools.ToolServer` for tools that run elsewhere (see the module docstring).

    Args:
        name: how logs, spans and errors name the server (a command line or a URL, redacted).
        prefix: offer each tool as ``<prefix>_<name>``.
        timeout: seconds a call may take; ``None`` or ``inf`` for no limit.
        requires_approval: the server's own names (without the prefix) of tools whose calls
            wait for an approval.
        secrets: values that must never show in a name, log, error or result (the credentials
            in a server's headers, say), on top of those :class:`~agent_fsm.observe.redact.Redactor`
            finds by itself.

    Raises:
        ConfigurationError: for a timeout that is not positive.
    """

    def __init__(
        self,
        name: str,
        *,
        prefix: str | None = None,
        timeout: float | None = 60.0,
        requires_approval: Iterable[str] = (),
        secrets: Iterable[str] = (),
    ) -> None:
        self._redactor = Redactor(*(_Secret(s) for s in secrets))
        name = self._redactor(name)
        if timeout is not None and not timeout > 0:
            raise ConfigurationError(
                f"{type(self).__name__} {name!r}: timeout must be positive or None, got {timeout!r}"
            )
        if isinstance(requires_approval, str):
            raise ConfigurationError(f"requires_approval is a set of tool names, got the string {requires_approval!r}")
        self.name = name
        self.prefix = prefix
        self.timeout = None if timeout is None or math.isinf(timeout) else timeout
        self.approval = frozenset(requires_approval)
        self._tools: dict[str, RemoteTool] | None = None

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.name!r})"

    @property
    def _log(self) -> Any:
        """The logger of this server's events (made when used: the application may configure logging late)."""
        return get_logger(component="tools", tool_server=self.name)

    # ------------------------------------------------------------------ the tool list

    @property
    def connected(self) -> bool:
        """Whether the tools are listed (between entering and leaving ``async with``)."""
        return self._tools is not None

    def _offer(self, listed: Iterable[tuple[str, str | None, Mapping[str, Any]]]) -> None:
        """Take the server's ``(name, description, input schema)`` list as the tools on offer."""
        tools: dict[str, RemoteTool] = {}
        for remote_name, description, schema in listed:
            name = f"{self.prefix}_{remote_name}" if self.prefix else remote_name
            try:
                check: SchemaCheck | None = SchemaCheck.of(schema)
            except ValueError as exc:  # the server's bug: its own validation will have to do
                self._log.warning("tool schema is not valid JSON Schema", tool=name, error=str(exc).split("\n")[0])
                check = None
            tools[name] = RemoteTool(ToolDefinition(name, description or "", dict(schema)), remote_name, check)
        unknown = self.approval - {t.remote_name for t in tools.values()}
        if unknown:
            self._log.warning("requires_approval names tools the server does not offer", tools=sorted(unknown))
        self._tools = tools

    def _forget(self) -> None:
        self._tools = None

    def definitions(self) -> tuple[ToolDefinition, ...]:
        """The tools, as the server lists them (name prefixed); description and schema unchanged.

        Raises:
            ConfigurationError: the server is not connected (``async with server:`` connects it).
        """
        return tuple(t.definition for t in self._listed().values())

    def requires_approval(self, name: str) -> bool:
        """Whether calls of ``name`` (as offered) wait for an approval."""
        tool = (self._tools or {}).get(name)
        return tool is not None and tool.remote_name in self.approval

    def server_of(self, name: str) -> str:
        """The server's name, for the logs and spans of a call of ``name``."""
        return self.name

    def _listed(self) -> dict[str, RemoteTool]:
        if self._tools is None:
            raise ConfigurationError(f"{self!r} is not connected: enter it with `async with` before a run starts")
        return self._tools

    # ------------------------------------------------------------------ calls

    async def call(self, name: str, arguments: JSONValue) -> ToolOutput:
        """Run tool ``name`` (as offered); see the module docstring for what each outcome gives.

        Raises:
            ToolServerError: the server is gone, or was never connected.
        """
        prepared = self._prepare(name, arguments)
        if isinstance(prepared, ToolOutput):
            return prepared
        tool, args = prepared
        timeout = self._timeout(tool)
        try:
            async with asyncio.timeout(timeout) as deadline:
                wire = await self._send(tool.remote_name, args)
        except TimeoutError as exc:
            if not deadline.expired():
                return self._raised(name, exc)
            self._log.warning("tool timed out", tool=name, timeout=timeout)
            return timed_out(name, timeout)
        except ToolServerError:
            raise
        except Exception as exc:
            return self._raised(name, exc)
        return self._output(name, wire)

    def _prepare(self, name: str, arguments: JSONValue) -> tuple[RemoteTool, dict[str, Any]] | ToolOutput:
        """The tool and its checked arguments, or the error output when there is nothing to send."""
        tools = self._tools
        if tools is None:
            raise ToolServerError(f"{self!r} is not connected")
        tool = tools.get(name)
        if tool is None:
            self._log.info("unknown tool", tool=name)
            return unknown_tool(name, tools)
        try:
            return tool, tool.check(arguments) if tool.check is not None else load_arguments(arguments)
        except ArgumentError as exc:
            self._log.info("tool arguments invalid", tool=name, problems=exc.problems)
            return invalid_arguments(name, exc)

    def _timeout(self, tool: RemoteTool) -> float | None:
        """Seconds a call of ``tool`` may take."""
        return self.timeout

    def _output(self, name: str, wire: Mapping[str, Any]) -> ToolOutput:
        try:
            return result_output(wire)
        except Exception as exc:  # a result that is not what MCP says a result is
            return self._raised(name, exc)

    async def _send(self, remote_name: str, arguments: dict[str, Any]) -> Mapping[str, Any]:
        """Send one call; its result as wire JSON. Cancelled: tell the server, then re-raise.

        Raises:
            ToolServerError: the server is gone.
        """
        raise NotImplementedError

    def _raised(self, name: str, exc: Exception) -> ToolOutput:
        self._log.warning("tool raised", tool=name, exception=self._redactor.traceback(exc))
        return raised(name, exc, self._redactor)

    def _lost(self, why: BaseException | str) -> ToolServerError:
        """The error for a server that is gone, naming it and saying why (redacted)."""
        reason = why if isinstance(why, str) else self._redactor.error(why)
        return ToolServerError(f"{self!r} is gone: {reason}")


class _Secret:
    """One secret value, in the shape :class:`~agent_fsm.observe.redact.Redactor` reads from a source."""

    __slots__ = ("api_key",)

    def __init__(self, value: str) -> None:
        self.api_key = value


def result_output(wire: Mapping[str, Any]) -> ToolOutput:
    """An MCP ``CallToolResult`` (its JSON) as a tool output.

    Text content becomes ``Text`` parts and image content ``Image`` parts, in order; an embedded
    text resource its text, an embedded image its image; other blocks (audio, links, binary
    resources) a line of JSON describing them without their data. ``structuredContent`` becomes
    canonical JSON text when no block is text. ``isError`` is ``is_error``.
    """
    parts: list[ToolResultContent] = []
    for block in wire.get("content") or ():
        parts.append(_part(block))
    structured = wire.get("structuredContent")
    if structured is not None and not any(isinstance(p, Text) for p in parts):
        parts.extend(to_output(structured).content)
    return ToolOutput(tuple(parts), is_error=bool(wire.get("isError", False)))


def _part(block: Mapping[str, Any]) -> ToolResultContent:
    kind = block.get("type")
    if kind == "text":
        return Text(str(block.get("text", "")))
    if kind == "image":
        return Image(str(block["data"]), block.get("mimeType"))
    if kind == "resource":
        resource = block.get("resource") or {}
        if "text" in resource:
            return Text(str(resource["text"]))
        mime = resource.get("mimeType")
        if "blob" in resource and isinstance(mime, str) and mime.startswith("image/"):
            return Image(str(resource["blob"]), mime)
    shown = {k: v for k, v in block.items() if k not in ("data", "blob", "resource")}
    if isinstance(block.get("resource"), Mapping):
        shown["resource"] = {k: v for k, v in block["resource"].items() if k != "blob"}
    return Text(json.dumps(shown, ensure_ascii=False, sort_keys=True))
