"""The pieces of a bridge fleet on one machine (integration/test_fleet.py, bench/fleet.py):
``agent-otlp serve --fleet`` processes, HAProxy balancing them round-robin, and Collector
instances running the tiers that ``agent-otlp collector-config --fleet`` writes.

Everything listens on 127.0.0.1 only.
"""

from __future__ import annotations

import http.client
import json
import os
import shutil
import signal
import subprocess
import sys
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from integration.harness import LOOPBACK, NativeBackend, _free_ports, _http_ok

__all__ = ["Balancer", "FleetBridge", "TierCollector", "fleet_trace", "generate_tiers", "post"]


def generate_tiers(out: Path, samplers: list[str], jaeger_grpc: str, rate: float,
                   decision_wait: float) -> dict[str, Path]:
    """Run ``agent-otlp collector-config --fleet`` into ``out``; the files by tier name."""
    command = [sys.executable, "-c", "from agent_otlp.cli import main; main()", "collector-config",
               "--fleet", "--rate", str(rate), "--decision-wait", str(decision_wait),
               "--to", f"jaeger=grpc://{jaeger_grpc}", "--out", str(out)]
    for sampler in samplers:
        command += ["--sampler", sampler]
    subprocess.run(command, check=True, capture_output=True, text=True, timeout=60)
    return {"loadbalancer": out / "loadbalancer.yaml", "sampler": out / "sampler.yaml"}


class TierCollector(NativeBackend):
    """One Collector instance running a generated tier file as it is; its ports and its queue
    directory come from the ``OTELCOL_*`` variables the file reads. The queue directory is
    kept across restarts."""

    build_name = "otelcol"
    port_names = ("otlp_grpc", "otlp_http", "health", "metrics")

    def __init__(self, binary: Path, name: str) -> None:
        self.name = name
        super().__init__(binary)
        self._text = ""
        self.ports = dict(zip(self.port_names, _free_ports(len(self.port_names)), strict=True))
        self._ports_fixed = True

    def use(self, config: Path) -> TierCollector:
        """Run the tier file ``config`` (as it is) from the next start on."""
        self._text = config.read_text()
        return self

    def _config(self) -> str:
        return self._text

    def _environment(self) -> dict[str, str]:
        return {
            **super()._environment(),
            "OTELCOL_GRPC_ENDPOINT": f"{LOOPBACK}:{self.ports['otlp_grpc']}",
            "OTELCOL_HTTP_ENDPOINT": f"{LOOPBACK}:{self.ports['otlp_http']}",
            "OTELCOL_HEALTH_ENDPOINT": f"{LOOPBACK}:{self.ports['health']}",
            "OTELCOL_METRICS_PORT": str(self.ports["metrics"]),
            "OTELCOL_STORAGE_DIR": str(self.workdir / "queue"),
        }

    def _is_ready(self) -> bool:
        return _http_ok(f"http://{LOOPBACK}:{self.ports['health']}/")


