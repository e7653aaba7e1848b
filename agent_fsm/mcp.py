"""Tools from MCP servers, through the official ``mcp`` SDK (``pip install 'agent-fsm[mcp]'``).

::

    from agent_fsm import Agent
    from agent_fsm.mcp import MCPServerHTTP, MCPServerStdio

    files = MCPServerStdio("python", ["-m", "my_server"], prefix="fs", requires_approval={"delete"})
    search = MCPServerHTTP("http://127.0.0.1:8000/mcp", headers={"Authorization": "Bearer ..."})
    agent = Agent(model, tools=[add, files, search])
    async with files, search:                       # connect, initialize, list the tools
        async for item in agent.stream_prompt("..."):
            ...

Each server is a :class:`~agent_fsm.tools.ToolServer`; what a call gives in every case (results,
error results, timeouts, a server that dies) is in :mod:`agent_fsm.tools._remote` and
``docs/tools.md``.

**One task owns the SDK.** The SDK's transports and ``ClientSession`` are anyio contexts that
must be left in the task that entered them. ``async with server`` therefore starts one task per
server that enters the transport and the session, lists the tools, waits until the server is
closed, and leaves them; calls come from any task (the run's, its tool tasks). So a server can
be entered in one task and left in another (a pytest fixture, an ``AsyncExitStack``), and a server
that dies takes down only its own task: leaving ``async with`` afterwards raises nothing.

**The server's stderr** goes through a pipe to the log, line by line (``mcp server stderr``,
INFO, redacted), never straight to the terminal.

**Cancelling a call** (its timeout, or the run being closed) sends MCP's
``notifications/cancelled`` for the request, so the server stops working on it. The SDK does not
return a request's id; it numbers requests in order, so the id is read from the session just
before the call (``tests/test_mcp.py`` checks that the server sees the cancellation).

Nothing imports ``mcp`` unless this module is imported.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import shlex
from collections.abc import AsyncIterator, Iterable, Mapping
from pathlib import Path
from types import TracebackType
from typing import Any, Self

import anyio
import httpx
from anyio.streams.memory import MemoryObjectReceiveStream, MemoryObjectSendStream

try:
    from mcp import ClientSession, McpError, StdioServerParameters, types
    from mcp.client.stdio import stdio_client
    from mcp.client.streamable_http import streamable_http_client
    from mcp.shared.message import SessionMessage
except ImportError as exc:  # pragma: no cover - depends on what is installed
    raise ImportError(f"agent_fsm.mcp needs the mcp extra: pip install 'agent-fsm[mcp]' ({exc})") from exc

from ._mcp_io import DropWatch, forward, log_lines
from .errors import ToolServerError
from .observe.redact import Redactor
from .tools._remote import RemoteTools

__all__ = ["MCPServerHTTP", "MCPServerStdio"]

_Read = MemoryObjectReceiveStream[SessionMessage | Exception]
_Write = MemoryObjectSendStream[SessionMessage]
_CONNECT_TIMEOUT = 30.0
"""Seconds starting a server and listing its tools may take at least (``timeout`` when longer)."""


class _MCPServer(RemoteTools):
    """What both transports share: the owner task, the session, calls and their cancellation."""

    _closed = "the connection was closed"
    """Why the server is gone, when the session saw its connection close."""

    def __init__(
        self,
        name: str,
        *,
        prefix: str | None,
        timeout: float | None,
        requires_approval: Iterable[str],
        secrets: Iterable[str] = (),
    ) -> None:
        super().__init__(name, prefix=prefix, timeout=timeout, requires_approval=requires_approval, secrets=secrets)
        self._session: ClientSession | None = None
        self._owner: asyncio.Task[None] | None = None
        self._stop = asyncio.Event()
        self._gone: str | None = None
        self._waiting: set[asyncio.Task[Any]] = set()
        """Tasks waiting in a call for the server's answer."""
        self._abandoned: set[asyncio.Task[Any]] = set()
        """Those of them the owner cancelled because the server is gone."""

    # ------------------------------------------------------------------ connecting and closing

    async def __aenter__(self) -> Self:
        """Start (or reach) the server, initialize the session and list its tools.

        Raises:
            ToolServerError: the server cannot be started or reached, or does not answer within
                ``timeout``; it names the server.
        """
        if self._owner is not None:
            raise ToolServerError(f"{self!r} is already connected")
        self._stop = asyncio.Event()
        self._gone = None
        ready: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._owner = asyncio.create_task(self._own(ready), name=f"agent-fsm {self!r}")
        try:
            await ready
        except BaseException:
            self._owner.cancel()  # still starting, if our caller was cancelled
            await self._close()
            raise
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self._close()

    async def _close(self) -> None:
        """Leave the session and the transport (in their task) and wait for it; never raises."""
        owner, self._owner = self._owner, None
        self._forget()
        if owner is None:
            return
        self._stop.set()
        try:
            await asyncio.shield(owner)
        except asyncio.CancelledError:
            owner.cancel()  # our own caller was cancelled: the owner must not outlive it
            with contextlib.suppress(BaseException):
                await owner
            raise
        except Exception:  # recorded by the owner; a server that died closes quietly
            pass

    async def _own(self, ready: asyncio.Future[None]) -> None:
        """The owner task: enter the SDK's contexts, serve until closed, leave them."""
        why: str | None = None
        try:
            async with contextlib.AsyncExitStack() as stack:
                read, write = await self._open(stack)
                session = await stack.enter_async_context(ClientSession(read, write))
                deadline = None if self.timeout is None else max(self.timeout, _CONNECT_TIMEOUT)
                try:
                    with anyio.fail_after(deadline):
                        await session.initialize()
                        listed = [t async for t in _list_tools(session)]
                except TimeoutError:
                    why = f"no answer to initialize within {deadline:g} s"
                    raise
                self._offer((t.name, t.description, t.inputSchema) for t in listed)
                self._session = session
                self._log.info("mcp server connected", tools=[t.name for t in listed])
                if not ready.done():  # (else the caller gave up waiting, and cancels us)
                    ready.set_result(None)
                await self._stop.wait()
        except BaseException as exc:
            reason = why or _reason(exc, self._redactor)
            if isinstance(exc, asyncio.CancelledError):
                ready.cancel()
            elif not ready.done():
                ready.set_exception(ToolServerError(f"{self!r} could not be started: {reason}"))
            else:
                self._gone = self._gone or reason
                self._log.warning("mcp server connection ended", reason=reason)
            if isinstance(exc, asyncio.CancelledError | KeyboardInterrupt | SystemExit):
                raise
        finally:
            self._session = None
            # A transport that fails is torn down by cancellation, and then the SDK cannot tell
            # the calls still waiting for an answer: no answer will come, so they fail now.
            for waiting in self._waiting - self._abandoned:
                self._abandoned.add(waiting)
                waiting.cancel()

    async def _open(self, stack: contextlib.AsyncExitStack) -> tuple[_Read, _Write]:
        """Enter the transport on ``stack``; its read and write streams."""
        raise NotImplementedError

    # ------------------------------------------------------------------ calls

    async def _send(self, remote_name: str, arguments: dict[str, Any]) -> Mapping[str, Any]:
        session, task = self._session, asyncio.current_task()
        if session is None or task is None:
            raise self._lost(self._gone or "not connected")
        request_id = session._request_id  # the id the SDK gives the next request (see the module docstring)
        self._waiting.add(task)
        try:
            result = await session.call_tool(remote_name, arguments)
        except asyncio.CancelledError:
            if task in self._abandoned:  # the owner gave up on it: the server is gone
                self._abandoned.discard(task)
                task.uncancel()
                raise self._lost(self._gone or "the server was closed") from None
            await self._cancel_on_server(session, request_id)
            raise
        except McpError as exc:
            if exc.error.code == types.CONNECTION_CLOSED:
                raise self._lost(self._gone or self._closed) from exc
            raise
        except (anyio.ClosedResourceError, anyio.BrokenResourceError, anyio.EndOfStream) as exc:
            raise self._lost(self._gone or self._closed) from exc
        finally:
            self._waiting.discard(task)
        return result.model_dump(mode="json", by_alias=True, exclude_none=True)

    async def _cancel_on_server(self, session: ClientSession, request_id: int) -> None:
        notification = types.CancelledNotification(
            params=types.CancelledNotificationParams(requestId=request_id, reason="cancelled by the client")
        )
        try:
            await session.send_notification(types.ClientNotification(notification))
        except Exception as exc:  # the server is gone: nothing left to cancel
            self._log.info("could not cancel the call on the server", error=self._redactor.error(exc))


