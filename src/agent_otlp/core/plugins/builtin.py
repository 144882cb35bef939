"""The core's own hook implementations, registered for every destination and run last.

* resource: ``service.name`` (``unknown_service:python`` unless set), ``telemetry.sdk.*``;
* attribute mapping: content removed when capture is off for the destination, content cut
  to ``content_limit`` with JSON kept valid, every value cut to ``attribute_value_limit``,
  attributes beyond ``attribute_count_limit`` dropped (namespace ones first) and counted;
* sampling: keep traces with an error or a tripped guardrail (``sample_keep_errors``), keep
  the rest at ``sample_rate`` by trace id.
"""

from __future__ import annotations

import platform
from collections.abc import Mapping, MutableMapping
from typing import Any

from agent_otlp._version import __version__
from agent_otlp.core.config.settings import Settings
from agent_otlp.core.convert.records import AttrValue, SpanRecord
from agent_otlp.core.plugins.hookspecs import hookimpl
from agent_otlp.core.plugins.limits import apply_limits
from agent_otlp.core.plugins.sampling import SamplingDecision, TraceSummary, ratio_keeps
from agent_otlp.core.wire.grpc_transport import GrpcTransport
from agent_otlp.core.wire.transport import HttpTransport, Transport


@hookimpl(trylast=True)
def agent_otlp_make_transport(settings: Settings) -> Transport:
    if settings.transport == "otel-sdk":
        from agent_otlp.core.wire.otel_sdk import OtelSdkTransport

        return OtelSdkTransport(settings)
    if settings.protocol == "grpc":
        return GrpcTransport(
            settings.endpoint,
            settings.headers,
            compression=settings.compression,
            insecure=settings.insecure,
            tls=settings.tls,
        )
    return HttpTransport(
        settings.endpoint, settings.headers, compression=settings.compression, tls=settings.tls
    )


@hookimpl(trylast=True)
def agent_otlp_resource_attributes(settings: Settings) -> Mapping[str, AttrValue]:
    return {
        "service.name": "unknown_service:python",
        "telemetry.sdk.name": "agent-otlp",
        "telemetry.sdk.language": "python",
        "telemetry.sdk.version": __version__,
        "process.runtime.name": platform.python_implementation().lower(),
        "process.runtime.version": platform.python_version(),
    }


@hookimpl(trylast=True)
def agent_otlp_map_attributes(
    span: SpanRecord, settings: Settings, state: MutableMapping[str, Any]
) -> None:
    apply_limits(span, settings)


@hookimpl(trylast=True)
def agent_otlp_sample_trace(trace: TraceSummary, settings: Settings) -> SamplingDecision:
    if settings.sample_keep_errors and (trace.error_count or trace.guardrail_tripped):
        return SamplingDecision(True, 1, "error or tripped guardrail")
    rate = settings.sample_rate
    if rate >= 1.0:
        return SamplingDecision(True, 1, "rate 1")
    keep = ratio_keeps(trace.trace_id, rate)
    weight = max(1, round(1 / rate)) if rate > 0 else 0
    return SamplingDecision(keep, weight, f"rate {rate:g}")
