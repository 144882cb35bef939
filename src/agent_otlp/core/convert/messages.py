"""Message content in the shapes of the GenAI conventions' JSON schemas.

``gen_ai.input.messages``, ``gen_ai.output.messages`` and ``gen_ai.system_instructions``
are lists of ``{"role", "parts": [...]}`` messages (or of parts) whose parts are typed:
``text``, ``tool_call``, ``tool_call_response``, ``server_tool_call``,
``server_tool_call_response``, ``blob``, ``file``, ``uri``, ``reasoning``, ``compaction``,
or a generic part carrying its own ``type`` and fields. This module builds them from Chat
Completions messages and from Responses API items (``message``, ``function_call``,
``reasoning``, web/file search, computer, MCP, image generation... calls); an item of a
type it does not know becomes a generic part with that type and its fields, so nothing
is dropped. Only values the input has are written: a message gets a ``finish_reason``
only when the input names one. Pure: no I/O.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any, Final

from agent_otlp.core.convert.flatten import clean_str, is_mapping

__all__ = [
    "Message",
    "Part",
    "as_plain",
    "chat_messages",
    "item_messages",
    "output_message",
    "parse_arguments",
    "text_parts",
]

Part = dict[str, Any]
Message = dict[str, Any]

_TEXT_TYPES: Final = frozenset({"text", "input_text", "output_text"})
_REASONING_TEXT: Final = frozenset({"reasoning_text", "summary_text"})
#: Responses API calls the client executes: item type -> tool name (``None``: the item's name).
_CLIENT_CALLS: Final[dict[str, str | None]] = {
    "function_call": None,
    "custom_tool_call": None,
    "computer_call": "computer",
    "local_shell_call": "local_shell",
    "shell_call": "shell",
    "apply_patch_call": "apply_patch",
}
#: Where a client call keeps its arguments.
_CALL_ARGUMENTS: Final = ("arguments", "input", "action")
#: Responses API calls the provider executes: item type -> tool name, and the field that
#: holds the call's outcome (sent as a ``server_tool_call_response`` part).
_SERVER_CALLS: Final[dict[str, tuple[str | None, str]]] = {
    "web_search_call": ("web_search", "results"),
    "file_search_call": ("file_search", "results"),
    "code_interpreter_call": ("code_interpreter", "outputs"),
    "image_generation_call": ("image_generation", "result"),
    "mcp_call": (None, "output"),
    "mcp_list_tools": ("mcp_list_tools", "tools"),
    "tool_search_call": ("tool_search", "results"),
}
#: Items without a role, by who sends them: the client, or the model.
_CLIENT_ITEMS: Final = frozenset({"mcp_approval_response", "item_reference"})
_MODEL_ITEMS: Final = frozenset({"mcp_approval_request"})


def as_plain(value: Any) -> Any:
    """``value`` with SDK objects (pydantic models) as plain JSON-like data under the API's
    field names (aliases), ``None`` fields left out."""
    dump = getattr(value, "model_dump", None)
    if dump is not None and not isinstance(value, type):
        try:
            return dump(mode="json", by_alias=True, exclude_none=True)
        except Exception:  # a hostile or broken object: kept as it is
            return value
    return value


def parse_arguments(value: Any) -> Any:
    """Tool call arguments as an object when they are JSON text, else as given."""
    if isinstance(value, str):
        try:
            return json.loads(value)
        except (ValueError, RecursionError):
            return clean_str(value)
    return value


def _listed(value: Any) -> list[Any] | tuple[Any, ...]:
    """``value`` when it is a list, else nothing (a field of the wrong type is not read)."""
    return value if isinstance(value, list | tuple) else ()


def _id(value: Any) -> str | None:
    """An id as the schemas type it: a string, else none."""
    return clean_str(value) if isinstance(value, str) else None


#: The part types the schemas define: a malformed one must not pass for a generic part.
_SCHEMA_TYPES: Final = frozenset({"text", "tool_call", "tool_call_response", "server_tool_call",
                                  "server_tool_call_response", "blob", "file", "uri",
                                  "reasoning", "compaction"})


def _generic(kind: str, fields: dict[str, Any]) -> Part:
    """A generic part of type ``kind`` with ``fields``; a schema type that lacks what its
    definition requires is kept whole as an ``unknown`` part."""
    if kind in _SCHEMA_TYPES:
        return {"type": "unknown", "content": {**fields, "type": kind}}
    return {**fields, "type": kind}


def _text(content: str) -> Part:
    return {"type": "text", "content": clean_str(content)}


def _rest(piece: Mapping[str, Any], *drop: str) -> dict[str, Any]:
    return {clean_str(str(k)): v for k, v in piece.items() if k not in drop and v is not None}


#: Fields the schemas type on a part: a part's other fields never replace them.
_TYPED_FIELDS: Final = frozenset({"type", "content", "mime_type", "modality", "file_id", "uri",
                                  "transcript", "id", "name", "arguments", "response"})


def _extra(fields: Mapping[str, Any]) -> dict[str, Any]:
    """The fields of an input part kept beside a typed part's own (none that it types)."""
    return {k: v for k, v in fields.items() if k not in _TYPED_FIELDS}


