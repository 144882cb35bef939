"""The two data shapes the core works with.

* :class:`AgentTrace` and :class:`AgentSpan`: agent traces as the OpenAI Agents SDK exports
  them (``object: "trace"`` / ``object: "trace.span"``), validated.
* :class:`SpanRecord`: one converted OpenTelemetry span, ready for attribute mapping by the
  adapters and for OTLP encoding.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Final, TypeAlias, TypeGuard

from agent_otlp.core.config.errors import InputError
from agent_otlp.core.convert.producer import Producer

__all__ = [
    "ERROR_WITHOUT_MESSAGE",
    "REPAIR_KEYS",
    "AgentSpan",
    "AgentTrace",
    "AttrValue",
    "Attributes",
    "EventRecord",
    "SpanKind",
    "SpanRecord",
    "StatusCode",
    "is_mapping",
    "parse_item",
    "parse_timestamp",
    "span_error",
    "truncated_marker",
]

#: A value OpenTelemetry accepts as an attribute value.
AttrValue: TypeAlias = (
    str | bool | int | float | list[str] | list[bool] | list[int] | list[float]
)
Attributes: TypeAlias = dict[str, AttrValue]


def is_mapping(value: Any) -> TypeGuard[Mapping[str, Any]]:
    """``isinstance(value, Mapping)``, deciding plain dicts and ``None`` without the ABC."""
    return type(value) is dict or (value is not None and isinstance(value, Mapping))


class SpanKind:
    """OTLP ``Span.SpanKind`` values."""

    UNSPECIFIED: Final = 0
    INTERNAL: Final = 1
    SERVER: Final = 2
    CLIENT: Final = 3
    PRODUCER: Final = 4
    CONSUMER: Final = 5


class StatusCode:
    """OTLP ``Status.StatusCode`` values."""

    UNSET: Final = 0
    OK: Final = 1
    ERROR: Final = 2


_EPOCH: Final = datetime(1970, 1, 1, tzinfo=UTC)
_MICROSECOND: Final = timedelta(microseconds=1)
_MAX_NS: Final = 2**64 - 1


#: Epoch numbers below each bound are read in that unit (see docs/conversion.md): seconds up
#: to 1e11 (year 5138), then milliseconds, microseconds, and nanoseconds from 1e17 (1973).
_SECONDS_BELOW: Final = 100_000_000_000
_MILLIS_BELOW: Final = 100_000_000_000_000
_MICROS_BELOW: Final = 100_000_000_000_000_000


def _epoch_ns(value: int | float) -> int:
    """Unix nanoseconds from epoch seconds, milliseconds, microseconds or nanoseconds, the
    unit told by the magnitude (a time after 1973 and before 5138 in any of them)."""
    if value < _SECONDS_BELOW:
        scale = 1_000_000_000
    elif value < _MILLIS_BELOW:
        scale = 1_000_000
    elif value < _MICROS_BELOW:
        scale = 1000
    else:
        return int(value)
    if isinstance(value, int):
        return value * scale
    return round(value * scale)


def parse_timestamp(value: object, field_name: str, item_id: str | None = None) -> int | None:
    """ISO 8601 text (naive times are UTC) or an epoch number to Unix nanoseconds.

    Numbers are seconds, milliseconds, microseconds or nanoseconds by magnitude
    (:func:`_epoch_ns`).

    ``None`` stays ``None``. Anything else raises :class:`InputError` naming ``field_name``.
    """
    if isinstance(value, str):  # the SDK's form, so first
        try:
            moment = datetime.fromisoformat(value)
        except ValueError:
            raise InputError(
                field_name, value, "expected an ISO 8601 timestamp", item_id=item_id
            ) from None
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=UTC)
        ns = (moment - _EPOCH) // _MICROSECOND * 1000  # exact: integer microseconds
    elif value is None:
        return None
    elif isinstance(value, bool):
        raise InputError(field_name, value, "expected an ISO 8601 timestamp", item_id=item_id)
    elif isinstance(value, int | float):
        if not math.isfinite(value) or value < 0:
            raise InputError(field_name, value, "timestamp must be finite and >= 0", item_id=item_id)
        ns = _epoch_ns(value)
    else:
        raise InputError(field_name, value, "expected an ISO 8601 timestamp", item_id=item_id)
    if ns < 0 or ns > _MAX_NS:
        raise InputError(field_name, value, "timestamp before 1970 or out of range", item_id=item_id)
    return ns


@dataclass(slots=True)
class AgentTrace:
    """An agent trace (the workflow), as exported by the SDK."""

    id: str
    workflow_name: str
    group_id: str | None = None
    metadata: dict[str, Any] | None = None
    started_ns: int | None = None
    ended_ns: int | None = None
    #: the application that posted it through the bridge under its own token (else ``None``)
    producer: Producer | None = None


@dataclass(slots=True)
class AgentSpan:
    """An agent span, as exported by the SDK (``object: "trace.span"``)."""

    id: str
    trace_id: str
    parent_id: str | None
    started_ns: int | None
    ended_ns: int | None
    data: dict[str, Any]
    error: dict[str, Any] | None = None
    metadata: dict[str, Any] | None = None
    #: ``agent_otlp.*`` attributes saying how a broken id or parent link was repaired
    #: (:mod:`agent_otlp.core.convert.repair`); kept in the store as the item's ``agent_otlp``.
    repairs: dict[str, str] | None = None
    #: the application that posted it through the bridge under its own token (else ``None``)
    producer: Producer | None = None
    #: the conversation (its trace's ``group_id``), given by the exporter that saw the trace
    #: object; kept in the store in the item's ``agent_otlp`` member
    conversation_id: str | None = None

    @property
    def type(self) -> str:
        kind = self.data.get("type")
        return kind if isinstance(kind, str) else "unknown"


@dataclass(slots=True)
class EventRecord:
    name: str
    time_ns: int
    attributes: Attributes = field(default_factory=dict)


@dataclass(slots=True)
class SpanRecord:
    """One OpenTelemetry span produced from an agent span (or from the trace itself).

    Adapters change ``attributes`` and ``events`` in their attribute-mapping hook; the ids,
    times and name are fixed by the core.
    """

    trace_id: bytes
    span_id: bytes
    parent_span_id: bytes
    name: str
    kind: int
    start_ns: int
    end_ns: int
    attributes: Attributes
    events: list[EventRecord] = field(default_factory=list)
    status_code: int = StatusCode.UNSET
    status_message: str = ""
    #: The SDK's own ids, kept for logs and errors.
    source_trace_id: str = ""
    source_span_id: str = ""
    #: The agent span type (``generation``...), or ``trace`` for the workflow span.
    source_type: str = ""
    dropped_attributes_count: int = 0
    #: Position in the span store when the span was read from it (0 otherwise).
    seq: int = 0
    #: Whose span it is (exported under that producer's resource); ``None``: the exporter's.
    producer: Producer | None = None

    def copy(self) -> SpanRecord:
        """A copy whose attributes and events can be changed without touching this one."""
        return SpanRecord(
            self.trace_id,
            self.span_id,
            self.parent_span_id,
            self.name,
            self.kind,
            self.start_ns,
            self.end_ns,
            dict(self.attributes),
            [EventRecord(e.name, e.time_ns, dict(e.attributes)) for e in self.events],
            self.status_code,
            self.status_message,
            self.source_trace_id,
            self.source_span_id,
            self.source_type,
            self.dropped_attributes_count,
            self.seq,
            self.producer,
        )


def _require_str(item: Mapping[str, Any], key: str, item_id: str | None) -> str:
    value = item.get(key)
    if not isinstance(value, str) or not value:
        reason = "missing" if value is None else "expected a non-empty string"
        raise InputError(key, value, reason, item_id=item_id)
    return value


def _optional_str(item: Mapping[str, Any], key: str, item_id: str | None) -> str | None:
    value = item.get(key)
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        raise InputError(key, value, "expected a string or null", item_id=item_id)
    return value


def _optional_dict(item: Mapping[str, Any], key: str, item_id: str | None) -> dict[str, Any] | None:
    value = item.get(key)
    if value is None:
        return None
    if not isinstance(value, Mapping):
        raise InputError(key, value, "expected an object or null", item_id=item_id)
    return dict(value)


#: The repair notes an item may carry (see :attr:`AgentSpan.repairs`).
REPAIR_KEYS: Final = frozenset(
    {"agent_otlp.repair", "agent_otlp.original_parent_id", "agent_otlp.original_span_id"}
)


def _repairs(value: object) -> dict[str, str] | None:
    """The known repair notes of an item's ``agent_otlp`` member; anything else is ignored."""
    if not isinstance(value, Mapping):
        return None
    notes = {k: v for k, v in value.items() if k in REPAIR_KEYS and isinstance(v, str)}
    return notes or None


