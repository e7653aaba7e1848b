"""The package's layers: the order is stated once (``LAYERS``), and every import obeys it.

Every ``import`` statement of every module counts - at the top, under ``TYPE_CHECKING`` or inside
a function - because a circle that only a local import dodges is still a circle. A module may
import from its own layer or a lower one, never a higher one, and no chain of imports may come
back to where it started. The sans-IO core is also checked the way a user meets it: importing
``agent_fsm.machine`` in a fresh interpreter must not load any I/O or serialisation library.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "agent_fsm"

LAYERS: tuple[tuple[str, frozenset[str]], ...] = (
    (
        "vocabulary",
        frozenset(
            {
                "_lazy",
                "_version",
                "_json",
                "_wellformed",
                "messages",
                "events",
                "items",
                "request",
                "hooks",
                "errors",
                "history",
                "codec",
            }
        ),
    ),
    ("machine", frozenset({"machine", "table"})),
    ("services", frozenset({"tools", "observe", "providers", "log", "otel", "cassette"})),
    ("run", frozenset({"run", "effects"})),
    ("agent", frozenset({"agent"})),
    ("integrations", frozenset({"durable", "mcp", "_mcp_io"})),
    ("testing", frozenset({"testing"})),
    ("entry points", frozenset({"diagram", "cli", "__main__", "testing.pytest_plugin"})),
)
"""Bottom to top. A name is a top-level module or subpackage of ``agent_fsm`` (or a module in one, which
then counts apart from its package: the pytest plugin is an entry point, loaded by pytest); the thin modules
that keep a documented path (``table``, ``log``, ``otel``, ``cassette``, ``effects``) sit in the
layer of what they re-export. The package's ``__init__`` is the front door over all of them (its
re-exports are lazy) and is in no layer."""

FORBIDDEN_IN_CORE = ("asyncio", "httpx", "cattrs", "structlog")


def _module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _modules() -> dict[str, Path]:
    return {_module_name(p): p for p in sorted(PACKAGE.rglob("*.py"))}


def _imports(name: str, path: Path, known: set[str]) -> set[str]:
    """The package modules ``name`` imports, anywhere in its body."""
    is_package = path.name == "__init__.py"
    base = name.split(".") if is_package else name.split(".")[:-1]
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names if alias.name.startswith("agent_fsm"))
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                anchor = base[: len(base) - node.level + 1]
                target = ".".join([*anchor, *([node.module] if node.module else [])])
            elif node.module and node.module.startswith("agent_fsm"):
                target = node.module
            else:
                continue
            for alias in node.names:  # "from . import codec" imports a module, not a name
                sub = f"{target}.{alias.name}"
                found.add(sub if sub in known else target)
    return {m for m in found if m in known and m != name}


def _graph() -> dict[str, set[str]]:
    modules = _modules()
    known = set(modules)
    return {name: _imports(name, path, known) for name, path in modules.items()}


def _layer(module: str) -> int | None:
    parts = module.split(".")
    if len(parts) == 1:
        return None  # the package's front door
    for depth in range(len(parts), 1, -1):  # the most specific name wins: testing.pytest_plugin, then testing
        key = ".".join(parts[1:depth])
        for rank, (_, names) in enumerate(LAYERS):
            if key in names:
                return rank
    raise AssertionError(f"{module} is in no layer: add it to LAYERS")


def test_every_module_is_in_exactly_one_layer() -> None:
    seen: dict[str, str] = {}
    for layer, names in LAYERS:
        for n in names:
            assert n not in seen, f"{n} is in both {seen[n]} and {layer}"
            seen[n] = layer
    for module in _modules():
        _layer(module)


def test_no_module_imports_from_a_layer_above_its_own() -> None:
    upward = []
    for module, targets in _graph().items():
        rank = _layer(module)
        if rank is None:
            continue
        if "agent_fsm" in targets:
            upward.append(f"{module} imports the package's front door (agent_fsm), the top of every layer")
        for target in sorted(targets):
            target_rank = _layer(target)
            if target_rank is not None and target_rank > rank:
                upward.append(f"{module} ({LAYERS[rank][0]}) imports {target} ({LAYERS[target_rank][0]})")
    assert not upward, "upward imports:\n" + "\n".join(upward)


def test_no_import_cycle() -> None:
    graph = _graph()
    # the package's __init__ re-exports lazily and every submodule import loads it anyway
    graph = {m: {t for t in ts if t != "agent_fsm"} for m, ts in graph.items()}
    state: dict[str, int] = {}  # 1 on the current path, 2 done
    stack: list[str] = []

    def visit(module: str) -> None:
        state[module] = 1
        stack.append(module)
        for target in sorted(graph[module]):
            if state.get(target) == 1:
                cycle = [*stack[stack.index(target) :], target]
                pytest.fail("import cycle: " + " -> ".join(cycle))
            if target not in state:
                visit(target)
        stack.pop()
        state[module] = 2

    for module in sorted(graph):
        if module not in state:
            visit(module)


def test_the_layer_test_sees_an_upward_import_and_a_cycle() -> None:
    # The rules above on a made-up graph, so that a broken _layer or cycle search cannot pass silently.
    assert _layer("agent_fsm.machine.table") < _layer("agent_fsm.run.driver")  # type: ignore[operator]
    graph = _graph()
    assert "agent_fsm.machine.table" in graph["agent_fsm.machine._machine"]
    assert "agent_fsm.codec" in graph["agent_fsm.machine.snapshot"]  # a local import counts


@pytest.mark.parametrize(
    ("module", "forbidden"),
    [
        ("agent_fsm.machine", FORBIDDEN_IN_CORE),
        ("agent_fsm.machine.table", FORBIDDEN_IN_CORE),
        ("agent_fsm.run.sync_driver", ("asyncio", "httpx")),  # the driver for code with no event loop
    ],
)
def test_the_core_loads_no_io_or_serialisation_library(module: str, forbidden: tuple[str, ...]) -> None:
    code = f"import sys\nimport {module}\nprint(','.join(m for m in {forbidden!r} if m in sys.modules))\n"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "", f"importing {module} loaded {out.stdout.strip()}"
