"""Reading an ingest request's body: decompression within limits, and the items of
``{"data": [...]}`` read one by one (at most ``max_items`` of them)."""

from __future__ import annotations

import json
import re
import zlib
from collections.abc import Callable
from typing import Any, Final, NamedTuple, NoReturn

from agent_otlp.core.config.envvars import AGENT_OTLP_BRIDGE_MAX_BODY
from agent_otlp.sources.jsonitems import value_end

__all__ = ["MAX_BODY_ENV", "Body", "RequestError", "body_too_large", "decode_body", "parse_body",
           "read_body"]

#: Environment variable of ``agent-otlp serve --max-body``, named in 413 answers.
MAX_BODY_ENV: Final = AGENT_OTLP_BRIDGE_MAX_BODY


class RequestError(Exception):
    """An answer other than 200, with its status and message."""

    def __init__(self, status: int, message: str, *, close: bool = False) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.close = close


def body_too_large(what: str, max_body: int, *, close: bool = False) -> RequestError:
    """The 413 answer for a body over ``max_body``, saying how to raise the limit."""
    return RequestError(413, f"{what} exceeds the limit of {max_body} bytes (max_body; raise it "
                             f"with agent-otlp serve --max-body or {MAX_BODY_ENV})", close=close)


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
        raise body_too_large("decompressed body", max_body)
    if not inflater.eof:
        raise RequestError(400, f"truncated {encoding} body")
    return out


class Body(NamedTuple):
    """An ingest body read: its items, why each unreadable one is refused, and each item's
    JSON text as sent (UTF-8), where it can be stored as is (see :func:`read_body`)."""

    items: list[Any]
    unreadable: dict[int, str]
    raw: list[bytes | None]


def parse_body(body: bytes, max_items: int) -> tuple[list[Any], dict[int, str]]:
    """The items of ``{"data": [...]}``, and the reason each unreadable one is refused
    (:func:`read_body` without the items' text)."""
    read = read_body(body, max_items)
    return read.items, read.unreadable


def read_body(body: bytes, max_items: int, *, texts: bool = True) -> Body:
    """The items of ``{"data": [...]}``, the reason each unreadable one is refused, and the
    text of each item as the client sent it.

    The array is read element by element, so that a request with more than ``max_items``
    items is refused (413) as soon as the count is passed, and an element nested too deeply
    for the parser is refused alone (found with a flat scan) instead of the whole body.

    An item's text is given (``raw``, encoded as UTF-8) only when it is strict JSON that
    re-reads to the same value: no ``NaN``/``Infinity`` and no lone surrogate; else ``None``
    (such an item is serialized again, cleaned, where it is stored). ``texts=False`` skips
    this (``raw`` is all ``None``): nothing stores them without a span store.
    """
    try:
        text = body.decode(json.detect_encoding(body), "surrogatepass")
    except UnicodeDecodeError as exc:
        raise RequestError(400, f"body is not valid JSON: {exc}") from None
    reader = _DataReader(text, max_items)
    items, unreadable = reader.read()
    return Body(items, unreadable, reader.raw_items() if texts else [None] * len(items))


def _clean_text(text: str) -> bool:
    """``text`` is strict JSON's text and valid UTF-8 (for a JSON value read from it)."""
    if "NaN" in text or "Infinity" in text:  # may be inside a string: then merely re-serialized
        return False
    if text.isascii():
        return True
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


_WS: Final = re.compile(r"[ \t\n\r]*")
_DECODER: Final = json.JSONDecoder()
#: What ``_DECODER.raw_decode`` calls: one value read from a position, and where it ends.
_SCAN: Final[Callable[[str, int], tuple[Any, int]]] = vars(_DECODER)["scan_once"]
_VALUE_STARTS: Final = '["-0123456789tfnNI'
_NOT_DATA: Final = 'expected a JSON object {"data": [item, ...]}'


def _after_spaces(text: str, pos: int) -> int:
    """The first position at or after ``pos`` that is not JSON whitespace."""
    match = _WS.match(text, pos)
    return match.end() if match else pos


class _DataReader:
    """One pass over the text of an ingest body; keeps only the ``data`` elements."""

    def __init__(self, text: str, max_items: int) -> None:
        self.text = text
        self.max_items = max_items
        self.pos = 0
        self.items: list[Any] | None = None
        self.unreadable: dict[int, str] = {}
        #: where each item's text starts and ends
        self.bounds: list[tuple[int, int]] = []

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
        self.bounds = bounds = []
        if self._next() == "]":
            self.pos += 1
            self.items = items
            return
        # the loop of every item: locals only, the scanner called directly (raw_decode's body)
        text, max_items, scan = self.text, self.max_items, _SCAN
        pos = self.pos
        while True:
            if len(items) >= max_items:
                raise RequestError(413, f"more than {max_items} items in one request "
                                        f"(the limit is max_items={max_items}); send smaller batches")
            pos = _after_spaces(text, pos)
            try:
                value, end = scan(text, pos)
            except StopIteration as exc:
                self.pos = exc.value
                self._fail("Expecting value")
            except json.JSONDecodeError as exc:
                raise RequestError(400, f"body is not valid JSON: {exc}") from None
            except RecursionError:
                end = value_end(text, pos) or -1
                if end < 0:
                    self.pos = pos
                    self._fail("Unterminated value")
                self.unreadable[len(items)] = "invalid JSON: nested too deeply"
                value = None
                bounds.append((pos, pos))
            else:
                bounds.append((pos, end))
            items.append(value)
            pos = _after_spaces(text, end)
            separator = text[pos:pos + 1]
            if separator == "]":
                self.pos = pos + 1
                self.items = items
                return
            if separator != ",":
                self.pos = pos
                self._fail("Expecting ',' delimiter")
            pos += 1

    def raw_items(self) -> list[bytes | None]:
        """Each item's text as UTF-8 when it is clean (see :func:`read_body`), else ``None``."""
        text = self.text
        if _clean_text(text):  # the usual body: no item needs a look of its own
            return [text[start:end].encode() if end > start else None for start, end in self.bounds]
        raw: list[bytes | None] = []
        for start, end in self.bounds:
            part = text[start:end]
            raw.append(part.encode() if end > start and _clean_text(part) else None)
        return raw

    def _next(self) -> str:
        """Skip whitespace; the next character ('' at the end)."""
        self.pos = _after_spaces(self.text, self.pos)
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
