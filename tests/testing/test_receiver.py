"""The in-process OTLP receiver, exercised with the official OpenTelemetry exporters."""

from __future__ import annotations

import base64
import datetime
import gzip
import ipaddress
import json
import threading
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import grpc
import pytest
import requests
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from google.protobuf import json_format
from google.rpc import error_details_pb2, status_pb2
from opentelemetry.exporter.otlp.proto.common.trace_encoder import encode_spans
from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import (
    OTLPSpanExporter as GRPCSpanExporter,
)
from opentelemetry.exporter.otlp.proto.http import Compression
from opentelemetry.exporter.otlp.proto.http.trace_exporter import (
    OTLPSpanExporter as HTTPSpanExporter,
)
from opentelemetry.proto.collector.trace.v1 import trace_service_pb2_grpc
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)
from opentelemetry.proto.common.v1.common_pb2 import AnyValue
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor, SpanExporter, SpanExportResult
from opentelemetry.trace import SpanKind, Status, StatusCode

from agent_otlp.testing import (
    OTLPReceiver,
    ReceivedRequest,
    Reply,
    TLSConfig,
    decode_any_value,
    pytest_plugin,
)

# The plugin is auto-loaded through its ``pytest11`` entry point once the package is installed;
# exposing its fixtures here also makes this module work from a source checkout.
globals().update(
    {
        name: getattr(pytest_plugin, name)
        for name in ("otlp_receiver", "otlp_grpc_receiver", "otlp_receiver_factory")
    }
)

WAIT = 10.0
PROTOBUF = {"Content-Type": "application/x-protobuf"}


# -- helpers --------------------------------------------------------------------------------


def emit_agent_trace(exporter: SpanExporter) -> None:
    """Three spans (root, child with event and error status, grandchild) via the SDK."""
    provider = TracerProvider(resource=Resource.create({"service.name": "agent-svc", "n": 7}))
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    tracer = provider.get_tracer("agent.tracer", "1.2.3")
    root_attributes: dict[str, Any] = {"agent.name": "planner", "turns": 3}
    root_attributes.update({"score": 0.5, "ok": True})
    with (
        tracer.start_as_current_span("agent.run", attributes=root_attributes),
        tracer.start_as_current_span("llm.call", kind=SpanKind.CLIENT) as llm,
    ):
        llm.set_attribute("tags", ["a", "b"])
        llm.add_event("token", {"count": 12})
        llm.set_status(Status(StatusCode.ERROR, "rate limited"))
        with tracer.start_as_current_span("tool.call"):
            pass
    provider.shutdown()


def one_span_batch(name: str = "s") -> list[ReadableSpan]:
    provider = TracerProvider()
    captured: list[ReadableSpan] = []

    class Capture(SpanExporter):
        def export(self, spans: Any) -> SpanExportResult:
            captured.extend(spans)
            return SpanExportResult.SUCCESS

    provider.add_span_processor(SimpleSpanProcessor(Capture()))
    with provider.get_tracer("t").start_as_current_span(name):
        pass
    return captured


def to_otlp_json(message: ExportTraceServiceRequest) -> dict[str, Any]:
    """OTLP/JSON encoding: protobuf JSON mapping, but ids as hex strings."""
    doc: dict[str, Any] = json_format.MessageToDict(message)
    for rs in doc["resourceSpans"]:
        for ss in rs["scopeSpans"]:
            for span in ss["spans"]:
                for key in ("traceId", "spanId", "parentSpanId"):
                    if key in span:
                        span[key] = base64.b64decode(span[key]).hex()
    return doc


@pytest.fixture
def no_env_ca_bundle(monkeypatch: pytest.MonkeyPatch) -> None:
    """requests lets these variables override the exporter's own ``verify`` CA file."""
    monkeypatch.delenv("REQUESTS_CA_BUNDLE", raising=False)
    monkeypatch.delenv("CURL_CA_BUNDLE", raising=False)


@dataclass
class Certs:
    ca: str
    server: TLSConfig
    mtls: TLSConfig
    client_cert: str
    client_key: str


def _write_pair(directory: Path, stem: str, cert: x509.Certificate, key: Any) -> tuple[str, str]:
    cert_path, key_path = directory / f"{stem}.pem", directory / f"{stem}-key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return str(cert_path), str(key_path)


