"""What a Responses API ``Response`` object says, as span attributes.

A response span carries the ``Response`` the model answered with (``span_data.response``,
as :func:`agent_otlp.core.convert.sdk.sdk_span_item` writes it from the live SDK object,
under the API's field names), and a streamed Chat Completions generation of the Python SDK
records the same kind of object as its ``output``. From it come the model that answered,
the request's parameters as the API echoed them, the service tier, the requested output
type, the conversation, the finish reason when the response says why it stopped, and the
output and instructions as content. Only what the object holds is written. Pure: no I/O.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

from opentelemetry.semconv._incubating.attributes import gen_ai_attributes as ga

from agent_otlp.core.convert.attributes import OPENAI_RESPONSE_SERVICE_TIER, SPAN_DATA
from agent_otlp.core.convert.flatten import clean_str, flatten_into, is_mapping, safe_json
from agent_otlp.core.convert.messages import Message, item_messages, output_message, text_parts
from agent_otlp.core.convert.records import Attributes

__all__ = [
    "CONTENT_KEYS",
    "KEPT_KEYS",
    "finish_reason",
    "is_response",
    "output_type",
    "response_content",
    "response_into",
]

#: The fields of a ``Response`` the export keeps: facts about the call.
KEPT_KEYS: Final = (
    "id", "object", "created_at", "model", "status", "incomplete_details", "error",
    "temperature", "top_p", "max_output_tokens", "max_tool_calls", "top_logprobs",
    "service_tier", "text", "conversation", "previous_response_id", "reasoning",
    "tool_choice", "parallel_tool_calls", "truncation", "store", "background",
)
#: The fields that are content: kept only when content capture is on.
CONTENT_KEYS: Final = ("output", "instructions")
_PARAMS: Final = {
    "temperature": ga.GEN_AI_REQUEST_TEMPERATURE,
    "top_p": ga.GEN_AI_REQUEST_TOP_P,
    "max_output_tokens": ga.GEN_AI_REQUEST_MAX_TOKENS,
}
#: Mapped here; not repeated under ``openai_agents.span_data.response``.
_MAPPED: Final = frozenset({"id", "object", "model", "service_tier", "conversation", *_PARAMS,
                            *CONTENT_KEYS})
#: Kept under ``openai_agents.span_data.response.*``: the facts without a convention's name
#: (not the content, tool definitions or usage a whole ``Response`` also holds).
_REST: Final = frozenset(KEPT_KEYS) - _MAPPED
#: ``incomplete_details.reason`` -> the conventions' finish reason.
_INCOMPLETE: Final = {"max_output_tokens": "length", "content_filter": "content_filter"}
_JSON_FORMATS: Final = frozenset({"json_schema", "json_object"})
#: The id the Agents SDK gives a ``Response`` it builds itself (from a streamed Chat
#: Completions call): such an object's id is no response's and its model is the one asked for.
SDK_PLACEHOLDER_ID: Final = "__fake_id__"


def is_response(value: Any) -> bool:
    """True for a ``Response`` object (a mapping with an ``output`` list or ``object:
    "response"``)."""
    return is_mapping(value) and (
        value.get("object") == "response" or isinstance(value.get("output"), list)
    )


def finish_reason(response: Mapping[str, Any]) -> str | None:
    """Why the response stopped, when it says so: an ``incomplete`` response's
    ``incomplete_details.reason`` (``max_output_tokens`` -> ``length``), ``error`` for a
    ``failed`` one. A ``completed`` response names no reason, so none is given."""
    status = response.get("status")
    if status == "failed":
        return "error"
    if status != "incomplete":
        return None
    details = response.get("incomplete_details")
    reason = details.get("reason") if is_mapping(details) else None
    if not isinstance(reason, str) or not reason:
        return None
    return _INCOMPLETE.get(reason, clean_str(reason))


def output_type(text_config: Any) -> str | None:
    """``gen_ai.output.type`` from a ``text.format`` / ``response_format`` setting."""
    fmt = text_config.get("format", text_config) if is_mapping(text_config) else None
    kind = fmt.get("type") if is_mapping(fmt) else None
    if not isinstance(kind, str):
        return None
    if kind == "text":
        return "text"
    if kind in _JSON_FORMATS:
        return "json"
    return None


def _set_str(attrs: Attributes, key: str, value: Any) -> None:
    if isinstance(value, str) and value:
        attrs[key] = clean_str(value)


def response_into(attrs: Attributes, response: Mapping[str, Any], *, rest: bool = True) -> None:
    """The facts of ``response`` as attributes; with ``rest``, fields without a convention's
    name under ``openai_agents.span_data.response.*``."""
    if response.get("id") != SDK_PLACEHOLDER_ID:
        _set_str(attrs, ga.GEN_AI_RESPONSE_MODEL, response.get("model"))
        if ga.GEN_AI_RESPONSE_ID not in attrs:
            _set_str(attrs, ga.GEN_AI_RESPONSE_ID, response.get("id"))
    for key, target in _PARAMS.items():
        value = response.get(key)
        if isinstance(value, int | float) and not isinstance(value, bool):
            attrs[target] = int(value) if target == ga.GEN_AI_REQUEST_MAX_TOKENS else float(value)
    _set_str(attrs, OPENAI_RESPONSE_SERVICE_TIER, response.get("service_tier"))
    kind = output_type(response.get("text"))
    if kind is not None:
        attrs[ga.GEN_AI_OUTPUT_TYPE] = kind
    conversation = response.get("conversation")
    if is_mapping(conversation):
        _set_str(attrs, ga.GEN_AI_CONVERSATION_ID, conversation.get("id"))
    reason = finish_reason(response)
    if reason is not None:
        attrs[ga.GEN_AI_RESPONSE_FINISH_REASONS] = [reason]
    for key, value in response.items() if rest else ():
        if key in _REST:
            flatten_into(attrs, f"{SPAN_DATA}.response.{clean_str(str(key))}", value)


def response_content(attrs: Attributes, response: Mapping[str, Any]) -> None:
    """``gen_ai.output.messages`` (one assistant message: the response is one answer) and
    ``gen_ai.system_instructions`` of ``response``, when it holds them."""
    message = output_message(response.get("output"), finish_reason(response))
    if message is not None:
        attrs[ga.GEN_AI_OUTPUT_MESSAGES] = safe_json([message])
    instructions = response.get("instructions")
    parts: list[Any] = []
    if isinstance(instructions, str):
        parts = text_parts(instructions)
    elif isinstance(instructions, list):  # instructions given as input items
        parts = [p for m in item_messages(instructions, "system") for p in m["parts"]]
    if parts:
        attrs[ga.GEN_AI_SYSTEM_INSTRUCTIONS] = safe_json(parts)


def output_messages_of(output: Any) -> list[Message]:
    """The output messages of a generation whose ``output`` holds ``Response`` objects."""
    messages: list[Message] = []
    for response in output if isinstance(output, list) else ():
        if is_response(response):
            message = output_message(response.get("output"), finish_reason(response))
            if message is not None:
                messages.append(message)
    return messages