def _data_url(url: str) -> tuple[str, str] | None:
    """``(mime type, base64 data)`` of a ``data:`` URL, else ``None``."""
    if not url.startswith("data:") or ";base64," not in url:
        return None
    head, _, data = url[5:].partition(";base64,")
    return head, data


def _media(modality: str, kind: str, piece: Mapping[str, Any], url: Any, file_id: Any,
           data: Any, mime: Any) -> Part:
    """A blob, file or uri part for an image, audio or document; generic when it has none."""
    extra = _extra(_rest(piece, "image_url", "file_data", "file_url", "input_audio", "file",
                         "data", "url"))
    if isinstance(url, str) and url:
        inline = _data_url(url)
        if inline is not None:
            return {"type": "blob", "modality": modality, "mime_type": inline[0] or None,
                    "content": inline[1], **extra}
        return {"type": "uri", "modality": modality, "uri": clean_str(url), **extra}
    if isinstance(data, str) and data:
        inline = _data_url(data)
        if inline is not None:
            mime, data = inline
        return {"type": "blob", "modality": modality,
                "mime_type": mime if isinstance(mime, str) else None, "content": data, **extra}
    if isinstance(file_id, str) and file_id:
        return {"type": "file", "modality": modality, "file_id": clean_str(file_id), **extra}
    return _generic(kind, _rest(piece))


def _image(piece: Mapping[str, Any], kind: str) -> Part:
    url = piece.get("image_url")
    if is_mapping(url):  # Chat Completions: {"url", "detail"}
        piece = {**piece, **_rest(url, "url")}
        url = url.get("url")
    return _media("image", kind, piece, url, piece.get("file_id"), None, None)


def _audio(piece: Mapping[str, Any], kind: str) -> Part:
    audio = piece.get("input_audio")
    fields: Mapping[str, Any] = audio if is_mapping(audio) else {}
    fmt = fields.get("format")
    mime = f"audio/{fmt}" if isinstance(fmt, str) and fmt else None
    rest = {**piece, **_rest(fields, "data")}
    return _media("audio", kind, rest, None, None, fields.get("data"), mime)


def _file(piece: Mapping[str, Any], kind: str) -> Part:
    inner = piece.get("file")
    fields: Mapping[str, Any] = {**piece, **inner} if is_mapping(inner) else piece
    return _media("document", kind, fields, fields.get("file_url"), fields.get("file_id"),
                  fields.get("file_data"), None)


def _content_part(piece: Any) -> Part:
    piece = as_plain(piece)
    if isinstance(piece, str):
        return _text(piece)
    if not is_mapping(piece):
        return {"type": "unknown", "content": piece}
    kind = piece.get("type")
    kind = clean_str(kind) if isinstance(kind, str) and kind else "unknown"
    text = piece.get("text")
    if kind in _TEXT_TYPES and isinstance(text, str):
        return {**_extra(_rest(piece, "text", "logprobs")), **_text(text)}
    if kind in _REASONING_TEXT and isinstance(text, str):
        return {"type": "reasoning", "content": clean_str(text)}
    if kind == "refusal":
        return {**_extra(_rest(piece, "refusal")), "type": "refusal", "content": piece.get("refusal")}
    if kind in ("input_image", "image_url", "image"):
        return _image(piece, kind)
    if kind == "input_audio":
        return _audio(piece, kind)
    if kind in ("input_file", "file"):
        return _file(piece, kind)
    return _generic(kind, _rest(piece))


