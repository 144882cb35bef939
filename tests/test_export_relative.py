"""``agent-otlp export --since 1h``: relative times are resolved once per job, so the same
command resumes, and says "already exported" before doing any work."""

from __future__ import annotations

import json
import time
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from agent_otlp.cli import _common, _register, app
from agent_otlp.historical import ExportRange, HistoricalExport, resolve_target, store_source
from agent_otlp.store.sqlite import SpanStore
from agent_otlp.testing import OTLPReceiver

_register()

HOUR_NS = 3600 * 10**9


@pytest.fixture(autouse=True)
def clean_env(cli_env: None, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(_common.console, "width", 250)


def run(*args: str) -> Any:
    return CliRunner().invoke(app, list(args), catch_exceptions=False)


def recent_items(spans: int) -> list[dict[str, Any]]:
    """One trace of ``spans`` spans that ended ten minutes ago."""
    at = datetime.now(UTC) - timedelta(minutes=10)
    trace = "trace_" + "4e" * 16
    items: list[dict[str, Any]] = [{"object": "trace", "id": trace, "workflow_name": "recent"}]
    for index in range(spans):
        items.append({"object": "trace.span", "id": f"span_{index + 1:016x}", "trace_id": trace,
                      "parent_id": None, "started_at": at.isoformat(),
                      "ended_at": (at + timedelta(seconds=1)).isoformat(),
                      "span_data": {"type": "custom", "name": f"s{index}", "data": {}}})
    return items


def filled_store(tmp_path: Path, receiver: OTLPReceiver) -> str:
    source = tmp_path / "recent.jsonl"
    source.write_text("".join(json.dumps(item) + "\n" for item in recent_items(9)))
    store = str(tmp_path / "spans.db")
    sent = run("send", str(source), "--store", store, "--adapter", "otlp",
               "--endpoint", receiver.endpoint)
    assert sent.exit_code == 0, sent.output
    receiver.clear()
    return store


def test_relative_export_resumes_and_then_says_already_exported(
    tmp_path: Path, otlp_receiver: OTLPReceiver
) -> None:
    store = filled_store(tmp_path, otlp_receiver)
    command = ["export", "--since", "1h", "--to", "otlp", "--endpoint", otlp_receiver.endpoint,
               "--store", store, "--batch-size", "4"]
    stopped = run(*command, "--stop-after", "1")
    assert stopped.exit_code != 0 and "interrupted" in stopped.output
    assert otlp_receiver.span_count() == 4
    time.sleep(0.05)  # "1h ago" has moved on: still the same job
    resumed = run(*command)
    assert resumed.exit_code == 0, resumed.output
    assert "resumed after position" in resumed.output
    counts = Counter(s.span_id for s in otlp_receiver.spans())
    assert len(counts) == 10 and set(counts.values()) == {1}  # 9 spans + the workflow span, once
    again = run(*command)
    assert again.exit_code == 0, again.output
    assert again.output.startswith("already exported: 10 spans to otlp")
    assert "export to otlp" not in again.output  # no progress bar
    assert otlp_receiver.span_count() == 10
    restarted = run(*command, "--restart")
    assert restarted.exit_code == 0, restarted.output
    assert otlp_receiver.span_count() == 20


def test_a_finished_relative_job_is_resolved_again_once_its_range_has_passed(
    tmp_path: Path, otlp_receiver: OTLPReceiver
) -> None:
    jobs = SpanStore(tmp_path / "jobs.db")
    engine = HistoricalExport(resolve_target("otlp", endpoint=otlp_receiver.endpoint, env={}), jobs)
    source = store_source(jobs)
    start = 1_764_921_600 * 10**9
    first = engine.export_range(source, "1h", None, now_ns=start)
    assert (first.since_ns, first.until_ns, first.resolved_ns) == (start - HOUR_NS, start, start)
    # unfinished: the same range however late
    assert engine.export_range(source, "1h", None, now_ns=start + 5 * HOUR_NS) == first
    jobs.save_job(engine.store_job(jobs, first.since_ns, first.until_ns), 7, 7, done=True)
    assert engine.export_range(source, "1h", None, now_ns=start + HOUR_NS // 2) == first
    later = engine.export_range(source, "1h", None, now_ns=start + HOUR_NS + 1000)
    assert later.since_ns == start + 1000 and later.resolved_ns == start + HOUR_NS + 1000
    # absolute times are never re-resolved; a dry run records nothing
    assert engine.export_range(source, "2025-01-01", None) == ExportRange(
        1_735_689_600 * 10**9, None)
    assert engine.export_range(source, "2h", None, record=False, now_ns=start).resolved_ns == start
    engine.close()
