"""Spans stored as the bridge's client sent them: each item's text from the body reader, the
store's payload, and what reads back from it."""

from __future__ import annotations

import http.client
import json
import sqlite3
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from agent_otlp import create_exporter
from agent_otlp.core.config.errors import InputError
from agent_otlp.core.convert.records import parse_item
from agent_otlp.core.convert.spans import ConvertOptions, convert_span
from agent_otlp.sources.bridge import INGEST_PATH, BridgeServer
from agent_otlp.sources.bridge.body import read_body
from agent_otlp.store.outbox import payload_record
from agent_otlp.testing import OTLPReceiver

OPTIONS = ConvertOptions(capture_content=True)


def span(span_id: str, *, parent: str | None = None, **data: Any) -> dict[str, Any]:
    return {"object": "trace.span", "id": span_id, "trace_id": "trace_raw", "parent_id": parent,
            "started_at": "2026-01-02T03:04:05.000001+00:00",
            "ended_at": "2026-01-02T03:04:06.5+00:00",
            "span_data": {"type": "function", "name": "lookup", **data}, "error": None}


def test_read_body_gives_each_items_text_as_sent() -> None:
    first = '{ "object" : "trace.span", "id":"span_1",\n "trace_id":"t", "span_data":{"type":"custom"}, "extra": [1, 2] }'
    second = '{"object": "trace", "id": "t", "workflow_name": "caf\u00e9"}'
    body = f'{{"other": 1, "data" : [ {first} ,\n{second}]}}'.encode()
    items, unreadable, raw = read_body(body, 10)
    assert unreadable == {}
    assert raw == [first.encode(), second.encode()]
    assert [json.loads(text) for text in raw if text is not None] == items


def test_read_body_gives_no_text_for_items_that_would_not_read_back_as_strict_json() -> None:
    nested = "[" * 100_000 + "]" * 100_000
    body = ('{"data": [{"v": NaN}, {"v": "ok \\ud800"}, ' + nested + ', {"v": -Infinity}, {"v": 1}]}').encode()
    body = body.replace(b'"ok', b'"\xed\xa0\x80')  # a lone surrogate as raw bytes (surrogatepass)
    items, unreadable, raw = read_body(body, 10)
    assert len(items) == 5 and list(unreadable) == [2]
    assert raw[:4] == [None, None, None, None]
    assert raw[4] == b'{"v": 1}'


def stored_payloads(path: Path) -> dict[str, bytes]:
    conn = sqlite3.connect(path)
    try:
        return dict(conn.execute("SELECT item_id, payload FROM items WHERE kind = 0").fetchall())
    finally:
        conn.close()


def post(bridge: BridgeServer, body: bytes) -> int:
    conn = http.client.HTTPConnection("127.0.0.1", bridge.port, timeout=10)
    try:
        conn.request("POST", INGEST_PATH, body=body, headers={"Content-Type": "application/json"})
        response = conn.getresponse()
        response.read()
        return response.status
    finally:
        conn.close()


def test_the_bridge_stores_a_span_as_sent_and_rewrites_only_repaired_or_unclean_ones(
    tmp_path: Path, otlp_receiver: OTLPReceiver
) -> None:
    plain = json.dumps(span("span_plain", output="sunny", unknown_member=[1, 2]), indent=1)
    looped = json.dumps(span("span_loop", parent="span_loop"))  # its own parent: repaired
    nan = json.dumps(span("span_nan", score=float("nan")))
    body = f'{{"data": [{plain}, {looped}, {nan}]}}'.encode()
    exporter = create_exporter("otlp", endpoint=otlp_receiver.endpoint, env={},
                               store=tmp_path / "s.db", schedule_delay=0.05)
    with BridgeServer(exporter, port=0) as bridge:
        assert post(bridge, body) == 200
        payloads = stored_payloads(tmp_path / "s.db")
    assert payloads["span_plain"] == plain.encode()
    repaired = json.loads(payloads["span_loop"])
    assert repaired["parent_id"] is None
    assert repaired["agent_otlp"]["agent_otlp.repair"] == "self_parent"
    assert payloads["span_nan"] != nan.encode()  # written anew, as strict JSON
    assert json.loads(payloads["span_nan"], parse_constant=_refuse_constant)["span_data"]["score"] == "NaN"
    assert otlp_receiver.wait_for_spans(4, timeout=10)  # three spans and the workflow span


def _refuse_constant(name: str) -> None:
    raise AssertionError(f"stored payload holds {name}")


json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**70), 2**70) | st.floats(allow_nan=False)
    | st.text(max_size=12),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=6), inner, max_size=4),
    max_leaves=12,
)
timestamps = st.none() | st.integers(0, 2**62) | st.floats(0, 2e18) | st.datetimes(
    allow_imaginary=False).map(lambda d: d.isoformat())


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    data=st.dictionaries(st.text(max_size=8), json_values, max_size=5),
    kind=st.sampled_from(["function", "generation", "agent", "custom", "response", "handoff"]),
    started=timestamps, ended=timestamps, error=st.none() | st.fixed_dictionaries(
        {"message": st.text(max_size=10)}, optional={"data": json_values}),
    indent=st.none() | st.integers(0, 2), ascii_only=st.booleans(),
)
def test_a_span_stored_as_sent_converts_like_the_span_itself(
    data: dict[str, Any], kind: str, started: Any, ended: Any, error: Any,
    indent: int | None, ascii_only: bool,
) -> None:
    item = {"object": "trace.span", "id": "span_x", "trace_id": "trace_x", "parent_id": None,
            "started_at": started, "ended_at": ended, "span_data": {**data, "type": kind},
            "error": error}
    body = json.dumps({"data": [item]}, indent=indent, ensure_ascii=ascii_only).encode()
    items, _, raw = read_body(body, 10)
    try:
        parsed = parse_item(items[0])
    except InputError:  # refused (a time out of range): never stored
        return
    direct = convert_span(parsed, OPTIONS)
    direct.seq = 7
    if raw[0] is None:  # not strict JSON text (an infinite float): written anew instead
        return
    assert payload_record(raw[0], 7, OPTIONS) == direct


_ITEM_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False) | st.text(),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner, max_size=3),
    max_leaves=10)


@settings(max_examples=200, deadline=None)
@given(items=st.lists(_ITEM_VALUES, max_size=8), spaces=st.sampled_from(["", " ", "\n\t ", "\r\n"]),
       compact=st.booleans())
def test_read_body_reads_the_items_the_standard_parser_reads_and_their_exact_text(
        items: list[Any], spaces: str, compact: bool) -> None:
    separators = (",", ":") if compact else (", ", ": ")
    texts = [json.dumps(item, separators=separators) for item in items]
    body = ('{"data":' + spaces + "[" + spaces + ("," + spaces).join(texts) + spaces + "]" + spaces
            + ', "more": 1}').encode()
    read = read_body(body, 100)
    assert read.items == json.loads(body)["data"] and read.unreadable == {}
    for text, raw in zip(texts, read.raw, strict=True):
        assert raw is None or raw == text.encode()  # None: not strict UTF-8 JSON, stored anew
