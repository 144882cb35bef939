"""Conformance rules for exported spans, written from the GenAI semantic-conventions
registry (``open-telemetry/semantic-conventions-genai``: ``model/gen-ai/registry.yaml``,
``spans.yaml``, the guardrail and MCP conventions, the OpenAI refinements).

:func:`violations` lists what a received span breaks: its name and kind for its operation,
required and conditionally required attributes, attribute types and enum values, keys in
the ``gen_ai.*``, ``openai.*`` and ``mcp.*`` namespaces the registry does not define,
``error.type`` values, and content that breaks the message JSON schemas.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from typing import Any, Final

from agent_otlp.core.convert.records import SpanKind, StatusCode
from agent_otlp.testing import ReceivedSpan
from conformance.schemas import (
    input_messages_errors,
    output_messages_errors,
    system_instructions_errors,
)

STR, INT, DOUBLE, BOOL, STRS, ANY = "string", "int", "double", "boolean", "string[]", "any"

#: Every attribute of the registry's ``gen_ai`` group, with its type.
GEN_AI: Final[dict[str, str]] = {
    "gen_ai.provider.name": STR, "gen_ai.request.model": STR,
    "gen_ai.request.max_tokens": INT, "gen_ai.request.choice.count": INT,
    "gen_ai.request.temperature": DOUBLE, "gen_ai.request.top_p": DOUBLE,
    "gen_ai.request.top_k": DOUBLE, "gen_ai.request.stop_sequences": STRS,
    "gen_ai.request.frequency_penalty": DOUBLE, "gen_ai.request.presence_penalty": DOUBLE,
    "gen_ai.request.encoding_formats": STRS, "gen_ai.request.seed": INT,
    "gen_ai.request.stream": BOOL, "gen_ai.response.id": STR, "gen_ai.response.model": STR,
    "gen_ai.response.finish_reasons": STRS, "gen_ai.response.time_to_first_chunk": DOUBLE,
    "gen_ai.usage.input_tokens": INT, "gen_ai.usage.cache_read.input_tokens": INT,
    "gen_ai.usage.cache_creation.input_tokens": INT, "gen_ai.usage.text.input_tokens": INT,
    "gen_ai.usage.image.input_tokens": INT, "gen_ai.usage.audio.input_tokens": INT,
    "gen_ai.usage.video.input_tokens": INT, "gen_ai.usage.output_tokens": INT,
    "gen_ai.usage.reasoning.output_tokens": INT, "gen_ai.usage.text.output_tokens": INT,
    "gen_ai.usage.audio.output_tokens": INT, "gen_ai.conversation.id": STR,
    "gen_ai.agent.id": STR, "gen_ai.agent.name": STR, "gen_ai.agent.description": STR,
    "gen_ai.agent.version": STR, "gen_ai.tool.name": STR, "gen_ai.tool.call.id": STR,
    "gen_ai.tool.description": STR, "gen_ai.tool.type": STR, "gen_ai.tool.call.arguments": ANY,
    "gen_ai.tool.call.result": ANY, "gen_ai.tool.definitions": ANY,
    "gen_ai.data_source.id": STR, "gen_ai.operation.name": STR, "gen_ai.output.type": STR,
    "gen_ai.embeddings.dimension.count": INT, "gen_ai.system_instructions": ANY,
    "gen_ai.input.messages": ANY, "gen_ai.output.messages": ANY, "gen_ai.workflow.name": STR,
    "gen_ai.prompt.name": STR,
    # guardrails
    "gen_ai.guardrail.component.name": STR, "gen_ai.guardrail.policy.id": STR,
    "gen_ai.guardrail.policy.version": STR, "gen_ai.guardrail.policy.rule.id": STR,
    "gen_ai.guardrail.result.type": STR, "gen_ai.guardrail.result.value": STR,
    "gen_ai.guardrail.result.reason": STR, "gen_ai.guardrail.source": STR,
    "gen_ai.guardrail.risk.category": STR, "gen_ai.guardrail.risk.score": DOUBLE,
    "gen_ai.guardrail.content.input.value": ANY, "gen_ai.guardrail.content.output.value": ANY,
}
#: Deprecated names, written only with the compatibility switch (``legacy_attributes``).
DEPRECATED: Final[dict[str, str]] = {
    "gen_ai.system": STR, "gen_ai.usage.prompt_tokens": INT,
    "gen_ai.usage.completion_tokens": INT,
}
OPENAI: Final[dict[str, str]] = {
    "openai.api.type": STR, "openai.request.service_tier": STR,
    "openai.response.service_tier": STR, "openai.response.system_fingerprint": STR,
}
MCP: Final[dict[str, str]] = {
    "mcp.method.name": STR, "mcp.session.id": STR, "mcp.protocol.version": STR,
    "mcp.resource.uri": STR,
}
OTHER: Final[dict[str, str]] = {"error.type": STR, "server.address": STR, "server.port": INT}
REGISTRY: Final = {**GEN_AI, **OPENAI, **MCP, **OTHER}

ENUMS: Final[dict[str, frozenset[str]]] = {
    "gen_ai.operation.name": frozenset({
        "chat", "generate_content", "text_completion", "embeddings", "retrieval",
        "create_agent", "invoke_agent", "execute_tool", "invoke_workflow", "plan",
        "search_memory", "create_memory", "update_memory", "upsert_memory", "delete_memory",
        "create_memory_store", "delete_memory_store", "apply_guardrail", "fetch_response"}),
    "gen_ai.output.type": frozenset({"text", "json", "image", "speech"}),
    "openai.api.type": frozenset({"chat_completions", "responses"}),
    "mcp.method.name": frozenset({
        "initialize", "ping", "tools/list", "tools/call", "prompts/list", "prompts/get",
        "resources/list", "resources/read", "resources/templates/list", "resources/subscribe",
        "resources/unsubscribe", "completion/complete", "logging/setLevel",
        "sampling/createMessage", "elicitation/create", "roots/list",
        "notifications/initialized", "notifications/cancelled", "notifications/progress",
        "notifications/message", "notifications/tools/list_changed",
        "notifications/resources/list_changed", "notifications/resources/updated",
        "notifications/prompts/list_changed", "notifications/roots/list_changed"}),
}
#: An ``error.type`` is low-cardinality: a class, code or enum-like name.
ERROR_TYPE: Final = re.compile(r"[A-Za-z_][A-Za-z0-9_.:-]{0,127}")
CONTENT_VALIDATORS: Final[dict[str, Callable[[Any], list[str]]]] = {
    "gen_ai.input.messages": input_messages_errors,
    "gen_ai.output.messages": output_messages_errors,
    "gen_ai.system_instructions": system_instructions_errors,
}


class Operation:
    """One operation's span: its kind, how its name is built, what it requires."""

    def __init__(self, kind: int, name_from: str | None, required: tuple[str, ...],
                 conditional: tuple[str, ...] = ()) -> None:
        self.kind, self.name_from, self.required = kind, name_from, required
        self.conditional = conditional  # listed for the doc; "when available" is not testable

    def name(self, span: ReceivedSpan, operation: str) -> str:
        target = span.attributes.get(self.name_from) if self.name_from else None
        return f"{operation} {target}" if target else operation


