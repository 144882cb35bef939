"""OTLP/gRPC: the :class:`GrpcTransport` (one channel, unary ``Export`` calls with the request
already encoded) and how it reads gRPC errors (retryable codes, ``RetryInfo`` delays)."""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from typing import Any, Final

from agent_otlp.core.config.headers import check_headers
from agent_otlp.core.config.secrets import Secret, redact_text
from agent_otlp.core.config.tls import TLSOptions
from agent_otlp.core.wire.transport import SendResult, Transport

__all__ = ["GRPC_EXPORT_METHOD", "GrpcTransport"]

logger = logging.getLogger("agent_otlp.transport")

GRPC_EXPORT_METHOD: Final = "/opentelemetry.proto.collector.trace.v1.TraceService/Export"
_RETRYABLE_GRPC: Final = frozenset(
    {"CANCELLED", "DEADLINE_EXCEEDED", "ABORTED", "OUT_OF_RANGE", "UNAVAILABLE", "DATA_LOSS",
     "RESOURCE_EXHAUSTED"}
)


def _grpc_retry_delay(error: Any) -> float | None:
    try:
        from google.rpc import (  # type: ignore[import-untyped, unused-ignore]
            error_details_pb2,
            status_pb2,
        )
    except ImportError:  # pragma: no cover - shipped with the OTLP gRPC exporter
        return None
    for key, value in error.trailing_metadata() or ():
        if key != "grpc-status-details-bin":
            continue
        status = status_pb2.Status.FromString(value)
        for detail in status.details:
            if detail.Is(error_details_pb2.RetryInfo.DESCRIPTOR):
                info = error_details_pb2.RetryInfo()
                detail.Unpack(info)
                return float(info.retry_delay.seconds) + float(info.retry_delay.nanos) / 1e9
    return None


class GrpcTransport(Transport):
    """OTLP/gRPC: one channel, unary ``Export`` calls with the request already encoded.
    Thread-safe (gRPC channels multiplex concurrent calls)."""

    thread_safe = True

    def __init__(
        self,
        endpoint: str,
        headers: Mapping[str, str | Secret],
        *,
        compression: str = "gzip",
        insecure: bool | None = None,
        tls: TLSOptions | None = None,
    ) -> None:
        import grpc
        from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
            ExportTraceServiceResponse,
        )

        target = endpoint
        scheme_secure: bool | None = None
        if "://" in endpoint:
            scheme, target = endpoint.split("://", 1)
            scheme_secure = scheme == "https"
        target = target.rstrip("/")
        check_headers(headers, "GrpcTransport headers")
        tls = tls or TLSOptions()
        secure = not insecure if insecure is not None else bool(scheme_secure or tls.ca_file)
        if secure and not tls.verify:
            logger.warning(
                "agent-otlp: tls_verify=false is not supported over gRPC: the certificate of %s "
                "is still verified (give its CA with certificate=...)", target,
            )
        self.target = target
        self._grpc = grpc
        self._metadata = tuple(
            (name.lower(), value.reveal() if isinstance(value, Secret) else value)
            for name, value in headers.items()
        )
        self._compression = grpc.Compression.Gzip if compression == "gzip" else None
        if secure:
            root = open(tls.ca_file, "rb").read() if tls.ca_file else None  # noqa: SIM115
            key = open(tls.client_key_file, "rb").read() if tls.client_key_file else None  # noqa: SIM115
            cert = open(tls.client_cert_file, "rb").read() if tls.client_cert_file else None  # noqa: SIM115
            credentials = grpc.ssl_channel_credentials(root, key, cert)
            self._channel = grpc.secure_channel(target, credentials)
        else:
            self._channel = grpc.insecure_channel(target)
        self._export: Callable[..., Any] = self._channel.unary_unary(
            GRPC_EXPORT_METHOD,
            request_serializer=None,
            response_deserializer=ExportTraceServiceResponse.FromString,
        )

    def send(self, body: bytes, timeout: float) -> SendResult:
        grpc = self._grpc
        try:
            response = self._export(
                body, timeout=timeout, metadata=self._metadata, compression=self._compression
            )
        except grpc.RpcError as error:
            code = error.code()
            name = code.name if code is not None else "UNKNOWN"
            return SendResult(
                False,
                name in _RETRYABLE_GRPC,
                _grpc_retry_delay(error),
                name,
                redact_text(str(error.details() or "")),
            )
        except Exception as exc:  # a broken channel must not reach the caller
            return SendResult(False, True, None, "grpc-error", redact_text(repr(exc)))
        partial = response.partial_success
        return SendResult(
            True, status="OK", rejected_spans=int(partial.rejected_spans),
            message=redact_text(partial.error_message),
        )

    def close(self) -> None:
        self._channel.close()
