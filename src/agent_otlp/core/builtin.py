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
from typing import Any, Final

from agent_otlp._version import __version__
from agent_otlp.core.content import truncate_json_text, truncate_text, utf8_len
from agent_otlp.core.convert import CONTENT_ATTRIBUTES, NAMESPACE
from agent_otlp.core.hookspecs import hookimpl
from agent_otlp.core.records import AttrValue, SpanRecord
from agent_otlp.core.sampling import SamplingDecision, TraceSummary, ratio_keeps
from agent_otlp.core.settings import Settings
from agent_otlp.core.transport import GrpcTransport, HttpTransport, Transport

_KEPT: Final = frozenset(
    {f"{NAMESPACE}.span_id", f"{NAMESPACE}.trace_id", f"{NAMESPACE}.parent_id", f"{NAMESPACE}.span_type"}
)
#: Attribute listing the attributes that were cut to a size limit.
TRUNCATED: Final = "agent_otlp.truncated"
_JSON_CONTENT: Final = CONTENT_ATTRIBUTES - {f"{NAMESPACE}.speech.input", f"{NAMESPACE}.transcription.output"}


@hookimpl(trylast=True)
def agent_otlp_make_transport(settings: Settings) -> Transport:
    if settings.transport == "otel-sdk":
        from agent_otlp.core.otel_sdk import OtelSdkTransport

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


def _cut(key: str, value: str, limit: int) -> str:
    if key in _JSON_CONTENT:
        return truncate_json_text(value, limit)[0]
    return truncate_text(value, limit)


def apply_limits(span: SpanRecord, settings: Settings) -> None:
    """Content policy and size/count limits of ``settings``, applied to ``span`` in place."""
    attrs = span.attributes
    cut: list[str] = []
    value_limit = settings.attribute_value_limit
    # Without a value limit only the content attributes need a look (usually there are none).
    if value_limit is not None:
        keys = list(attrs)
    elif CONTENT_ATTRIBUTES.isdisjoint(attrs):
        keys = []
    else:
        keys = [key for key in attrs if key in CONTENT_ATTRIBUTES]
    for key in keys:
        value = attrs[key]
        if key in CONTENT_ATTRIBUTES:
            if not settings.capture_content:
                del attrs[key]
                continue
            limit = min(settings.content_limit, value_limit or settings.content_limit)
        elif value_limit is None:
            continue
        else:
            limit = value_limit
        if isinstance(value, str) and utf8_len(value) > limit:
            attrs[key] = _cut(key, value, limit)
            cut.append(key)
        elif (
            isinstance(value, list)
            and all(isinstance(v, str) for v in value)
            and any(utf8_len(v) > limit for v in value)  # type: ignore[arg-type, unused-ignore]
        ):
            attrs[key] = [truncate_text(v, limit) for v in value]  # type: ignore[arg-type, unused-ignore]
            cut.append(key)
    if cut:
        previous = attrs.get(TRUNCATED)
        attrs[TRUNCATED] = [*(previous if isinstance(previous, list) else []), *cut]  # type: ignore[list-item, unused-ignore]
    count_limit = settings.attribute_count_limit
    if count_limit is not None and len(attrs) > count_limit:
        # Dropped first: agent data under the namespace, then other keys, then the agent
        # ids, gen_ai.* last; within each group the latest added goes first.
        order = sorted(
            reversed(list(attrs)),
            key=lambda k: (k.startswith("gen_ai."), k in _KEPT, not k.startswith(NAMESPACE)),
        )
        for key in order[: len(attrs) - count_limit]:
            del attrs[key]
            span.dropped_attributes_count += 1


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
