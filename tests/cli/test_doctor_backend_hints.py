"""``agent-otlp doctor --adapter phoenix|langfuse``: the hint for each typical
misconfiguration of those backends, each failure produced by a real local server or a
closed port."""

from __future__ import annotations

import socket
from typing import Any

import pytest
from typer.testing import CliRunner

from agent_otlp.cli import _register, app
from agent_otlp.testing import OTLPReceiver, Reply

PUBLIC, SECRET = "pk-lf-0a0b0c", "sk-lf-9f9e9d"


@pytest.fixture(autouse=True)
def _isolated(cli_env: None) -> None:
    """Each test runs as on a clean machine (``cli_env``)."""


def doctor(*args: str, env: dict[str, str] | None = None) -> Any:
    _register()
    result = CliRunner().invoke(app, ["doctor", *args, "--timeout", "3"],
                                env={"COLUMNS": "250", **(env or {})})
    assert result.exit_code == 1, result.output
    return " ".join(result.output.split())


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.mark.parametrize(("protocol", "port"), [("http/protobuf", "6006"), ("grpc", "4317")])
def test_phoenix_not_running(protocol: str, port: str) -> None:
    output = doctor("-a", "phoenix", "--protocol", protocol,
                    "--endpoint", f"http://127.0.0.1:{_closed_port()}")
    assert "is `phoenix serve` running?" in output and f"OTLP on {port}" in output


def test_phoenix_grpc_to_its_ui_port(otlp_receiver: OTLPReceiver) -> None:
    output = doctor("-a", "phoenix", "--protocol", "grpc", "--endpoint", otlp_receiver.endpoint)
    assert "Phoenix's UI port, which takes OTLP over HTTP only" in output


def test_phoenix_ui_path_instead_of_traces_path(otlp_receiver: OTLPReceiver) -> None:
    output = doctor("-a", "phoenix", "--endpoint", otlp_receiver.endpoint + "/projects")
    assert "on the path /v1/traces only" in output


def test_phoenix_refused_key(otlp_receiver: OTLPReceiver) -> None:
    otlp_receiver.respond_with(Reply(status=401, message="unauthorized"))
    output = doctor("-a", "phoenix", "--endpoint", otlp_receiver.endpoint,
                    env={"PHOENIX_API_KEY": "px-secret-key"})
    assert "set PHOENIX_API_KEY" in output
    assert "px-secret-key" not in output


def test_langfuse_refused_key_pair(otlp_receiver: OTLPReceiver) -> None:
    otlp_receiver.respond_with(Reply(status=401, message="Invalid credentials"))
    output = doctor("-a", "langfuse", "--endpoint", otlp_receiver.endpoint,
                    env={"LANGFUSE_PUBLIC_KEY": PUBLIC, "LANGFUSE_SECRET_KEY": SECRET})
    assert "swapped keys are the usual cause" in output
    assert SECRET not in output and "9f9e9d" not in output


def test_langfuse_wrong_path(otlp_receiver: OTLPReceiver) -> None:
    output = doctor("-a", "langfuse", "--endpoint", otlp_receiver.endpoint + "/api/traces",
                    env={"LANGFUSE_PUBLIC_KEY": PUBLIC, "LANGFUSE_SECRET_KEY": SECRET})
    assert "/api/public/otel/v1/traces" in output
