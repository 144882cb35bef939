"""Turning arbitrary JSON-like values into valid OpenTelemetry attributes.

Rules (documented in ``docs/conversion.md``):

* ``str``, ``bool``, ``int`` within int64 and finite ``float`` are kept as they are; strings
  that are not valid UTF-8 (lone surrogates) get U+FFFD in place of the bad characters.
* ``None`` is left out: OpenTelemetry attributes cannot be null.
* a mapping is flattened into dotted keys (``prefix.key.sub``); an empty mapping is left out.
* a list of only strings, only booleans, only integers or only numbers becomes an array
  attribute (integers and floats mixed become floats); any other list becomes JSON text.
* ``bytes`` become base64 text; NaN and infinities become the strings ``"NaN"``,
  ``"Infinity"``, ``"-Infinity"``; integers outside int64 become decimal text.
* nesting deeper than :data:`MAX_DEPTH` is kept as JSON text at that depth.
* any other object becomes ``str(obj)``.
"""

from __future__ import annotations

import base64
import json
import math
import re
from collections.abc import Mapping
from typing import Any, Final

from agent_otlp.core.convert.records import Attributes, AttrValue, is_mapping

__all__ = ["MAX_DEPTH", "clean_str", "flatten_into", "is_mapping", "safe_json", "scalar"]

MAX_DEPTH: Final = 8
_INT64_MIN: Final = -(2**63)
_INT64_MAX: Final = 2**63 - 1
_JSON_DEPTH_LIMIT: Final = 200
# built with chr(): the compiled module keeps its string constants as UTF-8, where a lone
# surrogate cannot be written
_SURROGATE: Final = re.compile(f"[{chr(0xD800)}-{chr(0xDFFF)}]")


def clean_str(text: str) -> str:
    """``text`` as valid UTF-8: lone surrogates replaced by U+FFFD."""
    if text.isascii():
        return text
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return _SURROGATE.sub("\ufffd", text)
    return text


def _float(value: float) -> AttrValue:
    if math.isfinite(value):
        return value
    if math.isnan(value):
        return "NaN"
    return "Infinity" if value > 0 else "-Infinity"


def scalar(value: Any) -> AttrValue | None:
    """The attribute value for a scalar, or ``None`` when ``value`` is not a scalar."""
    if isinstance(value, str):
        return clean_str(value)
    if isinstance(value, bool):
        return value
    if isinstance(value, int):
        return value if _INT64_MIN <= value <= _INT64_MAX else str(value)
    if isinstance(value, float):
        return _float(value)
    if isinstance(value, bytes | bytearray | memoryview):
        return base64.b64encode(bytes(value)).decode("ascii")
    return None


def _json_ready(value: Any, depth: int = 0) -> Any:
    """A copy of ``value`` that :func:`json.dumps` accepts with ``allow_nan=False``."""
    if depth > _JSON_DEPTH_LIMIT:
        return "...(nested too deep)"
    if value is None or isinstance(value, bool):
        return value
    if isinstance(value, str | int | float | bytes | bytearray | memoryview):
        return scalar(value)
    if isinstance(value, Mapping):
        return {clean_str(str(k)): _json_ready(v, depth + 1) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [_json_ready(v, depth + 1) for v in value]
    return _to_text(value)


def _to_text(value: object) -> str:
    try:
        return clean_str(str(value))
    except Exception:
        return f"<{type(value).__name__}>"


def safe_json(value: Any) -> str:
    """Compact JSON text for any value, valid UTF-8 (lone surrogates replaced); never raises."""
    try:
        text = json.dumps(value, ensure_ascii=False, separators=(",", ":"), allow_nan=False)
    except (TypeError, ValueError, RecursionError):
        try:
            text = json.dumps(_json_ready(value), ensure_ascii=False, separators=(",", ":"))
        except (TypeError, ValueError, RecursionError):
            text = json.dumps(_to_text(value))
    return clean_str(text)


_STR: Final = frozenset({str})
_BOOL: Final = frozenset({bool})
_INT: Final = frozenset({int})
_NUMBER: Final = frozenset({int, float})


def _array(values: list[Any] | tuple[Any, ...]) -> AttrValue | None:
    if not values:
        return None
    types = set(map(type, values))
    if types == _STR:
        return list(values) if all(map(str.isascii, values)) else [clean_str(v) for v in values]
    if types == _BOOL:
        return list(values)
    if types == _INT and min(values) >= _INT64_MIN and max(values) <= _INT64_MAX:
        return list(values)
    if types <= _NUMBER and all(map(math.isfinite, values)):
        return [float(v) for v in values]
    return None


def flatten_into(out: Attributes, key: str, value: Any, depth: int = 0) -> None:
    """Add ``value`` to ``out`` under ``key`` following the module's rules."""
    kind = type(value)
    if kind is str:  # the usual cases first, by exact type
        out[key] = clean_str(value)
        return
    if kind is list:
        array = _array(value) if value else []
        out[key] = array if array is not None else safe_json(value)
        return
    if value is None:
        return
    single = scalar(value)
    if single is not None:
        out[key] = single
        return
    if is_mapping(value):
        if depth >= MAX_DEPTH:
            out[key] = safe_json(value)
            return
        for sub_key, sub_value in value.items():
            name = clean_str(str(sub_key)) or "_"
            flatten_into(out, f"{key}.{name}", sub_value, depth + 1)
        return
    if isinstance(value, list | tuple):
        if not value:
            out[key] = []
            return
        array = _array(value)
        out[key] = array if array is not None else safe_json(value)
        return
    out[key] = _to_text(value)
