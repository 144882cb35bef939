"""The core of agent-otlp: conversion, hook specifications, configuration and export."""

from __future__ import annotations

from agent_otlp.core.errors import AgentOTLPError, ConfigError, InputError
from agent_otlp.core.exporter import AgentExporter, FlushReport
from agent_otlp.core.factory import create_exporter
from agent_otlp.core.hookspecs import hookimpl, hookspec
from agent_otlp.core.records import AgentSpan, AgentTrace, EventRecord, SpanRecord
from agent_otlp.core.settings import Settings

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
    "create_exporter",
    "hookimpl",
    "hookspec",
]
