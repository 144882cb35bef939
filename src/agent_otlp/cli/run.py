"""Commands that export: ``demo`` and ``send``."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Annotated, Any, TextIO

import typer

from agent_otlp.cli import app
from agent_otlp.cli._common import (
    AdaptersOpt,
    ConfigOpt,
    ContentOpt,
    EndpointOpt,
    ProtocolOpt,
    build_exporter,
    console,
    err_console,
    stats_table,
)
from agent_otlp.core.errors import InputError


@app.command()
def demo(
    adapter: AdaptersOpt = None,
    config: ConfigOpt = None,
    endpoint: EndpointOpt = None,
    protocol: ProtocolOpt = None,
    capture_content: ContentOpt = None,
    timeout: Annotated[float, typer.Option(help="Seconds to wait for delivery.")] = 30.0,
) -> None:
    """Run a sample multi-agent workflow (OpenAI Agents SDK tracing, no model calls, no
    network) and export it through the chosen adapter."""
    try:
        from agents.tracing import set_trace_processors
    except ImportError:
        err_console.print("the demo needs the OpenAI Agents SDK: pip install 'agent-otlp[openai-agents]'")
        raise typer.Exit(2) from None
    from agent_otlp.core.processor import make_processor
    from agent_otlp.workloads import run_demo_workflow

    exporter = build_exporter(adapter, config, endpoint, protocol, capture_content)
    set_trace_processors([make_processor(exporter)])
    result = run_demo_workflow()
    report = exporter.shutdown(timeout)
    set_trace_processors([])
    console.print(f"workflow trace {result.trace_id}: {result.span_count} agent spans + workflow span")
    console.print(f"OTel trace id: {result.trace_id.removeprefix('trace_')}")
    for dest in exporter.destinations:
        output = getattr(getattr(dest, "_transport", None), "output", None)
        target = output if output is not None else dest.settings.endpoint
        console.print(f"  -> {dest.name}: {target}")
    console.print(stats_table(exporter))
    if not report.delivered:
        raise typer.Exit(1)


def _iter_items(stream: TextIO, errors: list[InputError]) -> Iterator[Any]:
    """Items from JSON (an object, a list, or ``{"data": [...]}``) or JSON Lines."""
    text = stream.read()
    stripped = text.lstrip()
    if stripped.startswith("["):
        try:
            yield from json.loads(text)
            return
        except json.JSONDecodeError:
            pass
    if stripped.startswith("{"):
        try:
            whole = json.loads(text)
        except json.JSONDecodeError:
            whole = None
        if isinstance(whole, dict):
            yield from (whole["data"] if isinstance(whole.get("data"), list) else [whole])
            return
    for number, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        try:
            yield json.loads(line)
        except json.JSONDecodeError as exc:
            errors.append(InputError(f"line {number}", line[:80], f"invalid JSON: {exc.msg}"))


@app.command()
def send(
    files: Annotated[list[Path], typer.Argument(help="JSON or JSONL files of agent traces; - for stdin.")],
    adapter: AdaptersOpt = None,
    config: ConfigOpt = None,
    endpoint: EndpointOpt = None,
    protocol: ProtocolOpt = None,
    capture_content: ContentOpt = None,
    timeout: Annotated[float, typer.Option(help="Seconds to wait for delivery.")] = 60.0,
) -> None:
    """Export agent traces from files or a pipe (the OpenAI Agents SDK's export format)."""
    exporter = build_exporter(adapter, config, endpoint, protocol, capture_content)
    errors: list[InputError] = []
    for path in files:
        if str(path) == "-":
            errors.extend(exporter.submit_items(_iter_items(sys.stdin, errors)))
            continue
        try:
            with path.open(encoding="utf-8", errors="replace") as handle:
                errors.extend(exporter.submit_items(_iter_items(handle, errors)))
        except OSError as exc:
            err_console.print(f"error: cannot read {path}: {exc.strerror}")
            raise typer.Exit(2) from None
    exporter.end_all_traces()
    report = exporter.shutdown(timeout)
    for error in errors[:20]:
        err_console.print(f"skipped: {error}")
    if len(errors) > 20:
        err_console.print(f"... and {len(errors) - 20} more invalid items")
    console.print(stats_table(exporter))
    if not report.delivered:
        raise typer.Exit(1)