OPERATIONS: Final[dict[str, Operation]] = {
    "chat": Operation(SpanKind.CLIENT, "gen_ai.request.model",
                      ("gen_ai.operation.name", "gen_ai.provider.name"),
                      ("gen_ai.request.model", "gen_ai.conversation.id", "gen_ai.output.type",
                       "error.type", "gen_ai.request.seed", "gen_ai.request.choice.count",
                       "server.port", "openai.request.service_tier",
                       "openai.response.service_tier")),
    "invoke_agent": Operation(SpanKind.INTERNAL, "gen_ai.agent.name", ("gen_ai.operation.name",),
                              ("gen_ai.provider.name", "gen_ai.agent.name",
                               "gen_ai.conversation.id", "gen_ai.output.type", "error.type")),
    "execute_tool": Operation(SpanKind.INTERNAL, "gen_ai.tool.name", ("gen_ai.operation.name",),
                              ("gen_ai.tool.call.id", "error.type")),
    "invoke_workflow": Operation(SpanKind.INTERNAL, "gen_ai.workflow.name",
                                 ("gen_ai.operation.name",),
                                 ("gen_ai.workflow.name", "gen_ai.conversation.id", "error.type")),
}
GUARDRAIL_EVENT: Final = "gen_ai.guardrail.result"
CONTENT_EVENT: Final = "gen_ai.client.inference.operation.details"


