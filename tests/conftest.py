"""Shared fixtures. (``sdk_processors`` and the receiver fixtures come from agent-otlp's own
pytest plugin, ``agent_otlp.testing.pytest_plugin``.)"""

from __future__ import annotations

import os
from pathlib import Path

import pytest


@pytest.fixture(autouse=True)
def _isolated_data_dir(monkeypatch: pytest.MonkeyPatch, tmp_path_factory: pytest.TempPathFactory) -> None:
    """Commands keep their span store in the user data directory: use a temporary one."""
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path_factory.mktemp("data")))


@pytest.fixture
def cli_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """A command run as on a clean machine: no ``OTEL_*``, ``AGENT_OTLP_*`` or ``HONEYCOMB_*``
    variables from outside, its config and data directories and its working directory in
    ``tmp_path``."""
    for name in list(os.environ):
        if name.startswith(("OTEL_", "AGENT_OTLP_", "HONEYCOMB_")):
            monkeypatch.delenv(name)
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "xdg"))
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    monkeypatch.chdir(tmp_path)
