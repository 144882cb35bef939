"""Bad input, generated: property-based fuzzing of the converter, the file reader and the
ingest bridge with hostile items mixed into batches of valid ones.

Every hostile item must end in a clear :class:`InputError` naming a field it actually broke,
or in the documented repair (docs/conversion.md); never an exception of another kind, a hang,
or the loss of a valid item of the same batch, file or request. Valid items are checked where
they end up: an in-process OTLP receiver.
"""

from __future__ import annotations

import gzip
import itertools
import json
import math
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from typer.testing import CliRunner

import agent_otlp
from _reliability import Counter, record
from agent_otlp.cli import _register, app
from agent_otlp.core.config.errors import InputError
from agent_otlp.core.convert.records import AgentSpan, AgentTrace, SpanRecord, parse_item
from agent_otlp.core.convert.spans import ConvertOptions, convert_span, convert_trace
from agent_otlp.core.pipeline.exporter import AgentExporter
from agent_otlp.core.wire.messages import encode_request, request_to_json
from agent_otlp.sources.bridge import BridgeServer
from agent_otlp.sources.files import iter_items
from agent_otlp.testing import OTLPReceiver
from test_bridge import post_items, request

INT64 = (-(2**63), 2**63 - 1)
FIELDS_SPAN = ("object", "id", "trace_id", "parent_id", "started_at", "ended_at", "span_data",
               "span_data.type", "error", "metadata")
FIELDS_TRACE = ("object", "id", "workflow_name", "group_id", "metadata", "started_at", "ended_at")
SPAN_TYPES = ("agent", "generation", "response", "function", "handoff", "guardrail", "custom",
              "mcp_tools", "speech", "transcription", "speech_group")
HYPO = settings(
    deadline=None,  # a loaded machine is slow, not wrong: the tests' own timeouts bound them
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                           HealthCheck.function_scoped_fixture, HealthCheck.large_base_example],
)
TEN_MB = 10 * 1024 * 1024
DEEP = 10_000

_serial = itertools.count()


# --- generators ---------------------------------------------------------------------------


class Unprintable:
    """A Python value whose str() and repr() raise (only the Python API can carry one)."""

    def __str__(self) -> str:
        raise RuntimeError("no str for you")

    def __repr__(self) -> str:
        raise RuntimeError("no repr either")

    def _repr_pretty_(self, printer: Any, cycle: bool) -> None:
        """How Hypothesis shows a failing example (its printer asks this before ``repr``)."""
        printer.text("Unprintable()")


#: Any code point, lone surrogates included.
any_text = st.text(st.characters(min_codepoint=0, max_codepoint=0x10FFFF, exclude_categories=()),
                   max_size=24)
numbers = st.one_of(
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=True, allow_infinity=True),
    st.sampled_from([0, -1, 2**63, -(2**63) - 1, 2**64, 10**30, math.nan, math.inf, -math.inf, -0.0]),
)
json_leaf = st.one_of(st.none(), st.booleans(), numbers, any_text)
python_leaf = st.one_of(
    json_leaf, st.binary(max_size=16), st.builds(Unprintable),
    st.sampled_from([(), (1, "a"), frozenset({1}), b"\xff\xfe", object()]),
    st.builds(lambda: {1, 2}),  # mutable values built afresh: no example sees another's changes
)


