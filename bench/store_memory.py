"""Memory of a historical export: flat, whatever the size of the store.

Fills a span store with ``--spans`` spans (1,000,000 by default; ten per trace, plus each
trace's finished trace row) straight through ``SpanStore.append`` in large transactions, then
exports all of them with :class:`agent_otlp.historical.HistoricalExport` to ``bench/sink.py``
(a separate process that parses and counts). The resident set size of this process is read
from ``/proc/self/status`` at 10%, 50% and 100% of the export; the peak (``VmHWM``) is reset
first (``/proc/self/clear_refs``), so it covers the export only.

Usage: ``python bench/store_memory.py [--spans 1000000] [--batch-size 500] [--store PATH]``.
Linux only (``/proc``).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

from agent_otlp.historical import HistoricalExport, resolve_target
from agent_otlp.store.sqlite import KIND_SPAN, KIND_TRACE, SpanStore

SPANS_PER_TRACE = 10
FILL_CHUNK = 50_000
_EPOCH_2024 = 1_714_557_600_000_000_000  # 2024-05-01T10:00:00Z


def memory() -> dict[str, int]:
    """VmRSS and VmHWM of this process, in KiB."""
    out = {}
    for line in Path("/proc/self/status").read_text().splitlines():
        key, _, value = line.partition(":")
        if key in ("VmRSS", "VmHWM"):
            out[key] = int(value.split()[0])
    return out


def reset_peak() -> None:
    with contextlib.suppress(OSError):  # old kernels: the peak then includes the fill
        Path("/proc/self/clear_refs").write_text("5")


def iso(ns: int) -> str:
    seconds, rest = divmod(ns, 1_000_000_000)
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(seconds)) + f".{rest // 1000:06d}+00:00"


def fill(store: SpanStore, spans: int) -> None:
    rows: list[tuple[int, str, str, int | None, bytes]] = []
    traces = spans // SPANS_PER_TRACE
    for index in range(traces):
        trace_id = f"trace_{index:032x}"
        base = _EPOCH_2024 + index * 1_000_000
        for number in range(SPANS_PER_TRACE):
            start, end = base + number * 50_000, base + number * 50_000 + 40_000
            payload = {
                "object": "trace.span", "id": f"span_{index:012x}{number:012x}", "trace_id": trace_id,
                "parent_id": None if number == 0 else f"span_{index:012x}{0:012x}",
                "started_at": iso(start), "ended_at": iso(end),
                "span_data": {"type": "generation", "model": "gpt-4o-mini",
                              "usage": {"input_tokens": 120 + number, "output_tokens": 18}},
                "error": None,
            }
            rows.append((KIND_SPAN, trace_id, payload["id"], end, json.dumps(payload).encode()))
        trace = {"object": "trace", "id": trace_id, "workflow_name": "bench", "group_id": None,
                 "metadata": None, "started_at": iso(base), "ended_at": iso(base + 500_000)}
        rows.append((KIND_TRACE, trace_id, trace_id, base + 500_000, json.dumps(trace).encode()))
        if len(rows) >= FILL_CHUNK:
            store.append(rows)
            rows = []
    store.append(rows)


def sink_stats(port: int) -> dict[str, int]:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/stats", timeout=10) as response:
        data: dict[str, int] = json.load(response)
    return data


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--spans", type=int, default=1_000_000)
    parser.add_argument("--batch-size", type=int, default=500)
    parser.add_argument("--store", type=Path, default=None, help="store file (default: a temporary one)")
    args = parser.parse_args()
    workdir = tempfile.TemporaryDirectory()
    path = args.store or Path(workdir.name) / "spans.db"
    store = SpanStore(path)
    if store.count() == 0:
        started = time.monotonic()
        fill(store, args.spans)
        print(f"filled {store.count():,} items in {time.monotonic() - started:.1f}s "
              f"({path.stat().st_size / 2**20:.0f} MiB)")
    sink = subprocess.Popen([sys.executable, str(Path(__file__).with_name("sink.py")), "--port", "0"],
                            stdout=subprocess.PIPE, text=True)
    try:
        assert sink.stdout is not None
        port = json.loads(sink.stdout.readline())["port"]
        target = resolve_target("otlp", env={}, endpoint=f"http://127.0.0.1:{port}", compression="none")
        marks = [10, 50, 100]
        samples: list[tuple[int, int, dict[str, int]]] = []

        def progress(done: int, total: int) -> None:
            if marks and total and done * 100 >= marks[0] * total:
                samples.append((marks.pop(0), done, memory()))

        reset_peak()
        before = memory()
        engine = HistoricalExport(target, store, batch_size=args.batch_size, progress=progress)
        started = time.monotonic()
        result = engine.from_store(store, restart=True)
        elapsed = time.monotonic() - started
        engine.close()
        received = sink_stats(port)
    finally:
        sink.terminate()
        sink.wait()
    print(f"exported {result.sent:,} spans in {elapsed:.1f}s ({result.sent / elapsed:,.0f} spans/s), "
          f"batch size {args.batch_size}; sink counted {received['spans']:,} spans, "
          f"{received['unique']:,} unique")
    print(f"RSS before export: {before['VmRSS'] / 1024:.1f} MiB")
    for mark, done, mem in samples:
        print(f"  at {mark:3d}% ({done:>9,} spans): RSS {mem['VmRSS'] / 1024:6.1f} MiB, "
              f"peak since export start {mem['VmHWM'] / 1024:6.1f} MiB")
    workdir.cleanup()


if __name__ == "__main__":
    main()
