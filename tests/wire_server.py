"""A real HTTP/1.1 server on 127.0.0.1 for provider tests: stdlib asyncio, no dependencies.

It serves queued :class:`Reply` values, one per request, in random-sized chunks of a chunked
body over a real socket, and can misbehave on purpose: drop the connection mid-body, stall,
refuse to answer. It records every request and notices when a client hangs up.

Also here: where the shared recordings live, and how to read their manifest.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import random
from collections import deque
from dataclasses import dataclass, field
from http import HTTPStatus
from pathlib import Path
from types import TracebackType
from typing import Any

REPO_ROOT = Path(__file__).resolve().parents[1]
WIRE_DIR = REPO_ROOT.parent / "shared" / "wire"
"""The shared recordings, read in place (never copied into the repo)."""


def load_manifest() -> list[dict[str, Any]]:
    """The recordings' manifest (one entry per file), or ``[]`` when the folder is absent."""
    path = WIRE_DIR / "manifest.json"
    if not path.exists():
        return []
    entries: list[dict[str, Any]] = json.loads(path.read_text(encoding="utf-8"))
    return entries


@dataclass
class Reply:
    """One scripted HTTP response.

    ``drop_after``: close the socket after that many body bytes, without ending the chunked body.
    ``stall_after``: after that many body bytes, send nothing for ``stall_for`` seconds (or until
    the client hangs up), then go on. ``hang_up``: read the request and close without answering.
    """

    status: int = 200
    body: bytes = b""
    content_type: str = "text/event-stream; charset=utf-8"
    headers: dict[str, str] = field(default_factory=dict)
    drop_after: int | None = None
    stall_after: int | None = None
    stall_for: float = 30.0
    hang_up: bool = False


@dataclass
class Recorded:
    """A request as the server received it."""

    method: str
    path: str
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


class WireServer:
    """``async with WireServer() as server:`` serves ``server.queue(...)``d replies at ``server.url``."""

    def __init__(self, rng: random.Random | None = None) -> None:
        self.rng = rng if rng is not None else random.Random(0)
        self.requests: list[Recorded] = []
        self.client_gone = asyncio.Event()
        """Set when a client closed its connection before the server had finished answering."""
        self.connections_closed = 0
        self._replies: deque[Reply] = deque()
        self._server: asyncio.Server | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self.url = ""

    def queue(self, *replies: Reply) -> None:
        self._replies.extend(replies)

    async def __aenter__(self) -> WireServer:
        self._server = await asyncio.start_server(self._accept, "127.0.0.1", 0)
        port = self._server.sockets[0].getsockname()[1]
        self.url = f"http://127.0.0.1:{port}"
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        assert self._server is not None
        self._server.close()
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        await self._server.wait_closed()

    def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.ensure_future(self._serve(reader, writer))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            request = await _read_request(reader)
            if request is None:
                return
            self.requests.append(request)
            reply = self._replies.popleft() if self._replies else Reply(404, b'{"error": "no reply queued"}')
            if not reply.hang_up:
                await self._respond(reply, reader, writer)
        except (ConnectionError, asyncio.IncompleteReadError):
            self.client_gone.set()
        finally:
            writer.close()
            with contextlib.suppress(ConnectionError):
                await writer.wait_closed()
            self.connections_closed += 1

    async def _respond(self, reply: Reply, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        reason = HTTPStatus(reply.status).phrase
        head = [f"HTTP/1.1 {reply.status} {reason}", f"content-type: {reply.content_type}"]
        head += ["transfer-encoding: chunked", "connection: close"]
        head += [f"{k}: {v}" for k, v in reply.headers.items()]
        writer.write(("\r\n".join(head) + "\r\n\r\n").encode())
        await writer.drain()
        sent = 0
        for chunk in self._chunks(reply.body):
            if reply.stall_after is not None and sent >= reply.stall_after:
                reply.stall_after = None
                if await self._client_left(reader, reply.stall_for):
                    self.client_gone.set()
                    return
            if reply.drop_after is not None and sent + len(chunk) >= reply.drop_after:
                part = chunk[: max(0, reply.drop_after - sent)]
                writer.write(f"{len(chunk):x}\r\n".encode() + part)  # announce more than we send
                await writer.drain()
                return
            writer.write(f"{len(chunk):x}\r\n".encode() + chunk + b"\r\n")
            await writer.drain()
            sent += len(chunk)
            await asyncio.sleep(0)  # let the client read this chunk on its own
        if reply.stall_after is not None and await self._client_left(reader, reply.stall_for):
            self.client_gone.set()
            return
        writer.write(b"0\r\n\r\n")
        await writer.drain()

    async def _client_left(self, reader: asyncio.StreamReader, seconds: float) -> bool:
        """Wait up to ``seconds``; true if the client closed its end meanwhile."""
        try:
            data = await asyncio.wait_for(reader.read(1), seconds)
        except TimeoutError:
            return False
        return data == b""

    def _chunks(self, body: bytes) -> list[bytes]:
        """``body`` cut at random points: mostly tiny pieces, some larger ones (UTF-8 may be split)."""
        rng = self.rng
        out: list[bytes] = []
        i = 0
        while i < len(body):
            roll = rng.random()
            size = rng.randint(1, 16) if roll < 0.7 else rng.randint(17, 200) if roll < 0.95 else rng.randint(201, 4096)
            out.append(body[i : i + size])
            i += size
        return out


async def _read_request(reader: asyncio.StreamReader) -> Recorded | None:
    try:
        head = await reader.readuntil(b"\r\n\r\n")
    except asyncio.IncompleteReadError:
        return None
    lines = head.decode("latin-1").split("\r\n")
    method, path, _ = lines[0].split(" ", 2)
    headers = {}
    for line in lines[1:]:
        if ":" in line:
            name, _, value = line.partition(":")
            headers[name.strip().lower()] = value.strip()
    length = int(headers.get("content-length", "0"))
    body = await reader.readexactly(length) if length else b""
    return Recorded(method, path, headers, body)
