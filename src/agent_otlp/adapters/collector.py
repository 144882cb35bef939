"""``collector``: OTLP to an OpenTelemetry Collector, as agent (local) or gateway (remote).

Everything is the user's to configure (``endpoint``, ``protocol``, ``headers``,
``compression`` (gzip by default), ``certificate``, ``client_certificate``/``client_key``,
``insecure``); the adapter adds the defaults and one safety rule:

* **Endpoint**: ``http://localhost:4318/v1/traces`` (OTLP/HTTP) or ``http://localhost:4317``
  (gRPC), a Collector running as a local agent.
* **Plaintext only when asked**: sending without TLS to a host other than this machine
  (an ``http://`` endpoint, or gRPC without ``https://`` or a CA) needs ``insecure = true``;
  without it, start-up fails with a :class:`~agent_otlp.core.config.errors.ConfigError`. When
  ``insecure = true`` is used towards a remote host a warning is logged, once per
  destination. A gateway should be reached over ``https://`` (custom CA through
  ``certificate``; mutual TLS through ``client_certificate`` and ``client_key``).

``agent-otlp collector-config --to jaeger=URL --to tempo=URL`` prints a Collector
configuration that receives from this exporter and forwards to those backends.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit

from agent_otlp.adapters._budget import is_loopback
from agent_otlp.core.plugins import ConfigError, Settings, TransportDefaults, hookimpl

logger = logging.getLogger("agent_otlp.adapters.collector")


def uses_plaintext(settings: Settings) -> bool:
    """Whether the destination's requests travel without TLS."""
    endpoint = settings.endpoint
    scheme = endpoint.split("://", 1)[0].lower() if "://" in endpoint else ""
    if settings.protocol == "grpc":
        if settings.insecure is not None:
            return settings.insecure
        return not (scheme == "https" or settings.tls.ca_file)
    return scheme != "https"


def endpoint_host(endpoint: str) -> str | None:
    return urlsplit(endpoint if "://" in endpoint else f"//{endpoint}").hostname


@hookimpl
def agent_otlp_transport_defaults(
    adapter: str, options: Mapping[str, Any], env: Mapping[str, str]
) -> TransportDefaults:
    return {
        "protocol": "http/protobuf",
        "endpoints": {"http/protobuf": "http://localhost:4318", "grpc": "http://localhost:4317"},
        "compression": "gzip",
    }


@hookimpl
def agent_otlp_validate_settings(settings: Settings) -> None:
    host = endpoint_host(settings.endpoint)
    if not uses_plaintext(settings) or is_loopback(host):
        return
    if settings.insecure is not True:
        raise ConfigError(
            "endpoint",
            settings.endpoint,
            f"sending to {host} without TLS needs insecure = true; use an https:// endpoint "
            "(certificate = CA file for a private CA) to keep spans encrypted in transit",
        )
    logger.warning(
        "agent-otlp: destination %s sends spans to %s without TLS (insecure = true)",
        settings.name,
        host,
    )