def _type_ok(kind: str, value: Any) -> bool:
    if kind == STR:
        return isinstance(value, str)
    if kind == INT:
        return isinstance(value, int) and not isinstance(value, bool)
    if kind == DOUBLE:
        return isinstance(value, float)
    if kind == BOOL:
        return isinstance(value, bool)
    if kind == STRS:
        return isinstance(value, list) and all(isinstance(v, str) for v in value)
    return True


def attribute_violations(attrs: dict[str, Any], where: str, legacy: bool) -> list[str]:
    """Unknown or deprecated keys in the conventions' namespaces, bad types and enum values,
    bad ``error.type`` values, content that breaks its JSON schema."""
    out: list[str] = []
    known = {**REGISTRY, **(DEPRECATED if legacy else {})}
    for key, value in attrs.items():
        if key.startswith(("gen_ai.", "openai.", "mcp.")) and key not in known:
            out.append(f"{where}: {key} is not in the registry")
            continue
        kind = known.get(key)
        if kind is None:
            continue
        if not _type_ok(kind, value):
            out.append(f"{where}: {key}={value!r} is not of type {kind}")
        elif key in ENUMS and value not in ENUMS[key]:
            out.append(f"{where}: {key}={value!r} is not a registry value")
        if key == "error.type" and not ERROR_TYPE.fullmatch(str(value)):
            out.append(f"{where}: error.type={value!r} is not a low-cardinality name")
        if key in CONTENT_VALIDATORS:
            try:
                document = json.loads(value)
            except (TypeError, ValueError):
                out.append(f"{where}: {key} is not JSON")
                continue
            out.extend(f"{where}: {key} {e}" for e in CONTENT_VALIDATORS[key](document))
    return out


def _event_violations(span: ReceivedSpan, legacy: bool) -> list[str]:
    out: list[str] = []
    for event in span.events:
        where = f"{span.name!r} event {event.name}"
        out.extend(attribute_violations(event.attributes, where, legacy))
        if event.name == GUARDRAIL_EVENT:
            extra = set(event.attributes) - {k for k in GEN_AI if k.startswith("gen_ai.guardrail.")}
            extra -= {"error.type", "gen_ai.provider.name"}
            if extra:
                out.append(f"{where}: attributes outside the event's definition: {sorted(extra)}")
            if "gen_ai.guardrail.result.type" in event.attributes and (
                "gen_ai.guardrail.result.value" not in event.attributes
            ):
                out.append(f"{where}: result.type without result.value")
    return out


def violations(span: ReceivedSpan, *, legacy: bool = False) -> list[str]:
    """Everything ``span`` breaks (empty when it conforms)."""
    where = repr(span.name)
    out = attribute_violations(span.attributes, where, legacy)
    out.extend(_event_violations(span, legacy))
    attrs = span.attributes
    if span.status_code == StatusCode.ERROR and "error.type" not in attrs:
        out.append(f"{where}: an ERROR span without error.type")
    if "server.address" in attrs and "server.port" not in attrs:
        out.append(f"{where}: server.address without server.port")
    operation = attrs.get("gen_ai.operation.name")
    method = attrs.get("mcp.method.name")
    if isinstance(operation, str) and operation in OPERATIONS:
        rule = OPERATIONS[operation]
        expected = rule.name(span, operation)
        if span.name != expected:
            out.append(f"{where}: the span of {operation} is named {expected!r}")
        if span.kind != rule.kind:
            out.append(f"{where}: kind {span.kind}, {operation} spans are {rule.kind}")
        out.extend(f"{where}: lacks the required {k}" for k in rule.required if k not in attrs)
        if method is not None and (operation, method) != ("execute_tool", "tools/call"):
            out.append(f"{where}: mcp.method.name={method!r} on a {operation} span")
    elif method is not None:  # an MCP client span of its own
        tool = attrs.get("gen_ai.tool.name")
        expected = f"{method} {tool}" if tool else str(method)
        if span.name != expected:
            out.append(f"{where}: the MCP span is named {expected!r}")
        if span.kind != SpanKind.CLIENT:
            out.append(f"{where}: an MCP client span is CLIENT")
    return out
