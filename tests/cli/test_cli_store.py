"""The store commands: destinations, send/serve with the store, export, status, show."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from agent_otlp.cli import _common, _register, app
from agent_otlp.core.config.errors import ConfigError
from agent_otlp.store.sqlite import SpanStore
from agent_otlp.testing import OTLPReceiver
from agent_otlp.workloads import DEMO_SPAN_COUNT, write_sample_jsonl

_register()

SECRET = "sk-live-7f3e9a1c55d0"


@pytest.fixture(autouse=True)
def clean_env(cli_env: None, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(_common.console, "width", 250)


def run(*args: str) -> Any:
    return CliRunner().invoke(app, list(args), catch_exceptions=False)


def sample(tmp_path: Path) -> tuple[Path, str]:
    path = tmp_path / "t.jsonl"
    write_sample_jsonl(path)
    return path, json.loads(path.read_text().splitlines()[0])["id"]


def test_destinations_never_print_a_literal_secret(
    tmp_path: Path, otlp_receiver: OTLPReceiver, monkeypatch: pytest.MonkeyPatch, sdk_processors: list[Any]
) -> None:
    monkeypatch.setenv("TEAM_NAME", "agents-team")
    outputs = []
    result = run("destinations", "add", "prod", "--adapter", "otlp", "--endpoint", otlp_receiver.endpoint,
                 "--header", f"authorization=Bearer {SECRET}", "--header", "x-team=env:TEAM_NAME",
                 "--header", "x-tenant=blue", "--metadata", "owner=platform", "--batch-size", "7")
    assert result.exit_code == 0, result.output
    outputs.append(result.output)
    with pytest.raises(ConfigError, match="exists") as duplicate:
        run("destinations", "add", "prod", "--adapter", "otlp", "--header", f"authorization={SECRET}")
    outputs.append(str(duplicate.value))
    listed = run("destinations", "list")
    assert "env:TEAM_NAME" in listed.output and "x-tenant=blue" in listed.output
    assert "owner=platform" in listed.output
    outputs.append(listed.output)
    outputs.append(run("destinations", "disable", "prod").output)
    with pytest.raises(ConfigError, match="disabled"):
        run("send", str(sample(tmp_path)[0]), "--adapter", "prod")
    outputs.append(run("destinations", "enable", "prod").output)
    path, _ = sample(tmp_path)
    sent = run("send", str(path), "--adapter", "prod")
    assert sent.exit_code == 0, sent.output
    outputs.append(sent.output)
    outputs.append(run("status").output)
    outputs.append(run("export", "--to", "prod", "--dry-run").output)
    assert otlp_receiver.span_count() == DEMO_SPAN_COUNT + 1
    headers = otlp_receiver.requests[0].headers
    assert headers["authorization"] == f"Bearer {SECRET}" and headers["x-team"] == "agents-team"
    assert max(r.span_count for r in otlp_receiver.requests) <= 7  # the stored batch size
    for text in outputs:
        assert SECRET not in text
    assert all(SECRET not in p.read_text(errors="replace") for p in tmp_path.rglob("*.jsonl"))
    outputs.append(run("destinations", "remove", "prod").output)
    assert "no stored destinations" in run("destinations", "list").output
    assert SECRET not in "".join(outputs)


def test_errors_through_main_mask_secrets(tmp_path: Path) -> None:
    env = dict(os.environ, COLUMNS="200")
    command = [sys.executable, "-c", "from agent_otlp.cli import main; main()", "destinations", "add"]
    first = subprocess.run([*command, "d1", "-a", "otlp", "--header", f"api-key={SECRET}"],
                           capture_output=True, text=True, env=env)
    again = subprocess.run([*command, "d1", "-a", "otlp", "--header", f"api-key={SECRET}"],
                           capture_output=True, text=True, env=env)
    assert first.returncode == 0 and again.returncode == 2
    assert "a destination with this name exists" in again.stderr
    for done in (first, again):
        assert SECRET not in done.stdout + done.stderr


def test_send_stores_by_default_and_the_next_run_delivers_leftovers(
    tmp_path: Path, otlp_receiver: OTLPReceiver, monkeypatch: pytest.MonkeyPatch, sdk_processors: list[Any]
) -> None:
    path, trace_id = sample(tmp_path)
    monkeypatch.setenv("AGENT_OTLP_RETRY_DEADLINE", "0.1")
    dead = run("send", str(path), "--adapter", "otlp", "--endpoint", "http://127.0.0.1:9", "--timeout", "1")
    assert dead.exit_code == 4  # not delivered: kept in the store
    default = tmp_path / "data" / "agent-otlp" / "spans.db"
    assert SpanStore(default).cursors()[0].queued == DEMO_SPAN_COUNT + 1
    empty = tmp_path / "empty.jsonl"
    empty.write_text("")
    later = run("send", str(empty), "--adapter", "otlp", "--endpoint", otlp_receiver.endpoint)
    assert later.exit_code == 0, later.output
    assert otlp_receiver.span_count() == DEMO_SPAN_COUNT + 1  # delivered from the store
    status = run("status")
    assert "otlp" in status.output and f"{DEMO_SPAN_COUNT + 1}" in status.output
    assert "n/a (not running)" in status.output and "evicted undelivered items: 0" in status.output
    shown = run("show", trace_id)
    assert "invoke_workflow Customer support" in shown.output
    assert "gpt-4o-mini" in shown.output and "tokens 120 in / 18 out" in shown.output
    assert "ERROR: Payment gateway timeout" in shown.output
    assert run("show", trace_id.removeprefix("trace_")).output == shown.output
    with pytest.raises(ConfigError, match="not in the span store"):
        run("show", "trace_" + "0" * 32)


def test_store_path_and_no_store(tmp_path: Path, otlp_receiver: OTLPReceiver, sdk_processors: list[Any]) -> None:
    path, _ = sample(tmp_path)
    own = tmp_path / "own.db"
    assert run("send", str(path), "-a", "otlp", "--endpoint", otlp_receiver.endpoint, "--store", str(own)).exit_code == 0
    assert SpanStore(own).count() > 0
    assert run("send", str(path), "-a", "otlp", "--endpoint", otlp_receiver.endpoint, "--no-store").exit_code == 0
    assert not (tmp_path / "data" / "agent-otlp" / "spans.db").exists()
    assert otlp_receiver.span_count() == 2 * (DEMO_SPAN_COUNT + 1)


def test_export_command_resumes(tmp_path: Path, otlp_receiver: OTLPReceiver, sdk_processors: list[Any]) -> None:
    path = tmp_path / "t.jsonl"
    write_sample_jsonl(path, 10)
    total = 10 * (DEMO_SPAN_COUNT + 1)
    args = ["export", "--to", "otlp", "--endpoint", otlp_receiver.endpoint, "--from-file", str(path),
            "--batch-size", "20"]
    dry = run(*args, "--dry-run")
    assert f"dry run: {total} spans" in dry.output and otlp_receiver.span_count() == 0
    stopped = run(*args, "--stop-after", "2")
    assert stopped.exit_code == 4 and "resume" in stopped.output
    assert otlp_receiver.span_count() == 40
    done = run(*args)
    assert done.exit_code == 0, done.output
    assert f"exported {total} spans" in done.output and "spans/s" in done.output
    assert "already exported" in run(*args).output
    ids = [s.span_id for s in otlp_receiver.spans()]
    assert len(ids) == len(set(ids)) == total
    assert run(*args, "--restart").exit_code == 0
    assert otlp_receiver.span_count() == 2 * total