class MCPServerStdio(_MCPServer):
    """An MCP server started as a subprocess, spoken to over its stdin and stdout.

    Args:
        command: the executable, e.g. ``"python"`` or ``"npx"``.
        args: its arguments.
        env: variables set for the server, merged over the SDK's safe default environment
            (``HOME``, ``LOGNAME``, ``PATH``, ``SHELL``, ``TERM``, ``USER``): the server does
            not inherit the rest of yours (API keys, say) unless given here.
        cwd: its working directory.
        prefix: offer each tool as ``<prefix>_<name>``.
        timeout: seconds a call may take (starting the server: this or 30 s, the longer);
            ``None`` for no limit.
        requires_approval: the server's own tool names (without the prefix) whose calls wait
            for an approval.

    Leaving ``async with`` closes the server's stdin and waits for it to exit; a server that
    does not exit within two seconds is terminated, then killed, with its process group.
    """

    _closed = "the server process exited (or closed its stdout)"

    def __init__(
        self,
        command: str,
        args: Iterable[str] = (),
        *,
        env: Mapping[str, str] | None = None,
        cwd: str | Path | None = None,
        prefix: str | None = None,
        timeout: float | None = 60.0,
        requires_approval: Iterable[str] = (),
    ) -> None:
        self.command = command
        self.args = tuple(args)
        self.env = dict(env) if env is not None else None
        self.cwd = cwd
        name = shlex.join([command, *self.args])
        super().__init__(name, prefix=prefix, timeout=timeout, requires_approval=requires_approval)

    async def _open(self, stack: contextlib.AsyncExitStack) -> tuple[_Read, _Write]:
        params = StdioServerParameters(command=self.command, args=list(self.args), env=self.env, cwd=self.cwd)
        read_fd, write_fd = os.pipe()
        stack.push_async_callback(log_lines(read_fd, self._log, self._redactor))  # runs once the process is gone
        with os.fdopen(write_fd, "w") as errlog:  # the child gets its own copy; ours closes once it has it
            streams: tuple[_Read, _Write] = await stack.enter_async_context(stdio_client(params, errlog=errlog))
        return streams


