"""A hook's implementations as plain functions, to call without pluggy's per-call machinery.

Only for hooks called once per span, and only where pluggy would add nothing: no wrapper
registered and hook calls not traced (``AGENT_OTLP_TRACE_PLUGINS``); otherwise the caller
goes through pluggy, which sees (and traces) every call.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

__all__ = ["DirectCalls", "direct_calls"]

#: ``(function, argument names)`` of each implementation, in pluggy's call order.
DirectCalls = list[tuple[Callable[..., Any], tuple[str, ...]]]


def direct_calls(caller: Any) -> DirectCalls | None:
    """The implementations of pluggy hook ``caller`` in call order; ``None`` when a wrapper
    is registered (then pluggy must run)."""
    try:
        impls = caller.get_hookimpls()
    except Exception:
        return None
    calls: DirectCalls = []
    for impl in reversed(impls):  # pluggy calls the last registered (and tryfirst) first
        if getattr(impl, "hookwrapper", False) or getattr(impl, "wrapper", False):
            return None
        calls.append((impl.function, tuple(impl.argnames)))
    return calls
