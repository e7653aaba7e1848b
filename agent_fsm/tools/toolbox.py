"""An agent's tools from several sources: ``@tool`` functions and tool servers, side by side.

``Agent(model, tools=[add, files, search])`` gives the agent a :class:`Toolbox`: the functions
go into one :class:`~agent_fsm.tools.ToolSet`, each server stays itself, and every call is routed
to the one source that offers its name. The model sees the tools in the order of the list.

A name offered twice is a :class:`~agent_fsm.errors.ConfigurationError` naming both sources. It
is found as soon as the names are known: when the agent is made, for functions and servers that
are already connected; otherwise when a run starts (``stream_prompt``), before any model request.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from ..errors import ConfigurationError
from ..messages import JSONValue
from ..observe.logger import get_logger
from ..request import ToolDefinition, ToolOutput
from ._tool import Tool, ToolServer, ToolSet
from .outcomes import unknown_tool

__all__ = ["Toolbox"]


class Toolbox:
    """A :class:`~agent_fsm.tools.ToolServer` routing each call to the source that offers it.

    Args:
        items: ``@tool`` functions (or anything :class:`~agent_fsm.tools.ToolSet` takes) and
            tool servers, in the order the model should see their tools.
        default_timeout: for the functions (servers keep their own).

    Raises:
        ConfigurationError: for a name offered twice among the sources whose names are known.
    """

    def __init__(self, items: Iterable[Any], *, default_timeout: float | None) -> None:
        self._local = ToolSet(default_timeout=default_timeout)
        self._items: list[Tool | ToolServer] = []
        for item in items:  # functions made into tools by ToolSet's rules, one name checked at a time below
            self._items.append(item if isinstance(item, ToolServer) else ToolSet().add(item))
        self._routes: dict[str, ToolServer] = {}
        self._table(only_connected=True)
        for item in self._items:
            if isinstance(item, Tool):
                self._local.add(item)

    def __repr__(self) -> str:
        return f"Toolbox([{', '.join(_describe(i) for i in self._items)}])"

    def definitions(self) -> tuple[ToolDefinition, ...]:
        """Every source's tools, in the order of the sources.

        Raises:
            ConfigurationError: a name offered twice, or a server that is not connected.
        """
        return self._table(only_connected=False)

    def requires_approval(self, name: str) -> bool:
        source = self._routes.get(name)
        needs = getattr(source, "requires_approval", None)
        return bool(needs(name)) if needs is not None else False

    def server_of(self, name: str) -> str | None:
        """The name of the server offering ``name`` (for logs and spans); ``None`` for a function."""
        source = self._routes.get(name)
        if source is None or source is self._local:
            return None
        server_of = getattr(source, "server_of", None)
        return str(server_of(name)) if server_of is not None else type(source).__name__

    async def call(self, name: str, arguments: JSONValue) -> ToolOutput:
        """Run ``name`` on the source that offers it (an unknown name is an error result)."""
        if not self._routes:
            self._table(only_connected=False)
        source = self._routes.get(name)
        if source is None:
            get_logger(component="tools").info("unknown tool", tool=name)
            return unknown_tool(name, self._routes)
        return await source.call(name, arguments)

    def _table(self, *, only_connected: bool) -> tuple[ToolDefinition, ...]:
        definitions: list[ToolDefinition] = []
        owners: dict[str, Tool | ToolServer] = {}
        routes: dict[str, ToolServer] = {}
        for item in self._items:
            if isinstance(item, Tool):
                offered: Iterable[ToolDefinition] = (item.definition,)
                route: ToolServer = self._local
            else:
                if only_connected and not getattr(item, "connected", True):
                    continue
                offered, route = item.definitions(), item
            for definition in offered:
                other = owners.get(definition.name)
                if other is not None:
                    raise ConfigurationError(
                        f"two tools are named {definition.name!r}: one from {_describe(other)}, "
                        f"one from {_describe(item)}"
                    )
                owners[definition.name] = item
                routes[definition.name] = route
                definitions.append(definition)
        self._routes = routes
        return tuple(definitions)


def _describe(source: Tool | ToolServer) -> str:
    if isinstance(source, Tool):
        fn = source.fn
        where = f"{getattr(fn, '__module__', '?')}.{getattr(fn, '__qualname__', source.name)}"
        return f"@tool {where}"
    return repr(source) if type(source).__repr__ is not object.__repr__ else type(source).__name__
