"""``agent-otlp demo`` looks like a real run in any UI: model calls last hundreds of
milliseconds, tools tens, and the whole workflow about a second, not 0 ms each."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("agents")

from agent_otlp.workloads import WORK_MS


def _demo_spans(tmp_path: Path) -> dict[str, list[dict[str, Any]]]:
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("AGENT_OTLP_", "OTEL_", "PHOENIX_", "LANGFUSE_"))}
    env["XDG_CONFIG_HOME"] = str(tmp_path / "xdg")
    cli = Path(sys.executable).with_name("agent-otlp")
    done = subprocess.run([str(cli), "demo"], cwd=tmp_path, env=env, capture_output=True,
                          text=True, timeout=60, check=False)
    assert done.returncode == 0, done.stdout + done.stderr
    by_kind: dict[str, list[dict[str, Any]]] = {}
    for line in (tmp_path / "agent-otlp-out" / "traces.jsonl").read_text().splitlines():
        for resource in json.loads(line)["resourceSpans"]:
            for scope in resource["scopeSpans"]:
                for span in scope["spans"]:
                    kind = next(a["value"]["stringValue"] for a in span["attributes"]
                                if a["key"] == "openai_agents.span_type")
                    by_kind.setdefault(kind, []).append(span)
    return by_kind


def _ms(span: dict[str, Any]) -> float:
    return (int(span["endTimeUnixNano"]) - int(span["startTimeUnixNano"])) / 1e6


def test_demo_spans_have_realistic_durations(tmp_path: Path) -> None:
    spans = _demo_spans(tmp_path)
    generations = [_ms(s) for s in spans["generation"]]
    assert len(generations) == 4 and all(100 <= ms < 1000 for ms in generations)
    tools = [_ms(s) for s in spans["function"] + spans["mcp_tools"]]
    assert len(tools) == 3 and all(10 <= ms < 100 for ms in tools)
    assert all(_ms(s) >= 1 for s in spans["guardrail"])
    [workflow] = spans["trace"]
    expected = sum(WORK_MS.values())
    assert expected <= _ms(workflow) < expected + 1000
