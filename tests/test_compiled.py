"""The compiled core: what pyproject.toml tells mypyc to compile exists, and a compiled build is compiled.

``make test-compiled`` runs the machine's tests against the wheel built with mypyc, with
``AGENT_FSM_EXPECT_COMPILED=1``: there, every module of the list must have been imported from a C
extension, or the job would quietly be testing the pure-Python modules again.
"""

from __future__ import annotations

import importlib
import importlib.machinery
import os
import tomllib
from pathlib import Path

import pytest

PYPROJECT = Path(__file__).resolve().parents[1] / "pyproject.toml"
COMPILED = str(importlib.import_module("agent_fsm.machine._machine").__file__).endswith(
    tuple(importlib.machinery.EXTENSION_SUFFIXES)
)
"""Whether this run imports the compiled core (tests whose outcome differs by build read it)."""


def compiled_modules() -> list[str]:
    config = tomllib.loads(PYPROJECT.read_text())
    files: list[str] = config["tool"]["hatch"]["build"]["targets"]["wheel"]["hooks"]["mypyc"]["include"]
    return [f.removesuffix(".py").replace("/", ".") for f in files]


def test_the_compiled_modules_are_modules_of_the_package() -> None:
    names = compiled_modules()
    assert "agent_fsm.machine._machine" in names
    for name in names:
        module = importlib.import_module(name)
        assert module.__name__ == name


@pytest.mark.skipif(os.environ.get("AGENT_FSM_EXPECT_COMPILED") != "1", reason="not the compiled build's test run")
def test_a_compiled_build_imports_every_compiled_module_from_a_c_extension() -> None:
    suffixes = tuple(importlib.machinery.EXTENSION_SUFFIXES)
    for name in compiled_modules():
        path = importlib.import_module(name).__file__
        assert path is not None and path.endswith(suffixes), f"{name} was imported from {path}"


def test_a_pure_python_run_imports_the_sources() -> None:
    if os.environ.get("AGENT_FSM_EXPECT_COMPILED") == "1":
        pytest.skip("the compiled build's test run")
    path = importlib.import_module("agent_fsm.machine._machine").__file__
    assert path is not None and path.endswith(".py"), path
