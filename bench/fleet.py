"""Accepted and delivered spans/s of a bridge fleet (``agent-otlp serve --fleet``, several
behind HAProxy round-robin) against one bridge, both with their span stores, on this machine.

The clients of ``bench/bridge_durable.py`` (request bodies built before the clock starts,
one trace of ``--batch`` spans each) post to the one bridge, or to HAProxy in front of
``--bridges`` fleet bridges; every bridge delivers to the benchmark sink (``bench/sink.py``).
The Collector tiers are left out: they are measured by the Collector's own benchmarks, and
here they would share the same two cores. Prints accepted/s, delivered/s, lost (must be 0)
and the bridges' CPU per accepted span.

Usage::

    python bench/fleet.py [--bridges 3] [--clients 8] [--requests 1600] [--batch 100]
"""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path[:0] = [str(HERE), str(HERE.parent)]

from integration.fleet import Balancer  # noqa: E402

from bridge_durable import Load, cpu_seconds, sink_stats, start  # noqa: E402


def _bridges(count: int, fleet: bool, sink_port: int, tmp: str,
             env: dict[str, str]) -> list[tuple[subprocess.Popen[bytes], int]]:
    out = []
    for n in range(count):
        command = [sys.executable, "-c", "from agent_otlp.cli import main; main()", "serve",
                   "--adapter", "otlp", "--endpoint", f"http://127.0.0.1:{sink_port}", "--port", "0",
                   "--store", f"{tmp}/bridge-{n}.db", *(["--fleet"] if fleet else [])]
        out.append(start(command, env))
    return out


def run_mode(mode: str, args: argparse.Namespace) -> dict[str, Any]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AGENT_OTLP_", "OTEL_"))}
    sink, sink_port = start([sys.executable, str(HERE / "sink.py"), "--port", "0"], env)
    with tempfile.TemporaryDirectory(prefix="agent-otlp-fleet-") as tmp:
        env.update(XDG_DATA_HOME=tmp, COLUMNS="200")
        fleet = mode != "one"
        balanced = mode == "fleet"
        bridges = _bridges(args.bridges if balanced else 1, fleet, sink_port, tmp, env)
        balancer = Balancer(Path(tmp), [port for _, port in bridges]).start() if balanced else None
        port = balancer.port if balancer is not None else bridges[0][1]
        load = Load(port, args)
        cpu_before = _bridges_cpu(bridges)
        stats = load.post(sink_port)
        cpu = _bridges_cpu(bridges) - cpu_before
        if balancer is not None:
            balancer.stop()
        for bridge, _ in bridges:
            bridge.send_signal(signal.SIGTERM)
        for bridge, _ in bridges:
            bridge.wait(60)
        final = sink_stats(sink_port)
        load.join()
    sink.kill()
    acknowledged = load.acknowledged
    return {
        "mode": f"{mode} ({len(bridges)})",  # one bridge; one --fleet bridge; the balanced fleet
        **load.figures(stats, final),
        "bridges_cpu_us_per_span": cpu / acknowledged * 1e6 if acknowledged else 0.0,
    }


def _bridges_cpu(bridges: list[tuple[subprocess.Popen[bytes], int]]) -> float:
    """CPU seconds of the bridges, their delivery processes included."""
    return sum(sum(cpu_seconds(b.pid)) for b, _ in bridges)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--modes", default="one,one-fleet,fleet",
                        help="one: a bridge; one-fleet: a bridge with --fleet; fleet: --bridges "
                             "with --fleet behind HAProxy")
    parser.add_argument("--bridges", type=int, default=3)
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--client-procs", type=int, default=2)
    parser.add_argument("--requests", type=int, default=1600, help="requests in all (one trace each)")
    parser.add_argument("--batch", type=int, default=100, help="spans a request")
    parser.add_argument("--timeout", type=float, default=120.0)
    args = parser.parse_args()
    print(f"{args.clients} clients in {args.client_procs} processes, {args.requests} requests of "
          f"{args.batch} spans, {os.cpu_count()} cores")
    print(f"{'mode':14} {'accepted/s':>11} {'delivered/s':>12} {'lost':>6} {'refused':>8} {'bridges CPU us/span':>20}")
    for mode in args.modes.split(","):
        r = run_mode(mode, args)
        print(f"{r['mode']:14} {r['accepted_per_s']:11,.0f} {r['delivered_per_s']:12,.0f} {r['lost']:6} "
              f"{r['refused']:8} {r['bridges_cpu_us_per_span']:20.1f}")


if __name__ == "__main__":
    main()
