"""``jaeger``: OTLP to Jaeger (v1 with its OTLP receiver, or v2), local by default.

What it changes, and why (``docs/adapters.md`` has the options table):

* **Endpoint**: ``http://localhost:4318/v1/traces`` (OTLP/HTTP, the default protocol) or
  ``http://localhost:4317`` (``protocol = "grpc"``), the ports Jaeger listens on.
* **service.name**: Jaeger groups everything by service, and ``unknown_service:python``
  helps nobody; unless the user sets one (``service_name``, ``OTEL_SERVICE_NAME``, or
  ``service.name`` in ``OTEL_RESOURCE_ATTRIBUTES``/``resource``) it is
  :data:`DEFAULT_SERVICE_NAME`.
* **Searchable values**: Jaeger's Elasticsearch/OpenSearch index maps tag values as keywords
  with ``ignore_above: 256``; a longer value is stored but cannot be found by tag search.
  Every string attribute that is not message content (``gen_ai.*``, ``openai_agents.*`` ids,
  ``error.type``, ...) is therefore cut to ``tag_value_limit`` characters (default 256) and
  listed in ``agent_otlp.truncated``.
* **Content**: when content capture is on, message content attributes
  (``gen_ai.input.messages``, ``gen_ai.output.messages``, ``gen_ai.system_instructions``,
  tool call arguments and results) are moved off the span's tags into one span event
  named ``gen_ai.content`` (a Jaeger "log", collapsed in the UI until opened), each value
  cut to ``content_limit`` bytes (default 4096 for Jaeger, JSON kept valid). Jaeger's UI
  renders every tag of a span at once and stalls on multi-kilobyte tags; logs are not
  rendered until asked for and are not indexed for search.
* **Errors**: nothing to add. Failed spans carry OTLP status ``ERROR`` with the error
  message; Jaeger derives its ``error=true`` tag (and ``otel.status_code=ERROR``,
  ``otel.status_description``) from the status, which is what its UI and its
  ``error=true`` search use. Setting an ``error`` attribute ourselves would show it twice.
"""

from __future__ import annotations

from collections.abc import Mapping, MutableMapping
from typing import Any, Final

from agent_otlp.adapters._budget import limit_tag_values
from agent_otlp.core.plugins import (
    AttrValue,
    ConfigError,
    Settings,
    SpanRecord,
    TransportDefaults,
    hookimpl,
)

DEFAULT_SERVICE_NAME: Final = "agent-workflows"
DEFAULT_TAG_VALUE_LIMIT: Final = 256
DEFAULT_CONTENT_LIMIT: Final = 4096


def tag_value_limit(options: Mapping[str, Any]) -> int:
    raw = options.get("tag_value_limit", DEFAULT_TAG_VALUE_LIMIT)
    try:
        value = int(raw)
    except (TypeError, ValueError):
        raise ConfigError("tag_value_limit", raw, "expected a whole number >= 16") from None
    if value < 16:
        raise ConfigError("tag_value_limit", raw, "expected a whole number >= 16")
    return value


@hookimpl
def agent_otlp_transport_defaults(
    adapter: str, options: Mapping[str, Any], env: Mapping[str, str]
) -> TransportDefaults:
    tag_value_limit(options)
    return {
        "protocol": "http/protobuf",
        "endpoints": {"http/protobuf": "http://localhost:4318", "grpc": "http://localhost:4317"},
        "content_limit": DEFAULT_CONTENT_LIMIT,
    }


@hookimpl
def agent_otlp_resource_attributes(settings: Settings) -> Mapping[str, AttrValue]:
    return {"service.name": DEFAULT_SERVICE_NAME}


@hookimpl
def agent_otlp_map_attributes(
    span: SpanRecord, settings: Settings, state: MutableMapping[str, Any]
) -> None:
    limit = state.get("jaeger_tag_limit")
    if limit is None:
        limit = state["jaeger_tag_limit"] = tag_value_limit(settings.options)
    limit_tag_values(span, limit, settings.capture_content, settings.content_limit)
