"""The time range of a historical export: times as users give them (``2024-05-01``, ISO 8601
with or without an offset, ``now``, ``2h`` ago) read as Unix nanoseconds, and the range a
job keeps (:class:`ExportRange`), its relative times resolved once."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Final

from agent_otlp.core.config.errors import ConfigError

__all__ = ["ExportRange", "is_relative", "iso_time", "parse_time"]

_RELATIVE: Final = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(s|m|h|d|w)\s*(?:ago)?\s*$", re.IGNORECASE)
_UNIT_SECONDS: Final = {"s": 1, "m": 60, "h": 3600, "d": 86_400, "w": 604_800}
_EPOCH: Final = datetime(1970, 1, 1, tzinfo=UTC)


def parse_time(text: str, now: datetime | None = None) -> int:
    """Unix nanoseconds from ``2024-05-01``, ``2024-05-01T12:00:00+02:00`` (UTC when no
    offset is given), ``now``, or a duration back from now (``90m``, ``2h``, ``7d``)."""
    now = now or datetime.now(UTC)
    raw = text.strip()
    match = _RELATIVE.match(raw)
    if raw.lower() == "now":
        moment = now
    elif match:
        moment = now - timedelta(seconds=float(match.group(1)) * _UNIT_SECONDS[match.group(2).lower()])
    else:
        try:
            moment = datetime.fromisoformat(raw.replace("Z", "+00:00"))
        except ValueError:
            raise ConfigError(
                "time", text, "ISO 8601 (2024-05-01, 2024-05-01T12:00:00Z), 'now' or 2h/7d ago"
            ) from None
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=UTC)
    delta = moment - _EPOCH
    return (delta.days * 86_400 + delta.seconds) * 1_000_000_000 + delta.microseconds * 1000


def is_relative(text: str) -> bool:
    """True for the forms of :func:`parse_time` that depend on when they are read."""
    raw = text.strip()
    return raw.lower() == "now" or _RELATIVE.match(raw) is not None


def _moment(ns: int) -> datetime:
    return _EPOCH + timedelta(microseconds=ns // 1000)


def iso_time(ns: int | None) -> str:
    """``ns`` as ISO 8601 to the second (``-`` for none)."""
    return "-" if ns is None else _moment(ns).isoformat(timespec="seconds").replace("+00:00", "Z")


@dataclass(frozen=True, slots=True)
class ExportRange:
    """The time range of an export, relative times resolved.

    ``resolved_ns`` is the moment relative times (``2h``, ``now``) were resolved against,
    ``None`` when both ends are absolute. A relative ``--since`` without ``--until`` ends at
    that moment, so the range of a job never moves.
    """

    since_ns: int | None
    until_ns: int | None
    resolved_ns: int | None = None

    @classmethod
    def resolve(cls, since: str | None, until: str | None, now_ns: int) -> ExportRange:
        now = _moment(now_ns)
        since_ns = parse_time(since, now) if since else None
        until_ns = parse_time(until, now) if until else None
        if not any(text and is_relative(text) for text in (since, until)):
            return cls(since_ns, until_ns)
        if until_ns is None:
            until_ns = parse_time("now", now)
        return cls(since_ns, until_ns, parse_time("now", now))

    def length_ns(self) -> int:
        """How long the range is (up to its resolution for an open start)."""
        end = self.until_ns if self.until_ns is not None else self.resolved_ns or 0
        start = self.since_ns if self.since_ns is not None else self.until_ns or 0
        return max(0, end - start)

    def describe(self) -> str:
        text = f"{iso_time(self.since_ns)} to {iso_time(self.until_ns)}"
        return text if self.resolved_ns is None else f"{text}, relative times read at {iso_time(self.resolved_ns)}"
