"""The ingest bridge (``agent-otlp serve``): OpenAI traces ingest format over HTTP, in.

:mod:`~agent_otlp.sources.bridge.server` runs the HTTP server (lifecycle, connections,
routing, ``/healthz`` and ``/metrics``); :mod:`~agent_otlp.sources.bridge.ingest` handles
``POST /v1/traces/ingest`` (token, limits, body, hand-over, answers), reading bodies with
:mod:`~agent_otlp.sources.bridge.body`; :mod:`~agent_otlp.sources.bridge.access` checks
``Host`` and ``Origin``; :mod:`~agent_otlp.sources.bridge.connections` bounds connections and
request time; :mod:`~agent_otlp.sources.bridge.backpressure` says what the bridge needs of an
exporter and when it is full; :mod:`~agent_otlp.sources.bridge.metrics` renders ``/metrics``;
:mod:`~agent_otlp.sources.bridge.routes` says which paths are the ingest endpoint;
:mod:`~agent_otlp.sources.bridge.tls` makes the server's TLS context (and a local CA);
:mod:`~agent_otlp.sources.bridge.producers` reads the tokens file and tells who posted.
"""

from agent_otlp.sources.bridge.server import (
    DEFAULT_MAX_BODY,
    DEFAULT_MAX_ITEMS,
    DEFAULT_MAX_PENDING,
    DEFAULT_PORT,
    INGEST_PATH,
    TOKEN_ENV,
    Backpressure,
    BridgeExporter,
    BridgeServer,
    QueueBackpressure,
    pending_spans,
)

__all__ = [
    "DEFAULT_MAX_BODY",
    "DEFAULT_MAX_ITEMS",
    "DEFAULT_MAX_PENDING",
    "DEFAULT_PORT",
    "INGEST_PATH",
    "TOKEN_ENV",
    "Backpressure",
    "BridgeExporter",
    "BridgeServer",
    "QueueBackpressure",
    "pending_spans",
]
