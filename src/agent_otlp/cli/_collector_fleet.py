"""The two Collector tiers behind a fleet of ingest bridges (docs/scale-out.md), as YAML.

* The **load-balancing tier** receives OTLP from every bridge and routes each span by its
  trace id (the contrib ``loadbalancing`` exporter, static resolver) to one instance of the
  sampling tier, so every span of a trace meets on one instance. Its sending queue is kept
  on disk (``file_storage``) and the per-endpoint exporters keep no queue of their own: a
  batch leaves the disk only when a sampling instance acknowledged it.
* The **sampling tier** holds each trace whole (``groupbytrace``), then applies the
  project's sampling policy with ``tail_sampling``: a trace with an error or a tripped
  guardrail is kept (pipeline ``traces/kept``); any other trace is kept at the rate
  (pipeline ``traces/sampled``, which records the rate as ``agent_otlp.sample_rate`` on
  its spans, as the bridge's own sampling does). Its exporters' queues are on disk too.

Ports and directories are ``${env:...}`` references with defaults, so one file serves
every instance of a tier. Pure: no I/O.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Final

from agent_otlp.cli._collector_yaml import backend_exporters, receivers, to_yaml
from agent_otlp.core.config.errors import ConfigError
from agent_otlp.core.convert.attributes import (
    GUARDRAIL_RESULT_TYPE,
    GUARDRAIL_RESULT_VALUE,
    TRIPWIRE,
)
from agent_otlp.core.plugins.sampling import RATE_ATTRIBUTE

__all__ = ["FleetOptions", "fleet_configs"]

LOADBALANCER_FILE: Final = "loadbalancer.yaml"
SAMPLER_FILE: Final = "sampler.yaml"
_STORAGE: Final = "file_storage/queue"
_ERROR_POLICY: Final = {"name": "error", "type": "status_code",
                        "status_code": {"status_codes": ["ERROR"]}}
_GUARDRAIL_POLICY: Final = {
    "name": "guardrail-tripped", "type": "ottl_condition",
    "ottl_condition": {"error_mode": "ignore", "span": [
        f'attributes["{GUARDRAIL_RESULT_TYPE}"] == "{TRIPWIRE}" and '
        f'attributes["{GUARDRAIL_RESULT_VALUE}"] == "true"'
    ]},
}


@dataclass(frozen=True)
class FleetOptions:
    """What the two tiers are made of."""

    #: the sampling tier's instances as host:port (OTLP/gRPC), in the order of the ring
    samplers: list[str]
    #: the backends the sampling tier delivers to, as (name, url)
    targets: list[tuple[str, str]]
    headers: dict[str, dict[str, str]] = field(default_factory=dict)
    #: share of the traces without an error or a tripped guardrail that is kept
    rate: float = 1.0
    #: seconds a sampling instance waits after a trace's first span before deciding it
    decision_wait: float = 10.0

    def check(self) -> None:
        if not self.samplers:
            raise ConfigError("--sampler", "", "give the sampling tier's instances as HOST:PORT")
        for endpoint in self.samplers:
            host, sep, port = endpoint.rpartition(":")
            if not sep or not host or not port.isdigit():
                raise ConfigError("--sampler", endpoint, "expected HOST:PORT (OTLP/gRPC)")
        if not 0.0 < self.rate <= 1.0:
            raise ConfigError("--rate", str(self.rate), "expected a share above 0, at most 1")
        if self.decision_wait <= 0:
            raise ConfigError("--decision-wait", str(self.decision_wait), "expected seconds above 0")


def _env(name: str, default: str) -> str:
    return "${env:" + name + ":-" + default + "}"


def _extensions() -> dict[str, Any]:
    return {
        "health_check": {"endpoint": _env("OTELCOL_HEALTH_ENDPOINT", "0.0.0.0:13133")},
        _STORAGE: {"directory": _env("OTELCOL_STORAGE_DIR", "/var/lib/otelcol/queue"),
                   "create_directory": True},
    }


def _service(pipelines: dict[str, Any]) -> dict[str, Any]:
    return {
        "extensions": ["health_check", _STORAGE],
        "telemetry": {"metrics": {"readers": [{"pull": {"exporter": {"prometheus": {
            "host": _env("OTELCOL_METRICS_HOST", "127.0.0.1"),
            "port": _env("OTELCOL_METRICS_PORT", "8888"),
        }}}}]}},
        "pipelines": pipelines,
    }


def _durable_queue() -> dict[str, Any]:
    return {"enabled": True, "storage": _STORAGE, "num_consumers": 4, "queue_size": 5000}


def _retry() -> dict[str, Any]:
    """Retry until the far end comes back: the queue is on disk, nothing is given up."""
    return {"enabled": True, "initial_interval": "1s", "max_interval": "5s", "max_elapsed_time": 0}


def _listen() -> dict[str, Any]:
    return receivers(_env("OTELCOL_GRPC_ENDPOINT", "0.0.0.0:4317"),
                     _env("OTELCOL_HTTP_ENDPOINT", "0.0.0.0:4318"))


def loadbalancer_document(options: FleetOptions) -> dict[str, Any]:
    """The load-balancing tier: OTLP in, spans routed by trace id to the sampling tier."""
    exporter = {
        "routing_key": "traceID",
        "sending_queue": _durable_queue(),
        "retry_on_failure": _retry(),
        "timeout": "10s",
        "protocol": {"otlp": {"tls": {"insecure": True}, "timeout": "5s",
                              "sending_queue": {"enabled": False},
                              "retry_on_failure": {"enabled": False}}},
        "resolver": {"static": {"hostnames": list(options.samplers)}},
    }
    return {
        "extensions": _extensions(),
        "receivers": _listen(),
        "exporters": {"loadbalancing": exporter},
        "service": _service({"traces": {"receivers": ["otlp"], "processors": [],
                                        "exporters": ["loadbalancing"]}}),
    }


def _tail_sampling(policies: list[dict[str, Any]]) -> dict[str, Any]:
    """groupbytrace already waited for the trace: tail_sampling decides on what it released."""
    return {"decision_wait": "1s", "num_traces": 100_000, "policies": policies,
            # spans arriving after their trace was decided follow the decision
            "decision_cache": {"sampled_cache_size": 100_000, "non_sampled_cache_size": 100_000}}


def sampler_document(options: FleetOptions) -> dict[str, Any]:
    """The sampling tier: whole traces, the project's policy, then the backends."""
    exporters = backend_exporters(options.targets, options.headers)
    for config in exporters.values():
        config["sending_queue"] = _durable_queue()
        config["retry_on_failure"] = _retry()
    wait = options.decision_wait
    weight = max(1, round(1 / options.rate))
    rest: list[dict[str, Any]] = [
        {"name": "not-error", "type": "drop", "drop": {"drop_sub_policy": [_ERROR_POLICY]}},
        {"name": "not-guardrail", "type": "drop", "drop": {"drop_sub_policy": [_GUARDRAIL_POLICY]}},
        {"name": "rate", "type": "probabilistic",
         "probabilistic": {"sampling_percentage": round(options.rate * 100, 6)}},
    ]
    processors: dict[str, Any] = {
        "groupbytrace": {"wait_duration": f"{wait:g}s", "num_traces": 100_000},
        "tail_sampling/kept": _tail_sampling([_ERROR_POLICY, _GUARDRAIL_POLICY]),
        "tail_sampling/sampled": _tail_sampling(rest),
        "batch": {},
    }
    sampled = ["groupbytrace", "tail_sampling/sampled"]
    if weight != 1:
        processors["attributes/sample_rate"] = {"actions": [
            {"key": RATE_ATTRIBUTE, "value": weight, "action": "upsert"}]}
        sampled.append("attributes/sample_rate")
    names = list(exporters)
    pipelines = {
        "traces/kept": {"receivers": ["otlp"],
                        "processors": ["groupbytrace", "tail_sampling/kept", "batch"],
                        "exporters": names},
        "traces/sampled": {"receivers": ["otlp"], "processors": [*sampled, "batch"],
                           "exporters": names},
    }
    return {
        "extensions": _extensions(),
        "receivers": _listen(),
        "processors": processors,
        "exporters": exporters,
        "service": _service(pipelines),
    }


def _head(tier: str, options: FleetOptions) -> list[str]:
    return [
        f"# OpenTelemetry Collector configuration, {tier} tier of a bridge fleet, generated by",
        "# `agent-otlp collector-config --fleet` (docs/scale-out.md). Every instance of this tier",
        "# runs this file; set OTELCOL_GRPC_ENDPOINT, OTELCOL_HTTP_ENDPOINT, OTELCOL_HEALTH_ENDPOINT,",
        "# OTELCOL_METRICS_PORT and OTELCOL_STORAGE_DIR (one directory per instance) to override",
        f"# the defaults. Sampling tier: {', '.join(options.samplers)}; rate {options.rate:g}.",
    ]


def fleet_configs(options: FleetOptions) -> dict[str, str]:
    """The two tiers' configurations by file name (``loadbalancer.yaml``, ``sampler.yaml``)."""
    options.check()
    return {
        LOADBALANCER_FILE: "\n".join(_head("load-balancing", options)
                                     + to_yaml(loadbalancer_document(options))) + "\n",
        SAMPLER_FILE: "\n".join(_head("sampling", options)
                                + to_yaml(sampler_document(options))) + "\n",
    }
