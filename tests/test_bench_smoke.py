"""The benchmark harness runs end to end: producer and sink processes, zero loss.

No timing is asserted; numbers on a shared machine say nothing in a test.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_quick_benchmark_of_agent_otlp_loses_nothing(tmp_path: Path) -> None:
    output = tmp_path / "latest.json"
    done = subprocess.run(
        [sys.executable, str(ROOT / "bench" / "run.py"), "--quick", "--only", "agent-otlp",
         "--output", str(output)],
        capture_output=True, text=True, timeout=120, cwd=ROOT,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert "| agent-otlp |" in done.stdout

    results = json.loads(output.read_text())
    row = results["pipelines"]["agent-otlp"]
    assert row["lost"] == [0]
    assert row["expected"] == 330  # 30 traces x (10 SDK spans + 1 workflow span)
    run = results["runs"]["agent-otlp"][0]
    assert run["sink"]["unique"] == 330
    assert run["sink"]["errors"] == 0
    assert (tmp_path / "latest.md").read_text().count("agent-otlp") >= 1
