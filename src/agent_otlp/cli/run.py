"""Commands that export: ``demo`` and ``send``."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from agent_otlp.cli import EXIT_CODES_HELP, ExitCode, app
from agent_otlp.cli._common import (
    AdaptersOpt,
    ConfigOpt,
    ContentOpt,
    EndpointOpt,
    NoStoreOpt,
    ProtocolOpt,
    StoreOpt,
    build_exporter,
    console,
    delivery_exit_code,
    err_console,
    report_invalid_items,
    stats_table,
    submit_listed,
)
from agent_otlp.core.config.errors import InputError
from agent_otlp.sources.files import iter_items, opened


@app.command(epilog=EXIT_CODES_HELP)
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
        raise typer.Exit(ExitCode.USAGE) from None
    from agent_otlp.sources.openai_agents import make_processor
    from agent_otlp.workloads import run_demo_workflow

    exporter = build_exporter(adapter, config, endpoint, protocol, capture_content)
    set_trace_processors([make_processor(exporter)])
    result = run_demo_workflow(latency=1.0)  # spans last as long as in a real run
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
        raise typer.Exit(ExitCode.UNDELIVERED)


@app.command(epilog=EXIT_CODES_HELP)
def send(
    files: Annotated[list[Path], typer.Argument(help="JSON or JSONL files of agent traces; - for stdin.")],
    adapter: AdaptersOpt = None,
    config: ConfigOpt = None,
    endpoint: EndpointOpt = None,
    protocol: ProtocolOpt = None,
    capture_content: ContentOpt = None,
    timeout: Annotated[float, typer.Option(help="Seconds to wait for delivery.")] = 60.0,
    store: StoreOpt = None,
    no_store: NoStoreOpt = False,
) -> None:
    """Export agent traces from files or a pipe (the OpenAI Agents SDK's export format).

    Items are recorded in the span store first (unless --no-store) and delivered from
    there: what a failing backend did not take is delivered by the next run on that store.
    --adapter also takes stored destination names (agent-otlp destinations add).
    Invalid items are listed on stderr, each once, and skipped (exit code 3)."""
    exporter = build_exporter(
        adapter, config, endpoint, protocol, capture_content, store=store, no_store=no_store
    )
    errors: list[InputError] = []
    for path in files:
        try:
            with opened(path) as stream:
                errors.extend(submit_listed(exporter, iter_items(stream, errors)))
        except OSError as exc:
            err_console.print(f"error: cannot read {path}: {exc.strerror}")
            raise typer.Exit(2) from None
    exporter.end_all_traces()
    report = exporter.shutdown(timeout)
    report_invalid_items(errors)
    console.print(stats_table(exporter, input_errors=False))
    code = delivery_exit_code(rejected=len(errors), delivered=report.delivered)
    if code:
        raise typer.Exit(code)
