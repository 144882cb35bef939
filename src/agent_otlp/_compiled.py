"""Which of agent-otlp's per-span modules this installation runs compiled.

The binary wheels compile the modules every exported span goes through (conversion,
flattening, limits, wire encoding) with mypyc; an install from source, or an editable one,
runs them as plain Python. Both behave the same; the compiled ones use fewer instructions
per span. ``agent-otlp version`` shows which this installation has.
"""

from __future__ import annotations

from importlib import import_module
from typing import Final

__all__ = ["COMPILED_MODULES", "compiled_modules"]

#: The modules the wheel build compiles (``[tool.hatch.build.targets.wheel.hooks.mypyc]``).
COMPILED_MODULES: Final = (
    "agent_otlp.core.convert.spans",
    "agent_otlp.core.convert.span_data",
    "agent_otlp.core.convert.attributes",
    "agent_otlp.core.wire.encode",
    "agent_otlp.core.convert.flatten",
    "agent_otlp.core.convert.ids",
    "agent_otlp.core.convert.records",
    "agent_otlp.core.convert.content",
    "agent_otlp.core.plugins.limits",
    "agent_otlp.adapters._budget",
)


def compiled_modules() -> list[str]:
    """The modules of :data:`COMPILED_MODULES` that were loaded from an extension module."""
    compiled = []
    for name in COMPILED_MODULES:
        path = getattr(import_module(name), "__file__", None) or ""
        if not path.endswith(".py"):
            compiled.append(name)
    return compiled
