"""The OpenInference attributes of one converted span, read from its ``gen_ai.*`` attributes.

OpenInference is the attribute convention Arize Phoenix (and Arize) read: a span kind, model
and token fields under ``llm.*``, chat messages flattened to ``llm.input_messages.N.message.*``,
and ``input.value``/``output.value`` for what the UI shows in its input and output columns.
:func:`openinference_attributes` returns them without changing the span; anything derived from
message content is left out unless ``content`` is true.
"""

from __future__ import annotations

from collections.abc import Mapping, MutableMapping
from typing import Any, Final

from agent_otlp.adapters import _genai_read as read
from agent_otlp.core.plugins import AttrValue, SpanRecord

__all__ = ["KIND", "openinference_attributes"]

KIND: Final = "openinference.span.kind"
_KINDS: Final = {
    "agent": "AGENT",
    "llm": "LLM",
    "tool": "TOOL",
    "guardrail": "GUARDRAIL",
    "embedding": "EMBEDDING",
    "chain": "CHAIN",
}
#: gen_ai.provider.name -> OpenInference's llm.provider (the names that differ).
_PROVIDERS: Final = {
    "azure.ai.openai": "azure",
    "azure.ai.inference": "azure",
    "aws.bedrock": "aws",
    "gcp.gemini": "google",
    "gcp.vertex_ai": "google",
    "gcp.gen_ai": "google",
    "mistral_ai": "mistralai",
    "x_ai": "xai",
}
#: gen_ai.provider.name -> OpenInference's llm.system (the model family's maker).
_SYSTEMS: Final = {
    "openai": "openai",
    "azure.ai.openai": "openai",
    "anthropic": "anthropic",
    "cohere": "cohere",
    "mistral_ai": "mistralai",
    "gcp.vertex_ai": "vertexai",
}
_TOKENS: Final = (
    ("gen_ai.usage.input_tokens", "llm.token_count.prompt"),
    ("gen_ai.usage.output_tokens", "llm.token_count.completion"),
    ("gen_ai.usage.cache_read.input_tokens", "llm.token_count.prompt_details.cache_read"),
    ("gen_ai.usage.cache_creation.input_tokens", "llm.token_count.prompt_details.cache_write"),
    ("gen_ai.usage.reasoning.output_tokens", "llm.token_count.completion_details.reasoning"),
)
_JSON: Final = "application/json"
_TEXT: Final = "text/plain"

Attrs = dict[str, AttrValue]


def _value(attrs: Attrs, key: str, text: str | None) -> None:
    """``input.value``/``output.value`` and its mime type (JSON when the text parses as JSON)."""
    if text is None:
        return
    attrs[f"{key}.value"] = text
    stripped = text.lstrip()
    is_json = stripped[:1] in ("{", "[") and read.parses_as_json(stripped)
    attrs[f"{key}.mime_type"] = _JSON if is_json else _TEXT


def _messages(attrs: Attrs, prefix: str, messages: list[read.Message]) -> None:
    for i, message in enumerate(messages):
        at = f"{prefix}.{i}.message."
        attrs[at + "role"] = message.role
        if message.text is not None:
            attrs[at + "content"] = message.text
        if message.tool_call_id:
            attrs[at + "tool_call_id"] = message.tool_call_id
        for j, call in enumerate(message.tool_calls):
            call_at = f"{at}tool_calls.{j}.tool_call."
            if call.id:
                attrs[call_at + "id"] = call.id
            if call.name:
                attrs[call_at + "function.name"] = call.name
            if call.arguments is not None:
                attrs[call_at + "function.arguments"] = call.arguments


