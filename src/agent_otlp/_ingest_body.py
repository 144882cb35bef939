"""Reading an ingest request's body: decompression within limits, and the items of
``{"data": [...]}`` read one by one (at most ``max_items`` of them)."""

from __future__ import annotations

import json
import re
import zlib
from typing import Any, Final, NoReturn

from agent_otlp.core.jsonitems import value_end

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


def parse_body(body: bytes, max_items: int) -> tuple[list[Any], dict[int, str]]:
    """The items of ``{"data": [...]}``, and the reason each unreadable one is refused.

    The array is read element by element, so that a request with more than ``max_items``
    items is refused (413) as soon as the count is passed, and an element nested too deeply
    for the parser is refused alone (found with a flat scan) instead of the whole body.
    """
    try:
        text = body.decode(json.detect_encoding(body), "surrogatepass")
    except UnicodeDecodeError as exc:
        raise RequestError(400, f"body is not valid JSON: {exc}") from None
    return _DataReader(text, max_items).read()


_WS: Final = re.compile(r"[ \t\n\r]*")
_DECODER: Final = json.JSONDecoder()
_VALUE_STARTS: Final = '["-0123456789tfnNI'
_NOT_DATA: Final = 'expected a JSON object {"data": [item, ...]}'


class _DataReader:
    """One pass over the text of an ingest body; keeps only the ``data`` elements."""

    def __init__(self, text: str, max_items: int) -> None:
        self.text = text
        self.max_items = max_items
        self.pos = 0
        self.items: list[Any] | None = None
        self.unreadable: dict[int, str] = {}

    def read(self) -> tuple[list[Any], dict[int, str]]:
        first = self._next()
        if first != "{":
            if first and first in _VALUE_STARTS:
                raise RequestError(400, _NOT_DATA)
            self._fail("Expecting value")
        self.pos += 1
        if self._next() == "}":
            self.pos += 1
        else:
            self._members()
        if self._next() != "":
            self._fail("Extra data")
        if self.items is None:
            raise RequestError(400, _NOT_DATA)
        return self.items, self.unreadable

    def _members(self) -> None:
        while True:
            key = self._value() if self._next() == '"' else self._fail("Expecting property name enclosed in double quotes")
            if self._next() != ":":
                self._fail("Expecting ':' delimiter")
            self.pos += 1
            if key == "data":
                self._data()
            else:
                self._value()
            separator = self._next()
            self.pos += 1
            if separator == "}":
                return
            if separator != ",":
                self.pos -= 1
                self._fail("Expecting ',' delimiter")

    def _data(self) -> None:
        if self._next() != "[":
            raise RequestError(400, _NOT_DATA)
        self.pos += 1
        items: list[Any] = []
        self.unreadable = {}
        if self._next() == "]":
            self.pos += 1
            self.items = items
            return
        while True:
            if len(items) >= self.max_items:
                raise RequestError(413, f"more than {self.max_items} items in one request "
                                        f"(the limit is max_items={self.max_items}); send smaller batches")
            self._next()
            try:
                items.append(self._value())
            except RecursionError:
                end = value_end(self.text, self.pos)
                if end is None:
                    self._fail("Unterminated value")
                self.pos = end
                self.unreadable[len(items)] = "invalid JSON: nested too deeply"
                items.append(None)
            separator = self._next()
            self.pos += 1
            if separator == "]":
                self.items = items
                return
            if separator != ",":
                self.pos -= 1
                self._fail("Expecting ',' delimiter")

    def _next(self) -> str:
        """Skip whitespace; the next character ('' at the end)."""
        match = _WS.match(self.text, self.pos)
        self.pos = match.end() if match else self.pos
        return self.text[self.pos:self.pos + 1]

    def _value(self) -> Any:
        try:
            value, self.pos = _DECODER.raw_decode(self.text, self._skip())
        except json.JSONDecodeError as exc:
            raise RequestError(400, f"body is not valid JSON: {exc}") from None
        return value

    def _skip(self) -> int:
        self._next()
        return self.pos

    def _fail(self, message: str) -> NoReturn:
        error = json.JSONDecodeError(message, self.text, self.pos)
        raise RequestError(400, f"body is not valid JSON: {error}")