class MCPServerHTTP(_MCPServer):
    """An MCP server reached over streamable HTTP.

    Args:
        url: the server's MCP endpoint, e.g. ``http://127.0.0.1:8000/mcp``.
        headers: sent with every request (``Authorization``, say); never logged.
        prefix: offer each tool as ``<prefix>_<name>``.
        timeout: seconds a call may take (connecting: this or 30 s, the longer); ``None`` for
            no limit.
        requires_approval: the server's own tool names (without the prefix) whose calls wait
            for an approval.

    A response cut off before its end (the server died, the connection dropped) makes every
    pending and later call raise ``ToolServerError``.
    """

    def __init__(
        self,
        url: str,
        *,
        headers: Mapping[str, str] | None = None,
        prefix: str | None = None,
        timeout: float | None = 60.0,
        requires_approval: Iterable[str] = (),
    ) -> None:
        self.url = url
        self._headers = dict(headers or {})
        super().__init__(
            _without_userinfo(url),
            prefix=prefix,
            timeout=timeout,
            requires_approval=requires_approval,
            secrets=self._headers.values(),
        )

    async def _open(self, stack: contextlib.AsyncExitStack) -> tuple[_Read, _Write]:
        cut = anyio.Event()
        client = httpx.AsyncClient(
            headers=self._headers,
            timeout=httpx.Timeout(30.0, read=None),  # calls are bounded by our own deadline
            transport=DropWatch(lambda exc: self._dropped(exc, cut)),
        )
        await stack.enter_async_context(client)
        read, write, _ = await stack.enter_async_context(streamable_http_client(self.url, http_client=client))
        # The session reads through a stream of ours, so that a dropped connection can end it:
        # then the SDK fails every pending request, as it does when a stdio server exits.
        to_session, session_read = anyio.create_memory_object_stream[SessionMessage | Exception](0)
        group = await stack.enter_async_context(anyio.create_task_group())
        stack.callback(group.cancel_scope.cancel)
        group.start_soon(forward, read, to_session, cut)
        return session_read, write

    def _dropped(self, exc: Exception, cut: anyio.Event) -> None:
        if self._gone is None:
            self._gone = f"the connection dropped ({self._redactor.error(exc)})"
            self._log.warning("mcp server connection dropped", error=self._redactor.error(exc))
        cut.set()


async def _list_tools(session: ClientSession) -> AsyncIterator[types.Tool]:
    cursor: str | None = None
    while True:
        page = await session.list_tools(params=types.PaginatedRequestParams(cursor=cursor))
        for tool in page.tools:
            yield tool
        cursor = page.nextCursor
        if not cursor:
            return


def _reason(exc: BaseException, redactor: Redactor) -> str:
    """The first real cause inside an exception (group), redacted, for a one-line message."""
    while isinstance(exc, BaseExceptionGroup):
        inner = [e for e in exc.exceptions if not isinstance(e, asyncio.CancelledError)] or list(exc.exceptions)
        exc = inner[0]
    if isinstance(exc, McpError):
        return f"the server answered with an error: {redactor(exc.error.message)}"
    return redactor.error(exc)


def _without_userinfo(url: str) -> str:
    parsed = httpx.URL(url)
    return str(parsed.copy_with(username=None, password=None)) if parsed.userinfo else url