def _conversation(value: object) -> str | None:
    """The conversation id an item's ``agent_otlp`` member carries (the store's items)."""
    found = value.get(CONVERSATION_NOTE) if isinstance(value, Mapping) else None
    return found if isinstance(found, str) and found else None


#: Where a stored item keeps its trace's conversation (see :attr:`AgentSpan.conversation_id`).
CONVERSATION_NOTE: Final = "conversation_id"
#: The span types whose operation (``invoke_agent``, ``chat``) names its conversation.
CONVERSATION_TYPES: Final = frozenset({"agent", "generation", "response"})


#: The status message of an error given as ``true`` (or as an object without a message).
ERROR_WITHOUT_MESSAGE: Final = "error reported without a message"


def span_error(value: object) -> dict[str, Any] | None:
    """An item's ``error`` as ``{"message", "data"?...}``, whatever shape it came in.

    The SDK sends an object (``{"message", "data"}``) or null; RAAF copies a span's ``error``
    attribute as it is, so a string, ``true`` or any other value arrives too. Nothing is
    refused for it: ``null`` and ``false`` are no error, a string is the message, ``true``
    (or an object without a message) gets :data:`ERROR_WITHOUT_MESSAGE`, and any other value
    is the message as JSON text.
    """
    if value is None or value is False:
        return None
    if isinstance(value, Mapping):
        error = dict(value)
        if error.get("message") is None:
            error["message"] = ERROR_WITHOUT_MESSAGE
        return error
    if isinstance(value, str):
        return {"message": value or ERROR_WITHOUT_MESSAGE}
    if value is True:
        return {"message": ERROR_WITHOUT_MESSAGE}
    return {"message": _json_text(value)}


