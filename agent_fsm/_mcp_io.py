"""Plumbing around the MCP SDK's transports: a subprocess's stderr to the log, and a watch on
streamable HTTP connections.

* :func:`log_lines` reads a pipe (the stdio server's stderr) and logs each line, redacted, so that
  nothing a server writes is lost or goes straight to the terminal.
* :class:`DropWatch` is httpx's transport, telling its owner when a connection fails or a POST's
  response is cut off. The SDK swallows a response stream that breaks mid-way (it waits to resume
  it), which would leave a call waiting for its timeout: this is how a dead server is noticed.
* :func:`forward` passes the transport's messages to the session until told to stop, so that a
  dropped connection can end the session's input - and the SDK then fails every pending request,
  as it does when a stdio server exits.

No ``mcp`` import here: these work on anyio memory streams, httpx and pipes.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import anyio
import httpx
from anyio.streams.memory import MemoryObjectReceiveStream, MemoryObjectSendStream

from .observe.redact import Redactor

__all__ = ["DropWatch", "forward", "log_lines"]

_STDERR_DRAIN = 2.0
"""Seconds to wait, after the server exited, for the rest of its stderr (a child of it may hold the pipe)."""


async def forward(read: MemoryObjectReceiveStream[Any], write: MemoryObjectSendStream[Any], cut: anyio.Event) -> None:
    """Pass messages from the transport to the session until either ends or ``cut`` is set."""
    async with write, anyio.create_task_group() as group:

        async def watch() -> None:
            await cut.wait()
            group.cancel_scope.cancel()

        group.start_soon(watch)
        with contextlib.suppress(anyio.ClosedResourceError, anyio.BrokenResourceError, anyio.EndOfStream):
            async for message in read:
                await write.send(message)
        group.cancel_scope.cancel()


class DropWatch(httpx.AsyncBaseTransport):
    """httpx's transport, telling ``on_drop`` when a connection fails or a POST's response is cut off."""

    def __init__(self, on_drop: Callable[[Exception], None]) -> None:
        self._inner = httpx.AsyncHTTPTransport()
        self._on_drop = on_drop

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        try:
            response = await self._inner.handle_async_request(request)
        except httpx.TransportError as exc:
            if not isinstance(exc, httpx.TimeoutException):
                self._on_drop(exc)
            raise
        if request.method != "POST":
            return response
        return httpx.Response(
            response.status_code,
            headers=response.headers,
            stream=_WatchedStream(response.stream, self._on_drop),
            extensions=response.extensions,
            request=request,
        )

    async def aclose(self) -> None:
        await self._inner.aclose()


class _WatchedStream(httpx.AsyncByteStream):
    def __init__(self, inner: Any, on_drop: Callable[[Exception], None]) -> None:
        self._inner = inner
        self._on_drop = on_drop

    async def __aiter__(self) -> AsyncIterator[bytes]:
        try:
            async for chunk in self._inner:
                yield chunk
        except httpx.TransportError as exc:
            if not isinstance(exc, httpx.TimeoutException):
                self._on_drop(exc)
            raise

    async def aclose(self) -> None:
        await self._inner.aclose()


def log_lines(fd: int, log: Any, clean: Redactor) -> Callable[[], Awaitable[None]]:
    """Start logging each line read from pipe ``fd``; the returned function waits for the rest."""
    task = asyncio.ensure_future(_read_lines(fd, log, clean))

    async def drain() -> None:
        try:
            await asyncio.wait({task}, timeout=_STDERR_DRAIN)
        finally:
            task.cancel()  # a no-op once it has read everything
        await asyncio.wait({task})

    return drain


async def _read_lines(fd: int, log: Any, clean: Redactor) -> None:
    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader(limit=1 << 20)
    pipe = os.fdopen(fd, "rb", buffering=0)  # the transport owns it and closes it
    transport, _ = await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), pipe)
    try:
        while True:
            try:
                raw = await reader.readline()
            except ValueError:  # a line longer than the limit: log it in pieces
                raw = await reader.read(1 << 20)
            if not raw:
                return
            log.info("mcp server stderr", line=clean(raw.decode("utf-8", "replace").rstrip("\r\n")))
    finally:
        transport.close()
