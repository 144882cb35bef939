"""Reading an ingest request's body: decompression within limits, and the items of
``{"data": [...]}``, item by item when the whole is too deeply nested to parse."""

from __future__ import annotations

import json
import zlib
from typing import Any

from agent_otlp.core.jsonitems import data_array_start, loads_item, split_array

__all__ = ["RequestError", "decode_body", "parse_body"]


class RequestError(Exception):
    """An answer other than 200, with its status and message."""

    def __init__(self, status: int, message: str, *, close: bool = False) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.close = close


def decode_body(encoding: str, body: bytes, max_body: int) -> bytes:
    """``body`` decompressed per its Content-Encoding, within ``max_body`` bytes."""
    encoding = encoding.strip().lower()
    if encoding in ("", "identity"):
        return body
    if encoding in ("gzip", "x-gzip"):
        wbits = 16 + zlib.MAX_WBITS
    elif encoding == "deflate":
        wbits = zlib.MAX_WBITS if body[:1] == b"\x78" else -zlib.MAX_WBITS
    else:
        raise RequestError(415, f"unsupported Content-Encoding {encoding[:40]!r}")
    inflater = zlib.decompressobj(wbits)
    try:
        out = inflater.decompress(body, max_body + 1)
    except zlib.error as exc:
        raise RequestError(400, f"cannot decompress {encoding} body: {exc}") from None
    if len(out) > max_body or inflater.unconsumed_tail:
        raise RequestError(413, f"decompressed body exceeds the limit of {max_body} bytes")
    if not inflater.eof:
        raise RequestError(400, f"truncated {encoding} body")
    return out


def parse_body(body: bytes) -> tuple[list[Any], dict[int, str]]:
    """The items of ``{"data": [...]}``, and the reason each unreadable one is refused."""
    try:
        document = json.loads(body)
    except (UnicodeDecodeError, ValueError) as exc:
        raise RequestError(400, f"body is not valid JSON: {exc}") from None
    except RecursionError:
        return _parse_apart(body)
    if not isinstance(document, dict) or not isinstance(document.get("data"), list):
        raise RequestError(400, 'expected a JSON object {"data": [item, ...]}')
    items: list[Any] = document["data"]
    return items, {}


def _parse_apart(body: bytes) -> tuple[list[Any], dict[int, str]]:
    """Item by item, for a body too deeply nested to parse whole."""
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise RequestError(400, f"body is not valid JSON: {exc}") from None
    open_at = data_array_start(text)
    elements, end = split_array(text, open_at) if open_at is not None else ([], None)
    if end is None:
        raise RequestError(400, "body is not valid JSON: nested too deeply")
    items: list[Any] = []
    unreadable: dict[int, str] = {}
    for index, (_, element) in enumerate(elements):
        item, reason = loads_item(element)
        items.append(item)
        if reason is not None:
            unreadable[index] = reason
    return items, unreadable
