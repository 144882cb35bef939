"""Reading a converted span's ``gen_ai.*`` attributes the way LLM-observability backends
want them: what kind of step the span is, its chat messages as plain records, its metadata as
one mapping, and the question and answer of each trace for its root span.

Shared by the ``phoenix`` (OpenInference) and ``langfuse`` adapters. Everything here reads
the attributes an adapter's ``agent_otlp_map_attributes`` sees (the GenAI conventions plus
``openai_agents.*``), never the conversion's internals, so either side can change alone.
"""

from __future__ import annotations

import json
from collections import OrderedDict
from collections.abc import Mapping, MutableMapping
from dataclasses import dataclass, field
from typing import Any, Final

from agent_otlp.core.plugins import NAMESPACE, AttrValue, SpanRecord

__all__ = [
    "Message",
    "ToolCall",
    "TraceNotes",
    "copy_strings",
    "dump",
    "guardrail_triggered",
    "input_messages",
    "invocation_parameters",
    "metadata",
    "notes_for",
    "output_messages",
    "parses_as_json",
    "step_kind",
    "take_notes",
]

OPERATION: Final = "gen_ai.operation.name"
INPUT_MESSAGES: Final = "gen_ai.input.messages"
OUTPUT_MESSAGES: Final = "gen_ai.output.messages"
SYSTEM_INSTRUCTIONS: Final = "gen_ai.system_instructions"
HANDOFF_FROM: Final = f"{NAMESPACE}.handoff.from_agent"
HANDOFF_TO: Final = f"{NAMESPACE}.handoff.to_agent"
#: Metadata keys that name the end user (shown as the trace's user).
USER_KEYS: Final = ("user_id", "user.id", "userId", "user")
_METADATA_PREFIX: Final = f"{NAMESPACE}.metadata."
_REQUEST_PREFIX: Final = "gen_ai.request."
#: Where the guardrail's verdict lives: the GenAI name first used, and any namespaced one.
_TRIGGERED_SUFFIX: Final = ".guardrail.triggered"
_RESULT_VALUE: Final = "gen_ai.guardrail.result.value"
_MAX_TRACES: Final = 1024

#: gen_ai.operation.name -> the kind of step, in the terms LLM-observability tools use.
_OPERATION_KINDS: Final = {
    "invoke_workflow": "chain",
    "invoke_agent": "agent",
    "create_agent": "agent",
    "chat": "llm",
    "text_completion": "llm",
    "generate_content": "llm",
    "embeddings": "embedding",
    "execute_tool": "tool",
}
#: The agent span type (for spans without an operation name) -> the kind of step.
_TYPE_KINDS: Final = {
    "agent": "agent",
    "generation": "llm",
    "response": "llm",
    "speech": "llm",
    "transcription": "llm",
    "function": "tool",
    "trace": "chain",
    "guardrail": "guardrail",
    "handoff": "chain",
    "mcp_tools": "chain",
    "custom": "chain",
    "speech_group": "chain",
}


def step_kind(span: SpanRecord) -> str:
    """``agent``, ``llm``, ``tool``, ``guardrail``, ``embedding`` or ``chain`` (anything else)."""
    operation = span.attributes.get(OPERATION)
    if isinstance(operation, str) and operation in _OPERATION_KINDS:
        return _OPERATION_KINDS[operation]
    if span.source_type == "guardrail" or any(k.endswith(_TRIGGERED_SUFFIX) for k in span.attributes):
        return "guardrail"
    return _TYPE_KINDS.get(span.source_type, "chain")


def guardrail_triggered(span: SpanRecord) -> bool | None:
    """The guardrail's verdict, wherever the conversion put it (``None`` when absent): a
    boolean ``*.guardrail.triggered``, or the conventions' string ``gen_ai.guardrail.result.value``."""
    for key, value in span.attributes.items():
        if key.endswith(_TRIGGERED_SUFFIX) and isinstance(value, bool):
            return value
    result = span.attributes.get(_RESULT_VALUE)
    return result == "true" if isinstance(result, str) else None


def copy_strings(attrs: MutableMapping[str, AttrValue], source: Mapping[str, AttrValue],
                 names: Mapping[str, str]) -> None:
    """Copy each string attribute of ``source`` that ``names`` maps to the name it maps it to."""
    for name, to in names.items():
        value = source.get(name)
        if isinstance(value, str):
            attrs[to] = value


def dump(value: Any) -> str:
    """Compact JSON text of ``value`` (anything not JSON becomes its string)."""
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"), default=str)


# --- messages ----------------------------------------------------------------------------


@dataclass(slots=True)
class ToolCall:
    """A tool call the model asked for."""

    id: str | None
    name: str | None
    arguments: str | None


@dataclass(slots=True)
class Message:
    """One chat message, flattened: text, tool calls, or the answer to a tool call."""

    role: str
    text: str | None = None
    tool_calls: list[ToolCall] = field(default_factory=list)
    tool_call_id: str | None = None
    finish_reason: str | None = None


def _as_text(value: Any) -> str | None:
    if value is None:
        return None
    return value if isinstance(value, str) else dump(value)


