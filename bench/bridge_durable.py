"""Accepted and delivered spans/s of ``agent-otlp serve``, with the span store (every 200 only
after its items are committed) and without it, clients' work kept out of the way.

Each client process builds all its request bodies before the clock starts (one trace of
``--batch`` spans each, unique ids), then its threads post them as fast as the bridge answers.
So the figures measure the bridge, not the JSON encoding of the clients. The bridge delivers
to the benchmark sink (``bench/sink.py``), in its own process.

Modes: ``no-store``, ``store`` (delivery threads in the bridge's process,
``AGENT_OTLP_DELIVERY=thread``) and ``store-process`` (the same store, delivered from a delivery
process of its own, ``AGENT_OTLP_DELIVERY=process``: what ``serve`` does with a store).

For each mode it prints ``accepted/s`` (spans answered 200, per second of posting),
``delivered/s`` (unique spans at the sink, from its first to its last), ``lost`` (acknowledged
spans missing at the sink after the bridge stopped; must be 0) and the CPU per accepted span
of the bridge (its delivery process included, also shown alone), of the client processes
while posting, and of the sink.

Usage::

    python bench/bridge_durable.py [--modes no-store,store,store-process] [--clients 8] [--requests 1600]
        [--export-batch N]
"""

from __future__ import annotations

import argparse
import contextlib
import http.client
import json
import multiprocessing as mp
import os
import random
import re
import signal
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from pathlib import Path
from typing import Any

import psutil

HERE = Path(__file__).resolve().parent
_URL = re.compile(rb"http://127\.0\.0\.1:(\d+)/v1/traces/ingest")


def body(number: int, batch: int) -> bytes:
    """Request ``number``: one trace of ``batch`` spans, ids shaped as the SDK makes them
    (random hex: ``trace_`` and 32 digits, ``span_`` and 24), drawn from a seeded generator."""
    rng = random.Random(number)
    trace = f"trace_{rng.getrandbits(128):032x}"
    items: list[dict[str, Any]] = [{"object": "trace", "id": trace, "workflow_name": "bench"}]
    for i in range(batch):
        data: dict[str, Any] = ({"type": "generation", "model": "gpt-4o-mini",
                                 "usage": {"input_tokens": 120, "output_tokens": 40}}
                                if i % 3 == 0 else {"type": "function", "name": f"step {i}",
                                                    "input": '{"city": "Paris"}', "output": "sunny"})
        items.append({"object": "trace.span", "id": f"span_{rng.getrandbits(96):024x}", "trace_id": trace,
                      "parent_id": None, "started_at": "2026-01-02T03:04:05.000001+00:00",
                      "ended_at": "2026-01-02T03:04:05.250001+00:00", "span_data": data, "error": None})
    return json.dumps({"data": items}).encode()


