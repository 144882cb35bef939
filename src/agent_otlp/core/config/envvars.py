"""Environment variables agent-otlp reads. Each setting is resolved in one place,
:func:`agent_otlp.core.config.settings.resolve_settings`, with the precedence
arguments > environment > config file > adapter defaults > built-in defaults.

For a destination named ``NAME`` (its adapter's name unless configured otherwise), every
``AGENT_OTLP_X`` below may also be given as ``AGENT_OTLP_NAME_X`` for that destination alone;
that form beats the generic one.
"""

from __future__ import annotations

from typing import Final

AGENT_OTLP_ADAPTERS: Final = "AGENT_OTLP_ADAPTERS"
"""
.. envvar:: AGENT_OTLP_ADAPTERS

Comma-separated destination names (adapter names), e.g. ``jaeger,honeycomb``. Default:
``otlp`` when an endpoint is given (the ``endpoint`` argument or an
``OTEL_EXPORTER_OTLP_*ENDPOINT``), otherwise ``console``.
"""

AGENT_OTLP_CONFIG: Final = "AGENT_OTLP_CONFIG"
"""
.. envvar:: AGENT_OTLP_CONFIG

Path of the TOML config file. Default: ``./agent-otlp.toml``, then
``$XDG_CONFIG_HOME/agent-otlp/config.toml``, when they exist.
"""

