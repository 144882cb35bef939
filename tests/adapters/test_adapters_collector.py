"""The collector adapter (plaintext rules, headers, gzip, TLS and mutual TLS against real
in-process receivers) and ``agent-otlp collector-config``."""

from __future__ import annotations

import datetime
import ipaddress
import logging
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from typer.testing import CliRunner

from agent_otlp import ConfigError
from agent_otlp.cli import _register, app
from agent_otlp.factory import resolve_all
from agent_otlp.testing import TLSConfig
from agent_otlp.testing.pytest_plugin import ReceiverFactory
from agent_otlp.testing.receiver import OTLPReceiver
from test_adapters_support import agent_trace, clean_env, export

__all__ = ["clean_env"]


# --- certificates --------------------------------------------------------------------------


def _name(common: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common)])


def _cert(subject: str, key: Any, issuer: str, issuer_key: Any, *, ca: bool, server: bool) -> x509.Certificate:
    now = datetime.datetime.now(datetime.UTC)
    builder = (
        x509.CertificateBuilder()
        .subject_name(_name(subject))
        .issuer_name(_name(issuer))
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
    )
    if server:
        builder = builder.add_extension(
            x509.SubjectAlternativeName(
                [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
            ),
            critical=False,
        )
    return builder.sign(issuer_key, hashes.SHA256())


def _write(path: Path, cert: x509.Certificate, key: Any) -> tuple[str, str]:
    cert_path, key_path = path.with_suffix(".crt"), path.with_suffix(".key")
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ))
    return str(cert_path), str(key_path)


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """A private CA, a server certificate for 127.0.0.1/localhost and a client certificate."""
    base = tmp_path_factory.mktemp("pki")
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca = _cert("agent-otlp test CA", ca_key, "agent-otlp test CA", ca_key, ca=True, server=False)
    server_key = ec.generate_private_key(ec.SECP256R1())
    server = _cert("localhost", server_key, "agent-otlp test CA", ca_key, ca=False, server=True)
    client_key = ec.generate_private_key(ec.SECP256R1())
    client = _cert("agent", client_key, "agent-otlp test CA", ca_key, ca=False, server=False)
    ca_cert, _ = _write(base / "ca", ca, ca_key)
    server_cert, server_key_path = _write(base / "server", server, server_key)
    client_cert, client_key_path = _write(base / "client", client, client_key)
    return {"ca": ca_cert, "server_cert": server_cert, "server_key": server_key_path,
            "client_cert": client_cert, "client_key": client_key_path}


@pytest.fixture(autouse=True)
def _no_ca_bundle_override(monkeypatch: pytest.MonkeyPatch) -> None:
    # requests lets these variables override verify=<CA file>
    monkeypatch.delenv("REQUESTS_CA_BUNDLE", raising=False)
    monkeypatch.delenv("CURL_CA_BUNDLE", raising=False)


# --- settings ------------------------------------------------------------------------------


def test_defaults_and_headers_and_gzip(otlp_receiver: OTLPReceiver, clean_env: dict[str, str]) -> None:
    [(settings, _)] = resolve_all("collector", env=clean_env)
    assert settings.endpoint == "http://localhost:4318/v1/traces"
    assert settings.compression == "gzip"
    export("collector", agent_trace(), {**clean_env, "OTEL_EXPORTER_OTLP_HEADERS": "x-team=agents"},
           endpoint=otlp_receiver.endpoint)
    [request] = otlp_receiver.requests
    assert request.compression == "gzip"
    assert request.headers["x-team"] == "agents"
    assert request.path == "/v1/traces"
    assert len(otlp_receiver.spans()) == 5


@pytest.mark.parametrize(
    "arguments",
    [
        {"endpoint": "http://gateway.internal:4318"},
        {"endpoint": "http://10.1.2.3:4317", "protocol": "grpc"},
        {"endpoint": "gateway.internal:4317", "protocol": "grpc"},
    ],
)
def test_plaintext_to_a_remote_host_needs_insecure(
    clean_env: dict[str, str], arguments: dict[str, Any], caplog: pytest.LogCaptureFixture
) -> None:
    with pytest.raises(ConfigError, match="needs insecure = true"):
        resolve_all("collector", env=clean_env, **arguments)
    with caplog.at_level(logging.WARNING, logger="agent_otlp.adapters.collector"):
        resolve_all("collector", env=clean_env, insecure=True, **arguments)
    assert "without TLS" in caplog.text


@pytest.mark.parametrize(
    "arguments",
    [
        {"endpoint": "https://gateway.internal:4318"},
        {"endpoint": "https://gateway.internal:4317", "protocol": "grpc"},
        {"endpoint": "http://localhost:4318"},
        {"endpoint": "http://127.0.0.1:4317", "protocol": "grpc"},
    ],
)
def test_tls_or_loopback_needs_nothing(
    clean_env: dict[str, str], arguments: dict[str, Any], caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.WARNING, logger="agent_otlp.adapters.collector"):
        resolve_all("collector", env=clean_env, **arguments)
    assert "without TLS" not in caplog.text


