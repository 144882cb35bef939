"""agent-otlp benchmark: one command, one table.

    python bench/run.py                 # everything (~15-25 min on 2 cores)
    python bench/run.py --quick         # smoke run: a few hundred spans per pipeline
    python bench/run.py --repeat 7 --only agent-otlp,openinference
    python bench/run.py --only memory-1m

Every producer run is a fresh process (``bench/producer.py``) with its pipeline's interpreter;
the OTLP sink (HTTP, plus gRPC for the ``*-grpc`` rows) is another process (``bench/sink.py``)
that decodes every request. Results go to ``bench/results/latest.json`` and
``bench/results/latest.md``. See ``bench/README.md``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
RESULTS = BENCH / "results"
MAIN_PYTHON = sys.executable
ALT_PYTHON = str(BENCH / ".venv-alt" / "bin" / "python")
COMPILED_PYTHON = str(BENCH / ".venv-compiled" / "bin" / "python")
SPANS_PER_TRACE = 10


def _exists(relative: str) -> Callable[[], bool]:
    return lambda: (ROOT / relative).exists()


def _alt_ready() -> bool:
    return Path(ALT_PYTHON).exists()


def _compiled_ready() -> bool:
    return Path(COMPILED_PYTHON).exists() and _exists("src/agent_otlp/adapters/jaeger.py")()


@dataclass(frozen=True)
class Pipeline:
    """One row of the table: ``producer`` is bench/producer.py's --pipeline, ``env`` the
    interpreter ("main": the project's venv, "alt": bench/.venv-alt, "compiled":
    bench/.venv-compiled, agent-otlp from its binary wheel), ``protocol`` how it
    sends ("grpc": ``--protocol grpc`` to the sink's gRPC port)."""

    name: str
    producer: str
    env: str = "main"
    args: tuple[str, ...] = ()
    protocol: str = "http/protobuf"
    available: Callable[[], bool] = field(default=lambda: True)
    note: str = ""


# One line per row. A row whose ``available`` is false is skipped with a note.
PIPELINES: list[Pipeline] = [
    Pipeline("agent-otlp", "agent-otlp", args=("--adapter", "otlp")),
    Pipeline("agent-otlp-jaeger", "agent-otlp", args=("--adapter", "jaeger"),
             available=_exists("src/agent_otlp/adapters/jaeger.py")),
    Pipeline("agent-otlp-offload", "agent-otlp-offload", args=("--adapter", "otlp"),
             note="create_exporter(offload=True): pipeline in a child process; RSS is the "
                  "agent's process only, the child's peak is in the run's flush info"),
    Pipeline("agent-otlp-offload-jaeger", "agent-otlp-offload", args=("--adapter", "jaeger"),
             available=_exists("src/agent_otlp/adapters/jaeger.py"),
             note="offload mode with the jaeger adapter's mapping and limits"),
    Pipeline("agent-otlp-offload2-jaeger", "agent-otlp-offload",
             args=("--adapter", "jaeger", "--offload", "2"),
             available=_exists("src/agent_otlp/adapters/jaeger.py"),
             note="create_exporter(offload=2): two child processes, each trace in one; RSS "
                  "of the agent's process, the children's peaks added in the flush info"),
    Pipeline("agent-otlp-grpc", "agent-otlp", args=("--adapter", "jaeger"), protocol="grpc",
             available=_exists("src/agent_otlp/adapters/jaeger.py"),
             note="the jaeger adapter over OTLP/gRPC"),
    Pipeline("agent-otlp-offload-grpc", "agent-otlp-offload", args=("--adapter", "jaeger"),
             protocol="grpc", available=_exists("src/agent_otlp/adapters/jaeger.py"),
             note="offload mode with the jaeger adapter over OTLP/gRPC"),
    Pipeline("agent-otlp-offload2-grpc", "agent-otlp-offload",
             args=("--adapter", "jaeger", "--offload", "2"), protocol="grpc",
             available=_exists("src/agent_otlp/adapters/jaeger.py"),
             note="two child processes, the jaeger adapter over OTLP/gRPC"),
    Pipeline("agent-otlp-jaeger-compiled", "agent-otlp", "compiled",
             args=("--adapter", "jaeger"), available=_compiled_ready,
             note="agent-otlp-jaeger from the binary wheel (per-span modules compiled)"),
    Pipeline("agent-otlp-offload-jaeger-compiled", "agent-otlp-offload", "compiled",
             args=("--adapter", "jaeger"), available=_compiled_ready,
             note="agent-otlp-offload-jaeger from the binary wheel"),
    Pipeline("agent-otlp-offload2-jaeger-compiled", "agent-otlp-offload", "compiled",
             args=("--adapter", "jaeger", "--offload", "2"), available=_compiled_ready,
             note="agent-otlp-offload2-jaeger from the binary wheel"),
    Pipeline("agent-otlp-offload2-grpc-compiled", "agent-otlp-offload", "compiled",
             args=("--adapter", "jaeger", "--offload", "2"), protocol="grpc",
             available=_compiled_ready,
             note="agent-otlp-offload2-grpc from the binary wheel"),
    Pipeline("openinference", "openinference", "alt", available=_alt_ready,
             note="openinference-instrumentation-openai-agents 2.6.0 + BatchSpanProcessor"),
    Pipeline("openllmetry", "openllmetry", "alt", available=_alt_ready,
             note="opentelemetry-instrumentation-openai-agents 0.62.4 + BatchSpanProcessor; "
                  "drops guardrail spans"),
    Pipeline("handwritten", "handwritten",
             note="bench/handwritten.py: ReadableSpans on the agent thread + BatchSpanProcessor"),
]
# Encoding alone (bench/encode.py --which ...), no network.
ENCODERS: dict[str, tuple[str, ...]] = {
    "encode-agent-otlp": ("--which", "agent-otlp"),
    "encode-agent-otlp-jaeger": ("--which", "agent-otlp", "--adapter", "jaeger"),
    "encode-sdk": ("--which", "sdk"),
}
EXTRAS = ("memory-1m", "rate-10x", "slow-backend", "memory-1m-offload", "rate-10x-offload",
          "slow-backend-offload", "memory-1m-offload2", "rate-10x-offload2",
          "slow-backend-offload2", "memory-1m-offload-compiled", "rate-10x-offload-compiled",
          "slow-backend-offload-compiled", "memory-1m-offload2-compiled",
          "rate-10x-offload2-compiled", "slow-backend-offload2-compiled")
PYTHONS = {"main": MAIN_PYTHON, "alt": ALT_PYTHON, "compiled": COMPILED_PYTHON}
#: Where each environment comes from, for the note of a row that cannot run.
SETUP_HINTS = {"alt": "bench/.venv-alt missing: run bench/setup.sh",
               "compiled": "bench/.venv-compiled missing: run bench/setup.sh"}


# --- processes ------------------------------------------------------------------------------


def _child_env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("OTEL_", "AGENT_OTLP_", "TRACELOOP_", "OPENINFERENCE_"))}
    env.pop("OPENAI_AGENTS_DISABLE_TRACING", None)
    env["PYTHONHASHSEED"] = "0"
    return env