AGENT_OTLP_ENDPOINT: Final = "AGENT_OTLP_ENDPOINT"
AGENT_OTLP_PROTOCOL: Final = "AGENT_OTLP_PROTOCOL"
AGENT_OTLP_HEADERS: Final = "AGENT_OTLP_HEADERS"
AGENT_OTLP_TIMEOUT: Final = "AGENT_OTLP_TIMEOUT"
"""
.. envvar:: AGENT_OTLP_TIMEOUT

Seconds one export request may take, > 0. Default 10. ``OTEL_EXPORTER_OTLP_TIMEOUT`` gives
it in milliseconds, also > 0 (``0`` is refused, not read as "no limit").
"""
AGENT_OTLP_COMPRESSION: Final = "AGENT_OTLP_COMPRESSION"
AGENT_OTLP_BATCH_SIZE: Final = "AGENT_OTLP_BATCH_SIZE"
"""
.. envvar:: AGENT_OTLP_BATCH_SIZE

Spans per export request (at most; a request is also split to stay under 3.5 MiB). Default 100, as RAAF's OpenTelemetry-protocol spec sets it.
"""
AGENT_OTLP_SCHEDULE_DELAY: Final = "AGENT_OTLP_SCHEDULE_DELAY"
"""
.. envvar:: AGENT_OTLP_SCHEDULE_DELAY

Seconds a partial batch waits before it is sent. Default 1.
"""
AGENT_OTLP_MAX_QUEUE_SIZE: Final = "AGENT_OTLP_MAX_QUEUE_SIZE"
"""
.. envvar:: AGENT_OTLP_MAX_QUEUE_SIZE

Spans a destination holds while its backend is slow or down; beyond it new spans are
dropped and counted. Default 100000.
"""
AGENT_OTLP_MAX_IN_FLIGHT: Final = "AGENT_OTLP_MAX_IN_FLIGHT"
"""
.. envvar:: AGENT_OTLP_MAX_IN_FLIGHT

Export requests one destination may have in flight at once, so that a backend far away
(or slow to answer) still receives at the rate spans are produced; with a store, one.
Default 8.
"""
AGENT_OTLP_RETRY_DEADLINE: Final = "AGENT_OTLP_RETRY_DEADLINE"
"""
.. envvar:: AGENT_OTLP_RETRY_DEADLINE

Seconds a batch is retried (at least once) before it is counted as failed; time the
circuit breaker holds requests back does not count. Default 60.
"""
AGENT_OTLP_CAPTURE_CONTENT: Final = "AGENT_OTLP_CAPTURE_CONTENT"
OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT: Final = (
    "OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT"
)
"""
.. envvar:: OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT

``SPAN_ONLY`` (or ``true``) records messages, instructions and tool arguments/results on
the span, ``EVENT_ONLY`` in a span event, ``SPAN_AND_EVENT`` in both; ``NO_CONTENT`` (or
``false``, the default) records none. Names as in ``opentelemetry-util-genai``, any case.
``AGENT_OTLP_CAPTURE_CONTENT`` (and its per-destination form) beats it.
"""
AGENT_OTLP_LEGACY_ATTRIBUTES: Final = "AGENT_OTLP_LEGACY_ATTRIBUTES"
"""
.. envvar:: AGENT_OTLP_LEGACY_ATTRIBUTES

``true`` also writes ``gen_ai.system``, ``gen_ai.usage.prompt_tokens`` and
``gen_ai.usage.completion_tokens``. Default ``false``.
"""
AGENT_OTLP_SAMPLE_RATE: Final = "AGENT_OTLP_SAMPLE_RATE"
"""
.. envvar:: AGENT_OTLP_SAMPLE_RATE

Fraction of traces kept, 0 to 1. Default 1.
"""
AGENT_OTLP_SAMPLE_KEEP_ERRORS: Final = "AGENT_OTLP_SAMPLE_KEEP_ERRORS"
"""
.. envvar:: AGENT_OTLP_SAMPLE_KEEP_ERRORS

``true`` keeps every trace with an error or a tripped guardrail whatever the rate. Default
``true``.
"""
AGENT_OTLP_ATTRIBUTE_VALUE_LIMIT: Final = "AGENT_OTLP_ATTRIBUTE_VALUE_LIMIT"
AGENT_OTLP_ATTRIBUTE_COUNT_LIMIT: Final = "AGENT_OTLP_ATTRIBUTE_COUNT_LIMIT"
AGENT_OTLP_CONTENT_LIMIT: Final = "AGENT_OTLP_CONTENT_LIMIT"
"""
.. envvar:: AGENT_OTLP_CONTENT_LIMIT

Bytes a content attribute may hold before it is cut (JSON kept valid). Default: the
adapter's, else 32768.
"""
AGENT_OTLP_INSECURE: Final = "AGENT_OTLP_INSECURE"
AGENT_OTLP_STORE: Final = "AGENT_OTLP_STORE"
"""
.. envvar:: AGENT_OTLP_STORE

The durable span store: ``on`` (``$XDG_DATA_HOME/agent-otlp/spans.db``), a file path, or
``off``. Off by default for the library (pure streaming); the CLI's ``send`` and ``serve``
turn it on unless told ``--no-store``.
"""
AGENT_OTLP_STORE_BUDGET: Final = "AGENT_OTLP_STORE_BUDGET"
AGENT_OTLP_DELIVERY: Final = "AGENT_OTLP_DELIVERY"
"""
.. envvar:: AGENT_OTLP_DELIVERY

Where a store-backed exporter delivers from the store: ``thread`` (the library's default: a
worker thread per destination in the same process) or ``process`` (the destinations run in a
delivery process of their own, see ``docs/store.md``; ``agent-otlp serve``'s default with the
store). Ignored without a span store.
"""
AGENT_OTLP_OFFLOAD: Final = "AGENT_OTLP_OFFLOAD"
"""
.. envvar:: AGENT_OTLP_OFFLOAD

``true`` runs the export pipeline in a child process (offload mode, see
``docs/performance.md``) when :func:`agent_otlp.instrument_openai_agents` builds the exporter;
a number from 2 to 8 runs that many child processes, each trace in one of them. Default
``false``. ``create_exporter`` takes ``offload=True`` as an argument instead (the CLI
and the file paths stay in-process).
"""
"""
.. envvar:: AGENT_OTLP_STORE_BUDGET

Bytes of undelivered items the store keeps (default 1 GiB). From 90% of it the bridge answers
429; beyond it, for other inputs, the oldest undelivered items are evicted, counted and logged.
"""
AGENT_OTLP_STRICT_PLUGINS: Final = "AGENT_OTLP_STRICT_PLUGINS"
"""
.. envvar:: AGENT_OTLP_STRICT_PLUGINS

``true`` makes an adapter that fails to load an error instead of a warning (for authors).
"""
AGENT_OTLP_DISABLE_PLUGINS: Final = "AGENT_OTLP_DISABLE_PLUGINS"
"""
.. envvar:: AGENT_OTLP_DISABLE_PLUGINS

Comma-separated adapter names never loaded (blocked before loading); choosing one of them is
a ConfigError saying it is disabled by this variable.
"""
AGENT_OTLP_TRACE_PLUGINS: Final = "AGENT_OTLP_TRACE_PLUGINS"
"""
.. envvar:: AGENT_OTLP_TRACE_PLUGINS

``true`` logs every hook call at DEBUG level.
"""

