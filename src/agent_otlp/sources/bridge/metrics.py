"""Prometheus text exposition of the ingest bridge's and the exporter's counters."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

__all__ = ["render_metrics"]


def render_metrics(
    requests: Mapping[int, int], items: Mapping[str, int], pending: int, stats: Mapping[str, Any]
) -> str:
    """The exposition text: requests by status, items by result, exporter and destination
    counters."""
    out = _Exposition()
    out.family("agent_otlp_bridge_requests_total", "counter", "HTTP requests answered, by status.")
    for status, count in sorted(requests.items()):
        out.sample("agent_otlp_bridge_requests_total", count, status=str(status))
    out.family("agent_otlp_bridge_items_total", "counter", "Ingested items, by result.")
    for result in ("accepted", "rejected"):
        out.sample("agent_otlp_bridge_items_total", items.get(result, 0), result=result)
    out.family("agent_otlp_bridge_pending_spans", "gauge", "Items accepted, not yet delivered.")
    out.sample("agent_otlp_bridge_pending_spans", pending)
    for key, help_text in (
        ("received_items", "Items taken from the intake."),
        ("converted_spans", "Spans converted to OpenTelemetry."),
        ("invalid_items", "Items refused as invalid."),
        ("dropped_intake_full", "Items dropped because the intake was full."),
        ("store_write_errors", "Span store writes that failed (disk full, I/O errors)."),
    ):
        out.family(f"agent_otlp_exporter_{key}_total", "counter", help_text)
        out.sample(f"agent_otlp_exporter_{key}_total", stats[key])
    destinations: dict[str, dict[str, Any]] = stats["destinations"]
    for key, kind, help_text in (
        ("exported_spans", "counter", "Spans delivered."),
        ("dropped_spans", "counter", "Spans dropped, by reason."),
        ("queue_depth", "gauge", "Spans waiting in the destination's queue."),
        ("retries", "counter", "Export requests retried."),
        ("failed_batches", "counter", "Batches given up."),
        ("breaker_open", "gauge", "1 while the circuit breaker is not closed."),
    ):
        name = f"agent_otlp_destination_{key}" + ("_total" if kind == "counter" else "")
        out.family(name, kind, help_text)
        for dest, data in destinations.items():
            if key == "dropped_spans":
                for reason, count in sorted(data["dropped"].items()):
                    out.sample(name, count, destination=dest, reason=reason)
            elif key == "breaker_open":
                out.sample(name, int(data["breaker"] != "closed"), destination=dest)
            else:
                out.sample(name, data[key.removesuffix("_spans")], destination=dest)
    return out.text()


class _Exposition:
    def __init__(self) -> None:
        self._lines: list[str] = []

    def family(self, name: str, kind: str, help_text: str) -> None:
        self._lines.append(f"# HELP {name} {help_text}")
        self._lines.append(f"# TYPE {name} {kind}")

    def sample(self, name: str, value: float, **labels: str) -> None:
        if labels:
            inner = ",".join(f'{k}="{_escape_label(v)}"' for k, v in labels.items())
            name = f"{name}{{{inner}}}"
        self._lines.append(f"{name} {value}")

    def text(self) -> str:
        return "\n".join(self._lines) + "\n"


def _escape_label(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
