"""The honeycomb adapter.

Honeycomb's SaaS cannot be reached from here, so a local in-process OTLP receiver stands in
for it: the endpoint is overridden to the receiver (``endpoint=receiver.endpoint``) and
everything the adapter decides (headers, limits, SampleRate, retries) is checked there.
"""

from __future__ import annotations

import threading
import time
from typing import Any

import pytest

from agent_otlp import ConfigError
from agent_otlp.adapters._budget import span_bytes
from agent_otlp.adapters.honeycomb import agent_otlp_process_batch, is_classic_key
from agent_otlp.core.config.secrets import Secret
from agent_otlp.core.convert.records import SpanRecord
from agent_otlp.factory import resolve_all
from agent_otlp.testing import OTLPReceiver, ReceivedRequest, Reply
from test_adapters_support import agent_trace, clean_env, export

__all__ = ["clean_env"]

INGEST_KEY = "hcaik_01hqk4k20cjeh63wca8vva5stw70nft6m5n8wr8f5mjx3762s8269j50wc"
CLASSIC_KEY = "0123456789abcdef0123456789abcdef"
CLASSIC_INGEST_KEY = "hcxic_" + "a1" * 29


@pytest.mark.parametrize(
    ("key", "classic"),
    [
        (CLASSIC_KEY, True),
        (CLASSIC_INGEST_KEY, True),
        (INGEST_KEY, False),
        ("abcdefghijklmnopqrstuv", False),  # 22-character Environment configuration key
        ("0123456789ABCDEF0123456789ABCDEF", False),
        ("", False),
    ],
)
def test_key_classification(key: str, classic: bool) -> None:
    assert is_classic_key(key) is classic


@pytest.mark.parametrize(
    ("region", "protocol", "endpoint"),
    [
        ("us", None, "https://api.honeycomb.io/v1/traces"),
        ("eu", None, "https://api.eu1.honeycomb.io/v1/traces"),
        ("us", "grpc", "https://api.honeycomb.io:443"),
        ("EU", "grpc", "https://api.eu1.honeycomb.io:443"),
    ],
)
def test_region_presets(
    clean_env: dict[str, str], region: str, protocol: str | None, endpoint: str
) -> None:
    env = {**clean_env, "HONEYCOMB_API_KEY": INGEST_KEY}
    if protocol:
        env["AGENT_OTLP_PROTOCOL"] = protocol
    [(settings, _)] = resolve_all("honeycomb", env=env, options={"region": region})
    assert settings.endpoint == endpoint
    assert settings.attribute_count_limit == 2000
    assert settings.attribute_value_limit == 65536


def test_missing_key_and_bad_region_are_config_errors(clean_env: dict[str, str]) -> None:
    with pytest.raises(ConfigError, match="HONEYCOMB_API_KEY"):
        resolve_all("honeycomb", env=clean_env)
    with pytest.raises(ConfigError, match="expected us or eu"):
        resolve_all("honeycomb", env={**clean_env, "HONEYCOMB_API_KEY": INGEST_KEY},
                    options={"region": "ap"})
    with pytest.raises(ConfigError, match="needs a dataset"):
        resolve_all("honeycomb", env={**clean_env, "HONEYCOMB_API_KEY": CLASSIC_KEY})


def test_key_is_a_secret(clean_env: dict[str, str]) -> None:
    [(settings, _)] = resolve_all("honeycomb", env={**clean_env, "HONEYCOMB_API_KEY": INGEST_KEY})
    assert isinstance(settings.headers["x-honeycomb-team"], Secret)
    shown = repr(settings) + str(settings.describe())
    assert INGEST_KEY not in shown


def test_environment_key_sends_no_dataset(
    otlp_receiver: OTLPReceiver, clean_env: dict[str, str]
) -> None:
    env = {**clean_env, "HONEYCOMB_API_KEY": INGEST_KEY}
    export("honeycomb", agent_trace(), env, endpoint=otlp_receiver.endpoint,
           options={"dataset": "ignored"})
    [request] = otlp_receiver.requests
    assert request.path == "/v1/traces"
    assert request.compression == "gzip"
    assert request.headers["x-honeycomb-team"] == INGEST_KEY
    assert "x-honeycomb-dataset" not in request.headers


@pytest.mark.parametrize("key", [CLASSIC_KEY, CLASSIC_INGEST_KEY])
def test_classic_key_sends_dataset(
    otlp_receiver: OTLPReceiver, clean_env: dict[str, str], key: str
) -> None:
    export("honeycomb", agent_trace(), clean_env, endpoint=otlp_receiver.endpoint,
           options={"api_key": key, "dataset": "agents"})
    [request] = otlp_receiver.requests
    assert request.headers["x-honeycomb-team"] == key
    assert request.headers["x-honeycomb-dataset"] == "agents"


