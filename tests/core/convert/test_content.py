"""Size limits that keep JSON valid."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from agent_otlp.core.convert.content import MARK, truncate_json_text, truncate_text, utf8_len


def test_short_text_untouched() -> None:
    assert truncate_text("abc", 10) == "abc"
    assert truncate_json_text('{"a":1}', 100) == ('{"a":1}', False)


def test_truncate_text_marks_and_fits() -> None:
    out = truncate_text("x" * 100, 30)
    assert out.endswith(MARK)
    assert utf8_len(out) <= 30


@pytest.mark.parametrize("limit", [-1, 0, 1, 5, len(MARK) - 1, len(MARK), len(MARK) + 1])
def test_truncate_text_tiny_limits(limit: int) -> None:
    out = truncate_text("é" * 50, limit)
    assert utf8_len(out) <= max(limit, 0)
    out.encode("utf-8")


def test_truncate_text_multibyte_boundary() -> None:
    out = truncate_text("€" * 40, 20)  # 3 bytes each
    out.encode("utf-8")
    assert utf8_len(out) <= 20
    assert out.endswith(MARK)


def test_long_strings_cut_inside_json() -> None:
    doc = [{"role": "user", "parts": [{"type": "text", "content": "y" * 5000}]}]
    text, cut = truncate_json_text(json.dumps(doc), 300)
    assert cut
    assert utf8_len(text) <= 300
    parsed = json.loads(text)
    assert parsed[0]["role"] == "user"
    assert parsed[0]["parts"][0]["content"].endswith(MARK)


def test_long_lists_cut_inside_json() -> None:
    text, cut = truncate_json_text(json.dumps(list(range(2000))), 200)
    assert cut
    parsed = json.loads(text)
    assert isinstance(parsed, list)
    assert MARK in parsed[-1]


def test_invalid_json_becomes_json_string() -> None:
    raw = 'not json "quoted" \\ \n' * 50
    text, cut = truncate_json_text(raw, 64)
    assert cut
    assert utf8_len(text) <= 64
    assert isinstance(json.loads(text), str)


def test_structure_too_large_falls_back_to_string() -> None:
    doc = {f"key{i}": i for i in range(500)}
    text, cut = truncate_json_text(json.dumps(doc), 40)
    assert cut
    assert utf8_len(text) <= 40
    json.loads(text)


json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(st.characters(exclude_categories=()) | st.just("\udc80")),
    lambda children: st.lists(children, max_size=6)
    | st.dictionaries(st.text(max_size=10), children, max_size=6),
    max_leaves=30,
)


@settings(max_examples=300, deadline=None)
@given(json_values, st.integers(min_value=16, max_value=400))
def test_truncate_json_text_always_valid_and_within_limit(value: Any, limit: int) -> None:
    text = json.dumps(value, ensure_ascii=False)
    out, cut = truncate_json_text(text, limit)
    assert utf8_len(out) <= limit
    json.loads(out)
    assert cut == (utf8_len(text) > limit)
    if cut:
        out.encode("utf-8")  # what was rewritten is valid UTF-8 (lone surrogates replaced)
    else:
        assert out == text


@settings(max_examples=150, deadline=None)
@given(
    st.text(st.characters(exclude_categories=()) | st.sampled_from(["\ud800", '"', "\\"])),
    st.integers(min_value=16, max_value=200),
)
def test_truncate_json_text_on_arbitrary_text(text: str, limit: int) -> None:
    out, _cut = truncate_json_text(text, limit)
    assert utf8_len(out) <= limit or out == text
    if out != text:
        json.loads(out)