def _json_text(value: object) -> str:
    """``value`` as JSON text; never raises (a value whose ``str`` fails is named by its type)."""
    try:
        return json.dumps(value, ensure_ascii=False, allow_nan=True, default=_text)
    except Exception:  # a cycle, nesting too deep, a key of no JSON type...
        return _text(value)


def _text(value: object) -> str:
    try:
        return str(value)
    except Exception:  # a foreign object whose __str__ raises
        return f"<unrepresentable {type(value).__name__}>"


def truncated_marker(data: Mapping[Any, Any]) -> str | None:
    """The span name for RAAF's stand-in for a span too large to upload, else ``None``.

    RAAF's ``OpenAIProcessor`` replaces a span over 9,000 bytes of JSON with
    ``{type, name (or "unknown"), data: {truncated: true, original_size}}``: its type's
    fields are gone, so it is not mapped as its type. Named by its name, else its type.
    """
    inner = data.get("data")
    if not isinstance(inner, Mapping) or inner.get("truncated") is not True:
        return None
    if "original_size" not in inner or not {"type", "name", "data"}.issuperset(data):
        return None
    name = data.get("name")
    if isinstance(name, str) and name and name != "unknown":
        return name
    kind = data.get("type")
    return kind if isinstance(kind, str) and kind else "unknown"


def parse_item(item: object) -> AgentTrace | AgentSpan:
    """Validate one item of the SDK's export format.

    Raises :class:`InputError` naming the first bad field; the caller decides whether the
    rest of its batch goes on (it always does in agent-otlp).
    """
    if not is_mapping(item):
        raise InputError("item", item, "expected a JSON object")
    raw_id = item.get("id")
    item_id = raw_id if isinstance(raw_id, str) else None
    kind = item.get("object")
    if kind == "trace":
        trace_id = _require_str(item, "id", item_id)
        name = item.get("workflow_name")
        if name is None:
            name = "Agent workflow"
        elif not isinstance(name, str):
            raise InputError("workflow_name", name, "expected a string", item_id=item_id)
        return AgentTrace(
            id=trace_id,
            workflow_name=name,
            group_id=_optional_str(item, "group_id", item_id),
            metadata=_optional_dict(item, "metadata", item_id),
            started_ns=parse_timestamp(item.get("started_at"), "started_at", item_id),
            ended_ns=parse_timestamp(item.get("ended_at"), "ended_at", item_id),
        )
    if kind == "trace.span":
        span_id = _require_str(item, "id", item_id)
        trace_id = _require_str(item, "trace_id", item_id)
        data = item.get("span_data")
        if not is_mapping(data):
            raise InputError("span_data", data, "expected an object with a 'type'", item_id=item_id)
        if not isinstance(data.get("type"), str):
            raise InputError("span_data.type", data.get("type"), "expected a string", item_id=item_id)
        error = span_error(item.get("error"))
        notes = item.get("agent_otlp")  # absent but in the store's repaired items
        started = parse_timestamp(item.get("started_at"), "started_at", item_id)
        ended = parse_timestamp(item.get("ended_at"), "ended_at", item_id)
        return AgentSpan(
            id=span_id,
            trace_id=trace_id,
            parent_id=_optional_str(item, "parent_id", item_id),
            started_ns=started,
            ended_ns=ended,
            data=dict(data),
            error=error,
            metadata=_optional_dict(item, "metadata", item_id),
            repairs=None if notes is None else _repairs(notes),
            conversation_id=None if notes is None else _conversation(notes),
        )
    raise InputError("object", kind, "expected 'trace' or 'trace.span'", item_id=item_id)