class Sink:
    def __init__(self, delay: float = 0.0, grpc: bool = False) -> None:
        self.proc = subprocess.Popen(
            [MAIN_PYTHON, str(BENCH / "sink.py"), "--port", "0", "--delay", str(delay),
             *(("--grpc-port", "0") if grpc else ())],
            stdout=subprocess.PIPE, text=True, env=_child_env(),
        )
        assert self.proc.stdout is not None
        ports = json.loads(self.proc.stdout.readline())
        self.port = ports["port"]
        self.url = f"http://127.0.0.1:{self.port}"
        self.grpc_url = f"http://127.0.0.1:{ports['grpc_port']}" if grpc else None

    def _call(self, path: str, post: bool = False) -> dict[str, Any]:
        request = urllib.request.Request(self.url + path, data=b"" if post else None)
        with urllib.request.urlopen(request, timeout=30) as response:
            return json.loads(response.read())  # type: ignore[no-any-return]

    def stats(self) -> dict[str, Any]:
        return self._call("/stats")

    def reset(self) -> None:
        self._call("/reset", post=True)

    def drain(self, expected: int, quiet: float = 2.0, limit: float = 120.0) -> dict[str, Any]:
        """Wait until ``expected`` unique spans arrived, or nothing arrived for ``quiet`` s."""
        deadline = time.monotonic() + limit
        stats = self.stats()
        last_change = time.monotonic()
        while time.monotonic() < deadline and stats["unique"] < expected:
            time.sleep(0.1)
            fresh = self.stats()
            if fresh["unique"] != stats["unique"]:
                last_change = time.monotonic()
            elif time.monotonic() - last_change >= quiet:
                return fresh
            stats = fresh
        return stats

    def close(self) -> None:
        self.proc.terminate()
        self.proc.wait(10)


