"""A real MCP server for the tests, written with the SDK's FastMCP.

    python tests/mcp_server.py stdio
    python tests/mcp_server.py http PORT       # streamable HTTP on 127.0.0.1:PORT/mcp

Its tools cover what a client must handle: text, an image, structured content only, an error
result, a call that outlives its timeout (and notices being cancelled), a server that dies in
the middle of a call, and writing to stderr.
"""

from __future__ import annotations

import base64
import os
import signal
import sys
from typing import Literal

import anyio
from mcp.server.fastmcp import FastMCP, Image
from mcp.server.fastmcp.exceptions import ToolError
from mcp.types import CallToolResult

PNG = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg=="
)

transport = sys.argv[1] if len(sys.argv) > 1 else "stdio"
port = int(sys.argv[2]) if len(sys.argv) > 2 else 8000
server = FastMCP("agent-fsm-test", host="127.0.0.1", port=port, log_level="WARNING")
cancelled = anyio.Event()
started = anyio.Event()


@server.tool()
def echo(text: str) -> str:
    """Say the text back."""
    return text


@server.tool()
def get_capital(country: str) -> str:
    """The capital city of a country."""
    return {"UK": "London (said the MCP server)"}.get(country, "unknown")


@server.tool()
def add(a: int, b: int, unit: Literal["km", "mi"] = "km") -> str:
    """Add two integers."""
    return f"{a + b} {unit}"


@server.tool()
def pixel() -> Image:
    """A 1x1 PNG."""
    return Image(data=PNG, format="png")


@server.tool()
def weather(city: str) -> CallToolResult:
    """Structured content only, no text block."""
    return CallToolResult(content=[], structuredContent={"city": city, "temp": 21.5})


@server.tool()
def fail(reason: str) -> str:
    """Always an error result."""
    raise ToolError(reason)


@server.tool()
async def slow(seconds: float) -> str:
    """Sleep, and remember being cancelled."""
    print("slow: started", file=sys.stderr, flush=True)
    started.set()
    try:
        await anyio.sleep(seconds)
    except anyio.get_cancelled_exc_class():
        print("slow: cancelled", file=sys.stderr, flush=True)
        cancelled.set()
        raise
    return "slept"


@server.tool()
async def was_cancelled() -> bool:
    """Whether a call of slow was cancelled (waits for it a little)."""
    with anyio.move_on_after(10):
        await cancelled.wait()
    return cancelled.is_set()


@server.tool()
async def wait_started() -> bool:
    """Whether a call of slow has started (waits for it a little)."""
    with anyio.move_on_after(30):
        await started.wait()
    return started.is_set()


@server.tool()
def shout(text: str) -> str:
    """Write the text to stderr, then return it."""
    print(f"shout: {text}", file=sys.stderr, flush=True)
    return text


@server.tool()
def die() -> str:
    """Kill this server's own process in the middle of the call."""
    os.kill(os.getpid(), signal.SIGKILL)
    return "unreachable"


if __name__ == "__main__":
    print("server starting", file=sys.stderr, flush=True)
    server.run(transport="streamable-http" if transport == "http" else "stdio")
