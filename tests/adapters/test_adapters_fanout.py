"""Several adapters at once: each destination has its own queue, retries and content policy."""

from __future__ import annotations

import socket
import time
from pathlib import Path

import agent_otlp
from agent_otlp.testing import OTLPReceiver
from test_adapters_support import agent_trace, by_type, clean_env

__all__ = ["clean_env"]

KEY = "hcaik_01hqk4k20cjeh63wca8vva5stw70nft6m5n8wr8f5mjx3762s8269j50wc"


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_dead_destination_does_not_delay_the_live_one(
    otlp_receiver: OTLPReceiver, clean_env: dict[str, str]
) -> None:
    schedule_delay = 0.2
    exporter = agent_otlp.create_exporter(
        "jaeger,tempo",
        env=clean_env,
        schedule_delay=schedule_delay,
        destinations={
            "jaeger": {"endpoint": otlp_receiver.endpoint},
            "tempo": {"endpoint": f"http://127.0.0.1:{_closed_port()}"},
        },
    )
    try:
        items = [item for _ in range(3) for item in agent_trace()]
        start = time.monotonic()
        assert exporter.submit_items(items) == []
        exporter.end_all_traces()
        # no flush: the live destination sends on its own schedule
        assert otlp_receiver.wait_for_spans(15, timeout=schedule_delay + 1.0)
        elapsed = time.monotonic() - start
        assert elapsed < schedule_delay + 1.0
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline:  # stats are updated once the responses are read
            snapshot = exporter.stats.snapshot()["destinations"]
            tempo, jaeger = snapshot["tempo"], snapshot["jaeger"]
            if tempo["retries"] >= 1 and jaeger["exported"] == 15:
                break
            time.sleep(0.02)
        assert tempo["retries"] >= 1 and tempo["exported"] == 0
        assert "refused" in tempo["last_error"].lower()
        assert jaeger["exported"] == 15 and jaeger["retries"] == 0
    finally:
        exporter.shutdown(0.5)
    assert len(otlp_receiver.spans()) == 15


def test_content_for_one_destination_only(
    otlp_receiver_factory: object, clean_env: dict[str, str]
) -> None:
    jaeger_rx = otlp_receiver_factory()  # type: ignore[operator]
    honeycomb_rx = otlp_receiver_factory()  # type: ignore[operator]
    exporter = agent_otlp.create_exporter(
        ["jaeger", "honeycomb"],
        env=clean_env,
        options={"api_key": KEY},
        destinations={
            "jaeger": {"endpoint": jaeger_rx.endpoint, "capture_content": True},
            "honeycomb": {"endpoint": honeycomb_rx.endpoint},
        },
    )
    assert exporter.submit_items(agent_trace(content="secret plan")) == []
    exporter.end_all_traces()
    assert exporter.shutdown(10).delivered
    [jaeger_gen] = by_type(jaeger_rx.spans(), "generation")
    [event] = [e for e in jaeger_gen.events if e.name == "gen_ai.content"]
    assert "secret plan" in event.attributes["gen_ai.input.messages"]
    [honeycomb_gen] = by_type(honeycomb_rx.spans(), "generation")
    assert "gen_ai.input.messages" not in honeycomb_gen.attributes
    assert not any("secret plan" in str(e.attributes) for e in honeycomb_gen.events)
    assert honeycomb_rx.requests[0].headers["x-honeycomb-team"] == KEY


def test_adapters_and_content_from_the_config_file(
    otlp_receiver_factory: object, clean_env: dict[str, str], tmp_path: Path
) -> None:
    tempo_rx = otlp_receiver_factory()  # type: ignore[operator]
    collector_rx = otlp_receiver_factory()  # type: ignore[operator]
    config = tmp_path / "agent-otlp.toml"
    config.write_text(
        'adapters = ["tempo", "collector"]\n'
        "[destination.tempo]\n"
        f'endpoint = "{tempo_rx.endpoint}"\n'
        'tenant = "team-a"\n'
        "capture_content = true\n"
        "[destination.collector]\n"
        f'endpoint = "{collector_rx.endpoint}"\n'
    )
    exporter = agent_otlp.create_exporter(env={**clean_env, "AGENT_OTLP_CONFIG": str(config)})
    assert exporter.submit_items(agent_trace(content="hello there")) == []
    exporter.end_all_traces()
    assert exporter.shutdown(10).delivered
    [tempo_gen] = by_type(tempo_rx.spans(), "generation")
    assert "hello there" in tempo_gen.attributes["gen_ai.input.messages"]
    assert tempo_rx.requests[0].headers["x-scope-orgid"] == "team-a"
    [collector_gen] = by_type(collector_rx.spans(), "generation")
    assert "gen_ai.input.messages" not in collector_gen.attributes
    assert "x-scope-orgid" not in collector_rx.requests[0].headers
