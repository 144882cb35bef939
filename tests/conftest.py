"""Shared fixtures: keep the Agents SDK's global trace processors as each test found them."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest


@pytest.fixture(autouse=True)
def _isolated_data_dir(monkeypatch: pytest.MonkeyPatch, tmp_path_factory: pytest.TempPathFactory) -> None:
    """Commands keep their span store in the user data directory: use a temporary one."""
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path_factory.mktemp("data")))


@pytest.fixture
def sdk_processors() -> Iterator[list[Any]]:
    """The SDK's processors before the test; they are put back afterwards."""
    tracing = pytest.importorskip("agents.tracing")
    multi = tracing.get_trace_provider()._multi_processor
    before = list(multi._processors)
    tracing.set_trace_processors([])
    try:
        yield before
    finally:
        tracing.set_trace_processors(before)
