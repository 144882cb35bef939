"""Historical export throughput, CPU per span and memory, from PostgreSQL (the raaf-rails
source) and from agent-otlp's own span store; and follow mode's latency.

* ``--source raaf-rails``: a throwaway PostgreSQL cluster (``tests/raaf_rails_db.py``, Debian's
  ``postgresql``) holding RAAF's tables, filled in SQL with ``--spans`` spans (ten per trace:
  an agent, LLM calls, tools and custom spans under the trace's own ``trace`` span, rows as
  ``ActiveRecordProcessor`` writes them), exported with ``agent-otlp export``'s engine.
* ``--source store``: a span store filled as ``bench/store_memory.py`` fills it.
* ``--source follow``: ``agent-otlp follow``'s engine on the PostgreSQL tables while a writer
  commits ``--rate`` spans per second (one trace of ten spans per transaction) for
  ``--seconds``; the latency is from each trace's commit to its last span at the sink.

The sink is ``bench/sink.py`` (its own process, parsing and counting). Printed: spans/s (wall),
CPU seconds of this process per 1,000 spans (what a busy machine leaves unchanged) and of
the export's conversion process when it ran one (``agent_otlp.conversion``: source plugins
from 20,000 items), and the resident set size of both at 10%, 50% and 100% of the export.

Usage: ``python bench/historical.py --source raaf-rails|store|follow [--spans 1000000]
[--batch-size 100] [--rate 1000 --seconds 20]``. Linux only (``/proc``).
"""

from __future__ import annotations

import argparse
import json
import resource
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import psutil

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import raaf_rails_db as db
from agent_otlp.historical import ExportTarget, HistoricalExport, resolve_target
from agent_otlp.sources.plugins.manager import SourceManager
from agent_otlp.sources.plugins.types import SourceContext
from agent_otlp.store.sqlite import SpanStore
from store_memory import fill as fill_store
from store_memory import memory, reset_peak

SPANS_PER_TRACE = 10

# rows as ActiveRecordProcessor writes them, made by the server (fast to fill a million)
FILL_TRACES_SQL = """
INSERT INTO raaf_tracing_traces (trace_id, workflow_name, status, started_at, ended_at, metadata,
                                 group_id, created_at, updated_at)
SELECT 'trace_' || lpad(to_hex(i), 32, '0'), 'Support', 'completed',
       timestamp '2024-05-01 10:00' + i * interval '10 ms',
       timestamp '2024-05-01 10:00' + i * interval '10 ms' + interval '900 ms',
       '{"tenant": "acme"}', 'conv-' || i, now(), now()
FROM generate_series(%(first)s::int, %(last)s::int) i
"""
FILL_SPANS_SQL = """
INSERT INTO raaf_tracing_spans (span_id, trace_id, parent_id, name, kind, status, start_time,
    end_time, duration_ms, span_attributes, events, input_tokens, output_tokens, agent_model,
    created_at, updated_at)
SELECT 'span_' || lpad(to_hex(i), 12, '0') || lpad(to_hex(n), 12, '0'),
       'trace_' || lpad(to_hex(i), 32, '0'),
       CASE WHEN n = 0 THEN NULL WHEN n = 1 THEN 'span_' || lpad(to_hex(i), 12, '0') || lpad('0', 12, '0')
            ELSE 'span_' || lpad(to_hex(i), 12, '0') || lpad('1', 12, '0') END,
       (ARRAY['trace.Support', 'agent.Triage', 'POST /v1/responses', 'tool.lookup_order', 'custom.score'])[k],
       (ARRAY['trace', 'agent', 'llm', 'tool', 'custom'])[k],
       'ok',
       timestamp '2024-05-01 10:00' + i * interval '10 ms' + n * interval '5 ms',
       timestamp '2024-05-01 10:00' + i * interval '10 ms' + n * interval '5 ms' + interval '4 ms',
       4.0,
       (ARRAY['{"trace.id": "x", "trace.workflow_name": "Support"}',
              '{"agent.name": "Triage", "agent.model": "gpt-4o", "agent.max_turns": "10"}',
              '{"llm.request.model": "gpt-4o-mini", "llm.usage.input_tokens": 120, "llm.usage.output_tokens": 18, "llm.request.temperature": 0.2}',
              '{"function.name": "lookup_order", "function.input": {"order": 42}, "function.output": "found"}',
              '{"custom.name": "score", "custom.data": {"score": 0.9}}'])[k]::jsonb,
       '[]', CASE WHEN k = 3 THEN 120 END, CASE WHEN k = 3 THEN 18 END,
       CASE WHEN k IN (2, 3) THEN 'gpt-4o-mini' END, now(), now()
FROM generate_series(%(first)s::int, %(last)s::int) i, generate_series(0, 10) n,
     LATERAL (SELECT CASE WHEN n = 0 THEN 1 WHEN n = 1 THEN 2 ELSE 3 + n %% 3 END AS k) kinds
"""