@contextmanager
def sink(delay: float = 0.0, grpc: bool = False) -> Iterator[Sink]:
    s = Sink(delay, grpc)
    try:
        yield s
    finally:
        s.close()


def run_json(cmd: list[str], timeout: float = 1800.0) -> dict[str, Any]:
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, env=_child_env(),
                          cwd=ROOT)
    lines = [line for line in done.stdout.splitlines() if line.startswith("{")]
    if done.returncode != 0 or not lines:
        raise RuntimeError(f"{' '.join(cmd)} failed ({done.returncode}):\n{done.stderr[-3000:]}")
    result: dict[str, Any] = json.loads(lines[-1])
    warnings = [line for line in done.stderr.splitlines() if line.strip()]
    if warnings:
        result["stderr_tail"] = warnings[-5:]
    return result


def produce(pipeline: Pipeline | str, traces: int, s: Sink | None, *extra: str) -> dict[str, Any]:
    if isinstance(pipeline, str):  # a baseline: "main" or "alt"
        python, name, args, grpc = PYTHONS[pipeline], "baseline", (), False
    else:
        python, name, args = PYTHONS[pipeline.env], pipeline.producer, pipeline.args
        grpc = pipeline.protocol == "grpc"
    cmd = [python, str(BENCH / "producer.py"), "--pipeline", name, "--traces", str(traces),
           *args, *extra]
    if s is not None:
        s.reset()
        if grpc:
            assert s.grpc_url is not None, "a gRPC row needs sink(grpc=True)"
            cmd += ["--protocol", "grpc", "--sink", s.grpc_url]
        else:
            cmd += ["--sink", s.url]
    result = run_json(cmd)
    if python == COMPILED_PYTHON and not result.get("compiled"):
        raise SystemExit(f"{cmd[0]} ran agent-otlp as plain Python: rerun bench/setup.sh")
    if s is not None:
        stats = s.drain(result["expected"])
        result["sink"] = stats
        result["lost"] = result["expected"] - stats["unique"]
        last = stats["last_at"]
        result["throughput"] = result["spans"] / (last - result["t0"]) if last else 0.0
        result["end_to_end_s"] = (last - result["t0"]) if last else None
    return result


# --- summaries ------------------------------------------------------------------------------


def _stat(values: list[float]) -> dict[str, float]:
    return {"median": statistics.median(values), "min": min(values), "max": max(values)}


def summarize(runs: list[dict[str, Any]], base: list[dict[str, Any]]) -> dict[str, Any]:
    base_produce = statistics.median(r["produce_s"] for r in base)
    base_rss = statistics.median(r["maxrss_kb"] for r in base)
    overhead = [(r["produce_s"] - base_produce) / r["spans"] * 1e6 for r in runs]
    child = [r["flush"]["child_maxrss_kb"] / 1024 for r in runs
             if isinstance(r.get("flush"), dict) and r["flush"].get("child_maxrss_kb")]
    return {
        "child_rss_mb": _stat(child) if child else None,
        "processes": runs[0].get("offload", 1),
        "overhead_us": _stat(overhead),
        "throughput": _stat([r["throughput"] for r in runs]),
        "lost": [r["lost"] for r in runs],
        "expected": runs[0]["expected"],
        "rss_mb": _stat([r["maxrss_kb"] / 1024 for r in runs]),
        "rss_delta_mb": _stat([(r["maxrss_kb"] - base_rss) / 1024 for r in runs]),
        "flush_s": _stat([r["flush_s"] for r in runs]),
        "baseline_us": base_produce / runs[0]["spans"] * 1e6,
    }