@pytest.mark.parametrize("protocol", ["http", "grpc"])
def test_mutual_tls_with_a_private_ca(
    otlp_receiver_factory: ReceiverFactory, clean_env: dict[str, str], pki: dict[str, str],
    protocol: str,
) -> None:
    receiver = otlp_receiver_factory(
        protocol,  # type: ignore[arg-type]
        TLSConfig(pki["server_cert"], pki["server_key"], client_ca=pki["ca"]),
    )
    assert receiver.endpoint.startswith("https://")
    exporter = export(
        "collector", agent_trace(), clean_env, endpoint=receiver.endpoint,
        protocol="grpc" if protocol == "grpc" else "http/protobuf",
        certificate=pki["ca"], client_certificate=pki["client_cert"], client_key=pki["client_key"],
    )
    assert len(receiver.spans()) == 5
    assert exporter.stats.snapshot()["destinations"]["collector"]["exported"] == 5


def test_untrusted_server_certificate_is_refused(
    otlp_receiver_factory: ReceiverFactory, clean_env: dict[str, str], pki: dict[str, str]
) -> None:
    receiver = otlp_receiver_factory("http", TLSConfig(pki["server_cert"], pki["server_key"]))
    exporter = export("collector", agent_trace(), clean_env, endpoint=receiver.endpoint,
                      retry_deadline=0.5)
    assert receiver.spans() == []
    assert "tls" in exporter.stats.snapshot()["destinations"]["collector"]["last_error"].lower()


# --- collector-config ----------------------------------------------------------------------


def parse_yaml(text: str) -> Any:
    """The block-style YAML subset ``collector-config`` prints (mappings, lists, scalars)."""
    lines = [ln for ln in text.splitlines() if ln.strip() and not ln.lstrip().startswith("#")]

    def scalar(raw: str) -> Any:
        raw = raw.strip()
        if raw == "{}":
            return {}
        if raw == "[]":
            return []
        if raw in ("true", "false"):
            return raw == "true"
        if raw.startswith('"'):
            import json

            return json.loads(raw)
        return raw

    def block(index: int, indent: int) -> tuple[Any, int]:
        if lines[index].lstrip().startswith("- "):
            items = []
            while index < len(lines) and _indent(lines[index]) == indent:
                assert lines[index].lstrip().startswith("- "), lines[index]
                items.append(scalar(lines[index].lstrip()[2:]))
                index += 1
            return items, index
        mapping: dict[str, Any] = {}
        while index < len(lines) and _indent(lines[index]) == indent:
            key, _, rest = lines[index].strip().partition(":")
            assert key not in mapping, f"duplicate key {key}"
            index += 1
            if rest.strip():
                mapping[key] = scalar(rest)
            else:
                assert _indent(lines[index]) > indent, f"empty value for {key}"
                mapping[key], index = block(index, _indent(lines[index]))
        return mapping, index

    document, end = block(0, 0)
    assert end == len(lines), f"unparsed: {lines[end:]}"
    return document


def _indent(line: str) -> int:
    return len(line) - len(line.lstrip(" "))


def test_collector_config_is_a_valid_pipeline() -> None:
    _register()
    result = CliRunner().invoke(app, [
        "collector-config", "--to", "jaeger=http://jaeger:4317", "--to", "tempo=http://tempo:4318",
        "--to", "honeycomb=https://api.honeycomb.io", "--header", "tempo=X-Scope-OrgID:team-a",
        "--to", "gateway=grpcs://gw.example:4317",
    ])
    assert result.exit_code == 0, result.output
    config = parse_yaml(result.output)
    protocols = config["receivers"]["otlp"]["protocols"]
    assert protocols == {"grpc": {"endpoint": "0.0.0.0:4317"}, "http": {"endpoint": "0.0.0.0:4318"}}
    assert config["processors"] == {"batch": {}}
    exporters = config["exporters"]
    assert exporters["otlp/jaeger"] == {"endpoint": "jaeger:4317", "tls": {"insecure": True}}
    assert exporters["otlphttp/tempo"] == {
        "endpoint": "http://tempo:4318", "headers": {"X-Scope-OrgID": "team-a"}
    }
    assert exporters["otlphttp/honeycomb"]["headers"] == {
        "x-honeycomb-team": "${env:HONEYCOMB_API_KEY}"
    }
    assert exporters["otlp/gateway"] == {"endpoint": "gw.example:4317"}
    pipeline = config["service"]["pipelines"]["traces"]
    assert pipeline == {
        "receivers": ["otlp"], "processors": ["batch"],
        "exporters": ["otlp/jaeger", "otlphttp/tempo", "otlphttp/honeycomb", "otlp/gateway"],
    }


def test_collector_config_full_traces_url_and_errors() -> None:
    _register()
    runner = CliRunner()
    result = runner.invoke(app, ["collector-config", "--to", "x=https://x.example/otlp/v1/traces"])
    assert parse_yaml(result.output)["exporters"]["otlphttp/x"] == {
        "traces_endpoint": "https://x.example/otlp/v1/traces"
    }
    bad = runner.invoke(app, ["collector-config", "--to", "nourl"])
    assert bad.exit_code != 0
    assert isinstance(bad.exception, ConfigError)
