"""Tools whose behaviour is data: what ``tool_behaviours()`` draws and a fuzz cassette records.

Each :class:`ToolBehaviour` is a real ``@tool`` (async, taking ``text: str = ""`` and ``n: int =
0``) that returns text, returns JSON, raises, stalls past its (tiny) timeout, or hangs until the
run's consumer cancels it. :class:`ToolBehaviours` bundles a few, plus an optional failure of the
whole tool server at its n-th call (``ToolServerError``, which fails the run), and serves them as a
:class:`~agent_fsm.tools.ToolServer` through the library's own :class:`~agent_fsm.tools.ToolSet` -
so fuzzing goes through the real argument checks, timeouts and error reporting - or, with
``served_by="mcp"``, through a fake MCP server. This module is the data; :mod:`.servers` serves it
(``serve(behaviours)``).
"""

from __future__ import annotations

import functools
from collections.abc import Iterable, Mapping
from typing import Any, Final, Literal

import attrs
from attrs import frozen

from ..request import ToolDefinition
from ..tools import Tool, tool
from .policy import hang

__all__ = ["BEHAVIOUR_KINDS", "TIMED", "HangInSyncDriver", "ToolBehaviour", "ToolBehaviours"]

BehaviourKind = Literal["text", "json", "raise", "stall", "stubborn", "hang"]
BEHAVIOUR_KINDS: Final[tuple[str, ...]] = ("text", "json", "raise", "stall", "stubborn", "hang")
TIMED: Final = ("stall", "stubborn")
SERVED_BY: Final[tuple[str, ...]] = ("toolset", "mcp")


class HangInSyncDriver(Exception):
    """A hanging tool was run by the sync driver, which has no consumer that could cancel it."""


@frozen
class ToolBehaviour:
    """One tool and what every call of it does.

    Args:
        name: the tool's name.
        kind: ``text`` returns ``value + text``; ``json`` returns ``{"value", "text", "n"}``;
            ``raise`` raises ``ValueError(value)``; ``stall`` sleeps past ``timeout``;
            ``stubborn`` sleeps past it too and ignores being cancelled once (then returns);
            ``hang`` waits until the consumer cancels the run.
        value: the text returned, or the exception's message.
        timeout: the tool's timeout in seconds (keep it tiny for ``stall``: it is real time).
    """

    name: str
    kind: str = attrs.field(validator=attrs.validators.in_(BEHAVIOUR_KINDS))
    value: str = ""
    timeout: float | None = None

    def __attrs_post_init__(self) -> None:
        if self.kind in TIMED and (self.timeout is None or self.timeout <= 0):
            raise ValueError(f"tool {self.name!r} stalls, so it needs a timeout > 0")

    def tool(self) -> Tool:
        """The behaviour as a ``@tool`` (the same object for equal behaviours: tools are stateless)."""
        return _make_tool(self)

    def to_json_value(self) -> dict[str, Any]:
        return {"name": self.name, "kind": self.kind, "value": self.value, "timeout": self.timeout}

    @classmethod
    def from_json_value(cls, data: Mapping[str, Any]) -> ToolBehaviour:
        return cls(data["name"], data["kind"], data.get("value", ""), data.get("timeout"))


@functools.lru_cache(maxsize=1024)
def _make_tool(b: ToolBehaviour) -> Tool:
    # Reading a signature builds a class: cached, since a fuzz run makes thousands of servers.
    async def behave(text: str = "", n: int = 0) -> Any:
        if b.kind == "text":
            return b.value + text
        if b.kind == "json":
            return {"value": b.value, "text": text, "n": n}
        if b.kind == "raise":
            raise ValueError(b.value)
        if b.kind in TIMED:
            import asyncio

            try:
                await asyncio.sleep(3600)  # the tool's timeout ends this
            except asyncio.CancelledError:
                if b.kind == "stall":
                    raise
                await asyncio.sleep(0)  # stubborn: carries on after being cancelled, then returns
            return None
        await hang(f"tool {b.name}")
        return None  # pragma: no cover - hang never returns

    behave.__doc__ = f"A fuzzing tool that does {b.kind!r}."
    return tool(name=b.name, timeout=b.timeout)(behave)


def _behaviours(value: Iterable[ToolBehaviour]) -> tuple[ToolBehaviour, ...]:
    return tuple(value)


@frozen
class ToolBehaviours:
    """A set of tool behaviours and how the server itself fails: plain data, replayable.

    Args:
        behaviours: the tools; names must be unique.
        server_fails_at: the server raises ``ToolServerError`` at this call (1-based), if set.
        served_by: ``"toolset"`` (local tools) or ``"mcp"`` (a fake MCP server).
    """

    behaviours: tuple[ToolBehaviour, ...] = attrs.field(converter=_behaviours, default=())
    server_fails_at: int | None = None
    served_by: str = attrs.field(default="toolset", validator=attrs.validators.in_(SERVED_BY))

    def __attrs_post_init__(self) -> None:
        names = [b.name for b in self.behaviours]
        if len(set(names)) != len(names):
            raise ValueError(f"tool names must be unique: {names}")

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(b.name for b in self.behaviours)

    @property
    def hangs(self) -> bool:
        return any(b.kind == "hang" for b in self.behaviours)

    def tools(self) -> list[Tool]:
        """Each behaviour as a ``@tool``, for an ``Agent(tools=...)`` of your own."""
        return [b.tool() for b in self.behaviours]

    def definitions(self) -> tuple[ToolDefinition, ...]:
        return tuple(t.definition for t in self.tools())

    def to_json_value(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "behaviours": [b.to_json_value() for b in self.behaviours],
            "server_fails_at": self.server_fails_at,
        }
        if self.served_by != "toolset":  # absent from older cassettes, which stay byte-identical
            data["served_by"] = self.served_by
        return data

    @classmethod
    def from_json_value(cls, data: Mapping[str, Any]) -> ToolBehaviours:
        behaviours = [ToolBehaviour.from_json_value(b) for b in data.get("behaviours", ())]
        return cls(behaviours, data.get("server_fails_at"), data.get("served_by", "toolset"))