def _fmt_range(s: dict[str, float], fmt: str) -> str:
    return f"{s['median']:{fmt}} ({s['min']:{fmt}}-{s['max']:{fmt}})"


def _children(processes: int) -> str:
    return "child" if processes == 1 else f"{processes} children"


def _child_rss(flush: Any, processes: int) -> str:
    """The offload child's own peak RSS (the children's added), when the run had one."""
    kb = flush.get("child_maxrss_kb") if isinstance(flush, dict) else None
    return f" (+ {_children(processes)} {kb / 1024:.1f} MB)" if kb else ""


def table(results: dict[str, Any]) -> str:
    rows = [
        "| pipeline | overhead µs/span, median (min-max) | throughput spans/s, median (min-max) "
        "| spans lost per run (of expected) | peak RSS MB (Δ vs baseline) |",
        "|---|---:|---:|---:|---:|",
    ]
    for name, row in results["pipelines"].items():
        if "skipped" in row:
            rows.append(f"| {name} | skipped: {row['skipped']} | | | |")
            continue
        lost = ", ".join(str(n) for n in row["lost"])
        rows.append(
            f"| {name} | {_fmt_range(row['overhead_us'], '.1f')} "
            f"| {_fmt_range(row['throughput'], ',.0f')} | {lost} (of {row['expected']:,}) "
            f"| {row['rss_mb']['median']:.1f} (+{row['rss_delta_mb']['median']:.1f})"
            + (f" + {_children(row.get('processes', 1))} {row['child_rss_mb']['median']:.1f}"
               if row.get("child_rss_mb") else "")
            + " |"
        )
    for name, row in results["encoders"].items():
        us = row["total_us"]
        rate = {k: 1e6 / v for k, v in (("median", us["median"]), ("min", us["max"]),
                                        ("max", us["min"]))}
        rows.append(f"| {name} (no network) | {_fmt_range(us, '.1f')} µs to encode "
                    f"| {_fmt_range(rate, ',.0f')} | - | - |")
    out = "\n".join(rows)
    extras = results.get("extras", {})
    lines = []
    for name, m in extras.items():
        if "skipped" in m:
            lines.append(f"- {name}: skipped: {m['skipped']}")
            continue
        who = m.get("pipeline", "agent-otlp")
        child = _child_rss(m.get("flush"), m.get("processes", 1))
        if name.startswith("memory-1m"):
            samples = ", ".join(f"{int(f * 100)}%: {rss / 1024:.1f} MB" for f, rss, _ in m["rss"])
            base = ", ".join(f"{int(f * 100)}%: {rss / 1024:.1f} MB"
                             for f, rss, _ in m["baseline_rss"])
            lines.append(f"- memory, {m['spans']:,} spans ({who}): RSS {samples}; peak "
                         f"{m['maxrss_kb'] / 1024:.1f} MB{child}; baseline RSS {base}; lost "
                         f"{m['lost']:,} of {m['expected']:,}; throughput "
                         f"{m['throughput']:,.0f} spans/s")
        elif name.startswith("rate-10x"):
            lines.append(f"- 10x rate, {m['spans']:,} spans ({who}): overhead "
                         f"{m['overhead_us']:.1f} µs/span; throughput {m['throughput']:,.0f} "
                         f"spans/s; lost {m['lost']:,} of {m['expected']:,}; peak RSS "
                         f"{m['maxrss_kb'] / 1024:.1f} MB (+{m['rss_delta_mb']:.1f}){child}")
        elif name.startswith("slow-backend"):
            runs_us = m.get("overhead_runs_us") or [m["overhead_us"]]
            lost_runs = m.get("lost_runs") or [m["lost"]]
            lines.append(f"- slow backend (every request answered after {m['delay']:.1f} s), "
                         f"{m['spans']:,} spans ({who}): overhead "
                         f"{_fmt_range(_stat(runs_us), '.1f')} µs/span, median of "
                         f"{len(runs_us)}; shutdown took at most {m['flush_s']:.1f} s; lost "
                         f"{', '.join(str(n) for n in lost_runs)} (of {m['expected']:,}); "
                         f"peak RSS {m['maxrss_kb'] / 1024:.1f} MB "
                         f"(+{m['rss_delta_mb']:.1f}){child}")
    if lines:
        out += "\n\n" + "\n".join(lines)
    return out


