"""Lazy re-exports for package namespaces: a name's module is imported the first time it is used.

This keeps ``import agent_fsm.machine`` free of ``asyncio`` and ``httpx`` even though the package
namespace re-exports the driver and the providers. A package's export table is its ``if
TYPE_CHECKING:`` block of ``from .module import Name as Name`` lines - what type checkers read -
and :func:`lazy_exports` reads the same block from the package's source, so each public name is
written in one place: ``__all__``, ``__getattr__`` and ``__dir__`` all come from it.
"""

from __future__ import annotations

import ast
import importlib
from collections.abc import Callable
from pathlib import Path
from typing import Any


def export_table(source: str) -> dict[str, str | None]:
    """Name -> submodule (relative, without the dot) of every import under ``if TYPE_CHECKING:``;
    ``None`` for a name that is itself a submodule (``from . import strategies as strategies``)."""
    table: dict[str, str | None] = {}
    for node in ast.parse(source).body:
        if isinstance(node, ast.If) and isinstance(node.test, ast.Name) and node.test.id == "TYPE_CHECKING":
            for stmt in node.body:
                if isinstance(stmt, ast.ImportFrom) and stmt.level == 1:
                    for alias in stmt.names:
                        name = alias.asname or alias.name
                        table[name] = stmt.module
    return table


def lazy_exports(package: str, init_file: str) -> tuple[list[str], Callable[[str], Any], Callable[[], list[str]]]:
    """``__all__``, ``__getattr__`` and ``__dir__`` for ``package``, from its export table."""
    exports = export_table(Path(init_file).read_text(encoding="utf-8"))

    def __getattr__(name: str) -> Any:
        if name not in exports:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        module = exports[name]
        value = (
            importlib.import_module(f".{name}", package)
            if module is None
            else getattr(importlib.import_module(f".{module}", package), name)
        )
        vars(importlib.import_module(package))[name] = value
        return value

    def __dir__() -> list[str]:
        return sorted([*vars(importlib.import_module(package)), *exports])

    return list(exports), __getattr__, __dir__
