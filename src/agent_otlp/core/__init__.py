"""The core of agent-otlp: conversion, hook specifications, configuration and export."""

from __future__ import annotations

from agent_otlp.core.config.errors import AgentOTLPError, ConfigError, InputError
from agent_otlp.core.config.settings import Settings
from agent_otlp.core.convert.records import AgentSpan, AgentTrace, EventRecord, SpanRecord
from agent_otlp.core.pipeline.exporter import AgentExporter, FlushReport
from agent_otlp.core.plugins.hookspecs import hookimpl, hookspec

__all__ = [
    "AgentExporter",
    "AgentOTLPError",
    "AgentSpan",
    "AgentTrace",
    "ConfigError",
    "EventRecord",
    "FlushReport",
    "InputError",
    "Settings",
    "SpanRecord",
    "hookimpl",
    "hookspec",
]
