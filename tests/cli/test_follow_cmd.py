"""``agent-otlp follow`` on a source without the tail hook (a JSONL file): followed as
``export --follow`` follows it, and SIGTERM ends it cleanly."""

from __future__ import annotations

import json
import os
from pathlib import Path

import store_child
from agent_otlp.testing import OTLPReceiver
from follow_cli import sigterm, start_follow


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
