"""``agent-otlp follow`` on a source without the tail hook (a JSONL file): followed as
``export --follow`` follows it, and SIGTERM ends it cleanly; ``export --follow`` itself ends
cleanly on SIGTERM and Ctrl-C."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

import store_child
from agent_otlp.testing import OTLPReceiver
from follow_cli import CLI, sigterm, start_follow


def test_follow_polls_a_file_source_and_stops_cleanly_on_sigterm(
    tmp_path: Path, otlp_receiver: OTLPReceiver
) -> None:
    path = tmp_path / "traces.jsonl"
    path.write_text("".join(json.dumps(item) + "\n" for i in range(3) for item in store_child.trace_items(i)))
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OTEL_", "AGENT_OTLP_"))}
    env["XDG_DATA_HOME"] = str(tmp_path / "data")
    child = start_follow(str(path), otlp_receiver, env)
    try:
        arrived = otlp_receiver.wait_for_spans(3 * 11, timeout=30)
        out, err = sigterm(child)
    finally:
        child.kill()
    assert arrived, err
    assert child.returncode == 0, err
    assert "exported 33 spans" in out
    assert otlp_receiver.span_count() == 33


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT], ids=["sigterm", "ctrl-c"])
def test_export_follow_stops_cleanly_on_sigterm_and_ctrl_c(
    tmp_path: Path, otlp_receiver: OTLPReceiver, signum: int
) -> None:
    """The signal asks the export to stop after the page in flight: it is never a
    KeyboardInterrupt raised wherever the main thread happens to be, which Python drops
    when that is inside a callback (the export then went on following)."""
    path = tmp_path / "traces.jsonl"
    path.write_text("".join(json.dumps(item) + "\n" for i in range(3) for item in store_child.trace_items(i)))
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OTEL_", "AGENT_OTLP_"))}
    env["XDG_DATA_HOME"] = str(tmp_path / "data")
    args = ["export", "--from", str(path), "--to", "otlp", "--endpoint", otlp_receiver.endpoint,
            "--follow", "--poll", "0.2"]
    child = subprocess.Popen([sys.executable, "-c", CLI, *args], stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, text=True, env=env)
    try:
        arrived = otlp_receiver.wait_for_spans(3 * 11, timeout=30)
        child.send_signal(signum)
        out, err = child.communicate(timeout=30)
    finally:
        child.kill()
    assert arrived, err
    assert child.returncode == 0, err
    assert "exported 33 spans" in out and "stopped following" in err
    assert "Traceback" not in err and "KeyboardInterrupt" not in err
