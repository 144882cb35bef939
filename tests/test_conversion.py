"""Historical export from a source plugin converting in a process of its own
(``agent_otlp.conversion``): the same spans as in-process, a killed process interrupts the
export resumably without loss, an error in it surfaces with its reason, a process that cannot
start leaves the conversion in-process, Ctrl-C ends it, and pages go ahead in a bounded window."""

from __future__ import annotations

import dataclasses
import json
import logging
import os
import signal
import sys
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pluggy
import psutil
import pytest

from agent_otlp.conversion import Converting, converted_ahead, start_conversion
from agent_otlp.core.convert.ids import span_id_for, workflow_span_id_for
from agent_otlp.core.convert.spans import ConvertOptions
from agent_otlp.historical import ExportInterrupted, HistoricalExport, resolve_target
from agent_otlp.sources.plugins import SourceInventory, SourcePage, hookimpl, hookspecs
from agent_otlp.sources.plugins.manager import OpenedSource, SourceManager
from agent_otlp.sources.plugins.types import SourceContext
from agent_otlp.store.sqlite import SpanStore
from agent_otlp.testing import OTLPReceiver

sys.path.insert(0, str(Path(__file__).parent))
import store_child

ITEMS_PER_TRACE = 1 + store_child.SPANS_PER_TRACE


def _jsonl(tmp_path: Path, traces: int) -> Path:
    """``traces`` traces in the SDK's export shape, one unreadable line at the end."""
    path = tmp_path / "traces.jsonl"
    items = [item for index in range(traces) for item in store_child.trace_items(index)]
    path.write_text("\n".join(json.dumps(i) for i in items) + "\n{broken\n", encoding="utf-8")
    return path


def _expected(traces: int) -> set[str]:
    out = set()
    for index in range(traces):
        out.add(workflow_span_id_for(store_child.trace_id(index)).hex())
        out.update(span_id_for(store_child.span_id(index, n)).hex()
                   for n in range(store_child.SPANS_PER_TRACE))
    return out


def _engine(tmp_path: Path, receiver: OTLPReceiver, **kwargs: Any) -> HistoricalExport:
    target = resolve_target("otlp", env={}, endpoint=receiver.endpoint, retry_deadline=0.3,
                            capture_content=True)
    return HistoricalExport(target, SpanStore(tmp_path / "jobs.db"), **kwargs)


def _open(path: Path) -> OpenedSource:
    return SourceManager(env={}).open(str(path), SourceContext(env={}))


def _conversion_pids() -> list[int]:
    """This process's children that are conversion processes."""
    pids: list[int] = []
    for child in psutil.Process().children():
        try:
            if any("conversion_child" in part for part in child.cmdline()):
                pids.append(child.pid)
        except psutil.Error:  # it just ended
            continue
    return pids


def _no_conversion_process_within(seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while _conversion_pids():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)
    return True


def _shape(receiver: OTLPReceiver) -> set[tuple[Any, ...]]:
    return {(s.span_id, s.parent_span_id, s.name, s.start_ns, s.end_ns,
             json.dumps(s.attributes, sort_keys=True, default=str)) for s in receiver.spans()}


def test_the_process_sends_what_in_process_conversion_sends(
    tmp_path: Path, otlp_receiver_factory: Any, caplog: pytest.LogCaptureFixture
) -> None:
    path = _jsonl(tmp_path, 40)
    here, there = otlp_receiver_factory(), otlp_receiver_factory()
    caplog.set_level(logging.DEBUG, "agent_otlp.historical")
    with _open(path) as source:
        alone = _engine(tmp_path, here, batch_size=7).from_source(source)
    assert "conversion process" not in caplog.text  # 441 items: below the default threshold
    (tmp_path / "b").mkdir()
    with _open(path) as source:
        split = _engine(tmp_path / "b", there, batch_size=7, process_from=1).from_source(source)
    assert "conversion process" in caplog.text and "ready" in caplog.text
    assert _shape(there) == _shape(here) and {s.span_id for s in there.spans()} == _expected(40)
    assert (split.sent, split.invalid, split.batches) == (alone.sent, alone.invalid, alone.batches)
    assert split.invalid == 1 and any("JSON" in e or "line" in e for e in split.errors)
    assert _no_conversion_process_within(5)


