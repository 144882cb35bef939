"""What the commands print: data as it is, once, and whole.

Trace ids, span and workflow names and error messages come from files, clients and
backends: they are never read as rich markup (``[/bad]`` must not crash a command,
``[link=...]`` must not become a hyperlink), and their control characters (an escape
sequence in a span name) are shown, not sent to the terminal. Each invalid item is
reported once. Output that is not a terminal (CI logs) is not cut at 80 columns.

The commands run as the installed script does (``main()`` in a subprocess), so logging,
terminal detection and the exit status are the real ones.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from agent_otlp.testing import OTLPReceiver
from agent_otlp.workloads import write_sample_jsonl

MAIN = "from agent_otlp.cli import main; main()"
TRACE_ID = "trace_[/bad]"
WORKFLOW = "[link=http://evil.example]click[/link] wf"
TOOL = "[red]fn[/red]\x1b[31mesc"
BAD_TIME = "[/oops] [link=http://x]y"
HYPERLINK = "\x1b]8;"  # the start of a terminal hyperlink (OSC 8)


def cli(*args: str, env: dict[str, str], cwd: Path, code: str = MAIN) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-c", code, *args], capture_output=True, text=True,
                          env=env, cwd=cwd, timeout=120)


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    clean = {k: v for k, v in os.environ.items()
             if not k.startswith(("OTEL_", "AGENT_OTLP_")) and k not in ("COLUMNS", "LINES")}
    return {**clean, "AGENT_OTLP_STORE": str(tmp_path / "s.db"),
            "XDG_CONFIG_HOME": str(tmp_path / "xdg"), "AGENT_OTLP_RETRY_DEADLINE": "0.1"}


@pytest.fixture
def hostile(tmp_path: Path, sdk_processors: list[Any]) -> Path:
    """The demo trace with markup and an escape sequence in its ids and names, and one span
    whose invalid timestamp (quoted in the error) holds markup too."""
    source = tmp_path / "sample.jsonl"
    write_sample_jsonl(source)
    items = [json.loads(line) for line in source.read_text().splitlines()]
    for item in items:
        if item["object"] == "trace":
            item["id"], item["workflow_name"] = TRACE_ID, WORKFLOW
        else:
            item["trace_id"] = TRACE_ID
            if item["span_data"].get("type") == "function":
                item["span_data"]["name"] = TOOL
    invalid = dict(items[1], id="span_invalid", started_at=BAD_TIME)
    path = tmp_path / "hostile.jsonl"
    path.write_text("\n".join(json.dumps(i) for i in [*items, invalid]) + "\n")
    return path


def _shown_literally(output: str) -> None:
    assert WORKFLOW in output
    assert "[red]fn[/red]\\x1b[31mesc" in output  # the escape shown, not obeyed
    assert "\x1b[31mesc" not in output
    assert HYPERLINK not in output


def test_send_prints_ids_and_errors_as_they_are_and_each_error_once(
    hostile: Path, otlp_receiver: OTLPReceiver, env: dict[str, str], tmp_path: Path
) -> None:
    colour = {**env, "FORCE_COLOR": "1"}  # as on a terminal: styles and links would be live
    done = cli("send", str(hostile), "-a", "otlp", "--endpoint", otlp_receiver.endpoint,
               env=colour, cwd=tmp_path)
    assert "Traceback" not in done.stderr, done.stderr
    assert done.returncode == 3  # one item rejected, the others delivered
    assert done.stderr.count(BAD_TIME) == 1, done.stderr  # listed by send, not logged again
    assert "1 invalid items skipped" in done.stderr
    assert HYPERLINK not in done.stdout + done.stderr
    assert otlp_receiver.span_count() == 14


def test_trees_show_names_and_escapes_as_text(
    hostile: Path, env: dict[str, str], tmp_path: Path
) -> None:
    colour = {**env, "FORCE_COLOR": "1"}
    console = cli("send", str(hostile), "-a", "console", env=colour, cwd=tmp_path)
    assert console.returncode == 3, console.stderr
    _shown_literally(console.stdout)  # the console adapter's tree
    shown = cli("show", TRACE_ID, env=colour, cwd=tmp_path)
    assert shown.returncode == 0, shown.stderr
    _shown_literally(shown.stdout)  # the stored trace's tree
    assert TRACE_ID in shown.stdout


def test_the_demo_install_hint_keeps_its_extra(env: dict[str, str], tmp_path: Path) -> None:
    without_sdk = "import sys; sys.modules['agents'] = None; " + MAIN
    done = cli("demo", env=env, cwd=tmp_path, code=without_sdk)
    assert done.returncode == 2
    assert "pip install 'agent-otlp[openai-agents]'" in done.stderr


def test_tables_are_not_cut_when_the_output_is_not_a_terminal(
    env: dict[str, str], tmp_path: Path, sdk_processors: list[Any]
) -> None:
    endpoint = "https://otlp-gateway.observability.internal.example.com:4318/v1/traces"
    added = cli("destinations", "add", "gateway", "-a", "otlp", "--endpoint", endpoint,
                "--metadata", "owner=platform-observability-team", env=env, cwd=tmp_path)
    assert added.returncode == 0, added.stderr
    listed = cli("destinations", "list", env=env, cwd=tmp_path).stdout
    for column in ("name", "adapter", "endpoint", "protocol", "headers", "enabled", "metadata"):
        assert f" {column} " in listed
    assert endpoint in listed and "owner=platform-observability-team" in listed
    data = tmp_path / "t.jsonl"
    write_sample_jsonl(data)
    sent = cli("send", str(data), "-a", "otlp", "--endpoint", "http://127.0.0.1:9", "--no-store",
               "--timeout", "2", env=env, cwd=tmp_path)
    assert sent.returncode == 4
    for column in ("destination", "received", "exported", "failed batches", "last error"):
        assert f" {column} " in sent.stdout
    assert "Connection refused" in sent.stdout
    assert "…" not in listed + sent.stdout
