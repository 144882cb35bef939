"""Each agent span type's ``span_data`` as OpenTelemetry GenAI attributes: one mapper per
type (``docs/conversion.md`` has the table), and which fields each type maps or treats as
content, so the rest can be flattened under ``openai_agents.span_data``."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final

from opentelemetry.semconv._incubating.attributes import gen_ai_attributes as ga
from opentelemetry.semconv._incubating.attributes import mcp_attributes as mcp

from agent_otlp.core.convert.attributes import (
    GUARDRAIL_NAME,
    GUARDRAIL_TRIGGERED,
    HANDOFF_FROM,
    HANDOFF_TO,
    NAMESPACE,
    PROVIDER,
    SPAN_DATA,
)
from agent_otlp.core.convert.flatten import clean_str, flatten_into, is_mapping, safe_json
from agent_otlp.core.convert.records import Attributes

__all__ = [
    "CLIENT_TYPES",
    "DEFAULT_SKIP",
    "MAPPERS",
    "SKIP",
    "ConvertOptions",
    "Mapper",
    "span_name",
]

# span_data fields that are content: never flattened into the namespace.
_CONTENT_FIELDS: Final[dict[str, frozenset[str]]] = {
    "generation": frozenset({"input", "output"}),
    "response": frozenset({"input", "output", "response"}),
    "function": frozenset({"input", "output"}),
    "speech": frozenset({"input", "output"}),
    "transcription": frozenset({"input", "output"}),
    "speech_group": frozenset({"input"}),
}
# span_data fields that become semantic-convention attributes instead.
_MAPPED_FIELDS: Final[dict[str, frozenset[str]]] = {
    "agent": frozenset({"type", "name"}),
    "generation": frozenset({"type", "model", "model_config", "usage"}),
    "response": frozenset({"type", "response_id", "usage", "model"}),
    "function": frozenset({"type", "name"}),
    "handoff": frozenset({"type", "from_agent", "to_agent"}),
    "mcp_tools": frozenset({"type"}),
    "speech": frozenset({"type", "model"}),
    "transcription": frozenset({"type", "model"}),
}
_REQUEST_PARAMS: Final[dict[str, str]] = {
    "temperature": ga.GEN_AI_REQUEST_TEMPERATURE,
    "max_tokens": ga.GEN_AI_REQUEST_MAX_TOKENS,
    "max_output_tokens": ga.GEN_AI_REQUEST_MAX_TOKENS,
    "top_p": ga.GEN_AI_REQUEST_TOP_P,
    "top_k": ga.GEN_AI_REQUEST_TOP_K,
    "frequency_penalty": ga.GEN_AI_REQUEST_FREQUENCY_PENALTY,
    "presence_penalty": ga.GEN_AI_REQUEST_PRESENCE_PENALTY,
    "seed": ga.GEN_AI_REQUEST_SEED,
    "stop": ga.GEN_AI_REQUEST_STOP_SEQUENCES,
    "n": ga.GEN_AI_REQUEST_CHOICE_COUNT,
}


@dataclass(frozen=True, slots=True)
class ConvertOptions:
    """What conversion records beyond the default.

    :param capture_content: record messages, instructions and tool arguments/results.
    :param legacy_attributes: also write the deprecated ``gen_ai.system`` and
        ``gen_ai.usage.prompt_tokens``/``completion_tokens``.
    """

    capture_content: bool = False
    legacy_attributes: bool = False


def _number(value: Any) -> int | float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return value


def _usage(attrs: Attributes, usage: Any, legacy: bool) -> None:
    if not is_mapping(usage):
        return
    inp = _number(usage.get("input_tokens", usage.get("prompt_tokens")))
    out = _number(usage.get("output_tokens", usage.get("completion_tokens")))
    if inp is not None:
        attrs[ga.GEN_AI_USAGE_INPUT_TOKENS] = int(inp)
        if legacy:
            attrs[ga.GEN_AI_USAGE_PROMPT_TOKENS] = int(inp)
    if out is not None:
        attrs[ga.GEN_AI_USAGE_OUTPUT_TOKENS] = int(out)
        if legacy:
            attrs[ga.GEN_AI_USAGE_COMPLETION_TOKENS] = int(out)
    in_details = usage.get("input_tokens_details")
    if is_mapping(in_details):
        cached = _number(in_details.get("cached_tokens"))
        if cached is not None:
            attrs[ga.GEN_AI_USAGE_CACHE_READ_INPUT_TOKENS] = int(cached)
    out_details = usage.get("output_tokens_details")
    if is_mapping(out_details):
        reasoning = _number(out_details.get("reasoning_tokens"))
        if reasoning is not None:
            attrs[ga.GEN_AI_USAGE_REASONING_OUTPUT_TOKENS] = int(reasoning)
    for key, value in usage.items():
        if key not in ("input_tokens", "output_tokens", "prompt_tokens", "completion_tokens"):
            flatten_into(attrs, f"{SPAN_DATA}.usage.{key}", value)


def _model_config(attrs: Attributes, config: Any) -> None:
    if not is_mapping(config):
        return
    for key, value in config.items():
        target = _REQUEST_PARAMS.get(key)
        if target is None or value is None:
            flatten_into(attrs, f"{SPAN_DATA}.model_config.{key}", value)
        elif target == ga.GEN_AI_REQUEST_STOP_SEQUENCES:
            stops = [value] if isinstance(value, str) else value
            flatten_into(attrs, target, list(stops) if isinstance(stops, Sequence) else stops)
        else:
            flatten_into(attrs, target, value)


def _parts(content: Any) -> list[dict[str, Any]]:
    if isinstance(content, str):
        return [{"type": "text", "content": content}]
    if isinstance(content, list):
        parts: list[dict[str, Any]] = []
        for piece in content:
            if isinstance(piece, Mapping) and isinstance(piece.get("text"), str):
                parts.append({"type": "text", "content": piece["text"]})
            else:
                parts.append({"type": "unknown", "content": piece})
        return parts
    return [] if content is None else [{"type": "unknown", "content": content}]


def _message(message: Any) -> dict[str, Any]:
    """A chat message in the GenAI conventions' role/parts shape."""
    if not isinstance(message, Mapping):
        return {"role": "user", "parts": _parts(message)}
    role = message.get("role") if isinstance(message.get("role"), str) else "user"
    parts = _parts(message.get("content"))
    for call in message.get("tool_calls") or ():
        if isinstance(call, Mapping):
            function = call.get("function")
            fn: Mapping[str, Any] = function if isinstance(function, Mapping) else {}
            parts.append(
                {
                    "type": "tool_call",
                    "id": call.get("id"),
                    "name": fn.get("name", call.get("name")),
                    "arguments": fn.get("arguments", call.get("arguments")),
                }
            )
    if role == "tool":
        return {"role": "tool", "parts": [
            {"type": "tool_call_response", "id": message.get("tool_call_id"),
             "response": message.get("content")}
        ]}
    out: dict[str, Any] = {"role": role, "parts": parts}
    if isinstance(message.get("finish_reason"), str):
        out["finish_reason"] = message["finish_reason"]
    return out


