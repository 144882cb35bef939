"""Test helpers: a real in-process OTLP trace receiver and its pytest fixtures.

Names are resolved lazily, so that the ``pytest11`` plugin living in this package does
not import gRPC and protobuf into test runs that never use a receiver.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .receiver import (
        OTLPReceiver,
        ReceivedEvent,
        ReceivedLink,
        ReceivedRequest,
        ReceivedSpan,
        Reply,
        TLSConfig,
        decode_any_value,
    )

__all__ = [
    "OTLPReceiver",
    "ReceivedEvent",
    "ReceivedLink",
    "ReceivedRequest",
    "ReceivedSpan",
    "Reply",
    "TLSConfig",
    "decode_any_value",
]


def __getattr__(name: str) -> Any:
    if name in __all__:
        from . import receiver

        return getattr(receiver, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
