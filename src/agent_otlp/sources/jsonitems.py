"""Reading the items of a JSON array one by one when the whole document cannot be parsed.

:func:`json.loads` refuses a whole document for one bad part: an item nested deeper than
Python's recursion limit, or a file cut short by a writer that died. The file reader and the
bridge then fall back to :func:`split_array`, which finds the elements of the array with a
flat scan (no recursion) and parses each on its own, so that only the bad element is lost.
"""

from __future__ import annotations

import json
import re
from typing import Any, Final

__all__ = ["data_array_start", "loads_item", "split_array", "value_end"]

# strings (escapes included) or one structural character
_TOKEN: Final = re.compile(r'"[^"\\]*(?:\\.[^"\\]*)*"|[\[\]{},:]')


def loads_item(text: str) -> tuple[Any, str | None]:
    """``(value, None)``, or ``(None, reason)`` when ``text`` is not a JSON value we can read."""
    try:
        return json.loads(text), None
    except RecursionError:
        return None, "invalid JSON: nested too deeply"
    except ValueError as exc:
        reason = exc.msg if isinstance(exc, json.JSONDecodeError) else str(exc)
        return None, f"invalid JSON: {reason}"


def split_array(text: str, open_at: int) -> tuple[list[tuple[int, str]], int | None]:
    """``(offset, text)`` of each element of the array whose ``[`` is at ``open_at``, and the
    offset just past its ``]`` (``None`` when the document ends first: its last, incomplete
    element is then returned as it is, and parsing it fails)."""
    elements: list[tuple[int, str]] = []
    depth = 0
    start = open_at + 1
    for match in _TOKEN.finditer(text, open_at + 1):
        part = match.group()
        if part in "[{":
            depth += 1
        elif part in "]}":
            if depth == 0:
                if text[start:match.start()].strip():
                    elements.append((start, text[start:match.start()]))
                return elements, match.end()
            depth -= 1
        elif part == "," and depth == 0:
            elements.append((start, text[start:match.start()]))
            start = match.end()
    if text[start:].strip():
        elements.append((start, text[start:]))
    return elements, None


def data_array_start(text: str, members: tuple[str, ...] = ("data",)) -> int | None:
    """Offset of the ``[`` of the first top-level member named in ``members`` (``"data"``;
    the file reader adds ``"spans"``, the list of RAAF's span export) of a JSON object."""
    quoted = tuple(f'"{name}"' for name in members)
    depth = 0
    expect_value = False
    previous = ""
    for match in _TOKEN.finditer(text):
        part = match.group()
        if expect_value:
            return match.start() if part == "[" else None
        if part in "[{":
            depth += 1
        elif part in "]}":
            depth -= 1
        elif part == ":" and depth == 1 and previous in quoted:
            expect_value = True
        previous = part
    return None


def value_end(text: str, start: int) -> int | None:
    """Offset just past the array or object opening at ``start``, found with a flat scan (no
    recursion, so any depth); ``None`` when the document ends first."""
    depth = 0
    for match in _TOKEN.finditer(text, start):
        part = match.group()
        if part in "[{":
            depth += 1
        elif part in "]}":
            depth -= 1
            if depth <= 0:
                return match.end()
    return None
