"""The ingest bridge over TLS: a local CA made for this machine (kept and reused), real TLS
clients (Python's ssl, Ruby's Net::HTTP as RAAF uses it) trusting it, TLS 1.1 refused, and
``agent-otlp serve`` started with TLS from options, environment or the config file."""

from __future__ import annotations

import http.client
import json
import os
import shutil
import ssl
import stat
import subprocess
import sys
import time
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from _reliability import record
from agent_otlp import create_exporter
from agent_otlp.core.config.errors import ConfigError
from agent_otlp.sources.bridge import INGEST_PATH, BridgeServer
from agent_otlp.sources.bridge.tls import self_signed, server_context
from agent_otlp.testing import OTLPReceiver

TRACE = "trace_" + "ab" * 16


def items(count: int = 2) -> list[dict[str, Any]]:
    spans = [{"object": "trace.span", "id": f"span_tls_{i:016d}", "trace_id": TRACE, "parent_id": None,
              "started_at": "2025-01-01T00:00:00+00:00", "ended_at": "2025-01-01T00:00:01+00:00",
              "span_data": {"type": "custom", "name": f"step {i}", "data": {}}} for i in range(count)]
    return [{"object": "trace", "id": TRACE, "workflow_name": "tls"}, *spans]


@pytest.fixture
def tls_bridge(tmp_path: Path, otlp_receiver: OTLPReceiver) -> Iterator[tuple[BridgeServer, Path]]:
    made = self_signed(tmp_path / "tls")
    exporter = create_exporter("otlp", endpoint=otlp_receiver.endpoint, env={}, schedule_delay=0.05)
    bridge = BridgeServer(exporter, port=0, tls=made.context()).start()
    yield bridge, made.ca_file
    bridge.stop(timeout=2.0)


def https_post(port: int, context: ssl.SSLContext, body: bytes, host: str = "localhost") -> tuple[int, Any]:
    conn = http.client.HTTPSConnection(host, port, context=context, timeout=10)
    try:
        conn.request("POST", INGEST_PATH, body=body, headers={"Content-Type": "application/json"})
        reply = conn.getresponse()
        return reply.status, json.loads(reply.read())
    finally:
        conn.close()


def test_local_ca_files_are_private_and_reused(tmp_path: Path) -> None:
    first = self_signed(tmp_path / "tls")
    assert first.created
    for name in ("ca-key.pem", "server-key.pem"):
        assert stat.S_IMODE((tmp_path / "tls" / name).stat().st_mode) == 0o600
    assert stat.S_IMODE((tmp_path / "tls").stat().st_mode) == 0o700
    ca, cert = first.ca_file.read_bytes(), first.cert_file.read_bytes()
    again = self_signed(tmp_path / "tls")
    assert not again.created
    assert again.ca_file.read_bytes() == ca and again.cert_file.read_bytes() == cert


def test_python_client_trusting_the_local_ca_posts_over_tls(
    tls_bridge: tuple[BridgeServer, Path], otlp_receiver: OTLPReceiver
) -> None:
    bridge, ca_file = tls_bridge
    assert bridge.url.startswith("https://") and bridge.ingest_url.startswith("https://127.0.0.1:")
    context = ssl.create_default_context(cafile=str(ca_file))
    for host in ("localhost", "127.0.0.1"):  # both names are in the certificate
        status, answer = https_post(bridge.port, context, json.dumps({"data": items()}).encode(), host)
        assert (status, answer) == (200, {"accepted": 3})
    bridge.exporter.end_all_traces()
    assert otlp_receiver.wait_for_spans(3, timeout=10)
    # a client that does not trust the local CA is refused by its own check
    with pytest.raises(ssl.SSLCertVerificationError):
        https_post(bridge.port, ssl.create_default_context(), b'{"data": []}')


def test_tls_1_1_and_plain_http_are_refused(tls_bridge: tuple[BridgeServer, Path]) -> None:
    bridge, ca_file = tls_bridge
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        old = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        old.load_verify_locations(ca_file)
        old.set_ciphers("DEFAULT:@SECLEVEL=0")  # let this client offer TLS 1.1 at all
        old.minimum_version = old.maximum_version = ssl.TLSVersion.TLSv1_1
    with pytest.raises(ssl.SSLError, match=r"PROTOCOL_VERSION|protocol version|UNSUPPORTED_PROTOCOL"):
        https_post(bridge.port, old, b'{"data": []}')
    plain = http.client.HTTPConnection("127.0.0.1", bridge.port, timeout=5)
    with pytest.raises((ConnectionError, http.client.HTTPException, OSError)):
        plain.request("GET", "/healthz")
        plain.getresponse().read()
    plain.close()
    # the same client at TLS 1.2 is served, and the bridge is still up
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        old.maximum_version = ssl.TLSVersion.TLSv1_2
        old.minimum_version = ssl.TLSVersion.TLSv1_2
    assert https_post(bridge.port, old, b'{"data": []}', "127.0.0.1") == (200, {"accepted": 0})
    record(
        "bridge.tls_refusals",
        fault="a TLS 1.1 client, plain HTTP sent to the TLS port, then the same client at TLS 1.2",
        cases=3,
        outcome="TLS 1.1: the handshake ends with a protocol_version alert; plain HTTP: the "
                "connection is closed without an answer; TLS 1.2: answered 200, the bridge unaffected",
        lost=0,
        method="explicit clients (Python ssl, cipher security level 0 so TLS 1.1 is offered at all) "
               "in `test_tls_1_1_and_plain_http_are_refused` against a BridgeServer in the test process.",
    )


