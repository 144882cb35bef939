"""``tempo``: OTLP to Grafana Tempo, within Tempo's ingestion limits.

* **Endpoint**: ``http://localhost:4318/v1/traces`` (OTLP/HTTP) or ``http://localhost:4317``
  (gRPC), Tempo's OTLP receiver ports.
* **Tenant**: ``X-Scope-OrgID`` from the ``tenant`` option
  (``AGENT_OTLP_TEMPO_TENANT``, ``[destination.tempo] tenant = "..."``). With
  ``multitenancy = true`` and no tenant (option or header), start-up fails with a
  :class:`~agent_otlp.core.config.errors.ConfigError`: Tempo would answer ``401 no org id``.
* **Attribute size**: Tempo's distributor truncates attribute values above
  ``max_attribute_bytes`` (2048 by default) without saying so, and cuts JSON in the middle.
  The adapter caps values at 2048 bytes itself (the ``attribute_value_limit`` setting):
  message content stays valid JSON, event attribute values are cut too, and every cut
  attribute is listed in ``agent_otlp.truncated``.
* **Bytes per trace**: Tempo refuses traces above ``max_bytes_per_trace`` (5 MB by
  default). The adapter counts the bytes sent per trace (option ``max_bytes_per_trace``).
  Once a trace has used 80% of the budget, further spans of it lose their message content
  (listed in ``agent_otlp.shed``), so the last 20% is left for spans without content; a
  span is dropped only if even without content it would go over the whole budget. Root
  spans are never dropped (they are small and hold the trace together).

``agent-otlp tempo-columns`` prints the ``parquet_dedicated_columns`` configuration that
makes TraceQL searches on agent attributes fast.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Mapping, MutableMapping
from typing import Any, Final

from agent_otlp.adapters._budget import mark_truncated, shed_content, span_bytes
from agent_otlp.core.plugins import (
    ConfigError,
    Settings,
    SpanRecord,
    TransportDefaults,
    hookimpl,
    truncate_text,
    utf8_len,
)

TENANT_HEADER: Final = "X-Scope-OrgID"
DEFAULT_ATTRIBUTE_BYTES: Final = 2048
DEFAULT_MAX_BYTES_PER_TRACE: Final = 5_000_000
#: Attributes Tempo users search on; ``agent-otlp tempo-columns`` prints them.
DEDICATED_COLUMNS: Final = ("gen_ai.agent.name", "gen_ai.request.model", "gen_ai.operation.name")
_REMEMBERED_TRACES: Final = 20_000
#: Share of the per-trace budget message content may use; the rest is kept for spans.
_CONTENT_SHARE: Final = 0.8
_TRUE: Final = frozenset({"1", "true", "yes", "on"})


def _flag(value: Any) -> bool:
    return value is True or str(value).strip().lower() in _TRUE


def max_bytes_per_trace(options: Mapping[str, Any]) -> int:
    raw = options.get("max_bytes_per_trace", DEFAULT_MAX_BYTES_PER_TRACE)
    try:
        value = int(raw)
    except (TypeError, ValueError):
        raise ConfigError("max_bytes_per_trace", raw, "expected a number of bytes >= 1024") from None
    if value < 1024:
        raise ConfigError("max_bytes_per_trace", raw, "expected a number of bytes >= 1024")
    return value


def _tenant(options: Mapping[str, Any], env: Mapping[str, str]) -> str | None:
    tenant = options.get("tenant") or env.get("AGENT_OTLP_TEMPO_TENANT")
    return str(tenant).strip() or None if tenant else None


@hookimpl
def agent_otlp_transport_defaults(
    adapter: str, options: Mapping[str, Any], env: Mapping[str, str]
) -> TransportDefaults:
    max_bytes_per_trace(options)
    defaults: TransportDefaults = {
        "protocol": "http/protobuf",
        "endpoints": {"http/protobuf": "http://localhost:4318", "grpc": "http://localhost:4317"},
        "compression": "gzip",
        "attribute_value_limit": DEFAULT_ATTRIBUTE_BYTES,
    }
    tenant = _tenant(options, env)
    if tenant:
        defaults["headers"] = {TENANT_HEADER: tenant}
    return defaults


@hookimpl
def agent_otlp_validate_settings(settings: Settings) -> None:
    if not _flag(settings.options.get("multitenancy", False)):
        return
    if not any(k.lower() == TENANT_HEADER.lower() for k in settings.headers):
        raise ConfigError(
            "tenant",
            None,
            f"multitenancy = true needs a tenant: set the tenant option (AGENT_OTLP_TEMPO_TENANT "
            f"or [destination.{settings.name}] tenant = \"...\") or an {TENANT_HEADER} header; "
            "Tempo refuses spans without one (401 no org id)",
        )


@hookimpl
def agent_otlp_map_attributes(
    span: SpanRecord, settings: Settings, state: MutableMapping[str, Any]
) -> None:
    # Span attributes are capped by the core's limits (run next); event values here.
    limit = settings.attribute_value_limit
    if limit is None:
        return
    for event in span.events:
        cut = False
        for key, value in event.attributes.items():
            if isinstance(value, str) and utf8_len(value) > limit:
                event.attributes[key] = truncate_text(value, limit)
                cut = True
        if cut:
            mark_truncated(span, [f"event:{event.name}"])


@hookimpl
def agent_otlp_process_batch(
    spans: list[SpanRecord], settings: Settings, state: MutableMapping[str, Any]
) -> None:
    budget = state.get("tempo_max_bytes")
    if budget is None:
        budget = state["tempo_max_bytes"] = max_bytes_per_trace(settings.options)
    used: OrderedDict[bytes, int] = state.setdefault("tempo_trace_bytes", OrderedDict())
    kept: list[SpanRecord] = []
    for span in spans:
        so_far = used.get(span.trace_id, 0)
        size = span_bytes(span)
        if so_far + size > budget * _CONTENT_SHARE:
            shed_content(span)
            size = span_bytes(span)
            if so_far + size > budget and span.parent_span_id:
                state["tempo_dropped_spans"] = state.get("tempo_dropped_spans", 0) + 1
                continue
        used[span.trace_id] = so_far + size
        used.move_to_end(span.trace_id)
        kept.append(span)
    while len(used) > _REMEMBERED_TRACES:
        used.popitem(last=False)
    spans[:] = kept


def dedicated_columns_yaml(attributes: tuple[str, ...] = DEDICATED_COLUMNS) -> str:
    """Tempo's ``parquet_dedicated_columns`` block (storage section) for ``attributes``."""
    lines = [
        "# Tempo: dedicated attribute columns for agent traces (vParquet3 or later).",
        "# Merge into the storage section of tempo.yaml (or the per-tenant overrides).",
        "storage:",
        "  trace:",
        "    block:",
        "      parquet_dedicated_columns:",
    ]
    for name in attributes:
        lines += [f"        - name: {name}", "          type: string", "          scope: span"]
    return "\n".join(lines) + "\n"
