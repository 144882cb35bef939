"""The ``otel-sdk`` transport: requests handed to OpenTelemetry's own OTLP exporters.

With ``transport = "otel-sdk"`` a destination sends through ``opentelemetry-exporter-otlp``'s
``OTLPSpanExporter`` (HTTP or gRPC, by ``protocol``) instead of agent-otlp's own sender: each
encoded request is read back into ``opentelemetry-sdk`` ``ReadableSpan`` objects and exported
by the official exporter, with its own retry policy. It costs more per span (see
``docs/performance.md``) and exists for deployments that standardise on the official
exporter's behaviour, and as a reference: the test suite checks that both transports put the
same spans on the wire.

Over HTTP the official exporter's answer is read again by agent-otlp's rules (a 2xx that is
not an OTLP answer is a failure; a partial success counts its rejected spans), through a
response hook on the ``requests`` session it is given. Over gRPC the official exporter keeps
the answer to itself, so a partial success there is not seen.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from typing import Any

from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import Event, ReadableSpan
from opentelemetry.sdk.trace.export import SpanExporter, SpanExportResult
from opentelemetry.sdk.util.instrumentation import InstrumentationScope
from opentelemetry.trace import SpanContext, SpanKind, Status, StatusCode, TraceFlags

from agent_otlp.core.config.secrets import Secret, redact_text
from agent_otlp.core.config.settings import Settings
from agent_otlp.core.wire.transport import SendResult, Transport, http_answer

__all__ = ["OtelSdkTransport", "readable_spans"]

_KINDS = {1: SpanKind.INTERNAL, 2: SpanKind.SERVER, 3: SpanKind.CLIENT, 4: SpanKind.PRODUCER,
          5: SpanKind.CONSUMER}
_STATUS = {0: StatusCode.UNSET, 1: StatusCode.OK, 2: StatusCode.ERROR}


def _value(any_value: Any) -> Any:
    which = any_value.WhichOneof("value")
    if which == "array_value":
        return tuple(_value(v) for v in any_value.array_value.values)
    return getattr(any_value, which) if which else None


def _attributes(key_values: Sequence[Any]) -> dict[str, Any]:
    return {kv.key: _value(kv.value) for kv in key_values}


def _context(trace_id: bytes, span_id: bytes) -> SpanContext:
    return SpanContext(
        int.from_bytes(trace_id, "big"),
        int.from_bytes(span_id, "big"),
        is_remote=False,
        trace_flags=TraceFlags(TraceFlags.SAMPLED),
    )


def readable_spans(request: ExportTraceServiceRequest) -> list[ReadableSpan]:
    """The SDK span objects standing for every span of ``request``."""
    spans: list[ReadableSpan] = []
    for resource_spans in request.resource_spans:
        resource = Resource(_attributes(resource_spans.resource.attributes),
                            resource_spans.schema_url or None)
        for scope_spans in resource_spans.scope_spans:
            scope = InstrumentationScope(scope_spans.scope.name, scope_spans.scope.version,
                                         scope_spans.schema_url or None)
            for span in scope_spans.spans:
                spans.append(
                    ReadableSpan(
                        name=span.name,
                        context=_context(span.trace_id, span.span_id),
                        parent=_context(span.trace_id, span.parent_span_id) if span.parent_span_id else None,
                        resource=resource,
                        attributes=_attributes(span.attributes),
                        events=[
                            Event(e.name, _attributes(e.attributes), e.time_unix_nano) for e in span.events
                        ],
                        kind=_KINDS.get(span.kind, SpanKind.INTERNAL),
                        status=Status(_STATUS[span.status.code], span.status.message or None),
                        start_time=span.start_time_unix_nano,
                        end_time=span.end_time_unix_nano,
                        instrumentation_scope=scope,
                    )
                )
    return spans


def _headers(settings: Settings) -> dict[str, str]:
    return {
        name: value.reveal() if isinstance(value, Secret) else value
        for name, value in settings.headers.items()
    }


class _LastAnswer:
    """The last HTTP answer the official exporter's ``requests`` session received."""

    def __init__(self) -> None:
        self._local = threading.local()

    def record(self, response: Any, *args: Any, **kwargs: Any) -> Any:
        """A ``requests`` response hook (called in the exporting thread)."""
        self._local.answer = http_answer(
            int(response.status_code), bytes(response.content or b""),
            response.headers.get("Retry-After"), response.headers.get("Content-Type"),
        )
        return response

    def take(self) -> SendResult | None:
        answer: SendResult | None = getattr(self._local, "answer", None)
        self._local.answer = None
        return answer


def _exporter(settings: Settings, answers: _LastAnswer) -> SpanExporter:
    gzip = settings.compression == "gzip"
    if settings.protocol == "grpc":
        import grpc
        from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter as Grpc

        tls = settings.tls
        endpoint = settings.endpoint
        secure = endpoint.startswith("https://") or bool(tls.ca_file)
        if settings.insecure is not None:
            secure = not settings.insecure
        credentials = None
        if secure:
            def read(path: str | None) -> bytes | None:
                if not path:
                    return None
                with open(path, "rb") as handle:
                    return handle.read()

            credentials = grpc.ssl_channel_credentials(
                read(tls.ca_file), read(tls.client_key_file), read(tls.client_cert_file)
            )
        return Grpc(
            endpoint=endpoint,
            insecure=not secure,
            credentials=credentials,
            headers={k.lower(): v for k, v in _headers(settings).items()},
            timeout=settings.timeout,
            compression=grpc.Compression.Gzip if gzip else grpc.Compression.NoCompression,
        )
    import requests
    from opentelemetry.exporter.otlp.proto.http import Compression
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter as Http

    session = requests.Session()
    session.hooks["response"].append(answers.record)
    tls = settings.tls
    return Http(
        endpoint=settings.endpoint,
        certificate_file=tls.ca_file if tls.ca_file else None,
        client_key_file=tls.client_key_file,
        client_certificate_file=tls.client_cert_file,
        headers=_headers(settings),
        timeout=settings.timeout,
        compression=Compression.Gzip if gzip else Compression.NoCompression,
        session=session,
    )


class OtelSdkTransport(Transport):
    """Sends through ``opentelemetry-exporter-otlp``'s ``OTLPSpanExporter``."""

    def __init__(self, settings: Settings) -> None:
        self._answers = _LastAnswer()
        self._exporter = _exporter(settings, self._answers)

    def send(self, body: bytes, timeout: float) -> SendResult:
        try:
            spans = readable_spans(ExportTraceServiceRequest.FromString(body))
            self._answers.take()
            result = self._exporter.export(spans)
        except Exception as exc:  # the official exporter must not break the destination
            return SendResult(False, True, None, "otel-sdk-error", redact_text(repr(exc)))
        answer = self._answers.take()  # None over gRPC: the exporter's word is all there is
        if result is SpanExportResult.SUCCESS:
            return answer if answer is not None else SendResult(True, status="ok")
        # The official exporter has already retried what it considers retryable.
        return SendResult(False, True, None, "otel-sdk-failure", "OTLPSpanExporter.export failed")

    def close(self) -> None:
        self._exporter.shutdown()
