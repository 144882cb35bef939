"""A real, in-process OTLP trace receiver (HTTP or gRPC) for tests.

Example::

    with OTLPReceiver() as receiver:
        exporter = OTLPSpanExporter(endpoint=receiver.traces_url)
        ...
        assert receiver.wait_for_spans(3, timeout=5)
        assert receiver.by_name("llm.call")[0].attributes["model"] == "gpt"
"""

from __future__ import annotations

import functools
import ssl
import threading
from concurrent.futures import ThreadPoolExecutor
from types import TracebackType
from typing import Any, Literal

import grpc  # type: ignore[import-untyped, unused-ignore]
from opentelemetry.proto.collector.trace.v1 import trace_service_pb2_grpc
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
)

from ._exchange import GRPC_EXPORT_PATH, HTTP_TRACES_PATH, Exchanges, answer_grpc, answer_http
from ._model import (
    ReceivedEvent,
    ReceivedLink,
    ReceivedRequest,
    ReceivedSpan,
    Reply,
    TLSConfig,
    decode_any_value,
)
from ._transport import (
    HTTPServer,
)

__all__ = [
    "GRPC_EXPORT_PATH",
    "HTTP_TRACES_PATH",
    "OTLPReceiver",
    "ReceivedEvent",
    "ReceivedLink",
    "ReceivedRequest",
    "ReceivedSpan",
    "Reply",
    "TLSConfig",
    "decode_any_value",
]



class _Servicer(trace_service_pb2_grpc.TraceServiceServicer):  # type: ignore[misc, unused-ignore]
    def __init__(self, receiver: OTLPReceiver) -> None:
        self._receiver = receiver

    def Export(self, request: ExportTraceServiceRequest, context: Any) -> Any:
        return answer_grpc(self._receiver, request, context)


class OTLPReceiver(Exchanges):
    """Records OTLP trace exports sent to it; answers can be scripted for fault tests."""

    def __init__(
        self,
        protocol: Literal["http", "grpc"] = "http",
        host: str = "127.0.0.1",
        port: int = 0,
        tls: TLSConfig | None = None,
    ) -> None:
        if protocol not in ("http", "grpc"):
            raise ValueError(f"protocol must be 'http' or 'grpc', not {protocol!r}")
        self._protocol: Literal["http", "grpc"] = protocol
        self.host = host
        self._port = port
        self.tls = tls
        super().__init__()
        self._http: HTTPServer | None = None
        self._http_thread: threading.Thread | None = None
        self._grpc: Any = None
        self._executor: ThreadPoolExecutor | None = None

    # -- lifecycle ---------------------------------------------------------------------------

    @property
    def protocol(self) -> Literal["http", "grpc"]:
        return self._protocol

    @property
    def port(self) -> int:
        return self._port

    @property
    def running(self) -> bool:
        return self._http is not None or self._grpc is not None

    @property
    def endpoint(self) -> str:
        """Base URL (``http(s)://host:port``), without the ``/v1/traces`` path."""
        host = "127.0.0.1" if self.host in ("", "0.0.0.0", "::") else self.host  # noqa: S104
        if ":" in host:
            host = f"[{host}]"
        return f"{'https' if self.tls else 'http'}://{host}:{self._port}"

    @property
    def traces_url(self) -> str:
        """Full OTLP/HTTP traces URL (``endpoint`` + ``/v1/traces``)."""
        return self.endpoint + HTTP_TRACES_PATH

    def start(self) -> OTLPReceiver:
        if self.running:
            return self
        self._stopping = threading.Event()
        if self._protocol == "http":
            self._start_http()
        else:
            self._start_grpc()
        return self

    def stop(self) -> None:
        """Stop serving, drop open connections and release the port."""
        self._stopping.set()
        if self._http is not None:
            server, self._http = self._http, None
            server.shutdown()
            server.server_close()
            server.drop_connections()
            if self._http_thread is not None:
                self._http_thread.join(5)
                self._http_thread = None
        if self._grpc is not None:
            server, self._grpc = self._grpc, None
            server.stop(None).wait(5)
        if self._executor is not None:
            self._executor.shutdown(wait=False, cancel_futures=True)
            self._executor = None
        with self._cond:
            self._cond.notify_all()

    def restart(self) -> OTLPReceiver:
        """Stop, then serve again on the same port (for outage tests)."""
        self.stop()
        return self.start()

    def __enter__(self) -> OTLPReceiver:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def _start_http(self) -> None:
        ctx: ssl.SSLContext | None = None
        if self.tls is not None:
            ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            ctx.load_cert_chain(self.tls.certfile, self.tls.keyfile)
            if self.tls.client_ca:
                ctx.load_verify_locations(self.tls.client_ca)
                ctx.verify_mode = ssl.CERT_REQUIRED
        server = HTTPServer((self.host, self._port), functools.partial(answer_http, self), ctx)
        self._port = int(server.server_address[1])
        self._http = server
        self._http_thread = threading.Thread(
            target=server.serve_forever,
            kwargs={"poll_interval": 0.05},
            name=f"otlp-receiver-http-{self._port}",
            daemon=True,
        )
        self._http_thread.start()

    def _start_grpc(self) -> None:
        self._executor = ThreadPoolExecutor(max_workers=8, thread_name_prefix="otlp-receiver-grpc")
        server = grpc.server(self._executor, options=[("grpc.so_reuseport", 0)])
        add_servicer = trace_service_pb2_grpc.add_TraceServiceServicer_to_server
        add_servicer(_Servicer(self), server)  # type: ignore[no-untyped-call, unused-ignore]
        address = f"{self.host}:{self._port}"
        if self.tls is None:
            port = server.add_insecure_port(address)
        else:
            with open(self.tls.certfile, "rb") as f:
                cert = f.read()
            with open(self.tls.keyfile, "rb") as f:
                key = f.read()
            client_ca = None
            if self.tls.client_ca:
                with open(self.tls.client_ca, "rb") as f:
                    client_ca = f.read()
            creds = grpc.ssl_server_credentials(
                [(key, cert)],
                root_certificates=client_ca,
                require_client_auth=client_ca is not None,
            )
            port = server.add_secure_port(address, creds)
        if not port:
            raise OSError(f"cannot bind gRPC receiver to {address}")
        self._port = int(port)
        server.start()
        self._grpc = server

    def __repr__(self) -> str:
        state = "running" if self.running else "stopped"
        return f"<OTLPReceiver {self._protocol} {self.endpoint} {state}>"