def _make_cert(
    name: str, parent: x509.Name | None, signer: Any, *, ca: bool, san: bool = False
) -> tuple[x509.Certificate, Any]:
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    now = datetime.datetime.now(datetime.UTC)
    builder = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(parent or subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
    )
    if san:
        names = [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
        builder = builder.add_extension(x509.SubjectAlternativeName(names), critical=False)
    return builder.sign(signer or key, hashes.SHA256()), key


@pytest.fixture(scope="module")
def certs(tmp_path_factory: pytest.TempPathFactory) -> Certs:
    directory = tmp_path_factory.mktemp("certs")
    ca_cert, ca_key = _make_cert("test-ca", None, None, ca=True)
    server_cert, server_key = _make_cert("localhost", ca_cert.subject, ca_key, ca=False, san=True)
    client_cert, client_key = _make_cert("client", ca_cert.subject, ca_key, ca=False)
    ca_path, _ = _write_pair(directory, "ca", ca_cert, ca_key)
    server_pem, server_key_pem = _write_pair(directory, "server", server_cert, server_key)
    client_pem, client_key_pem = _write_pair(directory, "client", client_cert, client_key)
    return Certs(
        ca=ca_path,
        server=TLSConfig(server_pem, server_key_pem),
        mtls=TLSConfig(server_pem, server_key_pem, client_ca=ca_path),
        client_cert=client_pem,
        client_key=client_key_pem,
    )


def check_agent_trace(receiver: OTLPReceiver) -> None:
    assert receiver.wait_for_spans(3, timeout=WAIT)
    assert receiver.span_count() == 3
    (root,) = receiver.by_name("agent.run")
    (llm,) = receiver.by_name("llm.call")
    (tool,) = receiver.by_name("tool.call")
    assert len(root.trace_id) == 32 and int(root.trace_id, 16)
    assert len(root.span_id) == 16 and int(root.span_id, 16)
    assert root.parent_span_id == "" and root.is_root
    assert llm.parent_span_id == root.span_id and tool.parent_span_id == llm.span_id
    assert {s.trace_id for s in (root, llm, tool)} == {root.trace_id}
    assert root.attributes == {"agent.name": "planner", "turns": 3, "score": 0.5, "ok": True}
    assert llm.attributes == {"tags": ["a", "b"]}
    assert llm.kind == 3 and root.kind == 1  # SPAN_KIND_CLIENT, SPAN_KIND_INTERNAL
    assert [(e.name, e.attributes) for e in llm.events] == [("token", {"count": 12})]
    assert llm.events[0].time_ns >= llm.start_ns
    assert (llm.status_code, llm.status_message) == (2, "rate limited")
    assert root.status_code == 0
    assert root.resource["service.name"] == "agent-svc" and root.resource["n"] == 7
    assert (root.scope_name, root.scope_version) == ("agent.tracer", "1.2.3")
    assert root.end_ns >= llm.end_ns >= llm.start_ns >= root.start_ns > 0
    tree = receiver.tree(root.trace_id)
    assert tree[""] == [root] and tree[root.span_id] == [llm] and tree[llm.span_id] == [tool]


# -- exporters end to end -------------------------------------------------------------------


def test_http_exporter_round_trip(otlp_receiver: OTLPReceiver) -> None:
    exporter = HTTPSpanExporter(
        endpoint=otlp_receiver.traces_url, headers={"x-test": "1"}, compression=Compression.Gzip
    )
    emit_agent_trace(exporter)
    check_agent_trace(otlp_receiver)
    requests_seen = otlp_receiver.requests
    assert all(r.replied_status == 200 and r.accepted for r in requests_seen)
    first = requests_seen[0]
    assert first.path == "/v1/traces" and first.protocol == "http"
    assert first.headers["x-test"] == "1"
    assert first.compression == "gzip"
    assert first.content_type == "application/x-protobuf"
    assert first.body_size == int(first.headers["content-length"]) > 0
    assert otlp_receiver.endpoint == f"http://127.0.0.1:{otlp_receiver.port}"


def test_grpc_exporter_round_trip(otlp_grpc_receiver: OTLPReceiver) -> None:
    assert otlp_grpc_receiver.endpoint.startswith("http://127.0.0.1:")
    exporter = GRPCSpanExporter(
        endpoint=otlp_grpc_receiver.endpoint, headers={"x-test": "1"}, timeout=WAIT
    )
    emit_agent_trace(exporter)
    check_agent_trace(otlp_grpc_receiver)
    first = otlp_grpc_receiver.requests[0]
    assert first.protocol == "grpc" and first.grpc_code == "OK" and first.replied_status == 200
    assert first.headers["x-test"] == "1"
    assert first.body_size > 0


# -- scripted replies -----------------------------------------------------------------------


def test_http_503_is_retried_then_accepted(otlp_receiver: OTLPReceiver) -> None:
    otlp_receiver.respond_with(Reply(status=503, retry_after=0))
    exporter = HTTPSpanExporter(endpoint=otlp_receiver.traces_url, timeout=WAIT)
    assert exporter.export(one_span_batch("retried")) is SpanExportResult.SUCCESS
    assert otlp_receiver.wait_for_spans(1, timeout=WAIT)
    assert [r.replied_status for r in otlp_receiver.requests] == [503, 200]
    assert [s.name for s in otlp_receiver.spans()] == ["retried"]  # the 503 copy is not counted


def test_http_400_is_not_accepted(otlp_receiver: OTLPReceiver) -> None:
    otlp_receiver.respond_with(Reply(status=400, message="bad batch"))
    exporter = HTTPSpanExporter(endpoint=otlp_receiver.traces_url, timeout=WAIT)
    assert exporter.export(one_span_batch("rejected")) is SpanExportResult.FAILURE
    (rejected,) = otlp_receiver.requests
    assert rejected.replied_status == 400 and not rejected.accepted
    assert rejected.span_count == 1
    assert otlp_receiver.spans() == [] and otlp_receiver.span_count() == 0
    # the script is used up: back to normal
    assert exporter.export(one_span_batch("accepted")) is SpanExportResult.SUCCESS
    assert otlp_receiver.wait_for_spans(1, timeout=WAIT)
    assert [s.name for s in otlp_receiver.spans()] == ["accepted"]


def test_http_retry_after_header_and_error_body(otlp_receiver: OTLPReceiver) -> None:
    otlp_receiver.respond_with(Reply(status=429, retry_after=7, message="slow down"))
    body = ExportTraceServiceRequest().SerializeToString()
    resp = requests.post(otlp_receiver.traces_url, data=body, headers=PROTOBUF, timeout=WAIT)
    assert resp.status_code == 429 and resp.headers["Retry-After"] == "7"
    status = status_pb2.Status.FromString(resp.content)
    assert status.message == "slow down"
    assert status.code == grpc.StatusCode.RESOURCE_EXHAUSTED.value[0]


def test_partial_success_is_accepted(otlp_receiver: OTLPReceiver) -> None:
    otlp_receiver.respond_with(Reply(partial_rejected=2, message="2 spans dropped"))
    body = encode_spans(one_span_batch("partial")).SerializeToString()
    resp = requests.post(otlp_receiver.traces_url, data=body, headers=PROTOBUF, timeout=WAIT)
    assert resp.status_code == 200
    answer = ExportTraceServiceResponse.FromString(resp.content)
    assert answer.partial_success.rejected_spans == 2
    assert answer.partial_success.error_message == "2 spans dropped"
    assert otlp_receiver.wait_for_spans(1, timeout=WAIT)


def test_set_handler_decides_per_request(otlp_receiver: OTLPReceiver) -> None:
    def handler(request: ReceivedRequest) -> Reply | None:
        return Reply(status=401) if "authorization" not in request.headers else None

    otlp_receiver.set_handler(handler)
    body = encode_spans(one_span_batch()).SerializeToString()
    url = otlp_receiver.traces_url
    assert requests.post(url, data=body, headers=PROTOBUF, timeout=WAIT).status_code == 401
    authorized = {**PROTOBUF, "Authorization": "Bearer t"}
    assert requests.post(url, data=body, headers=authorized, timeout=WAIT).status_code == 200
    assert otlp_receiver.wait_for_spans(1, timeout=WAIT) and otlp_receiver.span_count() == 1
    otlp_receiver.set_handler(None)
    assert requests.post(url, data=body, headers=PROTOBUF, timeout=WAIT).status_code == 200


def test_grpc_unavailable_then_ok(otlp_grpc_receiver: OTLPReceiver) -> None:
    otlp_grpc_receiver.respond_with(Reply(status=503, retry_after=0.01))
    exporter = GRPCSpanExporter(endpoint=otlp_grpc_receiver.endpoint, timeout=WAIT)
    assert exporter.export(one_span_batch("grpc-retried")) is SpanExportResult.SUCCESS
    assert otlp_grpc_receiver.wait_for_spans(1, timeout=WAIT)
    codes = [r.grpc_code for r in otlp_grpc_receiver.requests]
    assert codes == ["UNAVAILABLE", "OK"]
    assert [s.name for s in otlp_grpc_receiver.spans()] == ["grpc-retried"]


def test_grpc_error_carries_retry_info(otlp_grpc_receiver: OTLPReceiver) -> None:
    otlp_grpc_receiver.respond_with(
        Reply(grpc_code=grpc.StatusCode.RESOURCE_EXHAUSTED, retry_after=1.5, message="quota")
    )
    target = otlp_grpc_receiver.endpoint.removeprefix("http://")
    with grpc.insecure_channel(target) as channel:
        stub = trace_service_pb2_grpc.TraceServiceStub(channel)  # type: ignore[no-untyped-call]
        with pytest.raises(grpc.RpcError) as info:
            stub.Export(ExportTraceServiceRequest(), timeout=WAIT)
    error: Any = info.value
    assert error.code() == grpc.StatusCode.RESOURCE_EXHAUSTED and error.details() == "quota"
    retry = error_details_pb2.RetryInfo.FromString(
        dict(error.trailing_metadata())["google.rpc.retryinfo-bin"]
    )
    assert retry.retry_delay.seconds == 1 and retry.retry_delay.nanos == 500_000_000
    (request,) = otlp_grpc_receiver.requests
    assert request.replied_status == 429 and not request.accepted


def test_delay_simulates_slow_backend(otlp_receiver: OTLPReceiver) -> None:
    otlp_receiver.respond_with(Reply(delay=30))
    with pytest.raises(requests.exceptions.Timeout):
        requests.post(otlp_receiver.traces_url, data=b"", headers=PROTOBUF, timeout=0.2)
    assert otlp_receiver.wait_for_requests(1, timeout=WAIT, replied=False)
    assert otlp_receiver.requests[0].replied_status is None
    otlp_receiver.stop()  # interrupts the pending delay instead of waiting 30 s
    assert otlp_receiver.wait_for_requests(1, timeout=WAIT)


# -- encodings and paths --------------------------------------------------------------------


def test_otlp_json_matches_protobuf(otlp_receiver: OTLPReceiver) -> None:
    message = encode_spans(one_span_batch("json-span"))
    doc = to_otlp_json(message)
    resp = requests.post(otlp_receiver.traces_url, json=doc, timeout=WAIT)
    assert resp.status_code == 200 and resp.headers["Content-Type"] == "application/json"
    assert otlp_receiver.wait_for_spans(1, timeout=WAIT)
    (request,) = otlp_receiver.requests
    assert request.content_type == "application/json"
    assert request.message == message
    (span,) = otlp_receiver.spans()
    assert span.trace_id == doc["resourceSpans"][0]["scopeSpans"][0]["spans"][0]["traceId"]


SERVICE_X = {"key": "service.name", "value": {"stringValue": "x"}}


def test_otlp_json_hand_written(otlp_receiver: OTLPReceiver) -> None:
    doc = {
        "resourceSpans": [
            {
                "resource": {"attributes": [SERVICE_X]},
                "scopeSpans": [
                    {
                        "scope": {"name": "manual"},
                        "spans": [
                            {
                                "traceId": "5B8EFFF798038103D269B633813FC60C",
                                "spanId": "EEE19B7EC3C1B174",
                                "parentSpanId": "EEE19B7EC3C1B173",
                                "name": "json",
                                "kind": 2,
                                "startTimeUnixNano": "1544712660000000000",
                                "endTimeUnixNano": "1544712661000000000",
                                "attributes": [
                                    {"key": "i", "value": {"intValue": "42"}},
                                    {"key": "b", "value": {"bytesValue": "AAE="}},
                                    {
                                        "key": "m",
                                        "value": {
                                            "kvlistValue": {
                                                "values": [
                                                    {"key": "k", "value": {"boolValue": True}}
                                                ]
                                            }
                                        },
                                    },
                                ],
                                "unknownField": "ignored",
                            }
                        ],
                    }
                ],
            }
        ]
    }
    body = gzip.compress(json.dumps(doc).encode())
    headers = {"Content-Type": "application/json", "Content-Encoding": "gzip"}
    resp = requests.post(otlp_receiver.traces_url, data=body, headers=headers, timeout=WAIT)
    assert resp.status_code == 200, resp.text
    assert otlp_receiver.wait_for_spans(1, timeout=WAIT)
    (span,) = otlp_receiver.spans()
    assert span.trace_id == "5b8efff798038103d269b633813fc60c"
    assert (span.span_id, span.parent_span_id) == ("eee19b7ec3c1b174", "eee19b7ec3c1b173")
    assert span.kind == 2 and span.end_ns - span.start_ns == 1_000_000_000
    assert span.attributes == {"i": 42, "b": b"\x00\x01", "m": {"k": True}}
    assert span.resource == {"service.name": "x"} and span.scope_name == "manual"
    assert otlp_receiver.requests[0].compression == "gzip"


def test_deflate_protobuf(otlp_receiver: OTLPReceiver) -> None:
    body = zlib.compress(encode_spans(one_span_batch("deflated")).SerializeToString())
    headers = {**PROTOBUF, "Content-Encoding": "deflate"}
    resp = requests.post(otlp_receiver.traces_url, data=body, headers=headers, timeout=WAIT)
    assert resp.status_code == 200
    assert otlp_receiver.wait_for_spans(1, timeout=WAIT)
    assert otlp_receiver.by_name("deflated")
    (request,) = otlp_receiver.requests
    assert request.compression == "deflate" and request.body_size == len(body)


def test_other_paths_and_bad_payloads_are_recorded(otlp_receiver: OTLPReceiver) -> None:
    base = otlp_receiver.endpoint
    assert requests.post(base + "/v1/metrics", data=b"x", timeout=WAIT).status_code == 404
    bad = requests.post(otlp_receiver.traces_url, data=b"\xff\xff", headers=PROTOBUF, timeout=WAIT)
    assert bad.status_code == 400
    bad_json = requests.post(
        otlp_receiver.traces_url,
        data=b"{",
        headers={"Content-Type": "application/json"},
        timeout=WAIT,
    )
    assert bad_json.status_code == 400
    paths = [(r.path, r.replied_status) for r in otlp_receiver.requests]
    assert paths == [("/v1/metrics", 404), ("/v1/traces", 400), ("/v1/traces", 400)]
    assert otlp_receiver.requests[1].decode_error
    assert otlp_receiver.spans() == []
    otlp_receiver.clear()
    assert otlp_receiver.requests == []


# -- TLS ------------------------------------------------------------------------------------


@pytest.mark.usefixtures("no_env_ca_bundle")
def test_https_with_self_signed_ca(otlp_receiver_factory: Any, certs: Certs) -> None:
    receiver: OTLPReceiver = otlp_receiver_factory("http", tls=certs.server)
    assert receiver.endpoint.startswith("https://127.0.0.1:")
    exporter = HTTPSpanExporter(endpoint=receiver.traces_url, certificate_file=certs.ca)
    assert exporter.export(one_span_batch("secure")) is SpanExportResult.SUCCESS
    assert receiver.wait_for_spans(1, timeout=WAIT)
    with pytest.raises(requests.exceptions.SSLError):  # not trusted without the CA
        requests.post(receiver.traces_url, data=b"", headers=PROTOBUF, timeout=WAIT)


@pytest.mark.usefixtures("no_env_ca_bundle")
def test_https_mutual_tls(otlp_receiver_factory: Any, certs: Certs) -> None:
    receiver: OTLPReceiver = otlp_receiver_factory("http", tls=certs.mtls)
    with pytest.raises(requests.exceptions.ConnectionError):  # no client certificate
        requests.post(receiver.traces_url, data=b"", verify=certs.ca, timeout=WAIT)
    exporter = HTTPSpanExporter(
        endpoint=receiver.traces_url,
        certificate_file=certs.ca,
        client_certificate_file=certs.client_cert,
        client_key_file=certs.client_key,
    )
    assert exporter.export(one_span_batch("mutual")) is SpanExportResult.SUCCESS
    assert receiver.wait_for_spans(1, timeout=WAIT)


def test_grpcs(otlp_receiver_factory: Any, certs: Certs) -> None:
    receiver: OTLPReceiver = otlp_receiver_factory("grpc", tls=certs.mtls)
    assert receiver.endpoint.startswith("https://")
    credentials = grpc.ssl_channel_credentials(
        root_certificates=Path(certs.ca).read_bytes(),
        private_key=Path(certs.client_key).read_bytes(),
        certificate_chain=Path(certs.client_cert).read_bytes(),
    )
    exporter = GRPCSpanExporter(endpoint=receiver.endpoint, credentials=credentials, timeout=WAIT)
    assert exporter.export(one_span_batch("grpcs")) is SpanExportResult.SUCCESS
    assert receiver.wait_for_spans(1, timeout=WAIT)
    assert [s.name for s in receiver.spans()] == ["grpcs"]


# -- lifecycle ------------------------------------------------------------------------------


def test_http_restart_on_same_port(otlp_receiver: OTLPReceiver) -> None:
    port = otlp_receiver.port
    exporter = HTTPSpanExporter(endpoint=otlp_receiver.traces_url, timeout=WAIT)
    assert exporter.export(one_span_batch("before")) is SpanExportResult.SUCCESS
    otlp_receiver.stop()
    assert not otlp_receiver.running
    with pytest.raises(requests.exceptions.ConnectionError):
        requests.post(otlp_receiver.traces_url, data=b"", headers=PROTOBUF, timeout=WAIT)
    otlp_receiver.restart()
    assert otlp_receiver.port == port and otlp_receiver.running
    # the exporter's kept-alive connection was dropped; it reconnects to the new server
    assert exporter.export(one_span_batch("after")) is SpanExportResult.SUCCESS
    assert otlp_receiver.wait_for_spans(2, timeout=WAIT)
    assert [s.name for s in otlp_receiver.spans()] == ["before", "after"]


def test_grpc_restart_on_same_port(otlp_grpc_receiver: OTLPReceiver) -> None:
    port = otlp_grpc_receiver.port
    otlp_grpc_receiver.restart()
    assert otlp_grpc_receiver.port == port
    exporter = GRPCSpanExporter(endpoint=otlp_grpc_receiver.endpoint, timeout=WAIT)
    assert exporter.export(one_span_batch("after")) is SpanExportResult.SUCCESS
    assert otlp_grpc_receiver.wait_for_spans(1, timeout=WAIT)


def test_context_manager_frees_port() -> None:
    with OTLPReceiver() as receiver:
        port = receiver.port
        assert port > 0
    with OTLPReceiver(port=port) as again:
        assert again.port == port


def test_wait_for_spans_times_out() -> None:
    with OTLPReceiver() as receiver:
        assert receiver.wait_for_spans(1, timeout=0.01) is False
        assert receiver.span_count() == 0


def test_rejects_unknown_protocol() -> None:
    with pytest.raises(ValueError):
        OTLPReceiver(protocol="udp")  # type: ignore[arg-type]


# -- decoding -------------------------------------------------------------------------------


def _any(**kwargs: Any) -> AnyValue:
    return AnyValue(**kwargs)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (_any(string_value="s"), "s"),
        (_any(bool_value=False), False),
        (_any(int_value=-3), -3),
        (_any(double_value=1.5), 1.5),
        (_any(bytes_value=b"\x01"), b"\x01"),
        (AnyValue(), None),
    ],
)
def test_decode_scalars(value: AnyValue, expected: object) -> None:
    assert decode_any_value(value) == expected
    assert type(decode_any_value(value)) is type(expected)


