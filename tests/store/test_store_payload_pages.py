"""A page of stored payloads decodes to exactly what the standard parser reads from each
payload, whichever parser reads the page (``store.outbox.decode_payloads``)."""

from __future__ import annotations

import json
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from agent_otlp.store.outbox import decode_payloads

_SCALARS = (st.none() | st.booleans() | st.integers(min_value=-(2**70), max_value=2**70)
            | st.floats(allow_nan=False) | st.text())
_VALUES = st.recursive(_SCALARS, lambda inner: st.lists(inner, max_size=4)
                       | st.dictionaries(st.text(max_size=8), inner, max_size=4), max_leaves=12)


def _same(left: Any, right: Any) -> bool:
    """Equal, and of the same types all the way down (``1 == 1.0`` is not enough)."""
    if type(left) is not type(right):
        return False
    if isinstance(left, dict):
        return left.keys() == right.keys() and all(_same(left[k], right[k]) for k in left)
    if isinstance(left, list):
        return len(left) == len(right) and all(_same(a, b) for a, b in zip(left, right, strict=True))
    return bool(left == right)


@settings(max_examples=300, deadline=None)
@given(st.lists(_VALUES, min_size=1, max_size=6))
def test_a_page_reads_as_the_standard_parser_reads_each_payload(values: list[Any]) -> None:
    payloads = [json.dumps({"v": value}).encode("utf-8", "surrogatepass") for value in values]
    decoded = decode_payloads(payloads)
    assert decoded is not None
    expected = [json.loads(payload) for payload in payloads]
    assert _same(decoded, expected)


def test_integers_past_64_bits_stay_exact_integers() -> None:
    payloads = [b'{"tokens":12345678901234567890123}', b'{"n":-9223372036854775809}', b'{"n":1}']
    assert decode_payloads(payloads) == [{"tokens": 12345678901234567890123},
                                         {"n": -9223372036854775809}, {"n": 1}]
    (tokens,) = decode_payloads(payloads[:1]) or [None]
    assert type(tokens["tokens"]) is int


def test_lone_surrogates_and_huge_numbers_read_as_the_standard_parser_reads_them() -> None:
    assert decode_payloads([b'{"s":"\\ud800x"}', b'{"f":1e999}']) == [{"s": "\ud800x"}, {"f": float("inf")}]


def test_a_damaged_payload_makes_the_page_unreadable_as_one() -> None:
    assert decode_payloads([b'{"a":1}', b'{"b":']) is None
    assert decode_payloads([]) == []
