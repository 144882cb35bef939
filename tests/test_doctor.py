"""``agent-otlp doctor``: one real test request per destination, and a hint for each way it
fails, each produced by a real local server (or a closed port)."""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from typer.testing import CliRunner

from agent_otlp.cli import _register, app
from agent_otlp.testing import OTLPReceiver, Reply

KEY = "hcaik_01hqk4k20cjeh63wca8vva5stw70nft6m5n8wr8f5mjx3762s8269j50wc"


@pytest.fixture(autouse=True)
def _isolated(cli_env: None) -> None:
    """Each test runs as on a clean machine (``cli_env``)."""


def doctor(*args: str, env: dict[str, str] | None = None) -> Any:
    _register()
    return CliRunner().invoke(app, ["doctor", *args], env={"COLUMNS": "250", **(env or {})})


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def no_org_id_server() -> Iterator[str]:
    """A plain HTTP server answering every POST like a multi-tenant Tempo without a tenant."""

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            self.rfile.read(int(self.headers.get("Content-Length", 0)))
            body = b"no org id\n"
            self.send_response(401)
            self.send_header("Content-Type", "text/plain")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def test_success_reports_latency_and_masks_secrets(otlp_receiver: OTLPReceiver) -> None:
    result = doctor("-a", "honeycomb", "--endpoint", otlp_receiver.endpoint,
                    env={"HONEYCOMB_API_KEY": KEY})
    assert result.exit_code == 0, result.output
    assert "OK test span delivered in" in result.output
    assert " ms " in result.output
    assert "dns" in result.output and "127.0.0.1" in result.output
    assert KEY not in result.output
    assert "x-honeycomb-team" in result.output and "****" in result.output
    [span] = otlp_receiver.spans()
    assert span.name == "agent-otlp doctor"
    assert otlp_receiver.requests[0].headers["x-honeycomb-team"] == KEY


def test_grpc_success(otlp_grpc_receiver: OTLPReceiver) -> None:
    result = doctor("-a", "jaeger", "--protocol", "grpc", "--endpoint", otlp_grpc_receiver.endpoint)
    assert result.exit_code == 0, result.output
    assert otlp_grpc_receiver.wait_for_spans(1)


@pytest.mark.parametrize("protocol", ["http/protobuf", "grpc"])
def test_connection_refused(protocol: str) -> None:
    result = doctor("-a", "jaeger", "--protocol", protocol,
                    "--endpoint", f"http://127.0.0.1:{_closed_port()}", "--timeout", "3")
    assert result.exit_code == 1
    assert "FAIL" in result.output
    assert "nothing is listening on 127.0.0.1:" in result.output


def test_http_to_a_grpc_port(otlp_grpc_receiver: OTLPReceiver) -> None:
    result = doctor("-a", "otlp", "--endpoint", otlp_grpc_receiver.endpoint, "--timeout", "3")
    assert result.exit_code == 1
    assert "speaks gRPC (HTTP/2), not OTLP/HTTP: use protocol grpc" in result.output


def test_grpc_to_an_http_port(otlp_receiver: OTLPReceiver) -> None:
    result = doctor("-a", "otlp", "--protocol", "grpc", "--endpoint", otlp_receiver.endpoint,
                    "--timeout", "3")
    assert result.exit_code == 1
    assert "speaks HTTP/1 (OTLP/HTTP?), not gRPC" in result.output


@pytest.mark.parametrize("protocol", ["http/protobuf", "grpc"])
def test_tls_to_a_plaintext_port(protocol: str, otlp_receiver_factory: Any) -> None:
    receiver = otlp_receiver_factory("grpc" if protocol == "grpc" else "http")
    url = receiver.endpoint.replace("http://", "https://")
    result = doctor("-a", "otlp", "--protocol", protocol, "--endpoint", url, "--timeout", "3")
    assert result.exit_code == 1
    assert "does not speak TLS: use an http:// endpoint" in result.output


@pytest.mark.parametrize("status", [401, 403])
def test_rejected_credentials(otlp_receiver: OTLPReceiver, status: int) -> None:
    otlp_receiver.respond_with(Reply(status=status, message="invalid API key"))
    result = doctor("-a", "honeycomb", "--endpoint", otlp_receiver.endpoint,
                    env={"HONEYCOMB_API_KEY": KEY})
    assert result.exit_code == 1
    assert f"refused the credentials ({status})" in result.output
    assert "x-honeycomb-team" in result.output
    assert KEY not in result.output


def test_missing_tempo_tenant(no_org_id_server: str) -> None:
    result = doctor("-a", "tempo", "--endpoint", no_org_id_server)
    assert result.exit_code == 1
    assert "401" in result.output
    assert "no tenant: set the tenant option (AGENT_OTLP_TEMPO_TENANT)" in result.output


def test_wrong_path(otlp_receiver: OTLPReceiver) -> None:
    result = doctor("-a", "otlp", "--endpoint", otlp_receiver.endpoint + "/api/traces")
    assert result.exit_code == 1
    assert "has no OTLP traces endpoint" in result.output


def test_invalid_configuration_fails_cleanly() -> None:
    result = doctor("-a", "honeycomb")
    assert result.exit_code == 1
    assert "FAIL configuration" in result.output
    assert "HONEYCOMB_API_KEY" in result.output


def test_every_destination_is_checked(otlp_receiver: OTLPReceiver) -> None:
    result = doctor("-a", "jaeger,collector", "--endpoint", otlp_receiver.endpoint)
    assert result.exit_code == 0, result.output
    assert "destination jaeger" in result.output and "destination collector" in result.output
    assert otlp_receiver.wait_for_spans(2)