def test_decode_nested() -> None:
    value = AnyValue()
    value.array_value.values.add(int_value=1)
    nested = value.array_value.values.add()
    kv = nested.kvlist_value.values.add(key="inner")
    kv.value.array_value.values.add(string_value="x")
    assert decode_any_value(value) == [1, {"inner": ["x"]}]


@pytest.fixture
def sample_receivers(otlp_receiver_factory: Any) -> Iterator[list[OTLPReceiver]]:
    yield [otlp_receiver_factory("http"), otlp_receiver_factory("grpc")]


def test_factory_fixture_starts_receivers(sample_receivers: list[OTLPReceiver]) -> None:
    assert [r.protocol for r in sample_receivers] == ["http", "grpc"]
    assert all(r.running for r in sample_receivers)
    assert len({r.port for r in sample_receivers}) == 2


def test_concurrent_exports_are_all_recorded(otlp_receiver: OTLPReceiver) -> None:
    body = encode_spans(one_span_batch("parallel")).SerializeToString()

    def post_five() -> None:
        for _ in range(5):
            resp = requests.post(
                otlp_receiver.traces_url, data=body, headers=PROTOBUF, timeout=WAIT
            )
            assert resp.status_code == 200

    workers = [threading.Thread(target=post_five) for _ in range(8)]
    for worker in workers:
        worker.start()
    assert otlp_receiver.wait_for_spans(40, timeout=WAIT)
    for worker in workers:
        worker.join(WAIT)
    assert len(otlp_receiver.requests) == 40 and len(otlp_receiver.by_name("parallel")) == 40
