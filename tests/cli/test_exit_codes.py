"""The exit status of the commands that deliver says what happened.

0: everything delivered; 2: a usage or configuration error; 3: some items were rejected as
invalid (the valid ones delivered); 4: some spans were not delivered (wins over 3).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from _paths import ROOT
from agent_otlp.cli import ExitCode, _register, app
from agent_otlp.testing import OTLPReceiver
from agent_otlp.workloads import DEMO_SPAN_COUNT, write_sample_jsonl

_register()

DEAD = "http://127.0.0.1:9"


@pytest.fixture(autouse=True)
def clean_env(cli_env: None, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AGENT_OTLP_RETRY_DEADLINE", "0.1")


def run(*args: str) -> Any:
    return CliRunner().invoke(app, list(args), catch_exceptions=False)


@pytest.fixture
def files(tmp_path: Path, sdk_processors: list[Any]) -> tuple[Path, Path]:
    """A valid JSONL file, and the same with one item that is not JSON and one invalid span."""
    good = tmp_path / "good.jsonl"
    write_sample_jsonl(good)
    lines = good.read_text().splitlines()
    span = json.loads(lines[1])
    span["started_at"] = "yesterday"
    bad = tmp_path / "bad.jsonl"
    bad.write_text("\n".join([lines[0], json.dumps(span), "{not json", *lines[2:]]) + "\n")
    return good, bad


def test_send(files: tuple[Path, Path], otlp_receiver: OTLPReceiver) -> None:
    good, bad = files
    live = ("--adapter", "otlp", "--endpoint", otlp_receiver.endpoint, "--no-store")
    assert run("send", str(good), *live).exit_code == ExitCode.OK == 0
    rejected = run("send", str(bad), *live)
    assert rejected.exit_code == ExitCode.REJECTED == 3, rejected.output
    assert otlp_receiver.span_count() == 2 * (DEMO_SPAN_COUNT + 1) - 1  # the rest delivered
    dead = ("--adapter", "otlp", "--endpoint", DEAD, "--no-store", "--timeout", "2")
    assert run("send", str(good), *dead).exit_code == ExitCode.UNDELIVERED == 4
    assert run("send", str(bad), *dead).exit_code == ExitCode.UNDELIVERED  # 4 wins over 3
    assert run("send", "missing.jsonl", *live).exit_code == ExitCode.USAGE == 2


def test_export(files: tuple[Path, Path], otlp_receiver: OTLPReceiver) -> None:
    good, bad = files
    live = ("export", "--to", "otlp", "--endpoint", otlp_receiver.endpoint)
    assert run(*live, "--from-file", str(good)).exit_code == ExitCode.OK
    rejected = run(*live, "--from-file", str(bad))
    assert rejected.exit_code == ExitCode.REJECTED, rejected.output
    dead = run("export", "--to", "otlp", "--endpoint", DEAD, "--from-file", str(good))
    assert dead.exit_code == ExitCode.UNDELIVERED, dead.output


def test_configuration_errors_exit_2_through_main(tmp_path: Path) -> None:
    empty = tmp_path / "empty.jsonl"
    empty.write_text("")
    done = subprocess.run(
        [sys.executable, "-c", "from agent_otlp.cli import main; main()", "send", str(empty),
         "--adapter", "otlp", "--protocol", "carrier-pigeon"],
        capture_output=True, text=True, env=dict(os.environ), timeout=60,
    )
    assert done.returncode == ExitCode.USAGE, done.stderr
    assert "carrier-pigeon" in done.stderr


@pytest.mark.parametrize("command", [(), ("send",), ("export",), ("demo",)])
def test_the_codes_are_in_the_help(command: tuple[str, ...]) -> None:
    shown = CliRunner().invoke(app, [*command, "--help"], env={"COLUMNS": "300"})
    assert shown.exit_code == 0
    text = " ".join(shown.output.split())
    assert "3 some items rejected as invalid" in text
    assert "4 some spans not delivered" in text


def test_the_codes_are_in_the_readme() -> None:
    readme = " ".join((ROOT / "README.md").read_text().split())
    for code in (ExitCode.REJECTED, ExitCode.UNDELIVERED):
        assert f"| {int(code)} |" in readme
