"""Shared fixtures. (``sdk_processors`` and the receiver fixtures come from agent-otlp's own
pytest plugin, ``agent_otlp.testing.pytest_plugin``.)"""

from __future__ import annotations

import pytest


@pytest.fixture(autouse=True)
def _isolated_data_dir(monkeypatch: pytest.MonkeyPatch, tmp_path_factory: pytest.TempPathFactory) -> None:
    """Commands keep their span store in the user data directory: use a temporary one."""
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path_factory.mktemp("data")))
