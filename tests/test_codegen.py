"""The machine's edges as generated code (agent_fsm/machine/_fire.py) are what the table gives."""

from __future__ import annotations

from pathlib import Path

import pytest

from agent_fsm.machine import _codegen, _fire
from agent_fsm.machine.table import EDGES


def test_the_committed_edge_code_is_what_the_table_gives() -> None:
    # A table changed without `make codegen` fails here, naming the fix.
    assert _codegen.TARGET.read_text() == _codegen.render(), "agent_fsm/machine/_fire.py is stale: run `make codegen`"
    assert _codegen.main(["--check"]) == 0


def test_every_trigger_has_its_function_and_every_edge_is_written_once() -> None:
    triggers = {e.trigger for e in EDGES}
    assert set(_fire.FIRE) == triggers
    source = _codegen.render()
    for e in EDGES:
        assert source.count(f"# edge {e.index}: ") == 1, e.label


def test_the_check_fails_on_a_stale_module(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    stale = tmp_path / "_fire.py"
    stale.write_text(_codegen.render().replace("path.count += 1", "path.count += 2", 1))
    monkeypatch.setattr(_codegen, "TARGET", stale)
    assert _codegen.main(["--check"]) == 1
    assert _codegen.main([]) == 0
    assert stale.read_text() == _codegen.render()