@contextmanager
def sink() -> Iterator[int]:
    proc = subprocess.Popen([sys.executable, str(Path(__file__).with_name("sink.py")), "--port", "0"],
                            stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None
        yield int(json.loads(proc.stdout.readline())["port"])
    finally:
        proc.terminate()
        proc.wait()


def sink_stats(port: int) -> dict[str, Any]:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/stats", timeout=10) as response:
        data: dict[str, Any] = json.load(response)
    return data


def target_for(port: int) -> ExportTarget:
    return resolve_target("otlp", env={}, endpoint=f"http://127.0.0.1:{port}", compression="none")


def _children_cpu() -> float:
    """CPU seconds of the child processes ended and reaped so far (the conversion process is
    reaped at the end of the export; the sink after the figures)."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def conversion_rss() -> int | None:
    """Resident KiB of this process's conversion process, if one runs."""
    for child in psutil.Process().children():
        try:
            if any("conversion_child" in part for part in child.cmdline()):
                return int(child.memory_info().rss // 1024)
        except psutil.Error:  # it just ended
            continue
    return None


def timed(run: Callable[[Callable[[int, int], None]], int]) -> None:
    marks = [10, 50, 100]
    samples: list[tuple[int, int, dict[str, int], int | None]] = []

    def progress(done: int, total: int) -> None:
        if marks and total and done * 100 >= marks[0] * total:
            samples.append((marks.pop(0), done, memory(), conversion_rss()))

    reset_peak()
    before = memory()
    cpu, wall, reaped = time.process_time(), time.monotonic(), _children_cpu()
    sent = run(progress)
    cpu, wall = time.process_time() - cpu, time.monotonic() - wall
    reaped = _children_cpu() - reaped
    print(f"exported {sent:,} items in {wall:.1f}s: {sent / wall:,.0f} items/s, "
          f"{cpu * 1000 / sent * 1000:.1f} ms CPU per 1,000 items (this process)"
          + (f", {reaped * 1000 / sent * 1000:.1f} (its conversion process)" if reaped else ""))
    print(f"RSS before export: {before['VmRSS'] / 1024:.1f} MiB")
    for mark, done, mem, child in samples:
        print(f"  at {mark:3d}% ({done:>9,} items): RSS {mem['VmRSS'] / 1024:6.1f} MiB, "
              f"peak since export start {mem['VmHWM'] / 1024:6.1f} MiB"
              + (f"; conversion process RSS {child / 1024:6.1f} MiB" if child else ""))


def fill_rails(cluster: db.PostgresCluster, spans: int) -> None:
    traces = spans // SPANS_PER_TRACE
    started = time.monotonic()
    with cluster.admin("app") as conn:
        for first in range(1, traces + 1, 20_000):
            for sql in (FILL_TRACES_SQL, FILL_SPANS_SQL):
                conn.execute(sql, {"first": first, "last": min(traces, first + 19_999)})
        conn.execute("ANALYZE")
    print(f"filled {traces:,} traces, {spans:,} spans in {time.monotonic() - started:.1f}s")


@contextmanager
def rails_cluster() -> Iterator[db.PostgresCluster]:
    cluster = db.PostgresCluster().start()
    try:
        db.wait_ready(cluster)
        db.create_app_database(cluster, processor_columns=True, db="app")
        yield cluster
    finally:
        cluster.stop()


def timed_export(engine: HistoricalExport, export: Callable[[], int]) -> None:
    """Time ``export`` (the spans it sent) with ``engine``'s progress sampled, then close it."""

    def run(progress: Callable[[int, int], None]) -> int:
        engine.progress = progress
        return export()

    timed(run)
    engine.close()


def bench_rails(args: argparse.Namespace, workdir: Path) -> None:
    with rails_cluster() as cluster, sink() as port:
        fill_rails(cluster, args.spans)
        url = cluster.url(db.READER, db.READER_PASSWORD, "app")
        with SourceManager().open(url, SourceContext(env={})) as source:
            engine = HistoricalExport(target_for(port), SpanStore(workdir / "jobs.db"), batch_size=args.batch_size)
            timed_export(engine, lambda: engine.from_source(source, restart=True).sent)
        print(f"sink: {sink_stats(port)['unique']:,} unique spans")


def bench_store(args: argparse.Namespace, workdir: Path) -> None:
    store = SpanStore(workdir / "spans.db")
    fill_store(store, args.spans)
    with sink() as port:
        engine = HistoricalExport(target_for(port), store, batch_size=args.batch_size)
        timed_export(engine, lambda: engine.from_store(store, restart=True).sent)
        print(f"sink: {sink_stats(port)['unique']:,} unique spans")


def bench_follow(args: argparse.Namespace, workdir: Path) -> None:
    from agent_otlp.following import Follower

    with rails_cluster() as cluster, sink() as port:
        url = cluster.url(db.READER, db.READER_PASSWORD, "app")
        committed: dict[int, float] = {}
        with SourceManager().open(url, SourceContext(env={}, options={"settle": "30"})) as source:
            engine = HistoricalExport(target_for(port), SpanStore(workdir / "jobs.db"), batch_size=args.batch_size)
            follower = Follower(engine, source, poll=args.poll)
            arrived: dict[int, float] = {}
            seen = [0]

            def on_page(stats: Any) -> None:  # what the sink has, each page delivered
                got = sink_stats(port)["unique"]
                now = time.monotonic()
                while seen[0] < len(committed) and got >= (seen[0] + 1) * (SPANS_PER_TRACE + 1):
                    arrived[seen[0] + 1] = now
                    seen[0] += 1

            follower.on_page = on_page
            runner = threading.Thread(target=follower.run, daemon=True)
            runner.start()
            time.sleep(1.0)
            traces = int(args.rate * args.seconds / SPANS_PER_TRACE)
            interval = SPANS_PER_TRACE / args.rate
            cpu = time.process_time()
            with cluster.admin("app") as conn:
                start = time.monotonic()
                for index in range(1, traces + 1):
                    with conn.transaction():
                        for sql in (FILL_TRACES_SQL, FILL_SPANS_SQL):
                            conn.execute(sql, {"first": index, "last": index})
                    committed[index] = time.monotonic()
                    time.sleep(max(0.0, start + index * interval - time.monotonic()))
            deadline = time.monotonic() + 30
            while len(arrived) < traces and time.monotonic() < deadline:
                time.sleep(0.1)
            follower.stop()
            runner.join(10)
            cpu = time.process_time() - cpu
            engine.close()
        lat = sorted(arrived[i] - committed[i] for i in arrived)
        spans = traces * SPANS_PER_TRACE
        print(f"follow at {spans / (time.monotonic() - start - 0):,.0f} spans/s offered "
              f"({traces:,} traces in {args.seconds}s): {len(lat):,} traces arrived; latency from "
              f"commit to the sink median {statistics.median(lat):.2f}s, p99 {lat[int(len(lat) * 0.99) - 1]:.2f}s, "
              f"max {lat[-1]:.2f}s; CPU {cpu:.1f}s (this process, writer included)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--source", choices=("raaf-rails", "store", "follow"), required=True)
    parser.add_argument("--spans", type=int, default=1_000_000)
    parser.add_argument("--batch-size", type=int, default=100)
    parser.add_argument("--rate", type=float, default=1000.0, help="follow: spans per second written")
    parser.add_argument("--seconds", type=float, default=20.0, help="follow: how long the writer writes")
    parser.add_argument("--poll", type=float, default=0.5, help="follow: seconds between looks")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as workdir:
        {"raaf-rails": bench_rails, "store": bench_store, "follow": bench_follow}[args.source](args, Path(workdir))


if __name__ == "__main__":
    main()
