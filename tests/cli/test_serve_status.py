"""``status`` beside a running ``serve``: the live state serve publishes next to its store."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from agent_otlp.cli import _common, _register, app
from agent_otlp.cli._serve_state import state_path
from agent_otlp.testing import OTLPReceiver

_register()


@pytest.fixture(autouse=True)
def wide_console(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(_common.console, "width", 250)


def status(store: Path) -> str:
    result: Any = CliRunner().invoke(app, ["status", "--store", str(store)], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return str(result.output)


def test_status_reads_the_state_of_a_running_serve(otlp_receiver: OTLPReceiver, tmp_path: Path) -> None:
    store = tmp_path / "spans.db"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AGENT_OTLP_", "OTEL_"))}
    env.update(PYTHONUNBUFFERED="1", COLUMNS="250")
    command = [sys.executable, "-c", "from agent_otlp.cli import main; main()", "serve",
               "--adapter", "otlp", "--endpoint", otlp_receiver.endpoint, "--port", "0",
               "--store", str(store)]
    proc = subprocess.Popen(command, cwd=tmp_path, env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    live = state_path(store)
    try:
        assert proc.stdout is not None
        banner = [proc.stdout.readline() for _ in range(3)]
        assert any(f"store {store}" in line for line in banner), banner
        deadline = time.monotonic() + 10
        while not live.exists() and time.monotonic() < deadline:
            time.sleep(0.05)
        running = status(store)
        assert f"serve: running, pid {proc.pid}" in running, running
        assert "closed (in memory: 0)" in running
        assert "n/a (not running)" not in running
        published = json.loads(live.read_text())
        assert published["address"].startswith("127.0.0.1:")
        assert set(published["destinations"]) == {"otlp"}
        proc.send_signal(signal.SIGTERM)
        proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    assert proc.returncode == 0
    assert not live.exists()  # removed at exit
    stopped = status(store)
    assert "n/a (not running)" in stopped and "serve: not running" in stopped

    # a state file left by a process that died without cleaning up
    gone = subprocess.Popen([sys.executable, "-c", "pass"])
    gone.wait()
    live.write_text(json.dumps({**published, "pid": gone.pid, "updated": time.time()}))
    stale = status(store)
    assert f"stale: process {gone.pid} is gone" in stale
    assert "n/a (stale state)" in stale
    # a live process whose file stopped being updated
    live.write_text(json.dumps({**published, "pid": os.getpid(), "updated": time.time() - 60}))
    assert "stale: last updated 60s ago" in status(store)