def test_grpc_headers(otlp_grpc_receiver: OTLPReceiver, clean_env: dict[str, str]) -> None:
    export("honeycomb", agent_trace(), clean_env, endpoint=otlp_grpc_receiver.endpoint,
           protocol="grpc", options={"api_key": CLASSIC_KEY, "dataset": "agents"})
    [request] = otlp_grpc_receiver.requests
    assert request.headers["x-honeycomb-team"] == CLASSIC_KEY
    assert request.headers["x-honeycomb-dataset"] == "agents"


def test_attribute_count_and_string_limits(
    otlp_receiver: OTLPReceiver, clean_env: dict[str, str]
) -> None:
    custom: dict[str, Any] = {f"field{i:04d}": i for i in range(2100)}
    custom["big"] = "b" * 70_000
    export("honeycomb", agent_trace(custom=custom), clean_env, endpoint=otlp_receiver.endpoint,
           options={"api_key": INGEST_KEY})
    [span] = otlp_receiver.by_name("lookup")
    assert len(span.attributes) <= 2000
    assert span.dropped_attributes_count >= 100
    big = span.attributes.get("openai_agents.span_data.data.big")
    if big is not None:  # it may have been dropped by the count limit; if kept, it is cut
        assert len(big.encode()) <= 65536


def test_oversized_span_sheds_content_then_cuts(clean_env: dict[str, str]) -> None:
    [(settings, _)] = resolve_all("honeycomb", env=clean_env,
                                  options={"api_key": INGEST_KEY, "max_event_bytes": 100_000})
    attributes: dict[str, Any] = {f"openai_agents.span_data.data.f{i}": "x" * 30_000 for i in range(5)}
    attributes["gen_ai.input.messages"] = '[{"role": "user", "content": "' + "m" * 30_000 + '"}]'
    attributes["gen_ai.operation.name"] = "chat"
    record = SpanRecord(b"\x01" * 16, b"\x02" * 8, b"", "chat", 1, 1, 2, attributes)
    small = SpanRecord(b"\x01" * 16, b"\x03" * 8, b"", "ok", 1, 1, 2, {"gen_ai.input.messages": "[]"})
    batch = [record, small]
    agent_otlp_process_batch(spans=batch, settings=settings, state={})
    assert len(batch) == 2
    assert span_bytes(record) <= 100_000
    assert "gen_ai.input.messages" not in record.attributes
    assert record.attributes["agent_otlp.shed"] == ["gen_ai.input.messages"]
    assert record.attributes["agent_otlp.truncated"]
    assert record.attributes["gen_ai.operation.name"] == "chat"
    assert small.attributes == {"gen_ai.input.messages": "[]"}  # small spans untouched


def test_sample_rate_on_every_span_of_kept_traces(
    otlp_receiver: OTLPReceiver, clean_env: dict[str, str]
) -> None:
    items = [item for _ in range(12) for item in agent_trace()]
    export("honeycomb", items, clean_env, endpoint=otlp_receiver.endpoint,
           options={"api_key": INGEST_KEY}, sample_rate=0.5, sample_keep_errors=False)
    spans = otlp_receiver.spans()
    traces = {s.trace_id for s in spans}
    assert 0 < len(traces) < 12
    assert len(spans) == 5 * len(traces)  # whole traces, children included
    for span in spans:
        assert span.attributes["SampleRate"] == 2
        assert span.attributes["agent_otlp.sample_rate"] == 2
    assert any(s.parent_span_id for s in spans)


def test_no_sample_rate_without_sampling(otlp_receiver: OTLPReceiver, clean_env: dict[str, str]) -> None:
    export("honeycomb", agent_trace(), clean_env, endpoint=otlp_receiver.endpoint,
           options={"api_key": INGEST_KEY})
    assert all("SampleRate" not in s.attributes for s in otlp_receiver.spans())


def test_429_without_retry_after_is_backed_off(
    otlp_receiver: OTLPReceiver, clean_env: dict[str, str]
) -> None:
    arrivals: list[float] = []
    lock = threading.Lock()

    def answer(request: ReceivedRequest) -> Reply | None:
        with lock:
            arrivals.append(time.monotonic())
            return Reply(status=429) if len(arrivals) <= 2 else None

    otlp_receiver.set_handler(answer)
    exporter = export("honeycomb", agent_trace(), clean_env, endpoint=otlp_receiver.endpoint,
                      options={"api_key": INGEST_KEY})
    assert otlp_receiver.span_count() == 5
    assert [r.replied_status for r in otlp_receiver.requests] == [429, 429, 200]
    assert all("retry-after" not in r.headers for r in otlp_receiver.requests)
    first, second = arrivals[1] - arrivals[0], arrivals[2] - arrivals[1]
    assert first >= 0.04  # backed off although the server gave no Retry-After
    assert second >= first * 0.9  # and the delay grows (exponential, with jitter)
    stats = exporter.stats.snapshot()["destinations"]["honeycomb"]
    assert stats["retries"] == 2 and stats["exported"] == 5