def _message(raw: Any) -> Message | None:
    if not isinstance(raw, Mapping):
        return None
    role = raw.get("role") if isinstance(raw.get("role"), str) else "user"
    message = Message(role=str(role))
    reason = raw.get("finish_reason")
    message.finish_reason = reason if isinstance(reason, str) else None
    texts: list[str] = []
    if isinstance(raw.get("content"), str):  # a message in the chat-completions shape
        texts.append(raw["content"])
    for part in raw.get("parts") or ():
        if not isinstance(part, Mapping):
            continue
        kind = part.get("type")
        if kind == "text" and isinstance(part.get("content"), str):
            texts.append(part["content"])
        elif kind == "tool_call":
            message.tool_calls.append(ToolCall(
                _as_text(part.get("id")), _as_text(part.get("name")), _as_text(part.get("arguments"))
            ))
        elif kind == "tool_call_response":
            message.tool_call_id = _as_text(part.get("id"))
            texts.append(_as_text(part.get("response")) or "")
    message.text = "\n".join(texts) if texts else None
    return message


def parses_as_json(text: str) -> bool:
    try:
        json.loads(text)
    except ValueError:
        return False
    return True


def _parse(value: AttrValue | None) -> Any:
    if not isinstance(value, str):
        return None
    try:
        return json.loads(value)
    except ValueError:
        return None


def input_messages(attributes: Mapping[str, AttrValue]) -> list[Message]:
    """The system instructions (as one ``system`` message) and the input messages."""
    messages: list[Message] = []
    system = _parse(attributes.get(SYSTEM_INSTRUCTIONS))
    if isinstance(system, list):
        texts = [p.get("content") for p in system if isinstance(p, Mapping)]
        text = "\n".join(t for t in texts if isinstance(t, str))
        if text:
            messages.append(Message(role="system", text=text))
    given = _parse(attributes.get(INPUT_MESSAGES))
    for raw in given if isinstance(given, list) else ():
        message = _message(raw)
        if message is not None:
            messages.append(message)
    return messages


def output_messages(attributes: Mapping[str, AttrValue]) -> list[Message]:
    given = _parse(attributes.get(OUTPUT_MESSAGES))
    messages = [_message(raw) for raw in given] if isinstance(given, list) else []
    return [m for m in messages if m is not None]


def invocation_parameters(attributes: Mapping[str, AttrValue]) -> dict[str, AttrValue]:
    """The request parameters (``temperature``, ``max_tokens``...), by their short names."""
    return {
        key.removeprefix(_REQUEST_PREFIX): value
        for key, value in attributes.items()
        if key.startswith(_REQUEST_PREFIX) and key != "gen_ai.request.model"
    }


def metadata(attributes: Mapping[str, AttrValue]) -> dict[str, AttrValue]:
    """The trace's or span's metadata (``openai_agents.metadata.*``) as one mapping."""
    return {
        key.removeprefix(_METADATA_PREFIX): value
        for key, value in attributes.items()
        if key.startswith(_METADATA_PREFIX)
    }


# --- the question and answer of each trace -----------------------------------------------


@dataclass(slots=True)
class TraceNotes:
    """What a trace's spans said, kept until its root span: the question and the answer."""

    question: str | None = None
    answer: str | None = None
    #: agent name -> the agent that handed off to it
    handed_from: dict[str, str] = field(default_factory=dict)


def notes_for(state: MutableMapping[str, Any], trace_id: bytes) -> TraceNotes:
    """The notes of ``trace_id`` in the destination's ``state`` (bounded: oldest dropped)."""
    traces: OrderedDict[bytes, TraceNotes] = state.setdefault("llm_view_traces", OrderedDict())
    notes = traces.get(trace_id)
    if notes is None:
        notes = traces[trace_id] = TraceNotes()
        while len(traces) > _MAX_TRACES:
            traces.popitem(last=False)
    return notes


def take_notes(
    state: MutableMapping[str, Any], span: SpanRecord, *, content: bool
) -> TraceNotes | None:
    """Record what ``span`` says about its trace; at the root, return (and forget) the notes.

    The workflow (root) span is converted when its trace ends, after its children, so its
    notes are complete when it comes. The question and the answer are message content:
    they are noted only when ``content`` (the destination's capture policy) allows.
    """
    if span.source_type == "trace":
        traces: OrderedDict[bytes, TraceNotes] | None = state.get("llm_view_traces")
        return traces.pop(span.trace_id, None) if traces else None
    attributes = span.attributes
    source, target = attributes.get(HANDOFF_FROM), attributes.get(HANDOFF_TO)
    if isinstance(source, str) and isinstance(target, str):
        notes_for(state, span.trace_id).handed_from[target] = source
    if content and (INPUT_MESSAGES in attributes or OUTPUT_MESSAGES in attributes):
        notes = notes_for(state, span.trace_id)
        if notes.question is None:
            users = [m.text for m in input_messages(attributes) if m.role == "user" and m.text]
            notes.question = users[0] if users else None
        answers = [m.text for m in output_messages(attributes) if m.role == "assistant" and m.text]
        if answers:
            notes.answer = answers[-1]
    return None