class FleetBridge:
    """``agent-otlp serve --fleet`` with its own span store, sending OTLP/HTTP to ``endpoint``."""

    def __init__(self, workdir: Path, port: int, endpoint: str) -> None:
        self.store = workdir / f"bridge-{port}.db"
        self.port = port
        self.endpoint = endpoint
        self.log = workdir / f"bridge-{port}.log"
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> FleetBridge:
        command = [sys.executable, "-c", "from agent_otlp.cli import main; main()", "serve",
                   "--fleet", "--store", str(self.store), "--port", str(self.port),
                   "--adapter", "otlp", "--endpoint", self.endpoint]
        with open(self.log, "ab") as log:
            self.process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT,
                                            stdin=subprocess.DEVNULL, env=dict(os.environ, COLUMNS="200"))
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"bridge exited: {self.log.read_text()[-2000:]}")
            if _http_ok(f"http://{LOOPBACK}:{self.port}/healthz"):
                return self
            time.sleep(0.05)
        raise RuntimeError(f"bridge not ready: {self.log.read_text()[-2000:]}")

    def kill(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
            self.process.wait(10)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(40)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(10)


class Balancer:
    """HAProxy balancing HTTP requests round-robin over ``backends`` (ports on 127.0.0.1),
    taking a backend out while its ``/healthz`` fails and resending a refused connection to
    another one."""

    def __init__(self, workdir: Path, backends: list[int]) -> None:
        self.port = _free_ports(1)[0]
        self.config = workdir / "haproxy.cfg"
        servers = "\n".join(f"    server bridge{i} {LOOPBACK}:{port} check inter 200ms fall 1 rise 2"
                            for i, port in enumerate(backends))
        self.config.write_text(
            "defaults\n    mode http\n    timeout connect 1s\n    timeout client 30s\n"
            "    timeout server 30s\n    retries 3\n    option redispatch\n"
            f"frontend ingest\n    bind {LOOPBACK}:{self.port}\n    default_backend bridges\n"
            "backend bridges\n    balance roundrobin\n    option httpchk GET /healthz\n"
            f"{servers}\n")
        self.process: subprocess.Popen[bytes] | None = None

    @staticmethod
    def binary() -> str | None:
        return shutil.which("haproxy") or next(
            (p for p in ("/usr/sbin/haproxy", "/usr/local/sbin/haproxy") if Path(p).exists()), None)

    def start(self) -> Balancer:
        binary = self.binary()
        assert binary, "haproxy is not installed (scripts/test installs it)"
        self.process = subprocess.Popen([binary, "-f", str(self.config), "-db"],
                                        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            assert self.process.poll() is None, "haproxy exited"
            if _http_ok(f"http://{LOOPBACK}:{self.port}/healthz"):
                return self
            time.sleep(0.05)
        raise RuntimeError("haproxy not ready")

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(10)


def post(port: int, items: list[dict[str, Any]], timeout: float = 10.0) -> int:
    """POST ``items`` to the ingest endpoint on ``port``; the status (0: no answer)."""
    conn = http.client.HTTPConnection(LOOPBACK, port, timeout=timeout)
    try:
        conn.request("POST", "/v1/traces/ingest", json.dumps({"data": items}),
                     {"Content-Type": "application/json"})
        response = conn.getresponse()
        response.read()
        return response.status
    except OSError:
        return 0
    finally:
        conn.close()


def _stamp(base: datetime, ms: int) -> str:
    return (base + timedelta(milliseconds=ms)).isoformat()


def fleet_trace(kind: str, spans: int = 6) -> tuple[str, list[list[dict[str, Any]]]]:
    """One SDK-shaped trace (``kind``: ``plain``, ``error`` or ``guardrail``) as three
    batches, the way the SDK's exporter posts a longer trace: the trace object with the
    first spans, then more spans, then the rest with the root span (which ends last).
    Returns the 32-hex trace id and the batches."""
    hex_id = uuid.uuid4().hex
    trace_id = f"trace_{hex_id}"
    base = datetime.now(UTC) - timedelta(seconds=5)
    root = f"span_{uuid.uuid4().hex[:24]}"

    def span(n: int, data: dict[str, Any], parent: str | None = root, **extra: Any) -> dict[str, Any]:
        return {"object": "trace.span", "id": f"span_{uuid.uuid4().hex[:24]}" if n else root,
                "trace_id": trace_id, "parent_id": parent, "started_at": _stamp(base, 10 * n + 1),
                "ended_at": _stamp(base, 10 * n + 5 if n else 10 * spans + 10),
                "span_data": data, **extra}

    children = [span(n, {"type": "function", "name": f"tool{n}", "input": "{}", "output": "ok"})
                for n in range(1, spans)]
    if kind == "error":
        children[-1]["error"] = {"message": "tool failed", "data": {"code": "E1"}}
    elif kind == "guardrail":
        children[-1]["span_data"] = {"type": "guardrail", "name": "pii", "triggered": True}
    trace = {"object": "trace", "id": trace_id, "workflow_name": f"fleet {kind}", "group_id": None,
             "metadata": {"kind": kind}}
    third = max(1, len(children) // 3)
    batches = [[trace, *children[:third]], children[third:2 * third],
               [*children[2 * third:], span(0, {"type": "agent", "name": "root"}, parent=None)]]
    return hex_id, batches
