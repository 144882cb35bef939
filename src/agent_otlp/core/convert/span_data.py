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
    GUARDRAIL_COMPONENT,
    GUARDRAIL_RESULT_TYPE,
    GUARDRAIL_RESULT_VALUE,
    GUARDRAIL_TRIGGERED,
    HANDOFF_FROM,
    HANDOFF_TO,
    NAMESPACE,
    OPENAI_API_TYPE,
    OPENAI_REQUEST_SERVICE_TIER,
    OPERATION,
    SPAN_DATA,
    TRIPWIRE,
)
from agent_otlp.core.convert.chat_completion import completions_into, response_only, usage_into
from agent_otlp.core.convert.flatten import clean_str, flatten_into, is_mapping, safe_json
from agent_otlp.core.convert.messages import Message, chat_messages, item_messages
from agent_otlp.core.convert.provider import provider_into, public_url
from agent_otlp.core.convert.records import Attributes
from agent_otlp.core.convert.responses import (
    is_response,
    output_messages_of,
    output_type,
    response_content,
    response_into,
)

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
    "agent": frozenset({"type", "name", "usage"}),
    "generation": frozenset({"type", "model", "model_config", "usage"}),
    "response": frozenset({"type", "response_id", "usage", "model"}),
    "function": frozenset({"type", "name"}),
    "handoff": frozenset({"type", "from_agent", "to_agent"}),
    "guardrail": frozenset({"type", "name", "triggered"}),
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
    "service_tier": OPENAI_REQUEST_SERVICE_TIER,
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


def _usage(attrs: Attributes, usage: Any, legacy: bool) -> None:
    if not is_mapping(usage):
        return
    usage_into(attrs, usage, legacy)
    for key, value in usage.items():
        if key not in ("input_tokens", "output_tokens", "prompt_tokens", "completion_tokens"):
            flatten_into(attrs, f"{SPAN_DATA}.usage.{key}", value)


def _model_config(attrs: Attributes, config: Any) -> None:
    if not is_mapping(config):
        return
    kind = output_type(config.get("response_format"))
    if kind is not None:
        attrs[ga.GEN_AI_OUTPUT_TYPE] = kind
    for key, value in config.items():
        if key == "base_url" and isinstance(value, str):
            value = public_url(value)  # never the credentials a URL may carry
        target = _REQUEST_PARAMS.get(key)
        if target is None or value is None:
            flatten_into(attrs, f"{SPAN_DATA}.model_config.{key}", value)
        elif target == ga.GEN_AI_REQUEST_STOP_SEQUENCES:
            stops = [value] if isinstance(value, str) else value
            flatten_into(attrs, target, list(stops) if isinstance(stops, Sequence) else stops)
        elif _typed_param(attrs, target, value) is None:  # not of the convention's type
            flatten_into(attrs, f"{SPAN_DATA}.model_config.{key}", value)


#: Request parameters the conventions type as integers (the other numeric ones are doubles).
_INT_PARAMS: Final = frozenset({ga.GEN_AI_REQUEST_MAX_TOKENS, ga.GEN_AI_REQUEST_SEED,
                                ga.GEN_AI_REQUEST_CHOICE_COUNT})


def _typed_param(attrs: Attributes, target: str, value: Any) -> Any:
    """``value`` written to ``target`` in the convention's type (int, double or string);
    ``None`` when it has another type."""
    if target == OPENAI_REQUEST_SERVICE_TIER:
        typed: Any = clean_str(value) if isinstance(value, str) else None
    elif isinstance(value, bool) or not isinstance(value, int | float) or value != value:
        typed = None
    elif target in _INT_PARAMS:
        typed = int(value) if float(value).is_integer() and abs(value) < 2**63 else None
    else:
        typed = float(value)
    if typed is not None:
        attrs[target] = typed
    return typed


def _finish_reasons(messages: list[Message]) -> list[str]:
    """The finish reasons the output messages name (none is guessed)."""
    return [m["finish_reason"] for m in messages if isinstance(m.get("finish_reason"), str)]


def _generation_output(attrs: Attributes, output: Any) -> list[Message]:
    """Output messages of a generation: chat messages or choices, or ``Response`` objects
    (a streamed Chat Completions call of the Python SDK), whose facts become attributes."""
    responses = [r for r in output if is_response(r)] if isinstance(output, list) else []
    for response in responses:
        response_into(attrs, response, rest=False)  # the rest is the SDK's own bookkeeping
    if responses:
        return output_messages_of(responses)
    return chat_messages(output)


