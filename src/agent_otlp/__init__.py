"""agent-otlp: agent traces (OpenAI Agents SDK format) to any OTLP backend.

One line exports every trace of the OpenAI Agents SDK::

    import agent_otlp
    agent_otlp.instrument_openai_agents()

Adapters implement the hooks in :mod:`agent_otlp.core.plugins.hookspecs` with
``@agent_otlp.hookimpl`` and register under the entry-point group ``agent_otlp.adapters``.
"""

from __future__ import annotations

from agent_otlp._version import __version__
from agent_otlp.core import (
    AgentExporter,
    AgentOTLPError,
    ConfigError,
    FlushReport,
    InputError,
    Settings,
    SpanRecord,
    hookimpl,
)
from agent_otlp.factory import create_exporter
from agent_otlp.instrument import instrument_openai_agents
from agent_otlp.sources.openai_agents import make_processor

__all__ = [
    "AgentExporter",
    "AgentOTLPError",
    "ConfigError",
    "FlushReport",
    "InputError",
    "Settings",
    "SpanRecord",
    "__version__",
    "create_exporter",
    "hookimpl",
    "instrument_openai_agents",
    "make_processor",
]
