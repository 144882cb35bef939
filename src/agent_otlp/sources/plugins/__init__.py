"""Sources as plugins: the hook specifications (:mod:`.hookspecs`), the manager that finds
them through the entry-point group ``agent_otlp.sources`` (:mod:`.manager`), and the types a
source returns (:mod:`.types`). A third-party source imports only from this module and
marks its hooks with ``@agent_otlp.hookimpl``; ``docs/sources.md`` documents each hook."""

from __future__ import annotations

from agent_otlp.sources.plugins.hookspecs import hookimpl, hookspec
from agent_otlp.sources.plugins.locations import masked_location
from agent_otlp.sources.plugins.types import SourceContext, SourceInventory, SourcePage, TimeRange

__all__ = [
    "SourceContext",
    "SourceInventory",
    "SourcePage",
    "TimeRange",
    "hookimpl",
    "hookspec",
    "masked_location",
]
