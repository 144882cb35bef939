"""Screenshot of the demo trace in Arize Phoenix's UI, for the README.

Usage (from the repository root, not run in CI)::

    python integration/backends/build.py phoenix          # the pinned Phoenix, once
    apt-get install chromium                              # Debian's headless Chromium
    .venv/bin/python scripts/phoenix_screenshot.py [--out docs/images/phoenix-demo-trace.png]
                                                   [--phoenix http://127.0.0.1:6006]

Without ``--phoenix`` it starts the pinned Phoenix the integration tests use, on free
loopback ports with telemetry off, and stops it afterwards. It sends the demo workflow
(``run_demo_workflow`` with real-run durations, content captured) through the ``phoenix``
adapter into the project ``agent-otlp-demo``, waits until Phoenix has its 14 spans, and has
headless Chromium render the trace's page.
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

PROJECT = "agent-otlp-demo"
DEFAULT_OUT = ROOT / "docs" / "images" / "phoenix-demo-trace.png"


def _send_demo(base_url: str) -> str:
    """Export the demo to Phoenix at ``base_url``; return the OTel trace id (hex)."""
    from agents.tracing import set_trace_processors

    import agent_otlp
    from agent_otlp.workloads import run_demo_workflow

    exporter = agent_otlp.create_exporter(
        "phoenix", env={"PHOENIX_COLLECTOR_ENDPOINT": base_url, "PHOENIX_PROJECT_NAME": PROJECT},
        capture_content=True,
    )
    set_trace_processors([agent_otlp.make_processor(exporter)])
    try:
        result = run_demo_workflow(latency=1.0)
    finally:
        set_trace_processors([])
        report = exporter.shutdown(20)
    if not report.delivered:
        raise SystemExit(f"the demo was not delivered to {base_url}: {exporter.stats.snapshot()}")
    return result.trace_id.removeprefix("trace_")


def _project_id(base_url: str) -> str:
    projects = requests.get(f"{base_url}/v1/projects", timeout=10).json()["data"]
    return next(p["id"] for p in projects if p["name"] == PROJECT)


def _wait_for_trace(base_url: str, trace_id: str, spans: int = 14, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        resp = requests.get(f"{base_url}/v1/projects/{PROJECT}/spans", params={"limit": 1000},
                            timeout=10)
        if resp.ok and sum(s["context"]["trace_id"] == trace_id
                           for s in resp.json()["data"]) >= spans:
            return
        time.sleep(0.5)
    raise SystemExit(f"Phoenix at {base_url} does not show trace {trace_id} after {timeout}s")


def _chromium() -> str:
    for name in ("chromium", "chromium-browser", "google-chrome"):
        found = shutil.which(name)
        if found:
            return found
    raise SystemExit("headless Chromium not found: apt-get install chromium")


def screenshot(url: str, out: Path, *, width: int = 1600, height: int = 1000) -> None:
    out.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="agent-otlp-chromium-") as profile:
        subprocess.run(
            [_chromium(), "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
             f"--user-data-dir={profile}", f"--window-size={width},{height}",
             "--virtual-time-budget=15000", f"--screenshot={out}", url],
            check=True, capture_output=True, timeout=120,
        )


def run(base_url: str, out: Path) -> None:
    trace_id = _send_demo(base_url)
    _wait_for_trace(base_url, trace_id)
    url = f"{base_url}/projects/{_project_id(base_url)}/traces/{trace_id}"
    screenshot(url, out)
    print(f"{out} ({out.stat().st_size} bytes): {url}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    parser.add_argument("--phoenix", help="a running Phoenix's base URL (default: start one)")
    args = parser.parse_args(argv)
    if args.phoenix:
        run(args.phoenix.rstrip("/"), args.out)
        return 0
    from integration.phoenix_server import NativePhoenix

    with NativePhoenix() as phoenix:
        run(phoenix.otlp_http, args.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
