"""TLS: verification on by default, custom CAs, client certificates (mTLS) over HTTP and gRPC,
and verification off only when asked, loudly. Certificates are made here (cryptography)."""

from __future__ import annotations

import datetime as dt
import functools
import ipaddress
import logging
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
from typer.testing import CliRunner

from _reliability import record
from agent_otlp.cli import _register, app
from agent_otlp.core.pipeline.exporter import AgentExporter
from agent_otlp.core.pipeline.retry import CircuitBreaker, RetryPolicy
from agent_otlp.testing import OTLPReceiver, TLSConfig
from test_core_retry import items, with_policy

TIMEOUT = 5.0


@dataclass(frozen=True)
class Pki:
    ca: Path
    server_cert: Path
    server_key: Path
    client_ca: Path
    client_cert: Path
    client_key: Path
    self_signed_cert: Path
    self_signed_key: Path


def _key() -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(ec.SECP256R1())


def _write(path: Path, cert: x509.Certificate, key: ec.EllipticCurvePrivateKey | None = None,
           key_path: Path | None = None) -> None:
    path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    if key is not None and key_path is not None:
        key_path.write_bytes(key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        ))


def _cert(subject: str, key: Any, issuer: tuple[str, Any] | None, *, ca: bool,
          server: bool = False, client: bool = False) -> x509.Certificate:
    now = dt.datetime.now(dt.UTC)
    issuer_name, issuer_key = issuer or (subject, key)
    builder = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, subject)]))
        .issuer_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, issuer_name)]))
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=2))
        .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
    )
    if server:
        builder = builder.add_extension(x509.SubjectAlternativeName([
            x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1")),
        ]), critical=False).add_extension(
            x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
    if client:
        builder = builder.add_extension(
            x509.ExtendedKeyUsage([ExtendedKeyUsageOID.CLIENT_AUTH]), critical=False)
    if ca:
        builder = builder.add_extension(x509.KeyUsage(
            digital_signature=True, content_commitment=False, key_encipherment=False,
            data_encipherment=False, key_agreement=False, key_cert_sign=True, crl_sign=True,
            encipher_only=False, decipher_only=False), critical=True)
    return builder.sign(issuer_key, hashes.SHA256())


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Pki:
    d = tmp_path_factory.mktemp("pki")
    ca_key, client_ca_key, server_key, client_key, self_key = (_key() for _ in range(5))
    ca = _cert("agent-otlp test CA", ca_key, None, ca=True)
    client_ca = _cert("agent-otlp client CA", client_ca_key, None, ca=True)
    server = _cert("localhost", server_key, ("agent-otlp test CA", ca_key), ca=False, server=True)
    client = _cert("agent-otlp client", client_key, ("agent-otlp client CA", client_ca_key),
                   ca=False, client=True)
    self_signed = _cert("localhost", self_key, None, ca=False, server=True)
    p = Pki(d / "ca.pem", d / "server.pem", d / "server.key", d / "client-ca.pem",
            d / "client.pem", d / "client.key", d / "self.pem", d / "self.key")
    _write(p.ca, ca)
    _write(p.client_ca, client_ca)
    _write(p.server_cert, server, server_key, p.server_key)
    _write(p.client_cert, client, client_key, p.client_key)
    _write(p.self_signed_cert, self_signed, self_key, p.self_signed_key)
    return p


@pytest.fixture(autouse=True)
def _no_ca_bundle_override(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE", "SSL_CERT_FILE", "SSL_CERT_DIR"):
        monkeypatch.delenv(name, raising=False)


NEVER_OPENS = RetryPolicy(breaker=functools.partial(CircuitBreaker, threshold=1000))

def _export(receiver: OTLPReceiver, protocol: str, **settings: Any) -> tuple[bool, dict[str, Any], AgentExporter]:
    exporter = with_policy(  # no breaker pauses: one failed request is the answer
        NEVER_OPENS, receiver.endpoint, schedule_delay=0.02, retry_deadline=0.5,
        timeout=TIMEOUT, protocol="grpc" if protocol == "grpc" else "http/protobuf", **settings,
    )
    exporter.submit_items(items(2))
    report = exporter.shutdown(10)
    stats = exporter.stats.snapshot()["destinations"]["otlp"]
    return report.delivered, stats, exporter


Factory = Callable[..., OTLPReceiver]
PROTOCOLS = ["http", "grpc"]


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_tls(protocol: str, pki: Pki, otlp_receiver_factory: Factory,
             caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    outcomes: dict[str, str] = {}
    server_tls = TLSConfig(str(pki.server_cert), str(pki.server_key))
    self_tls = TLSConfig(str(pki.self_signed_cert), str(pki.self_signed_key))
    mtls = TLSConfig(str(pki.server_cert), str(pki.server_key), client_ca=str(pki.client_ca))

    # 1. a self-signed server and no CA given: refused, counted
    receiver = otlp_receiver_factory(protocol, tls=self_tls)
    delivered, stats, _ = _export(receiver, protocol)
    assert not delivered and stats["exported"] == 0
    assert stats["dropped"]["failed"] == stats["received"] == 3
    assert receiver.span_count() == 0
    outcomes["self-signed, no CA"] = f"refused ({stats['last_error'][:40]}...), 3 spans counted failed"

    # 2. our CA given: delivered
    receiver = otlp_receiver_factory(protocol, tls=server_tls)
    delivered, stats, _ = _export(receiver, protocol, certificate=str(pki.ca))
    assert delivered and receiver.span_count() == 3
    # ... and the same server without the CA: refused
    delivered, stats, _ = _export(receiver, protocol)
    assert not delivered and receiver.span_count() == 3

    # 3. mTLS: with the client certificate delivered, without it refused
    receiver = otlp_receiver_factory(protocol, tls=mtls)
    delivered, stats, _ = _export(receiver, protocol, certificate=str(pki.ca),
                                  client_certificate=str(pki.client_cert),
                                  client_key=str(pki.client_key))
    assert delivered and receiver.span_count() == 3
    delivered, stats, _ = _export(receiver, protocol, certificate=str(pki.ca))
    assert not delivered and stats["dropped"]["failed"] == 3
    assert receiver.span_count() == 3

    # 4. verification off only when asked, with a warning
    receiver = otlp_receiver_factory(protocol, tls=self_tls)
    caplog.clear()
    delivered, stats, _ = _export(receiver, protocol, tls_verify=False)
    warnings = [r.getMessage() for r in caplog.records
                if r.levelno >= logging.WARNING and "tls_verify=false" in r.getMessage()]
    assert warnings, [r.getMessage() for r in caplog.records]
    if protocol == "http":
        assert delivered and receiver.span_count() == 3
        assert "verification is OFF" in warnings[0]
        off = "delivered, with a WARNING log naming the endpoint"
    else:  # gRPC in Python cannot skip verification: it says so and keeps verifying
        assert not delivered and receiver.span_count() == 0
        assert "not supported over gRPC" in warnings[0]
        off = "not supported by gRPC in Python: a WARNING says so and verification stays on"
    record(
        f"tls.{protocol}",
        fault=f"TLS over {'OTLP/HTTP' if protocol == 'http' else 'OTLP/gRPC'}: self-signed server "
              "without its CA, server with a custom CA (given / not given), mTLS server (client "
              "certificate given / not given), tls_verify=false",
        cases=6,
        outcome="verified by default: the untrusted server is refused and its spans counted as "
                "failed; custom CA and client certificate deliver; the missing client certificate "
                f"is refused; tls_verify=false: {off}",
        lost="0 (refused spans are counted as failed, never silently dropped)",
        method=f"`test_tls[{protocol}]` makes a CA, server, client and self-signed certificates "
               "with cryptography and exports to in-process TLS receivers (REQUESTS_CA_BUNDLE "
               "and CURL_CA_BUNDLE removed).",
    )


def test_doctor_hints_untrusted_certificate(
    pki: Pki, otlp_receiver_factory: Factory, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    for name in list(os.environ):
        if name.startswith(("AGENT_OTLP_", "OTEL_", "HONEYCOMB_")):
            monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)
    _register()
    receiver = otlp_receiver_factory("http", tls=TLSConfig(str(pki.self_signed_cert),
                                                           str(pki.self_signed_key)))
    result = CliRunner().invoke(app, ["doctor", "-a", "otlp", "--endpoint", receiver.endpoint,
                                      "--timeout", "3"], env={"COLUMNS": "250"})
    assert result.exit_code == 1
    assert "certificate is not trusted" in result.output
    ok = CliRunner().invoke(app, ["doctor", "-a", "otlp", "--endpoint", receiver.endpoint],
                            env={"COLUMNS": "250", "OTEL_EXPORTER_OTLP_CERTIFICATE":
                                 str(pki.self_signed_cert)})
    assert ok.exit_code == 0, ok.output
    record(
        "tls.doctor",
        fault="`agent-otlp doctor` against a self-signed HTTPS receiver, without and with its "
              "certificate as CA",
        cases=2,
        outcome="without: FAIL with the hint 'the server's certificate is not trusted: set "
                "certificate = the CA file (OTEL_EXPORTER_OTLP_CERTIFICATE)'; with: OK",
        lost=0,
        method="`test_doctor_hints_untrusted_certificate` runs the real command (CliRunner).",
    )