@pytest.mark.skipif(shutil.which("ruby") is None, reason="needs ruby")
def test_ruby_net_http_as_raaf_posts_with_ssl_cert_file(
    tls_bridge: tuple[BridgeServer, Path], otlp_receiver: OTLPReceiver
) -> None:
    bridge, ca_file = tls_bridge
    script = (
        'require "net/http"; require "json"; require "uri"\n'
        'uri = URI("https://localhost:#{ARGV[0]}/v1/traces/ingest")\n'
        "http = Net::HTTP.new(uri.host, uri.port); http.use_ssl = true\n"
        'req = Net::HTTP::Post.new(uri); req.delete("User-Agent")\n'
        'req["Authorization"] = "Bearer none"; req["Content-Type"] = "application/json"\n'
        'req["OpenAI-Beta"] = "traces=v1"; req.body = STDIN.read\n'
        'res = http.request(req); puts res.code; puts res.body\n'
    )
    env = {"PATH": os.environ["PATH"], "SSL_CERT_FILE": str(ca_file)}
    done = subprocess.run(["ruby", "-e", script, str(bridge.port)], input=json.dumps({"data": items()}),
                          capture_output=True, text=True, env=env, timeout=30, check=False)
    assert done.stdout.split("\n")[:2] == ["200", '{"accepted": 3}'], done.stderr
    bridge.exporter.end_all_traces()
    assert otlp_receiver.wait_for_spans(3, timeout=10)


def test_certificate_and_key_that_do_not_match_are_named(tmp_path: Path) -> None:
    one, two = self_signed(tmp_path / "one"), self_signed(tmp_path / "two")
    with pytest.raises(ConfigError) as error:
        server_context(one.cert_file, two.key_file)
    assert "--tls-cert" in str(error.value) and "--tls-key" in str(error.value)
    with pytest.raises(ConfigError, match=r"--tls-key.*no such file"):
        server_context(one.cert_file, tmp_path / "missing.pem")


def _serve(args: list[str], env: dict[str, str], cwd: Path) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-c", "from agent_otlp.cli import main; main()", "serve", "--port", "0",
         "--no-store", *args],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env, cwd=cwd,
    )


def _banner(proc: subprocess.Popen[str], until: str) -> list[str]:
    lines: list[str] = []
    deadline = time.monotonic() + 30
    assert proc.stdout is not None
    while time.monotonic() < deadline:
        line = proc.stdout.readline()
        if not line:
            break
        lines.append(line.rstrip("\n"))
        if until in line:
            return lines
    proc.kill()
    raise AssertionError("\n".join(lines))


def test_serve_tls_self_signed_from_the_config_file(tmp_path: Path, otlp_receiver: OTLPReceiver) -> None:
    directory = tmp_path / "tls"
    config = tmp_path / "agent-otlp.toml"
    config.write_text(f'[serve]\ntls_self_signed = "{directory}"\n', encoding="utf-8")
    env = {**os.environ, "AGENT_OTLP_CONFIG": str(config), "AGENT_OTLP_ADAPTERS": "otlp",
           "OTEL_EXPORTER_OTLP_ENDPOINT": otlp_receiver.endpoint, "COLUMNS": "200"}
    env.pop("AGENT_OTLP_STORE", None)
    proc = _serve([], env, tmp_path)
    try:
        lines = _banner(proc, "NODE_EXTRA_CA_CERTS")
        post_line = next(line for line in lines if "POST" in line)
        assert "POST https://127.0.0.1:" in post_line
        assert f"SSL_CERT_FILE={directory / 'ca.pem'}" in lines
        port = int(post_line.split("https://127.0.0.1:")[1].split("/")[0])
        context = ssl.create_default_context(cafile=str(directory / "ca.pem"))
        assert https_post(port, context, json.dumps({"data": items()}).encode()) == (200, {"accepted": 3})
    finally:
        proc.terminate()
        proc.wait(30)
    assert stat.S_IMODE((directory / "server-key.pem").stat().st_mode) == 0o600
    assert otlp_receiver.wait_for_spans(3, timeout=10)


def test_python_sdk_exporter_posts_with_ssl_cert_file(
    tls_bridge: tuple[BridgeServer, Path], otlp_receiver: OTLPReceiver
) -> None:
    pytest.importorskip("agents")
    bridge, ca_file = tls_bridge
    code = (
        "from agents.tracing.processors import BackendSpanExporter\n"
        "from agents.tracing import trace\n"
        f"exporter = BackendSpanExporter(api_key='k', endpoint='https://localhost:{bridge.port}/v1/traces/ingest')\n"
        "exporter.export([trace('python over tls')])\n"
    )
    env = {**os.environ, "SSL_CERT_FILE": str(ca_file)}
    done = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True,
                          timeout=60, check=False)
    assert bridge.requests == {200: 1}, done.stderr[-2000:]
