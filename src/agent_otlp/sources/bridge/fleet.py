"""Fleet mode of the ingest bridge (``agent-otlp serve --fleet``, docs/scale-out.md).

Several bridges behind a load balancer each get some of a trace's requests. In fleet mode a
bridge keeps no trace open: it converts and forwards every span as it comes, and leaves
whole-trace decisions (sampling) to the Collector tier behind it, which sees each trace
whole. The one span a bridge would otherwise make from the whole trace, the workflow span,
is made from one request alone, so any bridge given that request makes the same span:

* its span id comes from the trace id (as always);
* it is made only from the trace object, by the bridge that receives it (never synthesized
  by a bridge that saw only some of the trace's spans);
* its times are the trace object's own ``started_at``/``ended_at``; a trace object without
  times (the OpenAI Agents SDK sends none) is given, here, the times its request says: those
  of the trace's root spans (no parent) in the same request, else of its other spans there,
  else the moment the request came.

Pure but for :func:`enable_fleet`, which switches a bridge and its exporter over.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any, Protocol

from agent_otlp.core.config.errors import ConfigError, InputError
from agent_otlp.core.convert.records import parse_timestamp

__all__ = ["FleetExporter", "enable_fleet", "time_trace_objects"]


class FleetExporter(Protocol):
    """What fleet mode needs of an exporter."""

    @property
    def destinations(self) -> list[Any]: ...

    def forward_at_once(self) -> None: ...


class _Ingest(Protocol):
    fleet: bool


class _Bridge(Protocol):
    @property
    def ingest(self) -> _Ingest: ...


def _of(item: Any, kind: str) -> bool:
    return isinstance(item, Mapping) and item.get("object") == kind


def _ns(value: Any) -> int | None:
    try:
        return parse_timestamp(value, "started_at")
    except InputError:
        return None


def _iso(ns: int) -> str:
    return datetime.fromtimestamp(ns // 1_000_000_000, UTC).replace(
        microsecond=(ns // 1000) % 1_000_000).isoformat()


def _covered(spans: list[Mapping[str, Any]]) -> tuple[int, int] | None:
    """The earliest start and the latest end (or start) the ``spans`` give, if any."""
    starts = [t for t in (_ns(s.get("started_at")) for s in spans) if t is not None]
    ends = [t for t in (_ns(s.get("ended_at")) for s in spans) if t is not None]
    if not starts and not ends:
        return None
    first = min(starts or ends)
    return first, max([*ends, *starts, first])


def _request_times(items: list[Any], trace_id: str, received_ns: int) -> tuple[int, int]:
    spans = [i for i in items if _of(i, "trace.span") and i.get("trace_id") == trace_id]
    roots = [s for s in spans if s.get("parent_id") is None]
    return _covered(roots) or _covered(spans) or (received_ns, received_ns)


def time_trace_objects(items: list[Any], raw: list[bytes | None], received_ns: int) -> int:
    """Give each trace object without times in one request's ``items`` the times the request
    says (see the module); its ``raw`` text is dropped, so the store keeps the timed object.
    Returns how many were given times."""
    count = 0
    for index, item in enumerate(items):
        if not _of(item, "trace") or not isinstance(item.get("id"), str):
            continue
        if item.get("started_at") is not None or item.get("ended_at") is not None:
            continue
        start, end = _request_times(items, item["id"], received_ns)
        items[index] = {**item, "started_at": _iso(start), "ended_at": _iso(end)}
        if index < len(raw):
            raw[index] = None
        count += 1
    return count


def enable_fleet(bridge: _Bridge, exporter: FleetExporter) -> None:
    """Switch ``bridge`` and ``exporter`` to fleet mode, or raise :class:`ConfigError` when a
    destination samples whole traces (in a fleet the Collector tier does)."""
    for destination in exporter.destinations:
        if destination.samples_traces:
            raise ConfigError(
                "--fleet", f"destination {destination.name} samples traces",
                "in a fleet each bridge sees only part of a trace: sample in the Collector "
                "tier instead (agent-otlp collector-config --fleet --rate RATE), and leave the "
                "bridges' sample rate at 1 with no sampling plugin")
    exporter.forward_at_once()
    bridge.ingest.fleet = True