OTEL_EXPORTER_OTLP_ENDPOINT: Final = "OTEL_EXPORTER_OTLP_ENDPOINT"
OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: Final = "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"
OTEL_EXPORTER_OTLP_PROTOCOL: Final = "OTEL_EXPORTER_OTLP_PROTOCOL"
OTEL_EXPORTER_OTLP_TRACES_PROTOCOL: Final = "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL"
OTEL_EXPORTER_OTLP_HEADERS: Final = "OTEL_EXPORTER_OTLP_HEADERS"
OTEL_EXPORTER_OTLP_TRACES_HEADERS: Final = "OTEL_EXPORTER_OTLP_TRACES_HEADERS"
OTEL_EXPORTER_OTLP_TIMEOUT: Final = "OTEL_EXPORTER_OTLP_TIMEOUT"
OTEL_EXPORTER_OTLP_TRACES_TIMEOUT: Final = "OTEL_EXPORTER_OTLP_TRACES_TIMEOUT"
OTEL_EXPORTER_OTLP_COMPRESSION: Final = "OTEL_EXPORTER_OTLP_COMPRESSION"
OTEL_EXPORTER_OTLP_TRACES_COMPRESSION: Final = "OTEL_EXPORTER_OTLP_TRACES_COMPRESSION"
OTEL_EXPORTER_OTLP_CERTIFICATE: Final = "OTEL_EXPORTER_OTLP_CERTIFICATE"
OTEL_EXPORTER_OTLP_TRACES_CERTIFICATE: Final = "OTEL_EXPORTER_OTLP_TRACES_CERTIFICATE"
OTEL_EXPORTER_OTLP_CLIENT_CERTIFICATE: Final = "OTEL_EXPORTER_OTLP_CLIENT_CERTIFICATE"
OTEL_EXPORTER_OTLP_CLIENT_KEY: Final = "OTEL_EXPORTER_OTLP_CLIENT_KEY"
OTEL_EXPORTER_OTLP_INSECURE: Final = "OTEL_EXPORTER_OTLP_INSECURE"
OTEL_SERVICE_NAME: Final = "OTEL_SERVICE_NAME"
OTEL_RESOURCE_ATTRIBUTES: Final = "OTEL_RESOURCE_ATTRIBUTES"
OTEL_BSP_SCHEDULE_DELAY: Final = "OTEL_BSP_SCHEDULE_DELAY"
OTEL_BSP_MAX_QUEUE_SIZE: Final = "OTEL_BSP_MAX_QUEUE_SIZE"
OTEL_BSP_MAX_EXPORT_BATCH_SIZE: Final = "OTEL_BSP_MAX_EXPORT_BATCH_SIZE"
OTEL_BSP_EXPORT_TIMEOUT: Final = "OTEL_BSP_EXPORT_TIMEOUT"
OTEL_SDK_DISABLED: Final = "OTEL_SDK_DISABLED"
OTEL_ATTRIBUTE_VALUE_LENGTH_LIMIT: Final = "OTEL_ATTRIBUTE_VALUE_LENGTH_LIMIT"
OTEL_SPAN_ATTRIBUTE_COUNT_LIMIT: Final = "OTEL_SPAN_ATTRIBUTE_COUNT_LIMIT"

# --- agent-otlp serve (the ingest bridge); also the [serve] table of the config file -------
AGENT_OTLP_BRIDGE_TLS_CERT: Final = "AGENT_OTLP_BRIDGE_TLS_CERT"
"""
.. envvar:: AGENT_OTLP_BRIDGE_TLS_CERT

PEM certificate (chain) ``agent-otlp serve`` serves HTTPS with (TLS 1.2 or newer), with
:envvar:`AGENT_OTLP_BRIDGE_TLS_KEY`. Config file: ``tls_cert`` in ``[serve]``.
"""
AGENT_OTLP_BRIDGE_TLS_KEY: Final = "AGENT_OTLP_BRIDGE_TLS_KEY"
"""
.. envvar:: AGENT_OTLP_BRIDGE_TLS_KEY

PEM private key of :envvar:`AGENT_OTLP_BRIDGE_TLS_CERT`. Config file: ``tls_key``.
"""
AGENT_OTLP_BRIDGE_TLS_SELF_SIGNED: Final = "AGENT_OTLP_BRIDGE_TLS_SELF_SIGNED"
"""
.. envvar:: AGENT_OTLP_BRIDGE_TLS_SELF_SIGNED

Directory where ``agent-otlp serve`` keeps a local CA (``ca.pem``) and a server certificate
for localhost, made on first use, and serves HTTPS with them. Config file: ``tls_self_signed``.
"""
AGENT_OTLP_BRIDGE_TOKENS: Final = "AGENT_OTLP_BRIDGE_TOKENS"
"""
.. envvar:: AGENT_OTLP_BRIDGE_TOKENS

Tokens file of ``agent-otlp serve`` (JSON or TOML): each producer's token, resource and
destinations. Config file: ``tokens``.
"""
AGENT_OTLP_BRIDGE_MAX_BODY: Final = "AGENT_OTLP_BRIDGE_MAX_BODY"
"""
.. envvar:: AGENT_OTLP_BRIDGE_MAX_BODY

Largest request body ``agent-otlp serve`` reads (``64MiB`` by default). Config file:
``max_body``.
"""