def _model(attrs: Attrs, source: Mapping[str, AttrValue]) -> None:
    model = source.get("gen_ai.response.model") or source.get("gen_ai.request.model")
    if isinstance(model, str):
        attrs["llm.model_name"] = model
    provider = source.get("gen_ai.provider.name") or source.get("gen_ai.system")
    if isinstance(provider, str):
        attrs["llm.provider"] = _PROVIDERS.get(provider, provider)
        attrs["llm.system"] = _SYSTEMS.get(provider, provider)
    counts: dict[str, int] = {}
    for genai, oi in _TOKENS:
        value = source.get(genai)
        if isinstance(value, int) and not isinstance(value, bool):
            counts[oi] = value
    attrs.update(counts)
    if "llm.token_count.prompt" in counts or "llm.token_count.completion" in counts:
        attrs["llm.token_count.total"] = counts.get("llm.token_count.prompt", 0) + counts.get(
            "llm.token_count.completion", 0
        )
    parameters = read.invocation_parameters(source)
    if parameters:
        attrs["llm.invocation_parameters"] = read.dump(parameters)


def _llm_content(attrs: Attrs, source: Mapping[str, AttrValue]) -> None:
    inputs, outputs = read.input_messages(source), read.output_messages(source)
    _messages(attrs, "llm.input_messages", inputs)
    _messages(attrs, "llm.output_messages", outputs)
    raw_in = source.get(read.INPUT_MESSAGES)
    if isinstance(raw_in, str):
        _value(attrs, "input", raw_in)
    texts = [m.text for m in outputs if m.text]
    if texts:
        _value(attrs, "output", texts[-1])
    elif isinstance(source.get(read.OUTPUT_MESSAGES), str):
        _value(attrs, "output", str(source[read.OUTPUT_MESSAGES]))


def _tool(attrs: Attrs, source: Mapping[str, AttrValue], content: bool) -> None:
    read.copy_strings(attrs, source, {"gen_ai.tool.name": "tool.name",
                                      "gen_ai.tool.call.id": "tool.id"})
    if not content:
        return
    arguments, result = source.get("gen_ai.tool.call.arguments"), source.get("gen_ai.tool.call.result")
    if isinstance(arguments, str):
        attrs["tool.parameters"] = arguments
        _value(attrs, "input", arguments)
    if isinstance(result, str):
        _value(attrs, "output", result)


def _root(attrs: Attrs, span: SpanRecord, notes: read.TraceNotes | None, content: bool) -> None:
    source = span.attributes
    read.copy_strings(attrs, source, {"gen_ai.conversation.id": "session.id"})
    metadata = read.metadata(source)
    if metadata:
        attrs["metadata"] = read.dump(metadata)
        user = next((metadata[k] for k in read.USER_KEYS if isinstance(metadata.get(k), str)), None)
        if user is not None:
            attrs["user.id"] = user
    if content and notes is not None:
        _value(attrs, "input", notes.question)
        _value(attrs, "output", notes.answer)


def openinference_attributes(
    span: SpanRecord,
    notes: read.TraceNotes | None,
    state: MutableMapping[str, Any],
    *,
    content: bool,
) -> Attrs:
    """The OpenInference attributes for ``span`` (``notes``: its trace's, at the root)."""
    source = span.attributes
    kind = read.step_kind(span)
    attrs: Attrs = {KIND: _KINDS[kind]}
    agent = source.get("gen_ai.agent.name")
    if isinstance(agent, str):
        attrs["agent.name"] = agent
    if kind == "agent" and isinstance(agent, str):
        attrs["graph.node.id"] = agent
        handed = read.notes_for(state, span.trace_id).handed_from.get(agent)
        if handed:
            attrs["graph.node.parent_id"] = handed
    elif span.source_type == "handoff":
        target = source.get(read.HANDOFF_TO)
        if isinstance(target, str) and isinstance(agent, str):
            attrs["graph.node.id"], attrs["graph.node.parent_id"] = target, agent
    if kind == "llm":
        _model(attrs, source)
        if content:
            _llm_content(attrs, source)
    elif kind == "tool":
        _tool(attrs, source, content)
    elif span.source_type == "trace":
        _root(attrs, span, notes, content)
    return attrs
