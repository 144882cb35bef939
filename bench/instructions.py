"""Instructions per span, stage by stage, counted by valgrind: a measure that does not move
with the machine's load, for comparing a change before and after.

    python bench/instructions.py [--traces 400] [--adapter jaeger]

Needs ``valgrind`` (Debian: ``apt-get install valgrind``). Records the benchmark workload
once as offload mode's entries (the agent side's capture, ``bench/offload_child.py``), then
runs this file under ``valgrind --tool=cachegrind --cache-sim=no`` once per step, each step
doing one stage more than the one before on the same entries: unmarshal the frames, build
the agent spans (``span_record``), convert them, run the adapter's attribute hooks, encode
the requests. A last run feeds the entries to a real exporter (``feed``, as offload mode's
child does) that sends to ``bench/sink.py`` in another process: what that costs beyond the
stages is the exporter's own (trace bookkeeping, workflow spans, queues, threads, HTTP).
Prints thousands of instructions per SDK span for each stage. Timings on a shared 2-core
machine move by 10-20% from run to run; these counts move by well under 1%.
"""

from __future__ import annotations

import argparse
import json
import marshal
import os
import re
import shutil
import subprocess
import sys
import tempfile
from itertools import pairwise
from pathlib import Path
from typing import Any

BENCH = Path(__file__).resolve().parent
STEPS = ("start", "unmarshal", "agent spans", "convert", "map (hooks)", "encode")


def _work(step: int, frames_path: str, adapter: str, endpoint: str) -> None:
    """One measured process: steps 0-5 are the stages; 6 is the exporter (7: its setup)."""
    from agent_otlp.core.convert.spans import ConvertOptions, convert_span
    from agent_otlp.core.pipeline.destination import Destination
    from agent_otlp.core.wire.encode import WireEncoder
    from agent_otlp.core.wire.transport import HandlerTransport
    from agent_otlp.factory import create_exporter, resolve_all, resource_for
    from agent_otlp.offload.entries import feed, span_record
    from agent_otlp.offload.frames import SPAN

    with open(frames_path, "rb") as fh:
        frames: list[bytes] = marshal.load(fh)
    if step >= 6:
        exporter = create_exporter(adapter, endpoint=endpoint, env={})
        if step == 6:
            for frame in frames:
                feed(exporter, marshal.loads(frame))
        exporter.shutdown(60)
        return
    settings, hooks = resolve_all(adapter, endpoint=endpoint, env={})[0]
    resource = resource_for(settings, hooks)
    mapper = Destination(settings, hooks, HandlerTransport(lambda r: None), resource,
                         sampling=False)
    encoder = WireEncoder(resource)
    options = ConvertOptions()
    for frame in frames:
        if step < 1:
            break
        entries = marshal.loads(frame)
        if step < 2:
            continue
        spans: list[Any] = [span_record(e) for e in entries if e[0] == SPAN]
        if step < 3:
            continue
        spans = [convert_span(s, options) for s in spans]
        if step < 4:
            continue
        spans = mapper._map_batch(spans)
        if step < 5:
            continue
        encoder.encode(spans)
    mapper.close(mapper.flush(1.0))


def _count(step: int, frames_path: str, adapter: str, endpoint: str) -> int:
    command = [
        "valgrind", "--tool=cachegrind", "--cache-sim=no", "--cachegrind-out-file=/dev/null",
        sys.executable, __file__, "--step", str(step), "--frames-file", frames_path,
        "--adapter", adapter, "--endpoint", endpoint,
    ]
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    found = re.search(r"I\s+refs:\s+([\d,]+)", done.stderr)
    if done.returncode != 0 or found is None:
        raise SystemExit(f"valgrind run for step {step} failed:\n{done.stderr[-2000:]}")
    return int(found.group(1).replace(",", ""))


def _record(traces: int) -> tuple[list[bytes], int]:
    sys.path.insert(0, str(BENCH))
    from agent_otlp.workloads import produce_benchmark_traces, recording_processors
    from offload_child import _Entries

    recorder = _Entries()
    with recording_processors([recorder]):
        produce_benchmark_traces(traces)
    entries = recorder.entries
    spans = sum(1 for e in entries if e[0] < 2)
    return [marshal.dumps(entries[i:i + 256]) for i in range(0, len(entries), 256)], spans


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--traces", type=int, default=400)
    parser.add_argument("--adapter", default="jaeger")
    parser.add_argument("--step", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--frames-file", help=argparse.SUPPRESS)
    parser.add_argument("--endpoint", default="http://127.0.0.1:9", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.step is not None:
        _work(args.step, args.frames_file, args.adapter, args.endpoint)
        return
    if shutil.which("valgrind") is None:
        raise SystemExit("valgrind is not installed (Debian: apt-get install valgrind)")

    frames, spans = _record(args.traces)
    sink = subprocess.Popen([sys.executable, str(BENCH / "sink.py"), "--port", "0"],
                            stdout=subprocess.PIPE, text=True)
    try:
        assert sink.stdout is not None
        endpoint = f"http://127.0.0.1:{json.loads(sink.stdout.readline())['port']}"
        with tempfile.TemporaryDirectory() as tmp:
            frames_path = os.path.join(tmp, "frames.marshal")
            with open(frames_path, "wb") as fh:
                marshal.dump(frames, fh)
            counts = [_count(step, frames_path, args.adapter, endpoint) for step in range(8)]
    finally:
        sink.terminate()
        sink.wait(5)

    per_span = [(b - a) / spans / 1000 for a, b in pairwise(counts[:6])]
    exporter = (counts[6] - counts[7]) / spans / 1000
    print(f"thousands of instructions per SDK span ({spans:,} spans, adapter {args.adapter}):")
    for name, value in zip(STEPS[1:], per_span, strict=True):
        print(f"  {name:<12} {value:8.1f}")
    print(f"  {'stages':<12} {sum(per_span):8.1f}")
    print(f"  {'exporter':<12} {exporter:8.1f}  (the same spans through feed() and a real "
          "exporter, sending to bench/sink.py)")
    print(json.dumps({"adapter": args.adapter, "spans": spans,
                      "stages_k": dict(zip(STEPS[1:], [round(v, 2) for v in per_span],
                                           strict=True)),
                      "exporter_k": round(exporter, 2)}))


if __name__ == "__main__":
    main()
