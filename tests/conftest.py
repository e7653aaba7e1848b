"""Shared helpers for the test suite."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import HealthCheck, settings

settings.register_profile(
    "ci", deadline=None, suppress_health_check=[HealthCheck.too_slow], max_examples=100, derandomize=False
)
settings.register_profile("dev", deadline=None, suppress_health_check=[HealthCheck.too_slow], max_examples=50)
settings.load_profile("ci")


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


def pytest_configure(config: Any) -> None:
    config.addinivalue_line("markers", "slow: longer property runs")


@pytest.fixture(autouse=True)
def _no_global_logging_config() -> Any:
    """The CLI configures logging for its process (structlog, and the ``agent_fsm`` logger's
    level); undo it, so one test's CLI run never changes where another test's logs go."""
    import logging

    import structlog

    level = logging.getLogger("agent_fsm").level
    yield
    structlog.reset_defaults()
    logging.getLogger("agent_fsm").setLevel(level)


@pytest.fixture(scope="session")
def plugin_session(tmp_path_factory: pytest.TempPathFactory) -> tuple[str, Any]:
    """A user's suite run by pytest with the plugin's options, once per session (it takes a while:
    hypothesis shrinks the failing test); see ``tests/reports.py``."""
    from .reports import plugin_session

    return plugin_session(tmp_path_factory.mktemp("plugin"))
