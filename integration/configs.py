"""Config generators for the integration-test backends.

Every function returns YAML text. The same generators serve the native
binaries (listening on ``127.0.0.1`` with free ports) and the containers
(listening on ``0.0.0.0`` inside the container on the standard ports).
"""

from __future__ import annotations

import json

# Request headers the collector copies into span attributes, one attribute per
# header, named ``HEADER_ATTRIBUTE_PREFIX + header`` (header lower-cased).
FORWARDED_HEADERS: tuple[str, ...] = (
    "x-scope-orgid",
    "x-honeycomb-team",
    "x-honeycomb-dataset",
    "authorization",
    "content-encoding",
    "user-agent",
)
# gRPC transport headers (grpc-encoding, grpc-timeout, ...) are consumed by the
# gRPC server and never reach the request metadata, so they cannot be recorded.
HEADER_ATTRIBUTE_PREFIX = "http.request.header."


def header_attribute(header: str) -> str:
    """Span attribute under which the collector records request header ``header``."""
    return HEADER_ATTRIBUTE_PREFIX + header.lower()


def _q(value: str) -> str:
    """Quote a scalar for YAML (JSON strings are valid YAML scalars)."""
    return json.dumps(value)


def jaeger_config(
    *,
    host: str = "127.0.0.1",
    otlp_grpc_port: int = 4317,
    otlp_http_port: int = 4318,
    query_http_port: int = 16686,
    query_grpc_port: int = 16685,
    health_port: int = 13133,
    max_traces: int = 100_000,
    log_level: str = "info",
    storage: str = "memory",
    badger_dir: str = "/tmp/jaeger-badger",
) -> str:
    """Jaeger v2 config: OTLP receivers, storage, query API/UI, health check.

    ``storage`` is ``memory`` (lost on restart) or ``badger`` (local disk under
    ``badger_dir``, kept across restarts: for outage/recovery tests).
    """
    store = "memstore" if storage == "memory" else f"{storage}_store"
    if storage == "memory":
        backend = f"""\
        memory:
          max_traces: {max_traces}
"""
    elif storage == "badger":
        backend = f"""\
        badger:
          directories:
            keys: {_q(badger_dir + "/keys")}
            values: {_q(badger_dir + "/values")}
          ephemeral: false
"""
    else:
        raise ValueError(f"unknown Jaeger storage {storage!r}: expected memory or badger")
    return f"""\
service:
  extensions: [jaeger_storage, jaeger_query, healthcheckv2]
  pipelines:
    traces:
      receivers: [otlp]
      processors: [batch]
      exporters: [jaeger_storage_exporter]
  telemetry:
    resource:
      service.name: jaeger
    metrics:
      level: none
    logs:
      level: {log_level}

extensions:
  healthcheckv2:
    use_v2: true
    http:
      endpoint: {_q(f"{host}:{health_port}")}
  jaeger_query:
    storage:
      traces: {store}
    http:
      endpoint: {_q(f"{host}:{query_http_port}")}
    grpc:
      endpoint: {_q(f"{host}:{query_grpc_port}")}
  jaeger_storage:
    backends:
      {store}:
{backend}
receivers:
  otlp:
    protocols:
      grpc:
        endpoint: {_q(f"{host}:{otlp_grpc_port}")}
      http:
        endpoint: {_q(f"{host}:{otlp_http_port}")}

processors:
  batch:
    timeout: 100ms

exporters:
  jaeger_storage_exporter:
    trace_storage: {store}
"""


def collector_config(
    *,
    output_path: str,
    host: str = "127.0.0.1",
    otlp_grpc_port: int = 4317,
    otlp_http_port: int = 4318,
    health_port: int = 13133,
    headers: tuple[str, ...] = FORWARDED_HEADERS,
    health_extension: str = "healthcheckv2",
    debug_verbosity: str = "basic",
    log_level: str = "info",
    traces_url_path: str = "/v1/traces",
) -> str:
    """OpenTelemetry Collector config that records spans (and request headers) to a file.

    ``traces_url_path`` is the path the OTLP/HTTP receiver takes traces on (another path
    answers 404), for backends whose OTLP path is not the standard one.

    The OTLP receiver keeps request metadata (``include_metadata``); the
    ``attributes/headers`` processor copies each header in ``headers`` into the
    span attribute :func:`header_attribute`; the ``file`` exporter writes one
    OTLP-JSON ``ExportTraceServiceRequest`` per line to ``output_path``.

    ``health_extension`` is ``healthcheckv2`` (our native build: ``GET /status``)
    or ``health_check`` (the contrib image's classic extension: ``GET /``).
    """
    actions = "".join(
        f"""\
      - key: {_q(header_attribute(h))}
        from_context: {_q("metadata." + h.lower())}
        action: insert
"""
        for h in headers
    )
    if health_extension == "healthcheckv2":
        health = f"""\
  healthcheckv2:
    use_v2: true
    http:
      endpoint: {_q(f"{host}:{health_port}")}
"""
    elif health_extension == "health_check":
        health = f"""\
  health_check:
    endpoint: {_q(f"{host}:{health_port}")}
"""
    else:
        raise ValueError(f"unknown health extension {health_extension!r}")
    processors = "[attributes/headers, batch]" if headers else "[batch]"
    attributes_block = f"  attributes/headers:\n    actions:\n{actions}" if headers else ""
    # The attributes processor must run before batch: batching drops the
    # per-request client metadata the header actions read from.
    return f"""\
extensions:
{health}
receivers:
  otlp:
    protocols:
      grpc:
        endpoint: {_q(f"{host}:{otlp_grpc_port}")}
        include_metadata: true
      http:
        endpoint: {_q(f"{host}:{otlp_http_port}")}
        include_metadata: true
        traces_url_path: {_q(traces_url_path)}

processors:
{attributes_block}  batch:
    timeout: 100ms

exporters:
  file:
    path: {_q(output_path)}
    format: json
    flush_interval: 100ms
  debug:
    verbosity: {debug_verbosity}

service:
  extensions: [{health_extension}]
  telemetry:
    metrics:
      level: none
    logs:
      level: {log_level}
  pipelines:
    traces:
      receivers: [otlp]
      processors: {processors}
      exporters: [file, debug]
"""


def tempo_config(
    *,
    http_port: int = 3200,
    otlp_grpc_endpoint: str = "0.0.0.0:4317",
    otlp_http_endpoint: str = "0.0.0.0:4318",
    storage_dir: str = "/var/tempo",
    multitenancy: bool = False,
) -> str:
    """Grafana Tempo (single binary) config: OTLP receivers and local block storage.

    With ``multitenancy`` every write and query must carry ``X-Scope-OrgID``.
    """
    return f"""\
stream_over_http_enabled: true
multitenancy_enabled: {"true" if multitenancy else "false"}

server:
  http_listen_port: {http_port}
  log_level: info

distributor:
  receivers:
    otlp:
      protocols:
        grpc:
          endpoint: {_q(otlp_grpc_endpoint)}
        http:
          endpoint: {_q(otlp_http_endpoint)}

ingester:
  max_block_duration: 5m

compactor:
  compaction:
    block_retention: 24h

storage:
  trace:
    backend: local
    wal:
      path: {_q(storage_dir + "/wal")}
    local:
      path: {_q(storage_dir + "/blocks")}
"""
