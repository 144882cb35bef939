"""The ``serve`` fixture: scripted HTTP servers (``scripted_http``), closed after the test."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from scripted_http import Answers, ScriptedServer, Serve


@pytest.fixture
def serve() -> Iterator[Serve]:
    """Start scripted servers (closed after the test): ``serve(answer, close=...)``."""
    servers: list[ScriptedServer] = []

    def start(answer: Answers, close: bool = False) -> ScriptedServer:
        servers.append(ScriptedServer(answer, close))
        return servers[-1]

    yield start
    for server in servers:
        server.close()
