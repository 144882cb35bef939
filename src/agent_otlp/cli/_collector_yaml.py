"""OpenTelemetry Collector configurations as text: a small block-style YAML writer (the
Collector reads it; no YAML library needed) and the single-tier configuration that
``agent-otlp collector-config`` prints. Pure: no I/O."""

from __future__ import annotations

import json
from typing import Any, Final
from urllib.parse import urlsplit

from agent_otlp.core.config.errors import ConfigError

__all__ = ["collector_config_yaml", "otlp_exporter", "pairs", "receivers", "to_yaml"]

_PLAIN: Final = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_./:-${}")


def _scalar(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return str(value)
    text = str(value)
    if text and set(text) <= _PLAIN and text[0] not in "-:{}" and text.lower() not in (
        "true", "false", "null", "yes", "no", "on", "off"
    ) and not text.replace(".", "", 1).isdigit():
        return text
    if '"' in text and "'" not in text and text.isprintable():
        return f"'{text}'"  # YAML's single quotes: no escapes inside
    return json.dumps(text)


def _entry(pad: str, head: str, value: Any, indent: int) -> list[str]:
    """``head`` (``key:`` or ``-``) followed by ``value``, inline or as a nested block."""
    if isinstance(value, dict | list) and value:
        return [f"{pad}{head}", *to_yaml(value, indent + 2)]
    if isinstance(value, dict | list):
        return [f"{pad}{head} {'{}' if isinstance(value, dict) else '[]'}"]
    return [f"{pad}{head} {_scalar(value)}"]


def to_yaml(node: dict[str, Any] | list[Any], indent: int = 0) -> list[str]:
    """Lines of block-style YAML for mappings, lists and scalars (a list item that is a
    mapping is written as ``- key: value`` with its other keys below it)."""
    pad = " " * indent
    lines: list[str] = []
    if isinstance(node, dict):
        for key, value in node.items():
            lines.extend(_entry(pad, f"{_scalar(key)}:", value, indent))
        return lines
    for item in node:
        if isinstance(item, dict) and item:
            nested = to_yaml(item, indent + 2)
            lines.append(f"{pad}- {nested[0].lstrip()}")
            lines.extend(nested[1:])
        else:
            lines.extend(_entry(pad, "-", item, indent))
    return lines


def otlp_exporter(name: str, url: str, headers: dict[str, str]) -> tuple[str, dict[str, Any]]:
    """The Collector exporter (``otlp/NAME`` or ``otlphttp/NAME``) sending to ``url``."""
    if "://" not in url:
        url = f"http://{url}"
    parts = urlsplit(url)
    if not parts.hostname:
        raise ConfigError(f"--to {name}", url, "expected NAME=URL, e.g. jaeger=http://jaeger:4317")
    scheme = parts.scheme.lower()
    grpc = scheme in ("grpc", "grpcs") or parts.port == 4317
    if grpc:
        port = parts.port or 4317
        config: dict[str, Any] = {"endpoint": f"{parts.hostname}:{port}"}
        if scheme in ("http", "grpc"):
            config["tls"] = {"insecure": True}
        kind = "otlp"
    else:
        if scheme not in ("http", "https"):
            raise ConfigError(f"--to {name}", url, "expected an http://, https:// or grpc:// URL")
        if parts.path.rstrip("/").endswith("/v1/traces"):
            config = {"traces_endpoint": url}
        else:
            config = {"endpoint": url.rstrip("/")}
        kind = "otlphttp"
    if headers:
        config["headers"] = headers
    return f"{kind}/{name}", config


def backend_exporters(targets: list[tuple[str, str]],
                      headers: dict[str, dict[str, str]]) -> dict[str, dict[str, Any]]:
    """One exporter per ``(name, url)``; a Honeycomb one reads its key from the environment."""
    exporters: dict[str, dict[str, Any]] = {}
    for name, url in targets:
        own = dict(headers.get(name, {}))
        if "honeycomb" in name and not any(k.lower() == "x-honeycomb-team" for k in own):
            own["x-honeycomb-team"] = "${env:HONEYCOMB_API_KEY}"
        key, config = otlp_exporter(name, url, own)
        exporters[key] = config
    return exporters


def receivers(grpc: str = "0.0.0.0:4317", http: str = "0.0.0.0:4318") -> dict[str, Any]:
    """The OTLP receiver on ``grpc`` and ``http``."""
    return {"otlp": {"protocols": {"grpc": {"endpoint": grpc}, "http": {"endpoint": http}}}}


def collector_config_yaml(targets: list[tuple[str, str]], headers: dict[str, dict[str, str]] | None = None) -> str:
    """A Collector configuration receiving OTLP (gRPC and HTTP) and forwarding to ``targets``."""
    exporters = backend_exporters(targets, headers or {})
    document = {
        "receivers": receivers(),
        "processors": {"batch": {}},
        "exporters": exporters,
        "service": {
            "pipelines": {
                "traces": {"receivers": ["otlp"], "processors": ["batch"], "exporters": list(exporters)}
            }
        },
    }
    head = [
        "# OpenTelemetry Collector configuration generated by `agent-otlp collector-config`.",
        "# Receives OTLP from agent-otlp (gRPC :4317, HTTP :4318) and forwards every trace to",
        "# the exporters below. Point agent-otlp at it with the collector adapter:",
        "#   AGENT_OTLP_ADAPTERS=collector AGENT_OTLP_COLLECTOR_ENDPOINT=https://<this host>:4318",
        "# (plaintext to another host also needs AGENT_OTLP_COLLECTOR_INSECURE=true)",
    ]
    return "\n".join(head + to_yaml(document)) + "\n"


def pairs(values: list[str], option: str, example: str) -> list[tuple[str, str]]:
    """``NAME=VALUE`` options as pairs, or :class:`ConfigError` naming the option and value."""
    out = []
    for raw in values:
        name, sep, value = raw.partition("=")
        if not sep or not name.strip() or not value.strip():
            raise ConfigError(option, raw, f"expected {example}")
        out.append((name.strip(), value.strip()))
    return out