def text_parts(content: Any) -> list[Part]:
    """The parts of a message's ``content``: a string, a list of content parts, or one."""
    content = as_plain(content)
    if content is None:
        return []
    if isinstance(content, str):
        return [_text(content)] if content else []
    if isinstance(content, list | tuple):
        return [_content_part(piece) for piece in content]
    return [_content_part(content)]


def _tool_call(call: Any) -> Part:
    call = as_plain(call)
    function = call.get("function") if is_mapping(call) else None
    fn: Any = function if is_mapping(function) else call
    name = fn.get("name") if is_mapping(fn) else None
    if not isinstance(name, str):  # no tool named: kept whole, no name made up
        return {"type": "unknown", "content": call}
    part: Part = {"type": "tool_call", "id": _id(call.get("id")), "name": clean_str(name)}
    arguments = fn.get("arguments", fn.get("input"))
    if arguments is not None:
        part["arguments"] = parse_arguments(arguments)
    return part


def _chat_parts(message: Mapping[str, Any]) -> list[Part]:
    parts = text_parts(message.get("content"))
    refusal = message.get("refusal")
    if isinstance(refusal, str) and refusal:
        parts.append({"type": "refusal", "content": clean_str(refusal)})
    audio = message.get("audio")
    if is_mapping(audio):
        data = audio.get("data")
        if isinstance(data, str) and data:
            parts.append({**_extra(_rest(audio)), "type": "blob", "modality": "audio",
                          "content": data})
        else:
            parts.append({**_rest(audio), "type": "audio"})
    for call in _listed(message.get("tool_calls")):
        parts.append(_tool_call(call))
    legacy_call = message.get("function_call")
    if is_mapping(legacy_call):
        parts.append(_tool_call(legacy_call))
    return parts


def _chat_message(message: Mapping[str, Any]) -> Message | None:
    role = message.get("role")
    if role == "tool":
        parts: list[Part] = [{"type": "tool_call_response", "id": _id(message.get("tool_call_id")),
                              "response": message.get("content")}]
    else:
        parts = _chat_parts(message)
    reason = message.get("finish_reason")
    if not parts and not (isinstance(reason, str) and reason):
        return None  # nothing said, no choice ended: no message
    out: Message = {"role": clean_str(role) if isinstance(role, str) and role else "unknown",
                    "parts": parts}
    name = message.get("name")
    if isinstance(name, str) and name:
        out["name"] = clean_str(name)
    if isinstance(reason, str) and reason:
        out["finish_reason"] = clean_str(reason)
    return out


def _server_call(kind: str, item: Mapping[str, Any]) -> list[Part]:
    name, outcome_key = _SERVER_CALLS[kind]
    tool = name or (clean_str(item["name"]) if isinstance(item.get("name"), str) else kind)
    call_id = _id(item.get("id"))
    parts: list[Part] = [{"type": "server_tool_call", "id": call_id, "name": tool,
                          "server_tool_call": {**_rest(item, "id", "type", outcome_key),
                                               "type": kind}}]
    outcome = item.get(outcome_key)
    if outcome is None:
        return parts
    if kind == "image_generation_call" and isinstance(outcome, str):
        fmt = item.get("output_format")
        parts.append({"type": "blob", "modality": "image", "content": outcome,
                      "mime_type": f"image/{fmt}" if isinstance(fmt, str) else None})
    else:
        parts.append({"type": "server_tool_call_response", "id": call_id,
                      "server_tool_call_response": {"type": kind, outcome_key: outcome}})
    return parts


def _client_call(kind: str, item: Mapping[str, Any]) -> Part:
    given = _CLIENT_CALLS.get(kind, None)
    name = item.get("name")
    tool = given or (clean_str(name) if isinstance(name, str) and name else kind.removesuffix("_call"))
    part: Part = {"type": "tool_call", "id": _id(item.get("call_id", item.get("id"))), "name": tool}
    for key in _CALL_ARGUMENTS:
        if item.get(key) is not None:
            part["arguments"] = parse_arguments(item[key])
            break
    return part