def _finish_reasons(output: Any) -> list[str]:
    reasons: list[str] = []
    for message in output if isinstance(output, list) else ():
        if not is_mapping(message):
            continue
        reason = message.get("finish_reason")
        if isinstance(reason, str):
            reasons.append(reason)
        elif message.get("role") == "assistant":
            reasons.append("tool_calls" if message.get("tool_calls") else "stop")
    return reasons


def _generation(attrs: Attributes, data: Mapping[str, Any], opts: ConvertOptions) -> str:
    model = data.get("model")
    attrs[ga.GEN_AI_OPERATION_NAME] = "chat"
    attrs[ga.GEN_AI_PROVIDER_NAME] = PROVIDER
    if isinstance(model, str) and model:
        attrs[ga.GEN_AI_REQUEST_MODEL] = clean_str(model)
        attrs[ga.GEN_AI_RESPONSE_MODEL] = clean_str(model)
    _model_config(attrs, data.get("model_config"))
    _usage(attrs, data.get("usage"), opts.legacy_attributes)
    reasons = _finish_reasons(data.get("output"))
    if reasons:
        attrs[ga.GEN_AI_RESPONSE_FINISH_REASONS] = reasons
    if opts.capture_content:
        given = data.get("input")
        messages: list[Any] = given if isinstance(given, list) else []
        system = [m for m in messages if isinstance(m, Mapping) and m.get("role") == "system"]
        others = [_message(m) for m in messages if m not in system]
        if system:
            attrs[ga.GEN_AI_SYSTEM_INSTRUCTIONS] = safe_json(
                [p for m in system for p in _parts(m.get("content"))]
            )
        if others:
            attrs[ga.GEN_AI_INPUT_MESSAGES] = safe_json(others)
        output = data.get("output")
        if isinstance(output, list) and output:
            attrs[ga.GEN_AI_OUTPUT_MESSAGES] = safe_json([_message(m) for m in output])
    return f"chat {model}" if isinstance(model, str) and model else "chat"


def _response(attrs: Attributes, data: Mapping[str, Any], opts: ConvertOptions) -> str:
    attrs[ga.GEN_AI_OPERATION_NAME] = "chat"
    attrs[ga.GEN_AI_PROVIDER_NAME] = PROVIDER
    model = data.get("model")
    if isinstance(model, str) and model:
        attrs[ga.GEN_AI_REQUEST_MODEL] = clean_str(model)
        attrs[ga.GEN_AI_RESPONSE_MODEL] = clean_str(model)
    if isinstance(data.get("response_id"), str):
        attrs[ga.GEN_AI_RESPONSE_ID] = clean_str(data["response_id"])
    _usage(attrs, data.get("usage"), opts.legacy_attributes)
    if opts.capture_content:
        if data.get("input") is not None:
            inp = data["input"]
            messages = [_message(m) for m in inp] if isinstance(inp, list) else [_message(inp)]
            attrs[ga.GEN_AI_INPUT_MESSAGES] = safe_json(messages)
        if data.get("output") is not None:
            attrs[ga.GEN_AI_OUTPUT_MESSAGES] = safe_json(data["output"])
    return f"chat {model}" if isinstance(model, str) and model else "chat"


