"""Checks of captured content against the rules of the GenAI conventions' JSON schemas
(``gen-ai-input-messages.json``, ``gen-ai-output-messages.json``,
``gen-ai-system-instructions.json``), written from their definitions.

A part whose ``type`` is one the schemas define must satisfy that definition (its required
fields and their types); any other part is a generic part, which needs only a string
``type``. That is stricter than the schemas' ``anyOf`` (where a malformed ``text`` part
still passes as a generic one), so whatever passes here passes the schemas.
"""

from __future__ import annotations

from typing import Any, Final

_MODALITIES: Final = frozenset({"image", "video", "audio", "document"})
FINISH_REASONS: Final = frozenset({"stop", "length", "content_filter", "tool_call",
                                    "compaction", "error"})


def _string(value: Any) -> bool:
    return isinstance(value, str)


def _optional_string(value: Any) -> bool:
    return value is None or isinstance(value, str)


def _modality(value: Any) -> bool:
    return isinstance(value, str)  # one of _MODALITIES, or any other string


def _object(value: Any) -> bool:
    return isinstance(value, dict) and isinstance(value.get("type"), str)


def _anything(value: Any) -> bool:
    return True


#: Part type -> its required fields, and every field's check (the definitions' properties).
_PARTS: Final[dict[str, tuple[tuple[str, ...], dict[str, Any]]]] = {
    "text": (("content",), {"content": _string}),
    "tool_call": (("name",), {"id": _optional_string, "name": _string, "arguments": _anything}),
    "tool_call_response": (("response",), {"id": _optional_string, "response": _anything}),
    "server_tool_call": (("name", "server_tool_call"),
                         {"id": _optional_string, "name": _string, "server_tool_call": _object}),
    "server_tool_call_response": (("server_tool_call_response",),
                                  {"id": _optional_string, "server_tool_call_response": _object}),
    "blob": (("modality", "content"),
             {"mime_type": _optional_string, "modality": _modality, "content": _string,
              "transcript": _optional_string}),
    "file": (("modality", "file_id"),
             {"mime_type": _optional_string, "modality": _modality, "file_id": _string,
              "transcript": _optional_string}),
    "uri": (("modality", "uri"),
            {"mime_type": _optional_string, "modality": _modality, "uri": _string,
             "transcript": _optional_string}),
    "reasoning": (("content",), {"content": _string}),
    "compaction": ((), {"id": _optional_string, "content": _optional_string}),
}


def _part_errors(part: Any, where: str, allowed: frozenset[str] | None) -> list[str]:
    if not isinstance(part, dict):
        return [f"{where}: a part must be an object, got {part!r}"]
    kind = part.get("type")
    if not isinstance(kind, str):
        return [f"{where}: 'type' must be a string, got {kind!r}"]
    if kind not in _PARTS:
        return []  # a generic part
    if allowed is not None and kind not in allowed:
        return [f"{where}: a {kind!r} part is not allowed here"]
    required, checks = _PARTS[kind]
    errors = [f"{where}: {kind!r} part lacks {name!r}" for name in required if name not in part]
    for name, check in checks.items():
        if name in part and not check(part[name]):
            errors.append(f"{where}: {kind!r} part has a bad {name!r}: {part[name]!r}")
    return errors


def _messages_errors(document: Any, output: bool) -> list[str]:
    if not isinstance(document, list):
        return [f"$: expected an array, got {type(document).__name__}"]
    errors: list[str] = []
    for i, message in enumerate(document):
        where = f"$[{i}]"
        if not isinstance(message, dict):
            errors.append(f"{where}: a message must be an object")
            continue
        for name in ("role", "parts"):
            if name not in message:
                errors.append(f"{where}: lacks {name!r}")
        if "role" in message and not isinstance(message["role"], str):
            errors.append(f"{where}: 'role' must be a string")
        if "name" in message and not _optional_string(message["name"]):
            errors.append(f"{where}: 'name' must be a string or null")
        if output and "finish_reason" in message and not _optional_string(message["finish_reason"]):
            errors.append(f"{where}: 'finish_reason' must be a string or null")
        parts = message.get("parts", [])
        if not isinstance(parts, list):
            errors.append(f"{where}.parts: expected an array")
            continue
        for j, part in enumerate(parts):
            errors.extend(_part_errors(part, f"{where}.parts[{j}]", None))
    return errors


def input_messages_errors(document: Any) -> list[str]:
    """What in ``document`` breaks the input messages schema (empty when it passes)."""
    return _messages_errors(document, output=False)


def output_messages_errors(document: Any) -> list[str]:
    """What in ``document`` breaks the output messages schema (empty when it passes)."""
    return _messages_errors(document, output=True)


def system_instructions_errors(document: Any) -> list[str]:
    """What in ``document`` breaks the system instructions schema: a list of parts, a
    ``text`` part with its string ``content``, any other part with a string ``type``."""
    if not isinstance(document, list):
        return [f"$: expected an array, got {type(document).__name__}"]
    errors: list[str] = []
    for i, part in enumerate(document):
        if isinstance(part, dict) and part.get("type") != "text":
            if not isinstance(part.get("type"), str):
                errors.append(f"$[{i}]: 'type' must be a string")
            continue
        errors.extend(_part_errors(part, f"$[{i}]", frozenset({"text"})))
    return errors