def hostile_values(leaf: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    """Leaves, and lists and objects of them nested two levels deep (built level by level:
    each example's draws depend on nothing but its own choices)."""
    inner: st.SearchStrategy[Any] = leaf
    for _ in range(2):
        inner = st.one_of(leaf, st.lists(inner, max_size=4),
                          st.dictionaries(any_text, inner, max_size=4))
    return inner


PYTHON_VALUES = hostile_values(python_leaf)
JSON_VALUES = hostile_values(json_leaf)

timestamps = st.one_of(
    st.sampled_from([
        -1, -1e9, 2**64, 10**30, math.nan, math.inf, -math.inf, True, "", "yesterday",
        "2025-13-45T99:99:99", "0001-01-01T00:00:00", "9999-12-31T23:59:59+14:00", 1e11,
        1.8e19, 2**64 - 1, "2025-01-02T03:04:05Z", "2025-01-02T03:04:05.123456+05:30",
    ]),
    st.builds(list),
    st.builds(dict),
    numbers,
    any_text,
)


def nested(depth: int, leaf: Any = "bottom") -> Any:
    """``depth`` levels of alternating objects and lists, built without recursion."""
    value = leaf
    for level in range(depth):
        value = {"k": value} if level % 2 else [value]
    return value


def deep_json(depth: int) -> str:
    return '{"k":' * (depth // 2) + '["bottom"]' + "}" * (depth // 2)


def stamp(offset_ms: int) -> str:
    return time.strftime("2025-01-02T03:04:%S", time.gmtime(offset_ms // 1000)) + \
        f".{(offset_ms % 1000) * 1000:06d}+00:00"


def valid_batch(tag: str | None = None) -> tuple[list[dict[str, Any]], set[str]]:
    """One trace with an agent span and a generation span; returns the items and span ids."""
    tag = tag or uuid.uuid4().hex
    trace_id = f"trace_{uuid.uuid5(uuid.NAMESPACE_URL, tag).hex}"
    agent, gen = f"span_{tag[:12]}agent{next(_serial):07d}", f"span_{tag[:12]}gen{next(_serial):09d}"
    items: list[dict[str, Any]] = [
        {"object": "trace", "id": trace_id, "workflow_name": "fuzz", "group_id": None,
         "metadata": {"tag": tag}},
        {"object": "trace.span", "id": agent, "trace_id": trace_id, "parent_id": None,
         "started_at": stamp(0), "ended_at": stamp(900),
         "span_data": {"type": "agent", "name": "Triage", "tools": ["lookup"]}, "error": None},
        {"object": "trace.span", "id": gen, "trace_id": trace_id, "parent_id": agent,
         "started_at": stamp(100), "ended_at": stamp(800),
         "span_data": {"type": "generation", "model": "gpt-4o-mini",
                       "usage": {"input_tokens": 12, "output_tokens": 3},
                       "input": [{"role": "user", "content": "hi"}],
                       "output": [{"role": "assistant", "content": "hello"}]},
         "error": None},
    ]
    return items, {agent, gen}


@st.composite
def hostile_items(draw: st.DrawFn, python: bool = False) -> list[tuple[Any, set[str], bool]]:
    """Hostile items around one template, each with the fields broken on purpose and whether
    an error may name any field.

    Structural faults (duplicate ids, parent cycles, unknown types) keep every item valid;
    field faults delete a field or replace it by a value of any type.
    """
    values = PYTHON_VALUES if python else JSON_VALUES
    kind = draw(st.sampled_from(["trace.span", "trace.span", "trace"]))
    trace_id = f"trace_{uuid.uuid4().hex}"
    own_id = f"span_{uuid.uuid4().hex[:24]}"
    if kind == "trace":
        item: dict[str, Any] = {"object": "trace", "id": trace_id, "workflow_name": draw(any_text),
                                "metadata": draw(st.dictionaries(any_text, values, max_size=3))}
        fields = FIELDS_TRACE
    else:
        span_type = draw(st.one_of(st.sampled_from(SPAN_TYPES), any_text))
        data = {"type": span_type, **draw(st.dictionaries(any_text, values, max_size=4))}
        data["type"] = span_type
        item = {"object": "trace.span", "id": own_id, "trace_id": trace_id, "parent_id": None,
                "started_at": stamp(0), "ended_at": stamp(50), "span_data": data,
                "error": draw(st.one_of(st.none(), st.fixed_dictionaries(
                    {"message": values, "data": values}))),
                "metadata": draw(st.one_of(st.none(), st.dictionaries(any_text, values, max_size=3)))}
        fields = FIELDS_SPAN
    broken: set[str] = set()
    for name in draw(st.lists(st.sampled_from(fields), max_size=3, unique=True)):
        broken.add(name)
        delete = draw(st.booleans())
        value = draw(timestamps if name.endswith("_at") else values)
        if name == "span_data.type":
            if isinstance(item.get("span_data"), dict):
                if delete:
                    item["span_data"].pop("type", None)
                else:
                    item["span_data"]["type"] = value
        elif delete:
            item.pop(name, None)
        else:
            item[name] = value
    items: list[Any] = [item]
    extra: list[Any] = []
    structure = draw(st.sampled_from(["none", "self_parent", "cycle", "duplicate", "orphan",
                                      "unknown_type", "deep", "not_an_object"]))
    if structure in ("self_parent", "cycle") and "id" in broken:
        broken.add("parent_id")
    if kind == "trace.span" and structure == "self_parent":
        item["parent_id"] = item.get("id")
    elif kind == "trace.span" and structure == "cycle":
        twin = dict(item, id=f"span_{uuid.uuid4().hex[:24]}", parent_id=item.get("id"))
        item["parent_id"] = twin["id"]
        items.append(twin)
    elif structure == "duplicate":
        items.append(dict(item))
    elif kind == "trace.span" and structure == "orphan":
        item["parent_id"] = f"span_{uuid.uuid4().hex[:16]}"
    elif kind == "trace.span" and structure == "unknown_type" and isinstance(item.get("span_data"), dict):
        item["span_data"]["type"] = f"future_type_{draw(st.integers(0, 99))}"
    elif structure == "deep":
        host = item.get("span_data") if kind == "trace.span" else item.get("metadata")
        if isinstance(host, dict):
            host["deep"] = nested(draw(st.integers(20, 300)))
    elif structure == "not_an_object":
        extra.append(draw(st.one_of(values, st.lists(values, max_size=3))))
    any_field = "object" in broken
    return [(i, broken, any_field) for i in items] + [(e, set(), True) for e in extra]


def allowed_fields(broken: set[str]) -> set[str]:
    allowed = set(broken) | {"item"}
    if "span_data" in broken:
        allowed.add("span_data.type")
    return allowed


# --- invariants of converted spans --------------------------------------------------------


def _valid_text(text: Any) -> bool:
    if not isinstance(text, str):
        return False
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _valid_value(value: Any) -> bool:
    if isinstance(value, str):
        return _valid_text(value)
    if isinstance(value, bool):
        return True
    if isinstance(value, int):
        return INT64[0] <= value <= INT64[1]
    if isinstance(value, float):
        return math.isfinite(value)
    if isinstance(value, list):
        kinds = {type(v) for v in value}
        return len(kinds) <= 1 and all(_valid_value(v) and not isinstance(v, list) for v in value)
    return False


def check_record(record: SpanRecord) -> None:
    assert len(record.trace_id) == 16 and any(record.trace_id)
    assert len(record.span_id) == 8 and any(record.span_id)
    assert record.parent_span_id == b"" or len(record.parent_span_id) == 8
    assert 0 <= record.start_ns <= record.end_ns < 2**64
    assert _valid_text(record.name) and _valid_text(record.status_message)
    for attrs in [record.attributes, *(e.attributes for e in record.events)]:
        for key, value in attrs.items():
            assert _valid_text(key), key
            assert _valid_value(value), (key, value)


def convert_and_encode(items: list[Any], options: ConvertOptions) -> list[InputError | None]:
    """Parse, convert and encode ``items`` as the exporter would: per item, its InputError or
    None; anything else raised is a bug."""
    errors: list[InputError | None] = []
    records: list[SpanRecord] = []
    for item in items:
        try:
            parsed = parse_item(item)
        except InputError as exc:
            assert exc.field and str(exc).startswith(f"{exc.field}="), str(exc)
            errors.append(exc)
            continue
        errors.append(None)
        if isinstance(parsed, AgentSpan):
            records.append(convert_span(parsed, options))
        else:
            assert isinstance(parsed, AgentTrace)
            start = parsed.started_ns or 0
            records.append(convert_trace(parsed, start, parsed.ended_ns or start))
    for rec in records:
        check_record(rec)
    body = encode_request(records, {"service.name": "fuzz"}).SerializeToString()
    decoded = ExportTraceServiceRequest.FromString(body)
    assert len(decoded.resource_spans[0].scope_spans[0].spans) == len(records)
    json.loads(request_to_json([decoded]))
    return errors


# --- shared receiver + exporter -------------------------------------------------------------


@pytest.fixture(scope="module")
def sink() -> Iterator[tuple[OTLPReceiver, AgentExporter]]:
    with OTLPReceiver() as receiver:
        exporter = agent_otlp.create_exporter(
            "otlp", endpoint=receiver.endpoint, env={}, schedule_delay=0.05, batch_size=512,
            capture_content=True,
        )
        yield receiver, exporter
        exporter.shutdown(5)


@pytest.fixture(scope="module")
def store_sink(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[OTLPReceiver, AgentExporter]]:
    """The same, with the durable span store on."""
    path = tmp_path_factory.mktemp("store") / "s.db"
    with OTLPReceiver() as receiver:
        exporter = agent_otlp.create_exporter(
            "otlp", endpoint=receiver.endpoint, env={}, schedule_delay=0.05, batch_size=512,
            capture_content=True, store=path,
        )
        yield receiver, exporter
        exporter.shutdown(5)


def delivered_ids(receiver: OTLPReceiver) -> set[str]:
    return {str(s.attributes.get("openai_agents.span_id")) for s in receiver.spans()}


def settle(exporter: AgentExporter, receiver: OTLPReceiver, expected: set[str]) -> set[str]:
    exporter.end_all_traces()
    assert exporter.force_flush(60).delivered
    return expected - delivered_ids(receiver)


# --- 1. the converter ---------------------------------------------------------------------


@pytest.mark.timeout(120)
def test_converter_fuzz(
    sink: tuple[OTLPReceiver, AgentExporter], store_sink: tuple[OTLPReceiver, AgentExporter]
) -> None:
    receiver, exporter = sink
    store_receiver, store_exporter = store_sink
    runs, hostile, refused = Counter(), Counter(), Counter()
    expected: set[str] = set()
    submit_errors = Counter()
    invalid_before = exporter.stats.invalid_items

    # where each hostile item goes, drawn with the rest (the test itself draws nothing)
    places = st.lists(st.floats(0, 1, exclude_max=True), min_size=16, max_size=16)

    @settings(HYPO, max_examples=300)
    @given(st.lists(hostile_items(python=True), min_size=1, max_size=4), st.booleans(), places)
    def prop(groups: list[list[tuple[Any, set[str], bool]]], content: bool, where: list[float]) -> None:
        runs()
        valid, ids = valid_batch()
        batch: list[Any] = list(valid)
        oracle: list[tuple[set[str], bool]] = [(set(), False)] * len(valid)
        spots = iter(where)
        for group in groups:
            for item, broken, any_field in group:
                position = int(next(spots) * (len(batch) + 1))
                batch.insert(position, item)
                oracle.insert(position, (broken, any_field))
        hostile(len(batch) - len(valid))
        results = convert_and_encode(batch, ConvertOptions(capture_content=content))
        errors = [e for e in results if e is not None]
        for item, (broken, any_field), error in zip(batch, oracle, results, strict=True):
            if error is not None:
                assert broken or any_field or not isinstance(item, dict), (item, error)
                assert any_field or error.field in allowed_fields(broken), (error, broken)
        refused(len(errors))
        returned = exporter.submit_items(batch)
        submit_errors(len(returned))
        assert len(returned) == len(errors)
        assert len(store_exporter.submit_items(batch)) == len(errors)
        expected.update(ids)

    prop()
    missing = settle(exporter, receiver, expected)
    assert not missing, sorted(missing)[:5]
    missing_stored = settle(store_exporter, store_receiver, expected)
    assert not missing_stored, sorted(missing_stored)[:5]
    # nothing that passed validation failed later, in the dispatcher
    assert exporter.stats.invalid_items - invalid_before == submit_errors.value
    record(
        "input.converter",
        fault="hostile items (wrong types, missing fields, NaN/infinities, overflowing and negative "
              "timestamps, lone surrogates, unprintable objects, duplicate ids, parent cycles, "
              "unknown span types, nesting to 300) mixed into valid batches, Python API",
        cases=runs.value,
        outcome=f"{hostile.value} hostile items: {refused.value} refused with an InputError naming "
                f"the broken field, the rest repaired as documented; 0 crashes; "
                f"{len(expected)} valid spans delivered, with and without the span store",
        lost=len(missing) + len(missing_stored),
        method="hypothesis generates batches (`test_converter_fuzz`, max_examples=300): each item "
               "goes through parse_item, convert_span/convert_trace and OTLP encoding with "
               "invariants checked (ids, times, UTF-8, int64, finite floats), and the whole batch "
               "through two exporters (span store off and on) to in-process OTLP receivers.",
        hostile_items=hostile.value,
        refused=refused.value,
    )


@pytest.mark.timeout(120)
def test_giant_and_deep_items(sink: tuple[OTLPReceiver, AgentExporter]) -> None:
    receiver, exporter = sink
    valid, ids = valid_batch()
    trace_id = valid[0]["id"]
    big = {"object": "trace.span", "id": "span_big_string_0001", "trace_id": trace_id,
           "parent_id": None, "started_at": stamp(0), "ended_at": stamp(10),
           "span_data": {"type": "custom", "name": "big", "data": {"blob": "x" * TEN_MB}}}
    deep = {"object": "trace.span", "id": "span_deep_nesting_01", "trace_id": trace_id,
            "parent_id": None, "started_at": stamp(0), "ended_at": stamp(10),
            "span_data": {"type": "custom", "name": "deep", "data": nested(DEEP)},
            "metadata": {"deep": nested(DEEP)}}
    started = time.monotonic()
    assert convert_and_encode([big, deep], ConvertOptions(capture_content=True)) == [None, None]
    took = time.monotonic() - started
    assert exporter.submit_items([*valid[:2], big, deep, valid[2]]) == []
    missing = settle(exporter, receiver, ids | {big["id"], deep["id"]})
    assert not missing
    spans = {s.attributes.get("openai_agents.span_id"): s for s in receiver.spans()}
    assert len(spans["span_big_string_0001"].attributes["openai_agents.span_data.data.blob"]) == TEN_MB
    deep_attrs = spans["span_deep_nesting_01"].attributes
    cut = [v for k, v in deep_attrs.items() if k.startswith("openai_agents.span_data.data")]
    assert cut and all("nested too deep" in v for v in cut if isinstance(v, str))
    record(
        "input.giant",
        fault="10 MB string and 10,000-level nesting in one item (Python API)",
        cases=2,
        outcome=f"converted and encoded in {took:.2f}s; the string arrives whole, the nesting as "
                "JSON text cut at depth 200 ('...(nested too deep)'); neighbours delivered",
        lost=0,
        method="explicit cases in `test_giant_and_deep_items`, delivered to the in-process receiver "
               "next to a valid trace.",
    )


# --- 2. the file reader -------------------------------------------------------------------

GARBAGE = [b"\xff\xfe\xfd", b"\xc3\x28", b"{\"object\": \"trace.span\", \"id\": \"span_", b"]",
           b"null", b"[1, 2", b"\xed\xa0\x80", b"NaN", b"{\"data\": 5}", b"\x00\x01"]


@st.composite
def file_lines(draw: st.DrawFn) -> tuple[bytes, set[str], int, str]:
    """A generated file: (bytes, valid span ids, valid items, format)."""
    fmt = draw(st.sampled_from(["jsonl", "jsonl", "jsonl", "array", "data"]))
    chunks: list[bytes] = []
    items: list[Any] = []
    expected: set[str] = set()
    valid_count = 0
    for _ in range(draw(st.integers(1, 4))):
        valid, ids = valid_batch()
        if draw(st.booleans()):  # invalid UTF-8 inside a string of a valid item: repaired
            valid[1]["span_data"]["name"] = "TriageMARK"
        expected |= ids
        valid_count += len(valid)
        for item in valid:
            items.append(item)
        for group in draw(st.lists(hostile_items(), max_size=2)):
            items.extend(item for item, _, _ in group)
    if fmt == "jsonl":
        for item in items:
            text = json.dumps(item, ensure_ascii=draw(st.booleans()), allow_nan=True)
            line = text.encode("utf-8", "surrogatepass").replace(b"MARK", b"\xff\xc3")
            chunks.append(line)
            if draw(st.integers(0, 4)) == 0:
                chunks.append(draw(st.sampled_from(GARBAGE)))
            if draw(st.integers(0, 6)) == 0:
                chunks.append(b"")
        if draw(st.booleans()):  # a last line cut short (a writer that died mid-line)
            chunks.append(json.dumps(valid_batch()[0][1]).encode()[: draw(st.integers(1, 60))])
        return b"\n".join(chunks), expected, valid_count, fmt
    document: Any = items if fmt == "array" else {"data": items}
    raw = json.dumps(document, allow_nan=True).encode("utf-8", "surrogatepass")
    return raw.replace(b"MARK", b"\xff\xc3"), expected, valid_count, fmt


def read_file(path: Path, exporter: AgentExporter) -> list[InputError]:
    """What ``agent-otlp send`` does with one file."""
    errors: list[InputError] = []
    with path.open(encoding="utf-8", errors="replace") as handle:
        errors.extend(exporter.submit_items(iter_items(handle, errors)))
    return errors


@pytest.mark.timeout(120)
def test_file_reader_fuzz(
    sink: tuple[OTLPReceiver, AgentExporter], store_sink: tuple[OTLPReceiver, AgentExporter],
    tmp_path: Path,
) -> None:
    receiver, exporter = sink
    store_receiver, store_exporter = store_sink
    runs, lines, refused = Counter(), Counter(), Counter()
    expected: set[str] = set()
    path = tmp_path / "items.jsonl"

    @settings(HYPO, max_examples=250)
    @given(file_lines())
    def prop(generated: tuple[bytes, set[str], int, str]) -> None:
        data, ids, _, _ = generated
        runs()
        lines(data.count(b"\n") + 1)
        path.write_bytes(data)
        errors = read_file(path, exporter)
        for error in errors:
            assert isinstance(error, InputError) and error.field
        assert len(read_file(path, store_exporter)) == len(errors)
        refused(len(errors))
        expected.update(ids)

    prop()
    missing = settle(exporter, receiver, expected)
    assert not missing, sorted(missing)[:5]
    missing_stored = settle(store_exporter, store_receiver, expected)
    assert not missing_stored, sorted(missing_stored)[:5]
    names = {str(s.attributes.get("gen_ai.agent.name")) for s in receiver.spans()}
    assert "Triage\ufffd\ufffd" in names
    record(
        "input.files",
        fault="generated JSONL, JSON-array and {\"data\": [...]} files: hostile items, invalid "
              "UTF-8 bytes (inside strings and as whole lines), truncated lines, garbage lines",
        cases=runs.value,
        outcome=f"{lines.value} lines read; {refused.value} refused, each with an InputError "
                "naming the field or the line; invalid UTF-8 inside strings becomes U+FFFD; "
                f"{len(expected)} valid spans delivered, with and without the span store",
        lost=len(missing) + len(missing_stored),
        method="hypothesis writes files (`test_file_reader_fuzz`, max_examples=250) read the way "
               "`agent-otlp send` reads them (`sources.files.iter_items`, UTF-8 with replacement) into "
               "two exporters (span store off and on); every valid span id is looked for at the "
               "in-process receivers.",
    )


def test_file_reader_giants(sink: tuple[OTLPReceiver, AgentExporter], tmp_path: Path) -> None:
    receiver, exporter = sink
    valid_a, ids_a = valid_batch()
    valid_b, ids_b = valid_batch()
    big = dict(valid_a[1], id="span_file_big_string", span_data={"type": "custom", "name": "big",
                                                                 "data": {"blob": "y" * TEN_MB}})
    lines = [json.dumps(i) for i in valid_a] + [json.dumps(big), "[" * DEEP + "]" * DEEP,
                                                deep_json(DEEP)] + [json.dumps(i) for i in valid_b]
    path = tmp_path / "giants.jsonl"
    path.write_text("\n".join(lines), encoding="utf-8")
    errors = read_file(path, exporter)
    assert [e.field for e in errors] == ["line 5", "line 6"]
    assert all("nested too deeply" in str(e) for e in errors)
    # a JSON array cut short: the complete items before the cut are kept
    valid_c, ids_c = valid_batch()
    cut = tmp_path / "cut.json"
    cut.write_text(json.dumps(valid_c, indent=1)[:-40], encoding="utf-8")
    errors = read_file(cut, exporter)
    assert len(errors) == 1 and "invalid JSON" in str(errors[0])
    missing = settle(exporter, receiver, ids_a | ids_b | {"span_file_big_string"} | set(list(ids_c)[:0]))
    assert not missing
    kept_c = ids_c & delivered_ids(receiver)
    record(
        "input.files.giant",
        fault="file lines with a 10 MB string, 10,000-level nesting (array and object); a JSON "
              "array cut short",
        cases=4,
        outcome="the 10 MB item is delivered; each deep line is refused as 'nested too deeply' "
                f"naming its line; the cut array keeps its {len(kept_c)} complete span items of "
                f"{len(ids_c)} and reports the cut; the neighbouring lines are delivered",
        lost=0,
        method="explicit files in `test_file_reader_giants`, read like `agent-otlp send`.",
    )


@pytest.fixture
def clean_cli(cli_env: None) -> None:
    """Each test runs as on a clean machine (``cli_env``)."""


HOSTILE_LINES = [
    b'{"object": "trace.span", "id": 7, "trace_id": "t", "span_data": {"type": "custom"}}',
    b'{"object": "trace.span", "id": "span_x1", "trace_id": "t", "span_data": {"type": null}}',
    b'{"object": "trace.span", "id": "span_x2", "trace_id": "t", "started_at": -5, "span_data": {"type": "agent"}}',
    b'{"object": "trace.span", "id": "span_x3", "trace_id": "t", "ended_at": NaN, "span_data": {"type": "agent"}}',
    b'{"object": "trace.span", "id": "span_x4", "trace_id": "t", "started_at": 1e400, "span_data": {"type": "agent"}}',
    b'{"object": "trace.span", "id": "span_x5", "trace_id": "t", "span_data": {"type": "x\\ud800", "v": Infinity}}',
    b'{"object": "trace.event", "id": "evt_1"}',
    b'{"object": "trace.span", "id": "span_x6", "trace_id": "t", "span_data": {"type": "custom", "name": "\xff\xfe"}}',
    b"\xff\xfe\xfd garbage",
    b'{"object": "trace.span", "id": "span_cut", "trace_id": "t", "span_da',
]


def hostile_file(extra: bytes = b"") -> tuple[bytes, set[str]]:
    lines: list[bytes] = []
    expected: set[str] = set()
    for hostile in HOSTILE_LINES:
        valid, ids = valid_batch()
        expected |= ids
        lines += [json.dumps(i).encode() for i in valid] + [hostile]
    return b"\n".join(lines) + extra, expected


@pytest.mark.timeout(120)
def test_send_command_on_generated_files(
    clean_cli: None, otlp_receiver: OTLPReceiver, tmp_path: Path
) -> None:
    _register()
    files_run = 0
    expected: set[str] = set()
    outputs = []
    deep = b"\n" + ("[" * DEEP + "]" * DEEP).encode()
    for number, (store, extra) in enumerate([("--no-store", b""), ("--store", b""), ("--no-store", deep)]):
        data, ids = hostile_file(extra)
        path = tmp_path / f"gen{number}.jsonl"
        path.write_bytes(data)
        args = ["send", str(path), "--adapter", "otlp", "--endpoint", otlp_receiver.endpoint]
        args += [store, str(tmp_path / "s.db")] if store == "--store" else [store]
        result = CliRunner().invoke(app, args, env={"COLUMNS": "200"})
        outputs.append(result.output)
        assert result.exception is None or isinstance(result.exception, SystemExit), result.output
        assert result.exit_code == 3, result.output  # items rejected, the valid ones delivered
        assert "Traceback" not in result.output
        files_run += 1
        expected |= ids
    missing = expected - delivered_ids(otlp_receiver)
    assert not missing, (sorted(missing)[:4], outputs)
    assert "nested too deeply" in outputs[2]
    assert "skipped: id=7" in outputs[0]
    record(
        "input.files.cli",
        fault="`agent-otlp send` on files of valid traces interleaved with hostile lines (wrong "
              "types, NaN, 1e400, negative times, lone surrogates, invalid UTF-8, garbage, a cut "
              "line), with and without the span store, one with a 10,000-level line",
        cases=files_run,
        outcome="exit 3 (items rejected); each refused item listed once on stderr as "
                "'skipped: FIELD=VALUE: reason'; "
                "no traceback; every valid span delivered",
        lost=len(missing),
        method="`test_send_command_on_generated_files` runs the real command (typer CliRunner) "
               "against an in-process receiver.",
    )


# --- 3. the bridge ------------------------------------------------------------------------


@st.composite
def bridge_payloads(draw: st.DrawFn) -> tuple[bytes, dict[str, str], set[str], int, str]:
    """(body, headers, valid span ids, expected accepted count, body fault or '')."""
    items: list[Any] = []
    expected: set[str] = set()
    accepted = 0
    for _ in range(draw(st.integers(1, 3))):
        valid, ids = valid_batch()
        expected |= ids
        for item in valid:
            items.append(item)
        for group in draw(st.lists(hostile_items(), max_size=3)):
            items.extend(item for item, _, _ in group)
    for item in items:  # what the server will see after a JSON round trip
        try:
            parse_item(json.loads(json.dumps(item, allow_nan=True)))
            accepted += 1
        except InputError:
            pass
    draw(st.randoms(use_true_random=False)).shuffle(items)
    body = json.dumps({"data": items}, allow_nan=True, ensure_ascii=draw(st.booleans()))
    raw = body.encode("utf-8", "surrogatepass")
    fault = draw(st.sampled_from(["", "", "", "", "truncated", "bad_utf8", "not_data", "gzip"]))
    headers = {"Content-Type": "application/json"}
    if fault == "truncated":
        raw = raw[: draw(st.integers(1, len(raw) - 1))]
    elif fault == "bad_utf8":
        at = draw(st.integers(0, len(raw)))
        raw = raw[:at] + b"\xff\xfe" + raw[at:]
    elif fault == "not_data":
        raw = json.dumps(items, allow_nan=True).encode("utf-8", "surrogatepass")
    elif fault == "gzip":
        raw, fault = gzip.compress(raw), ""
        headers["Content-Encoding"] = "gzip"
    return raw, headers, expected, accepted, fault


@pytest.fixture(scope="module")
def bridge(sink: tuple[OTLPReceiver, AgentExporter]) -> Iterator[BridgeServer]:
    _, exporter = sink
    server = BridgeServer(exporter, port=0, max_body=64 * 1024 * 1024, shutdown_exporter=False)
    with server:
        yield server


@pytest.mark.timeout(120)
def test_bridge_fuzz(sink: tuple[OTLPReceiver, AgentExporter], bridge: BridgeServer) -> None:
    receiver, exporter = sink
    runs, refused_requests, refused_items, item_count = Counter(), Counter(), Counter(), Counter()
    expected: set[str] = set()

    @settings(HYPO, max_examples=250)
    @given(bridge_payloads())
    def prop(payload: tuple[bytes, dict[str, str], set[str], int, str]) -> None:
        body, headers, ids, accepted, fault = payload
        runs()
        reply = request(bridge.url, body=body, headers=headers)
        assert reply.json is not None
        if fault:
            assert reply.status == 400, (fault, reply.status, reply.json)
            assert reply.json["error"]
            refused_requests()
            return
        assert reply.json["accepted"] == accepted, reply.json
        if reply.status == 400:
            assert reply.json["rejected_count"] == len(reply.json["rejected"])
            assert all(r["field"] and r["error"] for r in reply.json["rejected"])
            refused_items(reply.json["rejected_count"])
        else:
            assert reply.status == 200
        item_count(accepted + reply.json.get("rejected_count", 0))
        expected.update(ids)

    prop()
    assert bridge.requests[500] == 0
    missing = settle(exporter, receiver, expected)
    assert not missing, sorted(missing)[:5]
    record(
        "input.bridge",
        fault="generated POST bodies to a running bridge: hostile items mixed with valid ones "
              "(NaN literals, lone surrogates as \\ud800 escapes, wrong types...), gzip bodies, "
              "and whole-body faults (cut short, invalid UTF-8 bytes, no 'data' list)",
        cases=runs.value,
        outcome=f"{item_count.value} items in intact bodies: {refused_items.value} listed as "
                f"rejected (index, id, field, reason) in a 400, the valid ones accepted in the same "
                f"request; {refused_requests.value} broken bodies answered 400 with the reason and "
                "nothing accepted from them (the client is told); 0 answers 500",
        lost=len(missing),
        method="hypothesis builds request bodies (`test_bridge_fuzz`, max_examples=250) posted to "
               "a BridgeServer in the test process; the accepted count is checked against "
               "parse_item and every valid span id is looked for at the in-process receiver.",
    )


def test_bridge_giants(sink: tuple[OTLPReceiver, AgentExporter], bridge: BridgeServer) -> None:
    receiver, exporter = sink
    valid, ids = valid_batch()
    big = dict(valid[1], id="span_bridge_big_strng", span_data={"type": "custom", "name": "big",
                                                                "data": {"blob": "z" * TEN_MB}})
    reply = post_items(bridge.url, [*valid, big])
    assert reply.status == 200 and reply.json == {"accepted": 4}
    # the same 10 MB item against an 8 MiB body limit
    small = BridgeServer(exporter, port=0, shutdown_exporter=False, max_body=8 * 1024 * 1024).start()
    try:
        too_big = post_items(small.url, [*valid, big])
    finally:
        small.stop(1)
    assert too_big.status == 413 and "exceeds the limit" in too_big.json["error"]
    # 10,000 levels inside one item of an otherwise valid request
    valid_d, ids_d = valid_batch()
    body = ('{"data": [' + ",".join(json.dumps(i) for i in valid_d)
            + ', {"object": "trace.span", "id": "span_deep", "span_data": ' + deep_json(DEEP) + "}]}")
    deep = request(bridge.url, body=body.encode(), headers={"Content-Type": "application/json"})
    assert deep.status == 400, deep.json
    rejected = deep.json.get("rejected", [])
    assert deep.json.get("accepted") == len(valid_d), deep.json
    assert [r["index"] for r in rejected] == [len(valid_d)]
    assert "nested too deeply" in rejected[0]["error"]
    missing = settle(exporter, receiver, ids | {"span_bridge_big_strng"} | ids_d)
    assert not missing
    record(
        "input.bridge.giant",
        fault="bridge requests with a 10 MB string item, and with one item nested 10,000 levels "
              "next to valid items",
        cases=3,
        outcome="10 MB item: 413 naming the limit under max_body=8 MiB, accepted "
                "and delivered with max_body raised; deep item: 400 listing that item as "
                "'nested too deeply', the valid items of the same request accepted and delivered",
        lost=0,
        method="explicit requests in `test_bridge_giants` against a BridgeServer in the test "
               "process.",
    )
