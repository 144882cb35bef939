"""Who produced an item: an application posting through the ingest bridge with a token of
its own (``agent-otlp serve --tokens FILE``).

A :class:`Producer` travels with the items, the spans converted from them and the rows
stored for them: its spans are exported under its own resource (not the bridge's), and only
to the destinations it names, if it names any. In the span store it is kept inside the item's
payload as the member :data:`PRODUCER_MEMBER` (a reader of the SDK's format ignores it).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final, TypeAlias, TypeVar

__all__ = ["PRODUCER_MEMBER", "Producer", "ResourceValue", "claims_producer", "producer_from_json", "routed",
           "stored_producer", "with_producer"]

#: The member of a stored item's payload holding its producer.
PRODUCER_MEMBER: Final = "agent_otlp.producer"

ResourceValue: TypeAlias = str | bool | int | float


@dataclass(frozen=True, slots=True)
class Producer:
    """An application behind the bridge: its resource attributes (``service.name`` at
    least) and the destinations its spans go to (``None``: every destination)."""

    resource: tuple[tuple[str, ResourceValue], ...]
    destinations: tuple[str, ...] | None = None

    def attributes(self) -> dict[str, ResourceValue]:
        return dict(self.resource)

    def sends_to(self, destination: str) -> bool:
        """Whether this producer's spans go to ``destination``."""
        return self.destinations is None or destination in self.destinations

    def to_json(self) -> dict[str, Any]:
        """The producer as stored (:func:`producer_from_json` reads it back)."""
        value: dict[str, Any] = {"resource": dict(self.resource)}
        if self.destinations is not None:
            value["destinations"] = list(self.destinations)
        return value


def producer_from_json(value: object) -> Producer | None:
    """The producer stored as ``value`` (:meth:`Producer.to_json`); ``None`` when there is
    none, or it is not one (what was stored is never refused: its spans go out under the
    exporter's own resource instead)."""
    if not isinstance(value, Mapping):
        return None
    resource = value.get("resource")
    if not isinstance(resource, Mapping) or not resource:
        return None
    pairs = tuple((k, v) for k, v in resource.items()
                  if isinstance(k, str) and isinstance(v, str | bool | int | float))
    names = value.get("destinations")
    destinations = None
    if isinstance(names, list):
        destinations = tuple(n for n in names if isinstance(n, str))
    return Producer(pairs, destinations)


def claims_producer(item: object) -> bool:
    """Whether a client's item holds the member where agent-otlp keeps producers: its text is
    then never stored as sent (only what the bridge authenticated names a producer)."""
    if type(item) is dict:  # the usual case: no ABC check
        return PRODUCER_MEMBER in item
    return isinstance(item, Mapping) and PRODUCER_MEMBER in item


def stored_producer(item: object) -> Producer | None:
    """The producer a stored item's payload (parsed) holds, if any."""
    if type(item) is not dict and not isinstance(item, Mapping):
        return None
    member = item.get(PRODUCER_MEMBER)
    return None if member is None else producer_from_json(member)


def with_producer(payload: bytes, producer: Producer | None) -> bytes:
    """A stored item's payload (a JSON object's text) with ``producer`` as its member
    :data:`PRODUCER_MEMBER`; unchanged without one."""
    if producer is None:
        return payload
    end = payload.rstrip().rfind(b"}")
    if end < 1:
        return payload
    member = json.dumps(producer.to_json(), ensure_ascii=False, separators=(",", ":"))
    head = payload[:end].rstrip()
    separator = b"" if head.endswith(b"{") else b","
    return b"".join((head, separator, b'"', PRODUCER_MEMBER.encode(), b'":', member.encode(), b"}"))


_Entry = TypeVar("_Entry")


def routed(entries: list[_Entry], destination: str) -> list[_Entry]:
    """The entries (span records, trace ends) that go to ``destination``: all but the spans
    of a producer that names other destinations (``entries`` itself when none is held back)."""
    if all([getattr(e, "producer", None) is None or e.producer.destinations is None  # type: ignore[attr-defined]
            for e in entries]):
        return entries
    return [e for e in entries
            if getattr(e, "producer", None) is None or e.producer.sends_to(destination)]  # type: ignore[attr-defined]
