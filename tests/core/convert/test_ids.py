"""Id mapping: deterministic, valid, never zero, and parent links that survive any arrival order."""

from __future__ import annotations

import itertools
import random
from collections.abc import Iterator
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import agent_otlp
from agent_otlp.core.convert.ids import span_id_for, trace_id_for, workflow_span_id_for
from agent_otlp.testing import OTLPReceiver

HEX32 = "0123456789abcdef" * 2


def test_sdk_trace_id_maps_one_to_one() -> None:
    assert trace_id_for("trace_" + HEX32) == bytes.fromhex(HEX32)
    assert trace_id_for(HEX32) == bytes.fromhex(HEX32)
    assert trace_id_for("trace_" + HEX32.upper()) == bytes.fromhex(HEX32)


def test_span_ids_hex_and_hashed() -> None:
    assert span_id_for("span_0123456789abcdef") == bytes.fromhex("0123456789abcdef")
    sdk_style = "span_" + "ab" * 12
    assert len(span_id_for(sdk_style)) == 8
    assert span_id_for(sdk_style) == span_id_for(sdk_style)
    assert span_id_for(sdk_style) != span_id_for("span_" + "ab" * 11 + "ac")


def test_raaf_32_hex_span_ids_map_to_their_first_8_bytes() -> None:
    raaf_id = "span_" + HEX32  # RAAF: "span_" + SecureRandom.hex(16) (tracing/spans.rb:101)
    assert span_id_for(raaf_id) == bytes.fromhex(HEX32[:16])
    assert span_id_for(HEX32.upper()) == bytes.fromhex(HEX32[:16])
    assert span_id_for("span_" + "0" * 16 + HEX32[:16]) not in (bytes(8), b"")  # never zero
    assert span_id_for(raaf_id + "#2") != span_id_for(raaf_id)  # a repaired duplicate: hashed


@pytest.mark.parametrize("zero", ["trace_" + "0" * 32, "0" * 32])
def test_all_zero_trace_id_is_replaced(zero: str) -> None:
    assert trace_id_for(zero) != bytes(16)
    assert len(trace_id_for(zero)) == 16


@pytest.mark.parametrize("zero", ["span_" + "0" * 16, "0" * 16])
def test_all_zero_span_id_is_replaced(zero: str) -> None:
    assert span_id_for(zero) != bytes(8)


def test_workflow_span_id_differs_from_every_span() -> None:
    trace = "trace_" + HEX32
    assert workflow_span_id_for(trace) != span_id_for(trace)
    assert len(workflow_span_id_for(trace)) == 8


ids = st.text(min_size=1, max_size=60) | st.from_regex(r"\A(trace_|span_)?[0-9a-f]{16,32}\Z")


@settings(max_examples=300)
@given(ids)
def test_mapping_is_deterministic_valid_and_non_zero(agent_id: str) -> None:
    for fn, size in ((trace_id_for, 16), (span_id_for, 8), (workflow_span_id_for, 8)):
        first, second = fn(agent_id), fn(agent_id)
        assert first == second
        assert len(first) == size
        assert first != bytes(size)


@settings(max_examples=200)
@given(st.binary(min_size=16, max_size=16).filter(any))
def test_trace_hex_roundtrip(raw: bytes) -> None:
    assert trace_id_for("trace_" + raw.hex()) == raw


# --- parent links through a real exporter ---------------------------------------------------


def _tree_items(rng: random.Random, n: int) -> tuple[str, list[dict[str, Any]]]:
    trace_id = f"trace_{rng.getrandbits(128):032x}"
    items: list[dict[str, Any]] = [
        {"object": "trace", "id": trace_id, "workflow_name": "perm"},
    ]
    span_ids: list[str] = []
    for index in range(n):
        span_id = f"span_{rng.getrandbits(96):024x}"
        parent = rng.choice([None, *span_ids]) if span_ids else None
        items.append(
            {
                "object": "trace.span",
                "id": span_id,
                "trace_id": trace_id,
                "parent_id": parent,
                "started_at": f"2024-05-01T10:00:{index:02d}.000001",
                "ended_at": f"2024-05-01T10:00:{index:02d}.500000",
                "span_data": {"type": "custom", "name": f"s{index}", "data": {}},
            }
        )
        span_ids.append(span_id)
    return trace_id, items


@pytest.fixture(scope="module")
def shared_receiver() -> Iterator[OTLPReceiver]:
    with OTLPReceiver() as receiver:
        yield receiver


@settings(
    max_examples=15,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(seed=st.integers(0, 2**32), n=st.integers(1, 8), cuts=st.integers(0, 3))
def test_parent_links_survive_any_order_and_batch_split(
    shared_receiver: OTLPReceiver, seed: int, n: int, cuts: int
) -> None:
    rng = random.Random(seed)
    trace_id, items = _tree_items(rng, n)
    expected = {
        span_id_for(i["id"]).hex(): (
            span_id_for(i["parent_id"]).hex()
            if i["parent_id"]
            else workflow_span_id_for(trace_id).hex()
        )
        for i in items[1:]
    }
    rng.shuffle(items)
    bounds = sorted(rng.sample(range(len(items) + 1), min(cuts, len(items) + 1)))
    batches = [items[a:b] for a, b in itertools.pairwise([0, *bounds, len(items)])]
    # each batch goes through its own exporter, as if from separate processes
    for batch in batches:
        exporter = agent_otlp.create_exporter(
            "otlp", endpoint=shared_receiver.endpoint, env={}, schedule_delay=0.01
        )
        assert exporter.submit_items(batch) == []
        exporter.shutdown(10)
    hex_trace = trace_id.removeprefix("trace_")
    # an exporter that saw a child without its parent also sends a stand-in for the parent
    got = {s.span_id: s for s in shared_receiver.spans() if s.trace_id == hex_trace
           and s.attributes.get("agent_otlp.repair") != "missing_parent"}
    for span_id, parent in expected.items():
        assert got[span_id].parent_span_id == parent
    workflow = workflow_span_id_for(trace_id).hex()
    assert got[workflow].parent_span_id == ""
