"""Generations that carry raw Chat Completions objects, and token usage in every shape the
Agents SDKs write it.

The JavaScript Agents SDK records a Chat Completions call's ``output`` as the
``chat.completion`` objects the API returned, with the token counts only inside them
(``output[i].usage``), and its exporter rewrites a generation's ``usage`` to
``{input_tokens, output_tokens, details: {...}}``, moving every other count under
``details``. Here those objects become chat messages (``choices[].message`` with the
choice's ``finish_reason``), their ids, models and usage become attributes, and the cached
and reasoning counts are found wherever a producer put them.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

from opentelemetry.semconv._incubating.attributes import gen_ai_attributes as ga

from agent_otlp.core.convert.flatten import clean_str, is_mapping
from agent_otlp.core.convert.records import Attributes

__all__ = [
    "completion_messages",
    "completions_into",
    "is_chat_completion",
    "response_only",
    "usage_into",
]

_COMPLETION: Final = "chat.completion"
#: Where a usage object keeps its cached input count, then its reasoning output count:
#: the Responses API, Chat Completions, and the JavaScript exporter's ``details``.
_CACHED_PATHS: Final = (
    ("input_tokens_details", "cached_tokens"),
    ("prompt_tokens_details", "cached_tokens"),
    ("details", "cached_tokens"),
    ("details", "input_tokens_details", "cached_tokens"),
    ("details", "prompt_tokens_details", "cached_tokens"),
)
_REASONING_PATHS: Final = (
    ("output_tokens_details", "reasoning_tokens"),
    ("completion_tokens_details", "reasoning_tokens"),
    ("details", "reasoning_tokens"),
    ("details", "output_tokens_details", "reasoning_tokens"),
    ("details", "completion_tokens_details", "reasoning_tokens"),
)


def _count(value: Any) -> int | None:
    """A token count: a number that is not a boolean, as an int."""
    if isinstance(value, bool) or not isinstance(value, int | float) or value != value:
        return None
    try:
        return int(value)
    except OverflowError:  # an infinite float
        return None


def _first(usage: Mapping[str, Any], paths: tuple[tuple[str, ...], ...]) -> int | None:
    """The count at the first of ``paths`` that holds one. A path whose first key the usage
    object lacks (most of them, for any one API) costs one lookup."""
    get = usage.get
    for path in paths:
        value = get(path[0])
        if value is None:
            continue
        for key in path[1:]:
            if not is_mapping(value):
                value = None
                break
            value = value.get(key)
        found = _count(value)
        if found is not None:
            return found
    return None


def usage_into(attrs: Attributes, usage: Mapping[str, Any], legacy: bool) -> None:
    """``gen_ai.usage.*`` from a usage object of the Responses API, of Chat Completions
    (``prompt_tokens``...) or of the JavaScript exporter (counts under ``details``)."""
    inp = _count(usage.get("input_tokens", usage.get("prompt_tokens")))
    out = _count(usage.get("output_tokens", usage.get("completion_tokens")))
    if inp is not None:
        attrs[ga.GEN_AI_USAGE_INPUT_TOKENS] = inp
        if legacy:
            attrs[ga.GEN_AI_USAGE_PROMPT_TOKENS] = inp
    if out is not None:
        attrs[ga.GEN_AI_USAGE_OUTPUT_TOKENS] = out
        if legacy:
            attrs[ga.GEN_AI_USAGE_COMPLETION_TOKENS] = out
    cached = _first(usage, _CACHED_PATHS)
    if cached is not None:
        attrs[ga.GEN_AI_USAGE_CACHE_READ_INPUT_TOKENS] = cached
    reasoning = _first(usage, _REASONING_PATHS)
    if reasoning is not None:
        attrs[ga.GEN_AI_USAGE_REASONING_OUTPUT_TOKENS] = reasoning


def response_only(data: Mapping[str, Any]) -> bool:
    """True for a ``response`` span that names no model and carries no usage nor content,
    only (at most) a ``response_id``: what the JavaScript SDK's Responses model exports, and
    RAAF's formatting step. Such a span does not describe a chat call."""
    model = data.get("model")
    if isinstance(model, str) and model:
        return False
    return all(data.get(key) is None for key in ("usage", "input", "output", "response"))


def is_chat_completion(value: Any) -> bool:
    """True for a raw Chat Completions response object (``object: "chat.completion"``)."""
    return is_mapping(value) and value.get("object") == _COMPLETION


def _completions(output: Any) -> list[Mapping[str, Any]]:
    if type(output) is not list:
        return []
    return [item for item in output if is_chat_completion(item)]


def _choice_message(choice: Any) -> dict[str, Any] | None:
    if not is_mapping(choice):
        return None
    given = choice.get("message")
    message: dict[str, Any] = dict(given) if is_mapping(given) else {}
    message.setdefault("role", "assistant")
    if message.get("content") is None and isinstance(message.get("refusal"), str):
        message["content"] = message["refusal"]
    reason = choice.get("finish_reason")
    if isinstance(reason, str):
        message["finish_reason"] = reason
    return message


def completion_messages(output: Any) -> Any:
    """``output`` with each raw ``chat.completion`` replaced by the messages of its choices
    (each with its choice's ``finish_reason``); ``output`` itself when it holds none."""
    if not _completions(output):
        return output
    messages: list[Any] = []
    for item in output:
        if not is_chat_completion(item):
            messages.append(item)
            continue
        choices = item.get("choices")
        for choice in choices if type(choices) is list else ():
            message = _choice_message(choice)
            if message is not None:
                messages.append(message)
    return messages


def _summed_usage(completions: list[Mapping[str, Any]]) -> dict[str, Any]:
    """The usage of every completion added up, in the JavaScript exporter's shape
    (``input_tokens``, ``output_tokens``, the cached and reasoning counts under ``details``)."""
    usage: dict[str, Any] = {}
    details: dict[str, int] = {}
    for completion in completions:
        given = completion.get("usage")
        if not is_mapping(given):
            continue
        for into, key, found in (
            (usage, "input_tokens", _count(given.get("prompt_tokens", given.get("input_tokens")))),
            (usage, "output_tokens",
             _count(given.get("completion_tokens", given.get("output_tokens")))),
            (details, "cached_tokens", _first(given, _CACHED_PATHS)),
            (details, "reasoning_tokens", _first(given, _REASONING_PATHS)),
        ):
            if found is not None:
                into[key] = into.get(key, 0) + found
    usage["details"] = details
    return usage


def completions_into(attrs: Attributes, data: Mapping[str, Any], legacy: bool) -> Any:
    """A generation's raw ``chat.completion`` outputs as attributes; returns its ``output``
    as chat messages.

    ``gen_ai.response.id`` and ``gen_ai.response.model`` come from the first completion that
    names them; the token counts from the completions' ``usage`` when the span has no
    ``usage`` of its own.
    """
    output = data.get("output")
    completions = _completions(output)
    if not completions:
        return output
    for key, attribute in (("id", ga.GEN_AI_RESPONSE_ID), ("model", ga.GEN_AI_RESPONSE_MODEL)):
        value = next((c[key] for c in completions if isinstance(c.get(key), str) and c[key]), None)
        if value is not None:
            attrs[attribute] = clean_str(value)
    if not is_mapping(data.get("usage")):
        usage_into(attrs, _summed_usage(completions), legacy)
    return completion_messages(output)
