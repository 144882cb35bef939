"""The tempo adapter, checked at a real in-process OTLP receiver standing in for Tempo's OTLP
receiver (same protocol, same ports' behaviour)."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from agent_otlp import ConfigError
from agent_otlp.adapters._budget import span_bytes
from agent_otlp.adapters.tempo import agent_otlp_process_batch
from agent_otlp.cli import _register, app
from agent_otlp.core.convert.records import SpanRecord
from agent_otlp.factory import resolve_all
from agent_otlp.testing import OTLPReceiver
from test_adapters_support import agent_trace, by_type, clean_env, export

__all__ = ["clean_env"]


def test_tenant_header_from_option_and_env(
    otlp_receiver: OTLPReceiver, clean_env: dict[str, str]
) -> None:
    export("tempo", agent_trace(), clean_env, endpoint=otlp_receiver.endpoint,
           options={"tenant": "team-a"})
    export("tempo", agent_trace(), {**clean_env, "AGENT_OTLP_TEMPO_TENANT": "team-b"},
           endpoint=otlp_receiver.endpoint)
    tenants = [r.headers.get("x-scope-orgid") for r in otlp_receiver.requests]
    assert tenants[0] == "team-a" and tenants[-1] == "team-b"
    assert all(r.compression == "gzip" for r in otlp_receiver.requests)
    assert otlp_receiver.requests[0].path == "/v1/traces"


def test_tenant_over_grpc(otlp_grpc_receiver: OTLPReceiver, clean_env: dict[str, str]) -> None:
    export("tempo", agent_trace(), clean_env, endpoint=otlp_grpc_receiver.endpoint,
           protocol="grpc", options={"tenant": "team-g"})
    assert otlp_grpc_receiver.requests[0].headers["x-scope-orgid"] == "team-g"


def test_multitenancy_without_tenant_is_a_config_error(clean_env: dict[str, str]) -> None:
    with pytest.raises(ConfigError, match=r"multitenancy = true needs a tenant"):
        resolve_all("tempo", env={**clean_env, "AGENT_OTLP_TEMPO_MULTITENANCY": "true"})
    # a tenant given as an explicit header is enough
    [(settings, _)] = resolve_all(
        "tempo", env=clean_env, headers={"X-Scope-OrgID": "t"}, options={"multitenancy": True}
    )
    assert settings.headers["X-Scope-OrgID"] == "t"


def test_values_capped_at_2048_bytes_with_json_kept_valid(
    otlp_receiver: OTLPReceiver, clean_env: dict[str, str]
) -> None:
    items = agent_trace(content="é" * 5000, metadata={"notes": "n" * 4000})
    export("tempo", items, clean_env, endpoint=otlp_receiver.endpoint, capture_content=True)
    spans = otlp_receiver.spans()
    for span in spans:
        for value in span.attributes.values():
            if isinstance(value, str):
                assert len(value.encode()) <= 2048
        for event in span.events:
            for value in event.attributes.values():
                if isinstance(value, str):
                    assert len(value.encode()) <= 2048
    [generation] = by_type(spans, "generation")
    messages = generation.attributes["gen_ai.input.messages"]
    assert json.loads(messages)[0]["role"] == "user"
    assert "gen_ai.input.messages" in generation.attributes["agent_otlp.truncated"]
    [root] = by_type(spans, "trace")
    assert "openai_agents.metadata.notes" in root.attributes["agent_otlp.truncated"]


def test_value_limit_is_configurable(otlp_receiver: OTLPReceiver, clean_env: dict[str, str]) -> None:
    items = agent_trace(metadata={"notes": "n" * 4000})
    export("tempo", items, {**clean_env, "AGENT_OTLP_TEMPO_ATTRIBUTE_VALUE_LIMIT": "300"},
           endpoint=otlp_receiver.endpoint)
    [root] = by_type(otlp_receiver.spans(), "trace")
    assert len(root.attributes["openai_agents.metadata.notes"]) == 300


def test_trace_budget_sheds_content_before_dropping_spans(
    otlp_receiver: OTLPReceiver, clean_env: dict[str, str]
) -> None:
    """Six generations of ~2 KB content each against a 12 KB budget: the later spans lose
    their content, none is dropped."""
    items = agent_trace(content="c" * 1500, generations=6)
    exporter = export("tempo", items, clean_env, endpoint=otlp_receiver.endpoint,
                      capture_content=True, batch_size=1000,
                      options={"max_bytes_per_trace": 12000})
    spans = otlp_receiver.spans()
    assert len(spans) == 10
    generations = by_type(spans, "generation")
    with_content = [s for s in generations if "gen_ai.input.messages" in s.attributes]
    shed = [s for s in generations if "agent_otlp.shed" in s.attributes]
    assert with_content and shed
    assert "gen_ai.input.messages" in shed[0].attributes["agent_otlp.shed"]
    assert exporter.stats.snapshot()["destinations"]["tempo"]["dropped"].get("adapter", 0) == 0


def test_trace_budget_drops_spans_but_keeps_roots(clean_env: dict[str, str]) -> None:
    def span(n: int, parent: bytes) -> SpanRecord:
        return SpanRecord(b"\x07" * 16, n.to_bytes(8, "big"), parent, "s", 1, 1, 2,
                          {"openai_agents.metadata.x": "y" * 400})

    [(settings, _)] = resolve_all("tempo", env=clean_env, options={"max_bytes_per_trace": 2048})
    state: dict[str, object] = {}
    batch = [span(n, b"\x01" * 8) for n in range(1, 9)] + [span(99, b"")]
    agent_otlp_process_batch(spans=batch, settings=settings, state=state)
    assert batch[-1].parent_span_id == b""  # the root survived
    assert 1 < len(batch) < 9
    assert sum(span_bytes(s) for s in batch[:-1]) <= 2048
    assert state["tempo_dropped_spans"] == 9 - len(batch)
    # the budget is per trace: another trace starts from zero
    other = [SpanRecord(b"\x08" * 16, b"\x01" * 8, b"\x02" * 8, "s", 1, 1, 2, {})]
    agent_otlp_process_batch(spans=other, settings=settings, state=state)
    assert len(other) == 1


def test_tempo_columns_prints_dedicated_columns() -> None:
    _register()
    result = CliRunner().invoke(app, ["tempo-columns", "-A", "gen_ai.workflow.name"])
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert "      parquet_dedicated_columns:" in lines
    for name in ("gen_ai.agent.name", "gen_ai.request.model", "gen_ai.operation.name",
                 "gen_ai.workflow.name"):
        index = lines.index(f"        - name: {name}")
        assert lines[index + 1:index + 3] == ["          type: string", "          scope: span"]
