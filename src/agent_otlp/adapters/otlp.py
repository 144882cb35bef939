"""``otlp``: plain OTLP to any endpoint, configured entirely by the user.

It adds nothing to the core's behaviour; the endpoint comes from
``OTEL_EXPORTER_OTLP_[TRACES_]ENDPOINT`` (or ``AGENT_OTLP_ENDPOINT``, the config file...),
defaulting to ``http://localhost:4318/v1/traces`` (HTTP) or ``localhost:4317`` (gRPC).
"""

from __future__ import annotations

from agent_otlp.core.plugins import TransportDefaults, hookimpl


@hookimpl
def agent_otlp_transport_defaults(adapter: str, protocol: str | None) -> TransportDefaults:
    return {
        "protocol": "http/protobuf",
        "endpoints": {"http/protobuf": "http://localhost:4318", "grpc": "http://localhost:4317"},
    }
