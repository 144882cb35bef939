"""Flushing at interpreter exit: every exporter (in-process or offload) registers one
callback, holding it only weakly, that shuts it down with its exit timeout."""

from __future__ import annotations

import logging
import weakref
from typing import Any, Protocol

__all__ = ["shutdown_at_exit"]

logger = logging.getLogger("agent_otlp.export")


class _Closable(Protocol):
    @property
    def closed(self) -> bool: ...

    @property
    def _exit_timeout(self) -> float: ...

    def shutdown(self, timeout: float = ...) -> Any: ...


def shutdown_at_exit(ref: weakref.ReferenceType[Any]) -> None:
    """The interpreter exits: shut the exporter ``ref`` points to down (never raises)."""
    exporter: _Closable | None = ref()
    if exporter is not None and not exporter.closed:
        try:
            exporter.shutdown(exporter._exit_timeout)
        except Exception:  # pragma: no cover - never fail interpreter exit
            logger.exception("agent-otlp: error while flushing at exit")