def _text(value: Any) -> str:
    return clean_str(value) if isinstance(value, str) else safe_json(value)


def _function(attrs: Attributes, data: Mapping[str, Any], opts: ConvertOptions) -> str:
    name = span_name(data, "tool")
    attrs[ga.GEN_AI_OPERATION_NAME] = "execute_tool"
    attrs[ga.GEN_AI_TOOL_NAME] = name
    attrs[ga.GEN_AI_TOOL_TYPE] = "function"
    call_id = data.get("call_id", data.get("tool_call_id"))
    if isinstance(call_id, str) and call_id:
        attrs[ga.GEN_AI_TOOL_CALL_ID] = clean_str(call_id)
    if opts.capture_content:
        if data.get("input") is not None:
            attrs[ga.GEN_AI_TOOL_CALL_ARGUMENTS] = _text(data["input"])
        if data.get("output") is not None:
            attrs[ga.GEN_AI_TOOL_CALL_RESULT] = _text(data["output"])
    return f"execute_tool {name}"


def span_name(data: Mapping[str, Any], fallback: str) -> str:
    name = data.get("name")
    return clean_str(name) if isinstance(name, str) and name else fallback


def _agent(attrs: Attributes, data: Mapping[str, Any], opts: ConvertOptions) -> str:
    name = span_name(data, "agent")
    attrs[ga.GEN_AI_OPERATION_NAME] = "invoke_agent"
    attrs[ga.GEN_AI_PROVIDER_NAME] = PROVIDER
    attrs[ga.GEN_AI_AGENT_NAME] = name
    return f"invoke_agent {name}"


def _handoff(attrs: Attributes, data: Mapping[str, Any], opts: ConvertOptions) -> str:
    source, target = data.get("from_agent"), data.get("to_agent")
    if isinstance(source, str) and source:
        attrs[ga.GEN_AI_AGENT_NAME] = attrs[HANDOFF_FROM] = clean_str(source)
    if isinstance(target, str) and target:
        attrs[HANDOFF_TO] = clean_str(target)
    return f"handoff {clean_str(target)}" if isinstance(target, str) and target else "handoff"


def _guardrail(attrs: Attributes, data: Mapping[str, Any], opts: ConvertOptions) -> str:
    name = span_name(data, "guardrail")
    attrs[GUARDRAIL_NAME] = name
    attrs[GUARDRAIL_TRIGGERED] = data.get("triggered") is True
    return f"guardrail {name}"


def _mcp_tools(attrs: Attributes, data: Mapping[str, Any], opts: ConvertOptions) -> str:
    attrs[mcp.MCP_METHOD_NAME] = "tools/list"
    server = data.get("server")
    return f"tools/list {clean_str(server)}" if isinstance(server, str) and server else "tools/list"


def _audio(operation: str, content_key: str, content_field: str) -> Mapper:
    def mapper(attrs: Attributes, data: Mapping[str, Any], opts: ConvertOptions) -> str:
        model = data.get("model")
        attrs[ga.GEN_AI_OPERATION_NAME] = operation
        attrs[ga.GEN_AI_PROVIDER_NAME] = PROVIDER
        if isinstance(model, str) and model:
            attrs[ga.GEN_AI_REQUEST_MODEL] = clean_str(model)
        if opts.capture_content and isinstance(data.get(content_field), str):
            attrs[content_key] = clean_str(data[content_field])
        return f"{operation} {model}" if isinstance(model, str) and model else operation

    return mapper


def _custom(attrs: Attributes, data: Mapping[str, Any], opts: ConvertOptions) -> str:
    inner = data.get("data")
    if isinstance(inner, Mapping) and inner.get("sdk_span_type") == "turn":
        agent = inner.get("agent_name")
        if isinstance(agent, str):
            attrs[ga.GEN_AI_AGENT_NAME] = clean_str(agent)
    return span_name(data, "custom")


Mapper = Callable[[Attributes, Mapping[str, Any], ConvertOptions], str]
MAPPERS: Final[dict[str, Mapper]] = {
    "agent": _agent,
    "generation": _generation,
    "response": _response,
    "function": _function,
    "handoff": _handoff,
    "guardrail": _guardrail,
    "custom": _custom,
    "mcp_tools": _mcp_tools,
    "speech": _audio("text_to_speech", f"{NAMESPACE}.speech.input", "input"),
    "transcription": _audio("speech_to_text", f"{NAMESPACE}.transcription.output", "output"),
    "speech_group": lambda attrs, data, opts: "speech_group",
}
CLIENT_TYPES: Final = frozenset({"generation", "response", "mcp_tools", "speech", "transcription"})
DEFAULT_SKIP: Final = frozenset({"type"})
#: span_data fields not flattened under ``openai_agents.span_data``, per span type.
SKIP: Final[dict[str, frozenset[str]]] = {
    kind: _MAPPED_FIELDS.get(kind, DEFAULT_SKIP) | _CONTENT_FIELDS.get(kind, frozenset())
    for kind in {*_MAPPED_FIELDS, *_CONTENT_FIELDS, *MAPPERS}
}
