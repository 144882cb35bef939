"""Attribute flattening: any JSON-like value becomes valid, encodable OTel attributes."""

from __future__ import annotations

import base64
import json
import math
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from agent_otlp.core.convert.flatten import MAX_DEPTH, clean_str, flatten_into, safe_json
from agent_otlp.core.convert.records import Attributes, SpanRecord
from agent_otlp.core.wire.messages import encode_request


def flat(value: Any, key: str = "k") -> Attributes:
    out: Attributes = {}
    flatten_into(out, key, value)
    return out


def encodes(attrs: Attributes) -> bytes:
    record = SpanRecord(b"\x01" * 16, b"\x02" * 8, b"", "s", 1, 1, 2, attrs)
    return encode_request([record], attrs).SerializeToString()


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("text", {"k": "text"}),
        (True, {"k": True}),
        (7, {"k": 7}),
        (1.5, {"k": 1.5}),
        (None, {}),
        ({}, {}),
        ({"a": {"b": 1, "c": None}}, {"k.a.b": 1}),
        (["x", "y"], {"k": ["x", "y"]}),
        ([1, 2], {"k": [1, 2]}),
        ([1, 2.5], {"k": [1.0, 2.5]}),
        ([True, False], {"k": [True, False]}),
        ([], {"k": []}),
        ([1, "a"], {"k": '[1,"a"]'}),
        ([{"a": 1}], {"k": '[{"a":1}]'}),
        (b"\x00\xff", {"k": base64.b64encode(b"\x00\xff").decode()}),
        (math.nan, {"k": "NaN"}),
        (math.inf, {"k": "Infinity"}),
        (-math.inf, {"k": "-Infinity"}),
        (2**63, {"k": str(2**63)}),
        (-(2**63), {"k": -(2**63)}),
        ([2**64, 1], {"k": [float(2**64), 1.0]}),
        ("a\ud800b", {"k": "a\ufffdb"}),
        (["a\ud800", "b"], {"k": ["a\ufffd", "b"]}),
        (("x", "y"), {"k": ["x", "y"]}),
        ([True, 1], {"k": "[true,1]"}),
        ([1, 2**63], {"k": [1.0, float(2**63)]}),
        ([0.5, math.inf], {"k": '[0.5,"Infinity"]'}),
    ],
)
def test_rules(value: Any, expected: Attributes) -> None:
    assert flat(value) == expected


def test_nan_in_list_becomes_json_text() -> None:
    got = flat([1.0, math.nan])
    assert isinstance(got["k"], str)
    assert json.loads(got["k"]) == [1.0, "NaN"]


def test_deep_nesting_kept_as_json_at_max_depth() -> None:
    value: Any = 1
    for _ in range(MAX_DEPTH + 3):
        value = {"n": value}
    got = flat(value)
    (key, text), = got.items()
    assert key.count(".") == MAX_DEPTH
    assert isinstance(text, str)
    assert json.loads(text)


def test_other_objects_become_text() -> None:
    class Thing:
        def __str__(self) -> str:
            return "thing!"

    assert flat(Thing()) == {"k": "thing!"}


def test_safe_json_never_raises_and_is_valid_utf8() -> None:
    cyclic: list[Any] = []
    cyclic.append(cyclic)
    for value in (cyclic, {"a": math.nan}, {1: b"x"}, {"s": "\udc80"}, object()):
        text = safe_json(value)
        json.loads(text)
        text.encode("utf-8")  # no lone surrogates left


def test_clean_str() -> None:
    assert clean_str("plain") == "plain"
    assert clean_str("é\udfff") == "é\ufffd"


# text with lone surrogates well represented (hypothesis rarely draws them on its own)
texts = st.text(
    st.characters(exclude_categories=()) | st.sampled_from(["\ud800", "\udfff", "\x00", "é"])
)
json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**80), max_value=2**80)
    | st.floats(allow_nan=True, allow_infinity=True)
    | texts
    | st.binary(max_size=8),
    lambda children: st.lists(children, max_size=5)
    | st.dictionaries(texts, children, max_size=5),
    max_leaves=25,
)


@settings(max_examples=300, deadline=None)
@given(json_values)
def test_any_value_flattens_to_encodable_attributes(value: Any) -> None:
    attrs = flat(value, "openai_agents.span_data.x")
    for key, item in attrs.items():
        assert key.startswith("openai_agents.span_data.x")
        key.encode("utf-8")
        assert item is not None
        if isinstance(item, list):
            assert len({type(v) for v in item}) <= 1
        if isinstance(item, int) and not isinstance(item, bool):
            assert -(2**63) <= item < 2**63
        if isinstance(item, float):
            assert math.isfinite(item)
    encodes(attrs)


@settings(max_examples=200, deadline=None)
@given(json_values)
def test_safe_json_is_valid_json_for_any_value(value: Any) -> None:
    text = safe_json(value)
    json.loads(text)
    text.encode("utf-8")
