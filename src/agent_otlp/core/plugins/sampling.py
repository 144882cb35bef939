"""The sampling vocabulary the hooks speak: what is known of a trace when it is decided
(:class:`TraceSummary`), the decision (:class:`SamplingDecision`), the attribute recording the
rate, and the deterministic ratio rule. The pipeline's buffer that applies decisions is
:mod:`agent_otlp.core.pipeline.sampling`."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

__all__ = ["RATE_ATTRIBUTE", "SamplingDecision", "TraceSummary", "ratio_keeps"]

#: Attribute recording the weight (1/rate) of every span of a sampled trace.
RATE_ATTRIBUTE: Final = "agent_otlp.sample_rate"


@dataclass(slots=True)
class TraceSummary:
    """What is known of a trace when it is decided."""

    trace_id: bytes
    source_trace_id: str
    span_count: int = 0
    error_count: int = 0
    guardrail_tripped: bool = False
    workflow_name: str | None = None


@dataclass(frozen=True, slots=True)
class SamplingDecision:
    """Keep or drop a whole trace.

    :param keep: send the trace.
    :param sample_rate: how many traces this one stands for (1 = kept unconditionally);
        recorded on every span of the kept trace as ``agent_otlp.sample_rate``.
    :param reason: short text for logs and status.
    """

    keep: bool
    sample_rate: int = 1
    reason: str = ""


def ratio_keeps(trace_id: bytes, rate: float) -> bool:
    """Deterministic keep/drop from the low 7 bytes (56 bits) of the trace id.

    Those are the bits W3C Trace Context level 2 requires to be random. The SDK's trace ids
    are UUID4s, whose byte 8 carries fixed variant bits (``10xxxxxx``): comparing the low
    8 bytes would keep no trace at a rate of 0.5 and every trace at 0.75.
    """
    if rate >= 1.0:
        return True
    if rate <= 0.0:
        return False
    return int.from_bytes(trace_id[9:16], "big") < int(rate * 2**56)
