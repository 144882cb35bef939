"""Which trace objects of one ingest request RAAF did not mean.

RAAF's ``OpenAIProcessor`` (``tracing/lib/raaf/tracing/openai_processor.rb``) leads every POST
with a trace object whose ``id`` is the first trace that ever ended in the process (never
reset) and whose ``workflow_name`` is that of the last ``trace``-kind span that ended: neither
names the spans that follow. So, in a request whose spans carry RAAF's ids (``span_`` and 32
hex digits; the Python and JavaScript SDKs write 24), a trace object without times is
believed only when every span of the request belongs to its trace; otherwise it is ignored:
it names no trace, gives no metadata and makes no workflow span. The SDKs' requests are not
touched (their trace objects carry no times either, and are always believed). Pure.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any, Final

__all__ = ["stale_trace_objects"]

_RAAF_SPAN_ID: Final = re.compile(r"span_[0-9a-fA-F]{32}")


def _of(item: Any, kind: str) -> bool:
    return isinstance(item, Mapping) and item.get("object") == kind


def _raaf_id(value: Any) -> bool:
    return isinstance(value, str) and len(value) == 37 and _RAAF_SPAN_ID.fullmatch(value) is not None


def _stale(item: Any, traces: set[str | None]) -> bool:
    """A trace object without times, of a trace other than the only one the spans name (one
    whose ``id`` is not text is left for the item checks to refuse)."""
    if not _of(item, "trace") or item.get("started_at") is not None or item.get("ended_at") is not None:
        return False
    trace_id = item.get("id")
    return isinstance(trace_id, str) and traces != {trace_id}


def stale_trace_objects(items: Sequence[Any]) -> set[int]:
    """The indexes, in one request's ``items``, of the trace objects to ignore (see the module)."""
    spans = [item for item in items if _of(item, "trace.span")]
    if not any(_raaf_id(span.get("id")) for span in spans):
        return set()
    traces = {trace if isinstance(trace, str) else None for trace in (s.get("trace_id") for s in spans)}
    return {index for index, item in enumerate(items) if _stale(item, traces)}