def test_a_killed_process_interrupts_the_export_and_it_resumes_without_loss(
    tmp_path: Path, otlp_receiver: OTLPReceiver
) -> None:
    path = _jsonl(tmp_path, 300)
    killed: list[int] = []

    def kill_once(done: int, total: int) -> None:
        if done and not killed:
            [pid] = _conversion_pids()
            os.kill(pid, signal.SIGKILL)
            killed.append(pid)

    with _open(path) as source:
        engine = _engine(tmp_path, otlp_receiver, batch_size=10, process_from=1, progress=kill_once)
        with pytest.raises(ExportInterrupted, match=r"conversion process ended \(killed by signal 9\)") as info:
            engine.from_source(source)
    first = info.value.result.sent
    assert 0 < first < 300 * ITEMS_PER_TRACE
    assert len({s.span_id for s in otlp_receiver.spans()}) == first
    with _open(path) as source:
        result = _engine(tmp_path, otlp_receiver, batch_size=10, process_from=1).from_source(source)
    assert result.resumed_from == first and result.sent == 300 * ITEMS_PER_TRACE
    counts = Counter(s.span_id for s in otlp_receiver.spans())
    assert set(counts) == _expected(300) and set(counts.values()) == {1}  # none lost, none twice
    assert _no_conversion_process_within(5)


class _Unreadable:
    """An item value the conversion process cannot take back: unpickling it raises there."""

    def __reduce__(self) -> tuple[Any, ...]:
        return int, ("not a number",)


class _OddSource:
    """A source plugin whose second page holds a value the conversion process chokes on."""

    @hookimpl
    def agent_otlp_source_inventory(self, handle: Any, window: Any) -> SourceInventory:
        return SourceInventory(traces=3, spans=30)

    @hookimpl
    def agent_otlp_source_read(self, handle: Any, window: Any, cursor: str | None,
                               batch_size: int) -> Iterator[SourcePage]:
        for index in range(3):
            items: list[dict[str, Any]] = store_child.trace_items(index)
            if index == 1:
                items[1]["span_data"]["odd"] = _Unreadable()
            yield SourcePage(items, str(index))


def test_an_error_converting_in_the_process_interrupts_with_its_reason(
    tmp_path: Path, otlp_receiver: OTLPReceiver
) -> None:
    manager = pluggy.PluginManager(hookspecs.PROJECT_NAME)
    manager.add_hookspecs(hookspecs)
    manager.register(_OddSource())
    source = OpenedSource("odd", manager.hook, handle=None)
    engine = _engine(tmp_path, otlp_receiver, batch_size=100, process_from=1)
    with pytest.raises(ExportInterrupted, match=r"converting a page failed: ValueError: invalid "
                       r"literal for int\(\) with base 10: 'not a number'") as info:
        engine.from_source(source)
    assert info.value.result.sent == ITEMS_PER_TRACE  # the page before it went
    assert _no_conversion_process_within(5)


def test_a_process_that_cannot_load_the_adapter_leaves_conversion_here(
    tmp_path: Path, otlp_receiver: OTLPReceiver, caplog: pytest.LogCaptureFixture
) -> None:
    path = _jsonl(tmp_path, 5)
    engine = _engine(tmp_path, otlp_receiver, process_from=1)
    engine.target = dataclasses.replace(engine.target, env={"AGENT_OTLP_DISABLE_PLUGINS": "otlp"})
    with _open(path) as source:
        result = engine.from_source(source)
    assert "converting in this process: the conversion process could not start: ConfigError" in caplog.text
    assert "AGENT_OTLP_DISABLE_PLUGINS" in caplog.text
    assert result.sent == 5 * ITEMS_PER_TRACE and {s.span_id for s in otlp_receiver.spans()} == _expected(5)


def test_ctrl_c_ends_the_process_and_the_export_resumes(tmp_path: Path, otlp_receiver: OTLPReceiver) -> None:
    path = _jsonl(tmp_path, 100)

    def interrupt(done: int, total: int) -> None:
        if done >= 50:
            raise KeyboardInterrupt

    with _open(path) as source, pytest.raises(KeyboardInterrupt):
        _engine(tmp_path, otlp_receiver, batch_size=10, process_from=1, progress=interrupt).from_source(source)
    assert _no_conversion_process_within(5)
    with _open(path) as source:
        result = _engine(tmp_path, otlp_receiver, batch_size=10, process_from=1).from_source(source)
    assert result.resumed_from == 40  # the page being counted at Ctrl-C goes again
    assert {s.span_id for s in otlp_receiver.spans()} == _expected(100)


def test_pages_go_ahead_of_the_one_sent_in_a_bounded_window(tmp_path: Path) -> None:
    target = resolve_target("otlp", env={}, endpoint="http://127.0.0.1:9")
    process = start_conversion(target.settings, ConvertOptions(), target.resource, {})
    assert process is not None
    read = [0]

    def pages() -> Iterator[tuple[int, list[dict[str, Any]], None]]:
        for index in range(20):
            read[0] += 1
            yield index, store_child.trace_items(index), None

    try:
        for position, converting, _ in converted_ahead(process, pages(), depth=3):
            assert isinstance(converting, Converting) and len(converting) == ITEMS_PER_TRACE
            assert read[0] - position - 1 <= 3  # at most three pages ahead of this one
            converted = converting.result()
            assert converted.spans == ITEMS_PER_TRACE and converted.body
            assert not converted.errors and not converted.unreadable
    finally:
        process.close()
    assert read[0] == 20 and process.popen.poll() is not None
