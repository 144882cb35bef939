"""``doctor`` and ``config`` look at the destinations ``send`` would use: stored destinations
included, nothing remote when nothing is configured, and a receiver that is not OTLP (a UI
port answering 200 with HTML) is a failure with a hint."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from agent_otlp.cli import _register, app
from agent_otlp.testing import OTLPReceiver, Reply
from test_transport_answers import HTML, AnswerServer


@pytest.fixture(autouse=True)
def _isolated(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    for name in list(os.environ):
        if name.startswith(("AGENT_OTLP_", "OTEL_", "HONEYCOMB_")):
            monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "xdg-config"))
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg-data"))


def cli(*args: str) -> Any:
    _register()
    return CliRunner().invoke(app, list(args), env={"COLUMNS": "250"})


def test_nothing_configured_says_so_and_checks_nothing(tmp_path: Path) -> None:
    result = cli("doctor")
    assert result.exit_code == 0, result.output
    assert "nothing remote to check: no destination is configured" in result.output
    assert "agent-otlp destinations add" in result.output
    assert "OTEL_EXPORTER_OTLP_ENDPOINT" in result.output
    assert "dns" not in result.output and "http://localhost" not in result.output
    assert not (tmp_path / "xdg-data").exists()  # inspecting creates no store


def test_an_explicit_console_destination_is_local() -> None:
    result = cli("doctor", "-a", "console")
    assert result.exit_code == 0, result.output
    assert "writes on this machine; nothing remote to check" in result.output
    assert "dns" not in result.output


def test_an_endpoint_that_answers_html_fails_with_a_hint() -> None:
    server = AnswerServer(200, "text/html", HTML)
    try:
        result = cli("doctor", "--endpoint", server.endpoint)
    finally:
        server.close()
    assert result.exit_code == 1, result.output
    assert "destination otlp" in result.output
    assert "FAIL not-otlp" in result.output
    assert "that port answers HTML: is it the query/UI port?" in result.output
    assert "is not an OTLP receiver" in result.output
    assert "OK" not in result.output
    assert server.requests == 1


def test_a_rejected_test_span_fails(otlp_receiver: OTLPReceiver) -> None:
    otlp_receiver.respond_with(Reply(partial_rejected=1, message="span too old"))
    result = cli("doctor", "-a", "otlp", "--endpoint", otlp_receiver.endpoint)
    assert result.exit_code == 1, result.output
    assert "FAIL the receiver rejected the test span: span too old" in result.output


def test_stored_destinations_are_checked_and_shown(otlp_receiver: OTLPReceiver) -> None:
    added = cli("destinations", "add", "staging", "--adapter", "otlp",
                "--endpoint", otlp_receiver.endpoint, "--header", "x-team=blue")
    assert added.exit_code == 0, added.output

    doctor = cli("doctor")
    assert doctor.exit_code == 0, doctor.output
    assert "destination staging (adapter otlp)" in doctor.output
    assert "OK test span delivered" in doctor.output
    [request] = otlp_receiver.requests
    assert request.headers["x-team"] == "blue"

    config = cli("config")
    assert config.exit_code == 0, config.output
    shown = json.loads(config.output)
    assert shown["name"] == "staging"
    assert shown["endpoint"] == otlp_receiver.traces_url
    assert shown["origins"]["endpoint"] == "stored destination 'staging'"

    by_name = cli("doctor", "-a", "staging")
    assert by_name.exit_code == 0 and "OK test span delivered" in by_name.output