def _reasoning(item: Mapping[str, Any]) -> list[Part]:
    texts = [p for key in ("summary", "content") for p in _listed(item.get(key))]
    parts = [part for part in map(_content_part, texts) if part["type"] == "reasoning"]
    if parts:
        return parts
    # only an encrypted form: say so without its opaque bytes
    return [{"type": "encrypted_reasoning", "id": _id(item.get("id"))}]


def _item_parts(item: Mapping[str, Any], default_role: str) -> tuple[str, list[Part]]:
    """The role and parts of one Responses API item."""
    kind = item.get("type")
    role = item.get("role")
    if kind == "message" or (kind is None and isinstance(role, str)):
        return (role if isinstance(role, str) and role else default_role), _chat_parts(item)
    if not isinstance(kind, str):
        return default_role, [{"type": "unknown", "content": item}]
    if kind in _CLIENT_CALLS or (kind.endswith("_call") and kind not in _SERVER_CALLS
                                 and "call_id" in item):
        return "assistant", [_client_call(kind, item)]
    if kind.endswith("_call_output"):
        return "tool", [{"type": "tool_call_response", "id": _id(item.get("call_id")),
                         "response": item.get("output")}]
    if kind in _SERVER_CALLS:
        return "assistant", _server_call(kind, item)
    if kind == "reasoning":
        return "assistant", _reasoning(item)
    if kind == "compaction":
        return "assistant", [{"type": "compaction", "id": _id(item.get("id"))}]
    role = "user" if kind in _CLIENT_ITEMS else "assistant" if kind in _MODEL_ITEMS else default_role
    return role, [_generic(clean_str(kind), _rest(item))]


def item_messages(items: Any, default_role: str = "user") -> list[Message]:
    """Responses API input (a string or a list of items) as messages, in order; items of
    the assistant that follow each other share one message."""
    items = as_plain(items)
    if isinstance(items, str):
        return [{"role": "user", "parts": [_text(items)]}] if items else []
    if not isinstance(items, list | tuple):
        return [] if items is None else [{"role": default_role, "parts": text_parts(items)}]
    messages: list[Message] = []
    for raw in items:
        item = as_plain(raw)
        if not is_mapping(item):
            role, parts = default_role, text_parts(item)
        else:
            role, parts = _item_parts(item, default_role)
        if not parts:
            continue
        role = clean_str(role) if role else default_role
        if role == "assistant" and messages and messages[-1]["role"] == "assistant":
            messages[-1]["parts"].extend(parts)
        else:
            messages.append({"role": role, "parts": parts})
    return messages


def output_message(items: Any, finish_reason: str | None) -> Message | None:
    """A Responses API ``output`` (one answer, several items) as one assistant message."""
    parts = [p for m in item_messages(items, "assistant") for p in m["parts"]]
    if not parts:
        return None
    message: Message = {"role": "assistant", "parts": parts}
    if finish_reason:
        message["finish_reason"] = finish_reason
    return message


def chat_messages(messages: Any) -> list[Message]:
    """Chat Completions messages (or a choice ``{"message", "finish_reason"}``, or a string
    the caller sent as the user's turn) in the conventions' shape; empty messages left out."""
    messages = as_plain(messages)
    if isinstance(messages, str):
        return [{"role": "user", "parts": [_text(messages)]}] if messages else []
    if not isinstance(messages, list | tuple):
        messages = [] if messages is None else [messages]
    out: list[Message] = []
    for raw in messages:
        message = as_plain(raw)
        if is_mapping(message) and is_mapping(message.get("message")):  # a choice
            message = {**message["message"], "finish_reason": message.get("finish_reason")}
        if not is_mapping(message):
            parts = text_parts(message)
            if parts:
                out.append({"role": "unknown", "parts": parts})
            continue
        if "role" not in message and isinstance(message.get("type"), str):
            out.extend(item_messages([message]))
            continue
        converted = _chat_message(message)
        if converted is not None:
            out.append(converted)
    return out
