"""``honeycomb``: OTLP to Honeycomb (US or EU), within Honeycomb's event limits.

* **Endpoint**: option ``region`` = ``us`` (default, ``api.honeycomb.io``) or ``eu``
  (``api.eu1.honeycomb.io``); OTLP/HTTP to ``https://<host>/v1/traces`` (default) or
  OTLP/gRPC to ``https://<host>:443``.
* **Key**: ``x-honeycomb-team`` from ``HONEYCOMB_API_KEY`` (or the ``api_key`` option),
  required, kept in a :class:`~agent_otlp.core.config.secrets.Secret` so it never shows in logs,
  errors or ``agent-otlp config``.
* **Dataset**: only Honeycomb Classic keys name a dataset (``x-honeycomb-dataset`` from the
  ``dataset`` option); with Environment keys the dataset is the ``service.name``. A key is
  Classic when it is 32 lower-case hex characters (Classic configuration key) or 64
  characters matching ``hc?ic_...`` (Classic ingest key: ``hc`` + one letter + ``ic_``).
  Environment ingest keys (``hc?ik_...``) and 22-character configuration keys are not.
* **Limits**, enforced before sending: at most 2,000 attributes per span
  (``attribute_count_limit``), 64 KB per string value (``attribute_value_limit``), and
  1 MB per span (option ``max_event_bytes``): an oversized span loses its message content
  first, then its longest values are cut.
* **Sampling**: when a trace is sampled at 1/N, every span of the kept trace (children
  included) gets ``SampleRate = N``, which Honeycomb uses to weight counts.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping, MutableMapping
from typing import Any, Final

from agent_otlp.adapters._budget import mark_truncated, shed_content, span_bytes
from agent_otlp.core.plugins import (
    RATE_ATTRIBUTE,
    ConfigError,
    Secret,
    Settings,
    SpanRecord,
    TransportDefaults,
    hookimpl,
    utf8_len,
)

logger = logging.getLogger("agent_otlp.adapters.honeycomb")

REGIONS: Final = {"us": "api.honeycomb.io", "eu": "api.eu1.honeycomb.io"}
API_KEY_ENV: Final = "HONEYCOMB_API_KEY"
TEAM_HEADER: Final = "x-honeycomb-team"
DATASET_HEADER: Final = "x-honeycomb-dataset"
SAMPLE_RATE: Final = "SampleRate"
MAX_ATTRIBUTES: Final = 2000
MAX_STRING_BYTES: Final = 65536
MAX_EVENT_BYTES: Final = 1_000_000
_CLASSIC_CONFIG_KEY: Final = re.compile(r"^[a-f0-9]{32}$")
_CLASSIC_INGEST_KEY: Final = re.compile(r"^hc[a-z]ic_[a-z0-9]{58}$")


def is_classic_key(key: str) -> bool:
    """Whether ``key`` is a Honeycomb Classic key (which needs a dataset)."""
    return bool(_CLASSIC_CONFIG_KEY.match(key) or _CLASSIC_INGEST_KEY.match(key))


def _region(options: Mapping[str, Any]) -> str:
    raw = options.get("region", "us")
    region = str(raw).strip().lower()
    if region not in REGIONS:
        raise ConfigError("region", raw, "expected us or eu")
    return region


def _max_event_bytes(options: Mapping[str, Any]) -> int:
    raw = options.get("max_event_bytes", MAX_EVENT_BYTES)
    try:
        value = int(raw)
    except (TypeError, ValueError):
        raise ConfigError("max_event_bytes", raw, "expected a number of bytes >= 4096") from None
    if value < 4096:
        raise ConfigError("max_event_bytes", raw, "expected a number of bytes >= 4096")
    return value


def _api_key(options: Mapping[str, Any], env: Mapping[str, str]) -> str | None:
    raw = options.get("api_key") or env.get(API_KEY_ENV)
    if isinstance(raw, Secret):
        raw = raw.reveal()
    return str(raw).strip() or None if raw else None


@hookimpl
def agent_otlp_transport_defaults(
    adapter: str, options: Mapping[str, Any], env: Mapping[str, str]
) -> TransportDefaults:
    host = REGIONS[_region(options)]
    _max_event_bytes(options)
    headers: dict[str, str | Secret] = {}
    key = _api_key(options, env)
    if key:
        headers[TEAM_HEADER] = Secret(key)
        dataset = str(options.get("dataset") or "").strip()
        if is_classic_key(key):
            if not dataset:
                raise ConfigError(
                    "dataset",
                    None,
                    "this is a Honeycomb Classic key, which needs a dataset: set the dataset "
                    "option (AGENT_OTLP_HONEYCOMB_DATASET or [destination.honeycomb] dataset)",
                )
            headers[DATASET_HEADER] = dataset
        elif dataset:
            logger.info(
                "agent-otlp: honeycomb dataset %r ignored: Environment keys send to the dataset "
                "named by service.name",
                dataset,
            )
    return {
        "protocol": "http/protobuf",
        "endpoints": {"http/protobuf": f"https://{host}", "grpc": f"https://{host}:443"},
        "headers": headers,
        "compression": "gzip",
        "attribute_count_limit": MAX_ATTRIBUTES,
        "attribute_value_limit": MAX_STRING_BYTES,
    }


@hookimpl
def agent_otlp_validate_settings(settings: Settings) -> None:
    if not any(k.lower() == TEAM_HEADER for k in settings.headers):
        raise ConfigError(
            API_KEY_ENV,
            None,
            "Honeycomb needs an API key: set HONEYCOMB_API_KEY (or the api_key option, "
            "or an x-honeycomb-team header); create an Ingest key under Environment settings",
        )


@hookimpl
def agent_otlp_map_attributes(
    span: SpanRecord, settings: Settings, state: MutableMapping[str, Any]
) -> None:
    rate = span.attributes.get(RATE_ATTRIBUTE)
    if isinstance(rate, int) and not isinstance(rate, bool) and rate > 1:
        span.attributes[SAMPLE_RATE] = rate


def _cut_longest(span: SpanRecord, excess: int) -> str | None:
    strings = [(utf8_len(v), k) for k, v in span.attributes.items() if isinstance(v, str)]
    if not strings:
        return None
    length, key = max(strings)
    from agent_otlp.adapters._budget import cut_value

    value = span.attributes[key]
    assert isinstance(value, str)
    span.attributes[key] = cut_value(key, value, max(64, length - excess - 64))
    return key


@hookimpl
def agent_otlp_process_batch(
    spans: list[SpanRecord], settings: Settings, state: MutableMapping[str, Any]
) -> None:
    limit = state.get("honeycomb_max_event")
    if limit is None:
        limit = state["honeycomb_max_event"] = _max_event_bytes(settings.options)
    for span in spans:
        if span_bytes(span) <= limit:
            continue
        shed_content(span)
        cut: list[str] = []
        for _ in range(64):
            # 512 bytes of room for the agent_otlp.truncated list added below
            excess = span_bytes(span) - (limit - 512)
            if excess <= 0:
                break
            key = _cut_longest(span, excess)
            if key is None:
                break
            cut.append(key)
        mark_truncated(span, cut)