def _generation(attrs: Attributes, data: Mapping[str, Any], opts: ConvertOptions) -> str:
    model = data.get("model")
    attrs[ga.GEN_AI_OPERATION_NAME] = "chat"
    provider_into(attrs, model, data.get("model_config"))
    attrs[OPENAI_API_TYPE] = "chat_completions"
    if isinstance(model, str) and model:  # the model asked for; the answering one is not known
        attrs[ga.GEN_AI_REQUEST_MODEL] = clean_str(model)
    _model_config(attrs, data.get("model_config"))
    _usage(attrs, data.get("usage"), opts.legacy_attributes)
    output = completions_into(attrs, data, opts.legacy_attributes)  # raw chat.completion objects
    messages = _generation_output(attrs, output)
    reasons = _finish_reasons(messages)
    if reasons:
        attrs[ga.GEN_AI_RESPONSE_FINISH_REASONS] = reasons
    if opts.capture_content:
        inputs = chat_messages(data.get("input"))
        if inputs:  # system messages are part of a Chat Completions history: kept there
            attrs[ga.GEN_AI_INPUT_MESSAGES] = safe_json(inputs)
        if messages:
            attrs[ga.GEN_AI_OUTPUT_MESSAGES] = safe_json(messages)
    return f"chat {model}" if isinstance(model, str) and model else "chat"


def _response(attrs: Attributes, data: Mapping[str, Any], opts: ConvertOptions) -> str:
    if response_only(data):  # no model, usage or content: not described as a chat call
        if isinstance(data.get("response_id"), str):
            attrs[ga.GEN_AI_RESPONSE_ID] = clean_str(data["response_id"])
        return "response"
    attrs[ga.GEN_AI_OPERATION_NAME] = "chat"
    provider_into(attrs, data.get("model"), data.get("model_config"))
    attrs[OPENAI_API_TYPE] = "responses"
    if isinstance(data.get("response_id"), str):
        attrs[ga.GEN_AI_RESPONSE_ID] = clean_str(data["response_id"])
    response = data.get("response")
    response = response if is_mapping(response) else {}
    model = data.get("model")  # the Response's model: the one that answered
    if isinstance(model, str) and model and "model" not in response:
        attrs[ga.GEN_AI_RESPONSE_MODEL] = clean_str(model)
    response_into(attrs, response)
    _usage(attrs, data.get("usage"), opts.legacy_attributes)
    if opts.capture_content:
        inputs = item_messages(data.get("input"))
        if inputs:
            attrs[ga.GEN_AI_INPUT_MESSAGES] = safe_json(inputs)
        content = dict(response)
        if content.get("output") is None and data.get("output") is not None:
            content["output"] = data["output"]  # files written before the response was kept
        response_content(attrs, content)
    return "chat"


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
    if is_mapping(data.get("mcp_data")):  # a tool of an MCP server: the MCP call it made
        attrs[mcp.MCP_METHOD_NAME] = "tools/call"
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
    attrs[ga.GEN_AI_AGENT_NAME] = name
    kind = data.get("output_type")
    if isinstance(kind, str) and kind:  # the SDK names ``str`` or a structured type
        attrs[ga.GEN_AI_OUTPUT_TYPE] = "text" if kind == "str" else "json"
    _usage(attrs, data.get("usage"), opts.legacy_attributes)
    reasons = data.get("finish_reasons")
    if isinstance(reasons, list) and reasons and all(isinstance(r, str) for r in reasons):
        attrs[ga.GEN_AI_RESPONSE_FINISH_REASONS] = [clean_str(r) for r in reasons]
    conversation = data.get("conversation_id")
    if isinstance(conversation, str) and conversation:
        attrs[ga.GEN_AI_CONVERSATION_ID] = clean_str(conversation)
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
    attrs[GUARDRAIL_COMPONENT] = name
    triggered = data.get("triggered")
    if isinstance(triggered, bool):  # the SDK's result field, its value as a string
        attrs[GUARDRAIL_RESULT_TYPE] = TRIPWIRE
        attrs[GUARDRAIL_RESULT_VALUE] = "true" if triggered else "false"
        attrs[GUARDRAIL_TRIGGERED] = triggered
    return f"guardrail {name}"


def _mcp_tools(attrs: Attributes, data: Mapping[str, Any], opts: ConvertOptions) -> str:
    attrs[mcp.MCP_METHOD_NAME] = "tools/list"  # the server's name stays in span_data.server
    return "tools/list"


def _audio(operation: str, content_key: str, content_field: str) -> Mapper:
    def mapper(attrs: Attributes, data: Mapping[str, Any], opts: ConvertOptions) -> str:
        model = data.get("model")
        attrs[OPERATION] = operation  # not an operation the GenAI conventions name
        provider_into(attrs, model, data.get("model_config"))
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
