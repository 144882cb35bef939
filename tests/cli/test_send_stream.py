"""``agent-otlp send -`` streams JSON Lines: spans go out while the pipe is still open, and
memory does not grow with the size of the input."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from agent_otlp.testing import OTLPReceiver
from test_bridge_ops import wait_until

TRACE = "trace_" + "57" * 16
LARGE_LINES = 25_000
CLI = [sys.executable, "-c", "from agent_otlp.cli import main; main()"]


def child_env(tmp_path: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OTEL_", "AGENT_OTLP_"))}
    env.update(XDG_DATA_HOME=str(tmp_path / "data"), XDG_CONFIG_HOME=str(tmp_path / "config"),
               OTEL_BSP_SCHEDULE_DELAY="50")
    return env


def span_line(index: int, payload: str = "") -> str:
    item: dict[str, Any] = {
        "object": "trace.span", "id": f"span_{index:016x}", "trace_id": TRACE, "parent_id": None,
        "started_at": "2025-12-05T08:00:00+00:00", "ended_at": "2025-12-05T08:00:01+00:00",
        "span_data": {"type": "custom", "name": f"step-{index}", "data": {"blob": payload}},
    }
    return json.dumps(item) + "\n"


@pytest.mark.parametrize("store", [True, False], ids=["store", "no-store"])
def test_spans_are_exported_before_the_pipe_closes(
    otlp_receiver: OTLPReceiver, tmp_path: Path, store: bool
) -> None:
    args = [*CLI, "send", "-", "--adapter", "otlp", "--endpoint", otlp_receiver.endpoint]
    if not store:
        args.append("--no-store")
    child = subprocess.Popen(args, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, text=True, env=child_env(tmp_path))
    assert child.stdin is not None
    try:
        child.stdin.write(json.dumps({"object": "trace", "id": TRACE, "workflow_name": "tail"}) + "\n")
        for index in range(1, 4):
            child.stdin.write(span_line(index))
        child.stdin.flush()
        # the pipe stays open, as with `tail -f traces.jsonl | agent-otlp send -`
        exported = wait_until(lambda: otlp_receiver.span_count() >= 3, 20)
        if not exported:
            child.kill()
        assert exported, "nothing exported before EOF: " + "".join(child.communicate())
        assert child.poll() is None
        out, err = child.communicate(span_line(4), timeout=60)
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()
    assert child.returncode == 0, out + err
    names = sorted(s.name for s in otlp_receiver.spans())
    assert names == ["invoke_workflow tail", "step-1", "step-2", "step-3", "step-4"]


def _max_rss_kib(args: list[str], source: Path, env: dict[str, str]) -> tuple[int, str]:
    """Run ``args`` with ``source`` on stdin; its own peak resident size (KiB) and output."""
    with source.open("rb") as stdin:
        child = subprocess.Popen(args, stdin=stdin, stdout=subprocess.PIPE,
                                 stderr=subprocess.STDOUT, env=env)
        assert child.stdout is not None
        output = child.stdout.read().decode(errors="replace")
        _, status, usage = os.wait4(child.pid, 0)
        child.returncode = os.waitstatus_to_exitcode(status)
    assert child.returncode == 0, output
    return usage.ru_maxrss, output


def test_memory_does_not_grow_with_the_input(otlp_receiver: OTLPReceiver, tmp_path: Path) -> None:
    """110 MB of JSON Lines cost about the resident memory of 11 MB (the pipeline's bounded
    queues, which hold more when the machine is busy), not the size of the input: peaks within
    32 MiB of each other, where an input held whole grows by about 100 MiB."""
    env = child_env(tmp_path)
    args = [*CLI, "send", "-", "--adapter", "otlp", "--endpoint", otlp_receiver.endpoint,
            "--no-store"]
    peaks = []
    for lines in (LARGE_LINES // 5, 2 * LARGE_LINES):
        source = tmp_path / f"{lines}.jsonl"
        with source.open("w") as handle:
            for index in range(1, lines + 1):
                handle.write(span_line(index, "y" * 2000))
        peak, output = _max_rss_kib(args, source, env)
        peaks.append(peak)
    assert source.stat().st_size > 110_000_000
    assert otlp_receiver.span_count() == LARGE_LINES // 5 + 1 + 2 * LARGE_LINES + 1
    assert peaks[1] - peaks[0] < 32 * 1024, f"peaks {peaks} KiB\n{output}"