def client_process(port: int, first: int, count: int, threads: int, batch: int,
                   ready: Any, go: Any, results: Any) -> None:
    bodies = [body(n, batch) for n in range(first, first + count)]
    ready.put(True)
    go.wait()
    cpu_at_go = sum(os.times()[:2])
    lock = threading.Lock()
    done = {"ok": 0, "other": 0}

    def post() -> None:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        while True:
            with lock:
                if not bodies:
                    return
                data = bodies.pop()
            while True:
                conn.request("POST", "/v1/traces/ingest", body=data,
                             headers={"Content-Type": "application/json"})
                response = conn.getresponse()
                response.read()
                if response.status == 200:
                    with lock:
                        done["ok"] += 1
                    break
                with lock:
                    done["other"] += 1
                time.sleep(0.05)  # 429/503: the same body again

    workers = [threading.Thread(target=post) for _ in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    results.put((done["ok"], done["other"], time.monotonic(), sum(os.times()[:2]) - cpu_at_go))


def sink_stats(port: int) -> dict[str, Any]:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/stats", timeout=10) as response:
        return json.loads(response.read())  # type: ignore[no-any-return]


def start(command: list[str], env: dict[str, str]) -> tuple[subprocess.Popen[bytes], int]:
    process = subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    assert process.stdout is not None
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        line = process.stdout.readline()
        if not line:
            break
        match = _URL.search(line) or re.search(rb'"port": (\d+)', line)
        if match:
            threading.Thread(target=process.stdout.read, daemon=True).start()
            return process, int(match.group(1))
    process.kill()
    raise SystemExit(f"{command[1]} did not start")


def cpu_seconds(pid: int) -> tuple[float, float]:
    """CPU seconds of a process and of its child processes (the delivery process)."""
    process = psutil.Process(pid)
    own = sum(process.cpu_times()[:2])
    children = 0.0
    for child in process.children(recursive=True):
        with contextlib.suppress(psutil.NoSuchProcess):
            children += sum(child.cpu_times()[:2])
    return own, children


class Load:
    """The clients of one run, in ``args.client_procs`` processes, started and ready to post to
    ``port``; :meth:`post` lets them go."""

    def __init__(self, port: int, args: argparse.Namespace) -> None:
        ctx = mp.get_context("spawn")
        ready, self.go, self.results = ctx.Queue(), ctx.Event(), ctx.Queue()
        per_proc = args.requests // args.client_procs
        self.procs = [ctx.Process(target=client_process, args=(
            port, p * per_proc, per_proc, args.clients // args.client_procs, args.batch, ready, self.go,
            self.results)) for p in range(args.client_procs)]
        for proc in self.procs:
            proc.start()
        for _ in self.procs:
            ready.get(timeout=120)
        self.batch, self.timeout = args.batch, args.timeout
        self.outcomes: list[Any] = []
        self.posting = 0.0
        self.acknowledged = 0

    def post(self, sink_port: int) -> dict[str, Any]:
        """Post everything; wait until the sink has every acknowledged span (or the timeout);
        the sink's figures then."""
        started = time.monotonic()
        self.go.set()
        self.outcomes = [self.results.get(timeout=self.timeout) for _ in self.procs]
        self.posting = max(o[2] for o in self.outcomes) - started
        self.acknowledged = sum(o[0] for o in self.outcomes) * self.batch
        deadline = time.monotonic() + self.timeout
        stats = sink_stats(sink_port)
        while stats["unique"] < self.acknowledged and time.monotonic() < deadline:
            time.sleep(0.2)
            stats = sink_stats(sink_port)
        return stats

    def join(self) -> None:
        for proc in self.procs:
            proc.join()

    def figures(self, stats: dict[str, Any], final: dict[str, Any]) -> dict[str, Any]:
        """Accepted and delivered spans/s, lost and refused, from the sink's figures when all
        was acknowledged (``stats``) and after the bridges stopped (``final``)."""
        window = (stats["last_at"] or 0) - (stats["first_at"] or 0)
        return {
            "accepted_per_s": self.acknowledged / self.posting,
            "delivered_per_s": stats["unique"] / window if window > 0 else 0.0,
            # spans acknowledged and not at the sink; the sink also counts the workflow spans
            "lost": max(self.acknowledged - (final["unique"] - sum(o[0] for o in self.outcomes)), 0),
            "refused": sum(o[1] for o in self.outcomes),  # answers other than 200 (429/503), resent
        }


def run_mode(mode: str, args: argparse.Namespace) -> dict[str, Any]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AGENT_OTLP_", "OTEL_"))}
    if args.export_batch:
        env["OTEL_BSP_MAX_EXPORT_BATCH_SIZE"] = str(args.export_batch)
    sink, sink_port = start([sys.executable, str(HERE / "sink.py"), "--port", "0"], env)
    with tempfile.TemporaryDirectory(prefix="agent-otlp-bench-") as tmp:
        env.update(XDG_DATA_HOME=tmp, COLUMNS="200")
        command = [sys.executable, "-c", "from agent_otlp.cli import main; main()", "serve",
                   "--adapter", "otlp", "--endpoint", f"http://127.0.0.1:{sink_port}", "--port", "0"]
        command += ["--no-store"] if mode == "no-store" else ["--store", f"{tmp}/spans.db"]
        if mode != "no-store":  # serve's default with a store is the delivery process
            env["AGENT_OTLP_DELIVERY"] = "thread" if mode == "store" else "process"
        bridge, port = start(command, env)
        load = Load(port, args)
        cpu_before = cpu_seconds(bridge.pid)
        sink_before = sum(psutil.Process(sink.pid).cpu_times()[:2])
        stats = load.post(sink_port)
        cpu_after = cpu_seconds(bridge.pid)
        delivery_cpu = cpu_after[1] - cpu_before[1]
        cpu = cpu_after[0] - cpu_before[0] + delivery_cpu
        sink_cpu = sum(psutil.Process(sink.pid).cpu_times()[:2]) - sink_before
        bridge.send_signal(signal.SIGTERM)
        bridge.wait(60)
        final = sink_stats(sink_port)
        load.join()
    sink.kill()
    acknowledged, outcomes = load.acknowledged, load.outcomes
    return {
        "mode": mode,
        **load.figures(stats, final),
        "bridge_cpu_us_per_span": cpu / acknowledged * 1e6 if acknowledged else 0.0,
        "delivery_cpu_us_per_span": delivery_cpu / acknowledged * 1e6 if acknowledged else 0.0,
        # the load generator on the same cores: the clients while posting, and the sink
        "clients_cpu_us_per_span": sum(o[3] for o in outcomes) / acknowledged * 1e6 if acknowledged else 0.0,
        "sink_cpu_us_per_span": sink_cpu / acknowledged * 1e6 if acknowledged else 0.0,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--modes", default="no-store,store")
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--client-procs", type=int, default=2)
    parser.add_argument("--requests", type=int, default=1600, help="requests in all (one trace each)")
    parser.add_argument("--batch", type=int, default=100, help="spans a request")
    parser.add_argument("--export-batch", type=int, default=0,
                        help="the bridge's batch_size (spans per request to the sink); 0: its default")
    parser.add_argument("--timeout", type=float, default=120.0)
    args = parser.parse_args()
    print(f"{args.clients} clients in {args.client_procs} processes, {args.requests} requests of "
          f"{args.batch} spans, {os.cpu_count()} cores")
    print(f"{'mode':13} {'accepted/s':>11} {'delivered/s':>12} {'lost':>6} {'refused':>8} {'CPU us/span':>12}"
          f" {'of which delivery':>18} {'clients us/span':>16} {'sink us/span':>13}")
    for mode in args.modes.split(","):
        r = run_mode(mode, args)
        print(f"{r['mode']:13} {r['accepted_per_s']:11,.0f} {r['delivered_per_s']:12,.0f} {r['lost']:6} "
              f"{r['refused']:8} {r['bridge_cpu_us_per_span']:12.1f} {r['delivery_cpu_us_per_span']:18.1f}"
              f" {r['clients_cpu_us_per_span']:16.1f}"
              f" {r['sink_cpu_us_per_span']:13.1f}")


if __name__ == "__main__":
    main()