# --- main -----------------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true",
                        help="smoke run: 30 traces (300 spans) per run, 1 repeat, small extras")
    parser.add_argument("--repeat", type=int, default=None, help="runs per pipeline (default 5)")
    parser.add_argument("--traces", type=int, default=None, help="traces per run (default 5000)")
    parser.add_argument("--only", default="",
                        help="comma-separated names: " + ", ".join(
                            [p.name for p in PIPELINES] + list(ENCODERS) + list(EXTRAS)))
    parser.add_argument("--output", default=str(RESULTS / "latest.json"))
    args = parser.parse_args(argv)

    quick = args.quick
    repeat = args.repeat or (1 if quick else 5)
    traces = args.traces or (30 if quick else 5000)
    wanted = {n.strip() for n in args.only.split(",") if n.strip()}
    known = {p.name for p in PIPELINES} | set(ENCODERS) | set(EXTRAS)
    unknown = wanted - known
    if unknown:
        parser.error(f"unknown names {sorted(unknown)}; known: {sorted(known)}")

    def selected(name: str) -> bool:
        return not wanted or name in wanted

    results: dict[str, Any] = {
        "when": time.strftime("%Y-%m-%d %H:%M:%S"),
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version(),
                    "platform": platform.platform()},
        "settings": {"traces": traces, "spans_per_trace": SPANS_PER_TRACE, "repeat": repeat,
                     "quick": quick},
        "pipelines": {}, "encoders": {}, "extras": {}, "runs": {},
    }
    pipelines = [p for p in PIPELINES if selected(p.name)]
    for p in list(pipelines):
        if not p.available():
            reason = SETUP_HINTS.get(p.env, "not available in this checkout")
            if wanted or p.env in SETUP_HINTS:
                results["pipelines"][p.name] = {"skipped": reason}
            pipelines.remove(p)
    envs = sorted({p.env for p in pipelines})
    runs: dict[str, list[dict[str, Any]]] = {f"baseline-{e}": [] for e in envs}
    runs.update({p.name: [] for p in pipelines})

    def log(text: str) -> None:
        print(text, file=sys.stderr, flush=True)

    if pipelines:
        with sink(grpc=any(p.protocol == "grpc" for p in pipelines)) as s:
            for rep in range(repeat):
                # Interleaved: every pipeline and its baseline see the same machine load.
                for env in envs:
                    r = produce(env, traces, None)
                    runs[f"baseline-{env}"].append(r)
                    log(f"[{rep + 1}/{repeat}] baseline-{env}: {r['produce_s']:.3f}s")
                for p in pipelines:
                    r = produce(p, traces, s)
                    runs[p.name].append(r)
                    log(f"[{rep + 1}/{repeat}] {p.name}: produce {r['produce_s']:.3f}s, flush "
                        f"{r['flush_s']:.3f}s, {r['sink']['unique']}/{r['expected']} spans, "
                        f"{r['throughput']:,.0f} spans/s")
        for p in pipelines:
            results["pipelines"][p.name] = summarize(runs[p.name], runs[f"baseline-{p.env}"])
            results["pipelines"][p.name]["note"] = p.note

    for name, encoder_args in ENCODERS.items():
        if not selected(name) or (not wanted and quick):
            continue
        if "jaeger" in name and not _exists("src/agent_otlp/adapters/jaeger.py")():
            continue
        encoded = []
        for rep in range(repeat):
            r = run_json([MAIN_PYTHON, str(BENCH / "encode.py"), *encoder_args,
                          "--traces", str(traces)])
            encoded.append(r)
            log(f"[{rep + 1}/{repeat}] {name}: {r['total_us']:.1f} µs/span")
        runs[name] = encoded
        results["encoders"][name] = {
            key: _stat([r[key] for r in encoded]) for key in encoded[0]
            if key.endswith("_us") or key == "bytes_per_span"
        }

    by_name = {p.name: p for p in PIPELINES}
    scale = 0.02 if quick else 1.0
    for suffix, pipe in (("", by_name["agent-otlp"]),
                         ("-offload", by_name["agent-otlp-offload-jaeger"]),
                         ("-offload2", by_name["agent-otlp-offload2-jaeger"]),
                         ("-offload-compiled", by_name["agent-otlp-offload-jaeger-compiled"]),
                         ("-offload2-compiled", by_name["agent-otlp-offload2-jaeger-compiled"])):
        if not pipe.available():
            for name in ("memory-1m", "rate-10x", "slow-backend"):
                if name + suffix in wanted:
                    results["extras"][name + suffix] = {
                        "skipped": SETUP_HINTS.get(pipe.env, "not available")}
            continue
        extra = "memory-1m" + suffix
        if selected(extra) and (wanted or not quick):
            n = max(100, int(100_000 * scale))
            base = produce(pipe.env, n, None)
            with sink() as s:
                r = produce(pipe, n, s)
            results["extras"][extra] = {
                **{k: r[k] for k in ("spans", "expected", "lost", "throughput", "maxrss_kb",
                                     "rss", "flush_s", "produce_s")},
                "pipeline": pipe.name,
                "processes": r.get("offload", 1),
                "baseline_rss": base["rss"], "baseline_maxrss_kb": base["maxrss_kb"],
                "flush": r.get("flush"),
            }
            log(f"{extra}: {r['rss']} lost {r['lost']}")
        for name, n, delay in (("rate-10x", 50_000, 0.0), ("slow-backend", 5_000, 0.2)):
            extra = name + suffix
            if not (selected(extra) and (wanted or not quick)):
                continue
            n = max(30, int(n * scale))
            # The slow backend's overhead is held to goal 1, a median: it gets the table's
            # repeats, each pipeline run next to a baseline run. 10x is one long run.
            runs_wanted = repeat if name == "slow-backend" else 1
            base: list[dict[str, Any]] = []
            done: list[dict[str, Any]] = []
            with sink(delay) as s:
                for _ in range(runs_wanted):
                    base += [produce(pipe.env, n, None)
                             for _ in range(1 if runs_wanted > 1 else 2 if quick else 3)]
                    done.append(produce(pipe, n, s))
            base_s = statistics.median(b["produce_s"] for b in base)
            base_rss = statistics.median(b["maxrss_kb"] for b in base)
            overheads = [(r["produce_s"] - base_s) / r["spans"] * 1e6 for r in done]
            r = max(done, key=lambda run: run["maxrss_kb"])
            results["extras"][extra] = {
                **{k: r[k] for k in ("spans", "expected", "maxrss_kb")},
                "lost": sum(run["lost"] for run in done),
                "lost_runs": [run["lost"] for run in done],
                "throughput": statistics.median(run["throughput"] for run in done),
                "flush_s": max(run["flush_s"] for run in done),
                "produce_s": statistics.median(run["produce_s"] for run in done),
                "pipeline": pipe.name,
                "processes": r.get("offload", 1),
                "delay": delay,
                "flush": r.get("flush"),
                "overhead_us": statistics.median(overheads),
                "overhead_runs_us": overheads,
                "rss_delta_mb": (r["maxrss_kb"] - base_rss) / 1024,
            }
            log(f"{extra}: overhead {results['extras'][extra]['overhead_us']:.1f} µs/span "
                f"({', '.join(f'{o:.1f}' for o in overheads)}), lost "
                f"{results['extras'][extra]['lost_runs']}")

    results["runs"] = runs
    text = table(results)
    output = Path(args.output)
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(json.dumps(results, indent=1, default=str))
    output.with_suffix(".md").write_text(
        f"Benchmark {results['when']} ({os.cpu_count()} CPUs, Python "
        f"{platform.python_version()}, {traces} traces x {SPANS_PER_TRACE} spans, "
        f"{repeat} runs)\n\n{text}\n"
    )
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
