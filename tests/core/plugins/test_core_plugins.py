"""Adapter loading: broken plugins are reported and skipped; hooks stay per destination."""

from __future__ import annotations

import logging
import sys
import textwrap
from collections.abc import Iterator, MutableMapping
from importlib.metadata import EntryPoint
from pathlib import Path
from typing import Any

import pytest

import agent_otlp
from agent_otlp.core.config.errors import ConfigError
from agent_otlp.core.config.settings import Settings, resolve_settings
from agent_otlp.core.convert.records import SpanRecord
from agent_otlp.core.plugins.hookspecs import hookimpl
from agent_otlp.core.plugins.manager import ENTRY_POINT_GROUP, AdapterManager, PluginLoadError
from agent_otlp.testing import OTLPReceiver

GOOD = EntryPoint("otlp", "agent_otlp.adapters.otlp", ENTRY_POINT_GROUP)
MISSING = EntryPoint("ghost", "agent_otlp_no_such_module_xyz", ENTRY_POINT_GROUP)


@pytest.fixture
def misspelled(tmp_path: Path) -> Iterator[EntryPoint]:
    (tmp_path / "agent_otlp_typo_adapter.py").write_text(textwrap.dedent("""
        from agent_otlp import hookimpl

        @hookimpl
        def agent_otlp_map_atributes(span, settings, state):
            pass
    """))
    sys.path.insert(0, str(tmp_path))
    try:
        yield EntryPoint("typo", "agent_otlp_typo_adapter", ENTRY_POINT_GROUP)
    finally:
        sys.path.remove(str(tmp_path))
        sys.modules.pop("agent_otlp_typo_adapter", None)


def test_failing_plugins_are_reported_and_skipped(
    misspelled: EntryPoint, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.WARNING, logger="agent_otlp.plugins"):
        manager = AdapterManager(env={}, entry_point_list=[MISSING, misspelled, GOOD])
    assert manager.available() == ["otlp"]
    ghost, typo = manager.adapters["ghost"], manager.adapters["typo"]
    assert ghost.error is not None and "ModuleNotFoundError" in ghost.error
    assert typo.error is not None and "agent_otlp_map_atributes" in typo.error
    assert not manager.pm.is_registered(sys.modules.get("agent_otlp_typo_adapter"))
    assert "ghost" in caplog.text and "typo" in caplog.text
    # the good one still works and the broken ones are named when asked for
    manager.hooks_for("otlp")
    with pytest.raises(ConfigError, match="failed to load"):
        manager.hooks_for("ghost")


def test_strict_plugins_raise(misspelled: EntryPoint) -> None:
    with pytest.raises(PluginLoadError, match="ghost"):
        AdapterManager(env={"AGENT_OTLP_STRICT_PLUGINS": "true"}, entry_point_list=[MISSING])
    with pytest.raises(PluginLoadError, match="typo"):
        AdapterManager(env={"AGENT_OTLP_STRICT_PLUGINS": "1"}, entry_point_list=[misspelled])


def test_disabled_plugins_are_never_loaded() -> None:
    manager = AdapterManager(
        env={"AGENT_OTLP_DISABLE_PLUGINS": "ghost, otlp"}, entry_point_list=[MISSING, GOOD]
    )
    assert manager.adapters == {}
    assert manager.pm.is_blocked("otlp")


def test_installed_entry_points_load() -> None:
    manager = AdapterManager(env={})
    assert {"otlp", "console"} <= set(manager.available())
    info = manager.adapters["console"]
    assert info.builtin
    assert info.distribution == "agent-otlp"
    assert "agent_otlp_make_transport" in info.hooks


class Tagger:
    def __init__(self, tag: str) -> None:
        self.tag = tag
        self.calls = 0

    @hookimpl
    def agent_otlp_map_attributes(
        self, span: SpanRecord, settings: Settings, state: MutableMapping[str, Any]
    ) -> None:
        self.calls += 1
        span.attributes[f"tag.{self.tag}"] = True


class Broken:
    @hookimpl
    def agent_otlp_map_attributes(self, span: SpanRecord) -> None:
        raise RuntimeError("adapter bug")

    @hookimpl
    def agent_otlp_process_batch(self, spans: list[SpanRecord]) -> None:
        raise RuntimeError("batch bug")


def _record() -> SpanRecord:
    return SpanRecord(b"\x01" * 16, b"\x02" * 8, b"", "s", 1, 1, 2, {})


def test_only_the_selected_adapters_hooks_run() -> None:
    manager = AdapterManager(load_entry_points=False, env={})
    first, second, everywhere = Tagger("a"), Tagger("b"), Tagger("global")
    manager.register_adapter("a", first)
    manager.register_adapter("b", second)
    manager.register_global(everywhere, name="everywhere")
    settings = resolve_settings("a", env={})
    span = _record()
    manager.hooks_for("a").map_attributes(span=span, settings=settings, state={})
    assert set(span.attributes) == {"tag.a", "tag.global"}
    span = _record()
    manager.hooks_for("b").map_attributes(span=span, settings=settings, state={})
    assert set(span.attributes) == {"tag.b", "tag.global"}
    assert (first.calls, second.calls, everywhere.calls) == (1, 1, 2)


def test_destinations_are_isolated_end_to_end(otlp_receiver: OTLPReceiver) -> None:
    manager = AdapterManager(load_entry_points=False, env={})
    manager.register_adapter("a", Tagger("a"))
    manager.register_adapter("b", Tagger("b"))
    exporter = agent_otlp.create_exporter(
        ["a", "b"], env={}, manager=manager, endpoint=otlp_receiver.endpoint, schedule_delay=0.01
    )
    exporter.submit_items([{"object": "trace.span", "id": "span_1", "trace_id": "trace_x",
                            "span_data": {"type": "custom", "name": "c"}}])
    assert exporter.shutdown(10).delivered
    custom = otlp_receiver.by_name("c")
    assert sorted(tuple(k for k in s.attributes if k.startswith("tag.")) for s in custom) == [
        ("tag.a",), ("tag.b",)
    ]


def test_broken_adapter_hook_never_reaches_the_caller(otlp_receiver: OTLPReceiver) -> None:
    manager = AdapterManager(load_entry_points=False, env={})
    manager.register_adapter("broken", Broken())
    exporter = agent_otlp.create_exporter(
        "broken", env={}, manager=manager, endpoint=otlp_receiver.endpoint, schedule_delay=0.01
    )
    errors = exporter.submit_items([{"object": "trace.span", "id": "span_1", "trace_id": "t",
                                     "span_data": {"type": "custom", "name": "c"}}])
    assert errors == []
    exporter.shutdown(5)
    stats = exporter.stats.snapshot()["destinations"]["broken"]
    assert stats["dropped"]["adapter"] == 2  # the span and the synthesized workflow span
    assert "adapter bug" in stats["last_error"] or "batch bug" in stats["last_error"]
