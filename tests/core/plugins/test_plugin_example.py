"""The example adapter (examples/adapter-plugin) loaded in-process, without installing it:
``AdapterManager.register_adapter`` is how tests and embedding applications add adapters."""

from __future__ import annotations

import importlib
import sys
from collections.abc import Iterator
from types import ModuleType

import pytest

import agent_otlp
from _paths import ROOT
from agent_otlp import ConfigError
from agent_otlp.core.plugins.manager import AdapterManager
from agent_otlp.factory import resolve_all
from agent_otlp.testing import OTLPReceiver
from test_adapters_support import agent_trace, clean_env

__all__ = ["clean_env"]

SRC = ROOT / "examples" / "adapter-plugin" / "src"


@pytest.fixture
def acme(monkeypatch: pytest.MonkeyPatch) -> Iterator[ModuleType]:
    monkeypatch.syspath_prepend(str(SRC))
    module = importlib.import_module("agent_otlp_acme")
    yield module
    sys.modules.pop("agent_otlp_acme", None)


def _manager(module: ModuleType) -> AdapterManager:
    manager = AdapterManager(load_entry_points=False)
    manager.register_adapter("acme", module, distribution="agent-otlp-acme")
    return manager


def test_defaults_and_validation(acme: ModuleType, clean_env: dict[str, str]) -> None:
    with pytest.raises(ConfigError, match="ACME_API_KEY"):
        resolve_all("acme", env=clean_env, manager=_manager(acme))
    [(settings, _)] = resolve_all("acme", env={**clean_env, "ACME_API_KEY": "k-123"},
                                  manager=_manager(acme))
    assert settings.endpoint == "https://ingest.acme.example/v1/traces"
    assert settings.attribute_value_limit == 1024
    assert "k-123" not in str(settings.describe())
    with pytest.raises(ConfigError, match="OTLP/HTTP only"):
        resolve_all("acme", env={**clean_env, "ACME_API_KEY": "k"}, protocol="grpc",
                    manager=_manager(acme))


def test_only_the_selected_adapter_runs(
    acme: ModuleType, otlp_receiver: OTLPReceiver, clean_env: dict[str, str]
) -> None:
    manager = _manager(acme)
    from agent_otlp.adapters import jaeger

    manager.register_adapter("jaeger", jaeger)
    exporter = agent_otlp.create_exporter(
        "jaeger", env=clean_env, manager=manager, endpoint=otlp_receiver.endpoint
    )
    assert exporter.submit_items(agent_trace()) == []
    exporter.end_all_traces()
    exporter.shutdown(10)
    spans = otlp_receiver.spans()
    assert spans and not any(k.startswith("acme.") for s in spans for k in s.attributes)
    assert all("acme.integration" not in s.resource for s in spans)
