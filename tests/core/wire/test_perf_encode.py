"""The direct wire encoder writes exactly what ``encode_request`` builds."""

from __future__ import annotations

from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

from agent_otlp.core.convert.flatten import clean_str
from agent_otlp.core.convert.records import EventRecord, SpanRecord
from agent_otlp.core.wire.encode import WireEncoder
from agent_otlp.core.wire.messages import encode_request

texts = st.text(max_size=40).map(clean_str)  # records only ever hold cleaned strings
int64 = st.integers(min_value=-(2**63), max_value=2**63 - 1)
big_ints = st.sampled_from([0, 1, 127, 128, 2**31, -1, -(2**63), 2**63 - 1, 2**62 + 12345])
floats = st.floats(allow_nan=False)
scalars = st.one_of(texts, st.booleans(), int64, big_ints, floats)
arrays = st.one_of(
    st.lists(texts, max_size=4),
    st.lists(st.booleans(), max_size=4),
    st.lists(int64, max_size=4),
    st.lists(floats, max_size=4),
)
values = st.one_of(scalars, arrays)
attributes = st.dictionaries(st.one_of(texts, st.sampled_from(["gen_ai.operation.name", "k"])),
                             values, max_size=8)
u64 = st.integers(min_value=0, max_value=2**64 - 1)


@st.composite
def records(draw: Any) -> SpanRecord:
    return SpanRecord(
        trace_id=draw(st.binary(min_size=16, max_size=16)),
        span_id=draw(st.binary(min_size=8, max_size=8)),
        parent_span_id=draw(st.one_of(st.just(b""), st.binary(min_size=8, max_size=8))),
        name=draw(texts),
        kind=draw(st.integers(min_value=0, max_value=5)),
        start_ns=draw(u64),
        end_ns=draw(u64),
        attributes=draw(attributes),
        events=draw(st.lists(st.builds(EventRecord, texts, u64, attributes), max_size=3)),
        status_code=draw(st.sampled_from([0, 1, 2])),
        status_message=draw(texts),
        dropped_attributes_count=draw(st.integers(min_value=0, max_value=2**32 - 1)),
    )


@settings(max_examples=300, deadline=None)
@given(st.lists(records(), max_size=5), attributes, st.integers(min_value=1, max_value=3))
def test_wire_bytes_decode_to_encode_request(batch: list[SpanRecord], resource: Any, rounds: int) -> None:
    encoder = WireEncoder(resource)
    expected = encode_request(batch, resource)
    for _ in range(rounds):  # later rounds go through the encoder's caches
        assert ExportTraceServiceRequest.FromString(encoder.encode(batch)) == expected


def test_surrogates_are_cleaned_like_clean_str() -> None:
    record = SpanRecord(bytes(range(16)), bytes(range(8)), b"", "n\ud800", 1, 1, 2, {"k": "a\udfffb"})
    decoded = ExportTraceServiceRequest.FromString(WireEncoder({}).encode([record]))
    span = decoded.resource_spans[0].scope_spans[0].spans[0]
    assert span.name == "n\ufffd"
    assert span.attributes[0].value.string_value == "a\ufffdb"


def test_value_cache_is_bounded_per_key() -> None:
    encoder = WireEncoder({})
    batch = [
        SpanRecord(bytes(16), bytes(8), b"", "s", 1, 0, 0, {"unique": f"v{i}", "same": "x"})
        for i in range(500)
    ]
    decoded = ExportTraceServiceRequest.FromString(encoder.encode(batch))
    assert decoded == encode_request(batch, {})
    assert 0 < len(encoder._values["unique"]) <= 64
    assert list(encoder._values["same"]) == ["x"]


def test_long_strings_are_not_cached() -> None:
    encoder = WireEncoder({})
    encoder.encode([SpanRecord(bytes(16), bytes(8), b"", "s", 1, 0, 0, {"text": "x" * 1000})])
    assert "text" not in encoder._values


# Values that compare (and hash) equal but are written differently on the wire.
_LOOKALIKES = [1, True, 1.0, 0, False, 0.0, -0.0, [1], [True], [1.0], ["1"], "1", [], [""]]


@settings(max_examples=200, deadline=None)
@given(st.lists(st.sampled_from(_LOOKALIKES), min_size=1, max_size=12), st.integers(1, 3))
def test_cached_encodings_are_byte_identical(sequence: list[Any], rounds: int) -> None:
    """A cache hit writes the very bytes a fresh encoder writes (not those of an equal value
    of another type: 1 and True, 0.0 and -0.0)."""
    batch = [SpanRecord(bytes(16), bytes(8), b"", "s", 1, 0, 0, {"k": v}) for v in sequence]
    warm = WireEncoder({})
    for _ in range(rounds):
        assert [warm.encode([r]) for r in batch] == [WireEncoder({}).encode([r]) for r in batch]
